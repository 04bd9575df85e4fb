"""Journal -> one summary line per variant, with an interval for every score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from promptkit.stats import Estimate, mean_interval

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["VariantSummary", "summarize"]


@dataclass(frozen=True)
class VariantSummary:
    variant: str
    prompt: str
    model: str
    shots: str
    cases: int
    errors: int
    scores: dict[str, Estimate] = field(default_factory=dict)
    prompt_tokens: float = 0.0  # mean per call
    completion_tokens: float = 0.0
    latency_s: float = 0.0  # mean per call, cache hits keep their original latency
    cost: float | None = None  # total; None when a provider could not price it
    cache_hits: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scores"] = {k: asdict(v) for k, v in self.scores.items()}
        return data


def summarize(frame: pd.DataFrame, metrics: Sequence[str]) -> list[VariantSummary]:
    """Per variant: scores averaged per row first (repeats are one cluster), then a 95% CI."""
    if frame.empty:
        return []
    summaries = []
    for variant, group in frame.groupby("variant", sort=False):
        ok = group[group["error"].isna()] if "error" in group else group
        summaries.append(
            VariantSummary(
                variant=str(variant),
                prompt=str(group["prompt"].iloc[0]),
                model=str(group["model"].iloc[0]),
                shots=str(group["shots"].iloc[0]),
                cases=len(group),
                errors=len(group) - len(ok),
                scores={m: _metric(ok, m) for m in metrics},
                prompt_tokens=_mean(ok, "prompt_tokens"),
                completion_tokens=_mean(ok, "completion_tokens"),
                latency_s=_mean(ok, "latency_s"),
                cost=_total_cost(ok),
                cache_hits=int(ok["cached"].fillna(False).astype(bool).sum())
                if "cached" in ok
                else 0,
            )
        )
    return summaries


def _metric(ok: pd.DataFrame, metric: str) -> Estimate:
    column = f"score.{metric}"
    if column not in ok or ok.empty:
        return mean_interval([])
    per_row = ok.groupby("row_id")[column].mean().dropna()
    return mean_interval(per_row.tolist())


def _mean(frame: pd.DataFrame, column: str) -> float:
    if column not in frame or frame.empty:
        return 0.0
    return float(frame[column].fillna(0).mean())


def _total_cost(frame: pd.DataFrame) -> float | None:
    if "cost" not in frame or frame.empty or frame["cost"].isna().any():
        return None
    return float(frame["cost"].sum())
