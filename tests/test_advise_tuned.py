"""advise on measurements: a run holding a tuned/ variant decides the fine-tuning branch
on that model's measured score, tokens and training figures (known figures, arithmetic
checked by hand), and says when the figures are assumed instead."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from promptkit.advise import AdviceInputs, Prices, TuningFigures, VariantFigures, decide
from promptkit.report.advice import advice_report
from promptkit.results.stats import mean_interval
from tests.test_advise import EIGHT, ZERO, M, inputs, majority, versus

ROWS = [f"r{i}" for i in range(200)]
TRAINING = TuningFigures("lora", "hf/smollm2", 180, 50_000.0, 600.0, "cpu")


def passing(first: int) -> dict[str, float]:
    """Rows r0 .. r{first-1} pass, the rest fail."""
    return {row: 1.0 if i < first else 0.0 for i, row in enumerate(ROWS)}


def scored(v: VariantFigures, first: int) -> VariantFigures:
    rows = passing(first)
    return replace(v, rows=rows, score=mean_interval(list(rows.values())))


PROMPT_ZERO = scored(ZERO, 140)  # 0.70
PROMPT_EIGHT = scored(EIGHT, 180)  # 0.90


def tuned(first: int, **changes: Any) -> VariantFigures:
    """A tuned model served zero-shot: 100 prompt tokens, 10-token answers."""
    base = scored(
        VariantFigures(
            variant="p@v1 | tuned/p-v1-lora | k=0",
            prompt="p@v1",
            model="tuned/p-v1-lora",
            shots=0.0,
            score=mean_interval([]),
            prompt_tokens=100.0,
            completion_tokens=10.0,
            tuning=TRAINING,
        ),
        first,
    )
    return replace(base, **changes)


def with_tuned(t: VariantFigures, **changes: Any) -> AdviceInputs:
    base = inputs(
        variants=(PROMPT_ZERO, PROMPT_EIGHT, t),
        prices={"api/m": Prices(1 * M, 2 * M, "test"), t.model: Prices(0.0, 0.0, "runs here")},
        ft_prices={"api/m": Prices(2 * M, 4 * M, "test"), t.model: Prices(2 * M, 4 * M, "test")},
    )
    return replace(base, **changes)


def test_a_hosted_tuned_model_that_reaches_the_target_and_pays_back_replaces_the_prompt() -> None:
    advice = decide(with_tuned(tuned(190)))
    m = advice.finetune.measured if advice.finetune else None
    assert (
        m is not None and m.tuned == "p@v1 | tuned/p-v1-lora | k=0" and m.against == EIGHT.variant
    )
    # tuned 0.95 against k=8's 0.90: the 10 discordant rows all favour the tuned model
    assert m.difference.mean == pytest.approx(0.05) and m.difference.n == 200
    assert m.difference.p_value == pytest.approx(2 * 0.5**10) and m.better
    # hosted: 100 x $2/1M + 10 x $4/1M = $0.00024 per call against k=8's $0.00092
    assert m.route == "hosted" and m.cost_per_call == pytest.approx(240 * M)
    assert m.monthly_saving == pytest.approx((920 - 240) * M * 1_000_000)  # $680/month
    # one-off: the 50,000 tokens training measured x $8/1M = $0.40, paid back in 0.40/680
    assert m.training_cost == pytest.approx(0.40)
    assert m.payback_months == pytest.approx(0.40 / 680)
    assert advice.action == "fine-tune"
    assert advice.recommendation == (
        f"serve p@v1 | tuned/p-v1-lora | k=0 in place of {EIGHT.variant} "
        "(lora on 180 labelled examples, trained in 600 s on cpu)"
    )
    assert advice.rule.startswith(
        "measured, not assumed: p@v1 | tuned/p-v1-lora | k=0 scores 0.950"
    )
    assert "saves $680.00/month, one-off $0.40 paid back in" in advice.rule
    assert advice.chosen == EIGHT.variant  # the prompt choice is still the prompts'


def test_self_hosting_that_costs_more_than_the_prompt_keeps_the_prompt() -> None:
    # $1,000/month to host, against k=8's $920/month of tokens: $80/month more
    advice = decide(with_tuned(tuned(190), hosting_cost=1000.0))
    m = advice.finetune.measured if advice.finetune else None
    assert m is not None and m.route == "self-hosted" and m.cost_per_call == 0.0
    assert m.monthly_saving == pytest.approx(920.0 - 1000.0)
    assert advice.action != "fine-tune"
    assert "Fine-tuning was measured, not assumed: p@v1 | tuned/p-v1-lora | k=0 scores 0.950" in (
        advice.rule
    )
    assert "it does not pay: self-hosted, it costs $80.00/month more" in advice.rule
    # the same run without the tuned variant assumes, and so would fine-tune
    assumed = decide(inputs(variants=(PROMPT_ZERO, PROMPT_EIGHT)))
    assert assumed.action == "fine-tune" and assumed.finetune is not None
    assert assumed.finetune.measured is None
    assert "The fine-tune figures are assumed" in assumed.rule
    assert "promptkit tune SUITE --method lora --prompt p@v1" in assumed.rule


def test_a_significantly_worse_tuned_model_is_never_served() -> None:
    advice = decide(with_tuned(tuned(150), target=None))
    m = advice.finetune.measured if advice.finetune else None
    assert m is not None and m.worse and m.difference.mean == pytest.approx(-0.15)
    assert advice.action != "fine-tune"
    assert "and it is significantly worse." in advice.rule


def test_a_tuned_model_that_beats_the_majority_class_where_no_prompt_does() -> None:
    # 'a' on 176 of 200 rows (0.88); neither prompt beats it, the tuned model does
    label_inputs = with_tuned(
        tuned(195, versus_majority=versus(0.095, 0.05, 0.14, 1e-4)),
        majority=majority(176),
        variants=(
            replace(PROMPT_ZERO, versus_majority=versus(-0.18, -0.25, -0.11, 1e-6)),
            replace(PROMPT_EIGHT, versus_majority=versus(0.02, -0.03, 0.07, 0.5)),
            tuned(195, versus_majority=versus(0.095, 0.05, 0.14, 1e-4)),
        ),
    )
    advice = decide(label_inputs)
    assert advice.chosen is None
    assert advice.action == "fine-tune" and advice.rule.startswith("measured, not assumed")
    # a tuned model no better than the majority class is not served either
    weak = replace(
        label_inputs,
        variants=(
            *label_inputs.variants[:2],
            tuned(180, versus_majority=versus(0.02, -0.03, 0.07, 0.5)),
        ),
    )
    advice = decide(weak)
    assert advice.action == "add-shots"  # the shots curve still rises: the lever left
    assert "it is not significantly better than the majority class" in advice.rule


def test_the_report_shows_the_measured_figures() -> None:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(advice_report(decide(with_tuned(tuned(190)))))
    out = console.export_text()
    assert f"Measured: p@v1 | tuned/p-v1-lora | k=0 against {EIGHT.variant}" in out
    assert "trained: lora on hf/smollm2, 180 labelled examples, 50,000 tokens, 600 s on cpu" in out
    assert "hosted: $0.000240 per call against $0.000920; saving $680.00/month" in out


def test_self_hosted_calls_cost_only_the_hosting_and_no_training() -> None:
    # token prices given for every model (as --input-price does) do not charge its calls
    priced = with_tuned(tuned(190), hosting_cost=100.0)
    priced = replace(priced, prices={**priced.prices, "tuned/p-v1-lora": Prices(M, 2 * M, "x")})
    m = decide(priced).finetune.measured  # type: ignore[union-attr]
    assert m is not None and m.cost_per_call == 0.0 and m.training_cost is None
    assert m.monthly_saving == pytest.approx(920.0 - 100.0)
    assert decide(priced).action == "fine-tune"


def test_no_shared_rows_is_never_a_win() -> None:
    apart = tuned(190, rows={f"other{i}": 1.0 for i in range(200)})
    advice = decide(with_tuned(apart))
    m = advice.finetune.measured if advice.finetune else None
    assert m is not None and m.difference.n == 0 and advice.action != "fine-tune"
    assert "no row was scored by both" in advice.rule
