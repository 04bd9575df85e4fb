"""Converters from other tools' eval configs into promptkit prompts, suites and datasets.

They sit above the definitions they write (prompt files, suites, datasets) and below
the CLI; nothing on the data path imports them.
"""
