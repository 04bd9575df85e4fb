"""The HTML report's retrieval curve: score, prompt tokens and cost against passages.

One line per prompt version, model and shot count; x is the passages the variant
actually sent per call (a short collection can give fewer than k).
"""

from __future__ import annotations

from promptkit.report.content import PALETTE, RunContent, VariantView, curve_point, mean_sent
from promptkit.report.plots import ShotPoint

__all__ = ["docs_points"]


def docs_points(content: RunContent) -> list[ShotPoint]:
    """Points of the retrieval curve; empty unless some line ran at several passage counts."""
    if not content.metrics:
        return []
    metric = content.metrics[0]
    chosen = [
        v for v in content.variants if v.summary.docs is not None and v.summary.scores[metric].n
    ]
    several_models = len({v.summary.model for v in content.variants}) > 1
    names = [_line(v, several_models) for v in chosen]
    lines = list(dict.fromkeys(names))
    if all(names.count(line) < 2 for line in lines):
        return []
    sent = mean_sent(content.journal, "retrieved_ids")
    return [
        curve_point(v, metric, name, PALETTE[lines.index(name) % len(PALETTE)], sent.get(v.id, 0.0))
        for v, name in zip(chosen, names, strict=True)
    ]


def _line(view: VariantView, several_models: bool) -> str:
    s = view.summary
    parts = [s.prompt, s.model] if several_models else [s.prompt]
    return " · ".join([*parts, f"k={s.shots}"])
