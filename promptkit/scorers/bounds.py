"""Bounds: 1 when the answer's length, latency or cost lies within the given limits.

scorers:
  - length: {max: 60, unit: words}
  - latency: {max_ms: 1500}
  - cost: {max: 0.002}        # dollars per call
"""

from __future__ import annotations

from collections.abc import Callable

from promptkit.scorers.base import Case, Score, ScorerSetup, scorer_factory

_UNITS = ("chars", "words", "tokens")


def _within(value: float, low: float | None, high: float | None, unit: str) -> Score:
    ok = (low is None or value >= low) and (high is None or value <= high)
    limits = " and ".join(
        f"{sign} {bound:g}" for sign, bound in ((">=", low), ("<=", high)) if bound is not None
    )
    return Score(float(ok), explanation=f"{value:g} {unit}, allowed {limits}")


def _check_limits(low: float | None, high: float | None) -> None:
    if low is None and high is None:
        raise ValueError("give 'min', 'max' or both")
    if low is not None and high is not None and low > high:
        raise ValueError(f"min {low:g} is above max {high:g}")


def _measure(case: Case, unit: str, raw: bool) -> float:
    if unit == "tokens":
        return float(case.completion.completion_tokens if case.completion else 0)
    text = case.raw if raw or case.output is None else str(case.output)
    return float(len(text.split()) if unit == "words" else len(text))


@scorer_factory("length")
def length(
    setup: ScorerSetup,
    *,
    min: float | None = None,  # shadows the builtin: 'min'/'max' read best in YAML
    max: float | None = None,
    unit: str = "chars",
    raw: bool = True,
) -> Callable[[Case], Score]:
    """Length of the reply in ``chars``, ``words`` or completion ``tokens``."""
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {', '.join(_UNITS)}")
    _check_limits(min, max)
    return lambda case: _within(_measure(case, unit, raw), min, max, unit)


@scorer_factory("latency")
def latency(
    setup: ScorerSetup, *, max_ms: float, min_ms: float | None = None
) -> Callable[[Case], Score]:
    """The model call took at most ``max_ms`` (a cache hit keeps its original latency)."""
    _check_limits(min_ms, max_ms)

    def score(case: Case) -> Score:
        seconds = case.completion.latency_s if case.completion else 0.0
        return _within(round(seconds * 1000, 3), min_ms, max_ms, "ms")

    return score


@scorer_factory("cost")
def cost(setup: ScorerSetup, *, max: float) -> Callable[[Case], Score]:
    """The call cost at most ``max`` dollars; an unpriced call fails, saying so."""
    _check_limits(None, max)

    def score(case: Case) -> Score:
        spent = case.completion.cost if case.completion else None
        if spent is None:
            return Score(0.0, explanation="the provider reported no cost for this call")
        return _within(spent, None, max, "$")

    return score
