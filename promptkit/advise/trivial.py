"""The rule the trivial answer sets: a label-task variant that is not significantly better
than always answering the majority label is never kept.

Without it, a prompt scoring 0.333 on three classes whose most frequent label holds
39% of the rows could be "kept" as the best of its variants (issue 13). The test is
the paired one of :mod:`promptkit.results.baselines`, read as the shots curve reads its
steps: better by both the paired interval and the paired test.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptkit.advise.model import FINETUNE_MIN_EXAMPLES, AdviceInputs, VariantAdvice
from promptkit.results.baselines import LabelBaseline

__all__ = [
    "beats_majority",
    "best_kept",
    "majority_missed",
    "rework",
    "target_missed",
    "trivial_target_note",
]


def beats_majority(inputs: AdviceInputs, r: VariantAdvice) -> bool:
    """True unless the run is a label task and ``r`` does not beat its majority class."""
    if inputs.majority is None:
        return True
    versus = r.figures.versus_majority
    return versus is not None and versus.significant


def best_kept(inputs: AdviceInputs, rows: Sequence[VariantAdvice]) -> VariantAdvice | None:
    """The highest-scoring variant that may be kept; None when none beats the majority."""
    allowed = [r for r in rows if beats_majority(inputs, r)]
    return max(allowed, key=lambda r: r.figures.score.mean) if allowed else None


def majority_missed(inputs: AdviceInputs, top: VariantAdvice) -> str | None:
    """The deciding sentence when no variant beats the majority class, else None."""
    majority = inputs.majority
    if majority is None or not _nothing_beats(inputs):
        return None
    best = top.figures
    d = best.versus_majority.difference if best.versus_majority else None
    paired = f" ({d.interval_text()} against it, paired p={d.p_value:.2g})" if d else ""
    return (
        f"no variant is significantly better than {_trivial(majority)}: the best, "
        f"{best.variant}, scores {best.score}{paired}"
    )


def target_missed(inputs: AdviceInputs, top: VariantAdvice) -> str:
    """Why no variant is kept: the target is out of reach or, with no target, the best
    variant does not beat the majority class and none that does matches it."""
    best = top.figures
    if inputs.target is None:
        return (
            f"the best variant, {best.variant} ({best.score}), is not significantly better "
            "than the majority class, and no variant that is matches it"
        )
    return (
        f"no variant reaches {inputs.metric} >= {inputs.target:g} "
        f"(best: {best.variant}, {best.score})"
    )


def rework(inputs: AdviceInputs, top: VariantAdvice, missed: str) -> tuple[str, str, str]:
    """What is left when nothing beats the trivial answer and no other lever applies."""
    assert inputs.majority is not None  # only reached when a majority baseline ruled
    return (
        "rework-prompt",
        f"rework the prompt: {top.figures.variant} does not yet beat the trivial answer "
        f"({inputs.majority.majority_text()}); collect labelled examples",
        f"{missed}, and {inputs.labelled} labelled examples are too few to fine-tune "
        f"(rule: about {FINETUNE_MIN_EXAMPLES} or more).",
    )


def trivial_target_note(
    inputs: AdviceInputs, top: VariantAdvice, chosen: VariantAdvice | None
) -> str | None:
    """When the target is reached but only by variants no better than the majority class
    (nothing was chosen though the best reaches it); None otherwise."""
    if chosen is not None or inputs.target is None or inputs.majority is None or not top.reaches:
        return None
    return (
        f"{top.figures.variant} reaches {inputs.metric} >= {inputs.target:g} "
        f"({top.figures.score.mean:.3f}) but is not significantly better than "
        f"{_trivial(inputs.majority)}, so it is not kept"
    )


def _nothing_beats(inputs: AdviceInputs) -> bool:
    return not any(
        v.versus_majority is not None and v.versus_majority.significant
        for v in inputs.variants
        if v.score.n
    )


def _trivial(majority: LabelBaseline) -> str:
    return (
        f"the majority class ({majority.majority_text()}: {majority.rate} on "
        f"{majority.rows} rows; uniform chance {majority.chance:.3f})"
    )
