"""Likelihood scoring of labels (a verbalizer), shared by ``hf/`` and ``local/``.

With the model option ``score_labels: [positive, negative]`` a provider generates
nothing: each label's log-likelihood as the start of the reply is turned into a
probability over the labels, the reply is the most probable label, and
``Completion.label_probs`` holds the distribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from promptkit.define.validate import Where, string_list
from promptkit.providers.base import Completion

__all__ = [
    "LABEL_SCORING",
    "label_completion",
    "label_wire",
    "normalise",
    "score_labels_option",
]

#: The finish reason of a reply chosen by likelihood, not generated.
LABEL_SCORING = "label_scoring"


def score_labels_option(value: Any, where: Where) -> tuple[str, ...]:
    """The ``score_labels`` model option: two or more distinct labels."""
    labels = tuple(string_list(value, where, what="labels", single=False))
    if len(labels) < 2:
        raise where.fail(
            f"{where.key!r} must list at least two labels, not {value!r}",
            "e.g. score_labels: [positive, negative]",
        )
    if len(set(labels)) != len(labels):
        raise where.fail(f"{where.key!r} repeats a label: {list(labels)}", "list each label once")
    return labels


def normalise(log_likelihoods: Sequence[float]) -> list[float]:
    """Softmax: probabilities over the labels, summing to 1."""
    top = max(log_likelihoods)
    weights = [math.exp(v - top) for v in log_likelihoods]
    total = sum(weights)
    return [w / total for w in weights]


def label_completion(
    labels: Sequence[str], log_likelihoods: Sequence[float], prompt_tokens: int, latency_s: float
) -> Completion:
    """The reply of likelihood scoring: the most probable label, and every label's share."""
    probs = dict(zip(labels, normalise(log_likelihoods), strict=True))
    return Completion(
        text=max(probs, key=probs.__getitem__),
        prompt_tokens=prompt_tokens,
        completion_tokens=0,
        latency_s=latency_s,
        cost=0.0,
        finish_reason=LABEL_SCORING,
        label_probs=probs,
    )


def label_wire(labels: tuple[str, ...] | None) -> dict[str, Any]:
    """The cache key's part for ``score_labels``: a scored answer is not a generated one,
    and another label list gives another distribution."""
    return {} if labels is None else {"score_labels": list(labels)}
