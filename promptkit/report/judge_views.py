"""What the HTML report's "Judges" section shows: each judge given human verdicts.

The figures are the summary's own (:class:`~promptkit.results.summary.JudgeSummary`),
so the page, the terminal table and the gate never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptkit.report.content import RunContent, VariantView
from promptkit.results.calibration import JudgeCalibration

__all__ = ["JudgeView", "judge_calibrations"]


@dataclass(frozen=True)
class JudgeView:
    """One judge metric of one variant, against the human verdicts."""

    variant: VariantView
    metric: str
    calibration: JudgeCalibration


def judge_calibrations(content: RunContent) -> list[JudgeView]:
    """Every variant's judges that were given a column of human verdicts (``human:``)."""
    return [
        JudgeView(v, metric, judge.calibration)
        for v in content.variants
        for metric, judge in v.summary.judges.items()
        if judge.calibration is not None
    ]
