"""Sweeps: score against what a variant axis costs, one line per value of the axis.

- shots: variants that differ only in their shot count, ordered by k (``max`` last);
- passages: variants that differ only in their retrieved passage count (``docs``).

Prompt tokens per call are the provider's counts, so the price of an example or a
passage is measured, not estimated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptkit.define.ensembles import ENSEMBLE_MODEL
from promptkit.results.stats import Estimate, mean_interval
from promptkit.results.summary import VariantSummary

__all__ = ["DocsPoint", "SweepPoint", "docs_sweep", "shots_sweep"]


@dataclass(frozen=True)
class SweepPoint:
    """One shot count of one prompt version and model: scores against what they cost."""

    prompt: str
    model: str
    shots: str
    scores: dict[str, Estimate]
    prompt_tokens: float  # per call
    cost_per_call: float | None


def _shot_order(shots: str) -> tuple[bool, int]:
    return shots == "max", int(shots) if shots.isdigit() else 0


def shots_sweep(summaries: Sequence[VariantSummary], metrics: Sequence[str]) -> list[SweepPoint]:
    """Points per (prompt, model), ordered by shot count (``max`` last); empty unless some
    prompt version ran with more than one shot count."""
    groups: dict[tuple[str, str], list[VariantSummary]] = {}
    for s in summaries:
        if s.model != ENSEMBLE_MODEL:  # an ensemble has no shot count of its own
            # one line per passage count too: docs=0 and docs=4 are different prompts
            model = s.model if s.docs is None else f"{s.model} | docs={s.docs}"
            groups.setdefault((s.prompt, model), []).append(s)
    if all(len({s.shots for s in group}) < 2 for group in groups.values()):
        return []
    return [
        SweepPoint(
            prompt=prompt,
            model=model,
            shots=s.shots,
            scores={m: s.scores.get(m) or mean_interval([]) for m in metrics},
            prompt_tokens=s.prompt_tokens,
            cost_per_call=s.cost_per_call,
        )
        for (prompt, model), group in groups.items()
        for s in sorted(group, key=lambda s: _shot_order(s.shots))
    ]


@dataclass(frozen=True)
class DocsPoint:
    prompt: str
    model: str
    shots: str
    docs: int
    scores: dict[str, Estimate]
    prompt_tokens: float  # mean per call
    #: Prompt tokens per call each passage added, against the line's previous point.
    tokens_per_passage: float | None
    cost_per_call: float | None


def docs_sweep(summaries: Sequence[VariantSummary], metrics: Sequence[str]) -> list[DocsPoint]:
    """Points per (prompt, model, shots), ordered by passage count; empty unless some
    prompt version ran with more than one count."""
    groups: dict[tuple[str, str, str], list[VariantSummary]] = {}
    for s in summaries:
        if s.docs is not None:
            groups.setdefault((s.prompt, s.model, s.shots), []).append(s)
    if all(len(group) < 2 for group in groups.values()):
        return []
    points = []
    for (prompt, model, shots), group in groups.items():
        previous: VariantSummary | None = None
        for s in sorted(group, key=lambda s: int(s.docs or 0)):
            points.append(
                DocsPoint(
                    prompt=prompt,
                    model=model,
                    shots=shots,
                    docs=int(s.docs or 0),
                    scores={m: s.scores.get(m) or mean_interval([]) for m in metrics},
                    prompt_tokens=s.prompt_tokens,
                    tokens_per_passage=_per_passage(previous, s),
                    cost_per_call=s.cost_per_call,
                )
            )
            previous = s
    return points


def _per_passage(previous: VariantSummary | None, current: VariantSummary) -> float | None:
    if previous is None or not previous.calls or not current.calls:
        return None
    added = int(current.docs or 0) - int(previous.docs or 0)
    return (current.prompt_tokens - previous.prompt_tokens) / added if added else None
