"""The HTML report's data-efficiency curve: score against the labelled examples used.

A prompt uses its labelled examples by sending them (x: the examples actually sent per
call); a ``tuned/`` model uses them by training on them (x: the training rows its
manifest records). On one axis, the two answer the question the rule of thumb
"0-10 examples: prompt; 100-10,000: fine-tune" guesses at: at how many labelled
examples does tuning overtake the best prompt on *this* task, with intervals. One line
per prompt (its shots) and per tuning method and base; ``promptkit tune --size N``
given several times makes a tuned line of several points.
"""

from __future__ import annotations

from promptkit.define.ensembles import ENSEMBLE_MODEL
from promptkit.report.content import PALETTE, RunContent, VariantView, curve_point, mean_sent
from promptkit.report.plots import ShotPoint

__all__ = ["EFFICIENCY_AXIS", "efficiency_points", "trained_on"]

EFFICIENCY_AXIS = "labelled examples (shots sent, or trained on)"


def trained_on(model: str) -> tuple[str, int] | None:
    """``(method and base, training rows)`` of a ``tuned/`` model whose artifact is here;
    None for other models and for artifacts that are gone."""
    from promptkit.providers.tuned import tuned_manifest

    m = tuned_manifest(model)
    return None if m is None else (f"{m.method} on {m.base}", m.examples)


def efficiency_points(content: RunContent) -> list[ShotPoint]:
    """Points of the curve; empty unless the run holds a tuned variant whose artifact is
    here, beside at least one other point."""
    if not content.metrics:
        return []
    metric = content.metrics[0]
    sent = mean_sent(content.journal, "shot_ids")
    lines: list[tuple[VariantView, str, float]] = []
    for v in content.variants:
        s = v.summary
        if not s.scores[metric].n or s.model == ENSEMBLE_MODEL:
            continue
        tuned = trained_on(s.model)
        if tuned is not None:
            if not sent.get(v.id):  # a tuned model sent shots used more than it trained on
                lines.append((v, f"tuned: {s.prompt} · {tuned[0]}", float(tuned[1])))
        elif s.model.partition("/")[0] == "tuned":
            continue  # its artifact is gone: how many examples it learned from is unknown
        elif s.docs is None:  # retrieval variants have their own curve
            lines.append((v, f"prompt: {s.prompt} · {s.model}", sent.get(v.id, 0.0)))
    if not any(name.startswith("tuned: ") for _, name, _ in lines) or len(lines) < 2:
        return []
    names = list(dict.fromkeys(name for _, name, _ in lines))
    return [
        curve_point(v, metric, name, PALETTE[names.index(name) % len(PALETTE)], x)
        for v, name, x in lines
    ]
