"""Label scorers. Per-class precision, recall, F1 and the confusion matrix are figures
of a whole variant, not of one case: see :func:`promptkit.results.summary.classification_report`.
"""

from __future__ import annotations

from promptkit.define.parsers import fold
from promptkit.scorers.base import Case, Score, scorer


@scorer("label_accuracy")
def label_accuracy(case: Case) -> Score:
    """The label the parser read equals the reference label; no label read scores 0."""
    if case.output is None:
        return Score(0.0, label=None, explanation=case.parse_error)
    got = str(case.output)
    return Score(float(fold(got).strip() == fold(str(case.expected)).strip()), label=got)
