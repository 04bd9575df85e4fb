"""What is asked: prompt templates, output parsers, datasets and few-shot selection.

The first stage of the data path. Nothing here calls a model or reads a run.
"""
