"""This suite folder's own scorers, loaded by suites that list ``scorer_files: [scorers.py]``."""

from __future__ import annotations

from promptkit import Case, Score, scorer


@scorer("one_word")
def one_word(case: Case) -> Score:
    """The prompt asks for exactly one word; small models often add a sentence."""
    words = case.raw.split()
    return Score(float(len(words) == 1), explanation=f"{len(words)} words")
