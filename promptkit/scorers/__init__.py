"""Scorers: registered functions of one case returning a score in [0, 1].

A suite names scorers in YAML, with arguments as a mapping::

    scorers:
      - label_accuracy
      - contains: {values: [refund, reembolso], mode: any}

A suite's own Python scorers register with the same decorator::

    from promptkit import scorer, Score

    @scorer("polite")
    def polite(case, *, words=("please",)):
        return Score(1.0 if any(w in case.raw for w in words) else 0.0)
"""

from promptkit.scorers import builtin as _builtin  # noqa: F401 - registers the built-ins
from promptkit.scorers.base import (
    BoundScorer,
    Case,
    Score,
    make_scorer,
    registered_scorers,
    scorer,
)

__all__ = ["BoundScorer", "Case", "Score", "make_scorer", "registered_scorers", "scorer"]
