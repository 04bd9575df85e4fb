"""Reasoning before the answer, as a measured trade-off: score gained per extra token.

A variant whose parser reads the answer after its reasoning (``answer_after``) is
set beside the direct variant of the same model it should beat: the one with the
same shot count, else the model's best direct variant on the metric. The gain is
the difference of their means (``promptkit compare`` gives its paired interval);
the extra tokens are measured answer tokens per call, so the price of thinking
first is the provider's count, not an estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptkit.results.summary import VariantSummary

__all__ = ["ReasoningTradeoff", "reasoning_tradeoffs"]


@dataclass(frozen=True)
class ReasoningTradeoff:
    reasoning: VariantSummary
    direct: VariantSummary
    metric: str

    @property
    def gain(self) -> float:
        return self.reasoning.scores[self.metric].mean - self.direct.scores[self.metric].mean

    @property
    def extra_tokens(self) -> float:
        """Answer tokens per call the reasoning variant spends beyond the direct one."""
        return self.reasoning.completion_tokens - self.direct.completion_tokens

    @property
    def gain_per_100_tokens(self) -> float | None:
        """Score gained per 100 extra answer tokens; None when it spends none more."""
        if self.extra_tokens <= 0:
            return None
        return 100 * self.gain / self.extra_tokens


def reasoning_tradeoffs(
    summaries: Sequence[VariantSummary], metric: str
) -> list[ReasoningTradeoff]:
    """Each reasoning variant with the direct variant it is measured against."""
    found = []
    for reasoning in summaries:
        if reasoning.reasoning_tokens is None or metric not in reasoning.scores:
            continue
        direct = _counterpart(reasoning, summaries, metric)
        if direct is not None:
            found.append(ReasoningTradeoff(reasoning, direct, metric))
    return found


def _counterpart(
    reasoning: VariantSummary, summaries: Sequence[VariantSummary], metric: str
) -> VariantSummary | None:
    direct = [
        s
        for s in summaries
        if s.reasoning_tokens is None and s.model == reasoning.model and metric in s.scores
    ]
    same_shots = [s for s in direct if (s.shots, s.docs) == (reasoning.shots, reasoning.docs)]
    candidates = same_shots or direct
    if not candidates:
        return None
    return max(candidates, key=lambda s: s.scores[metric].mean)
