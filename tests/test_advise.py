"""promptkit advise: the arithmetic on known figures, and the decision in each regime."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from promptkit import Completion, Request, RunOptions, evaluate, load_run, register_mock
from promptkit.advise import (
    ACTIONS,
    AdviceInputs,
    PriceOptions,
    Prices,
    ShotStep,
    VariantFigures,
    advise_run,
    decide,
    finetuned_prices,
    model_prices,
)
from promptkit.results.baselines import LabelBaseline, VersusMajority, label_baseline
from promptkit.results.stats import Estimate, PairedDifference
from tests.conftest import needs_local_model, write
from tests.test_suite import BASE, make_project

M = 1e-6  # one dollar per million tokens, in dollars per token


def figures(shots: int, mean: float, low: float, high: float) -> VariantFigures:
    # 100 prompt tokens of instructions and input, 100 more per shot; 10-token answers.
    return VariantFigures(
        variant=f"p@v1 | api/m | k={shots}",
        prompt="p@v1",
        model="api/m",
        shots=float(shots),
        score=Estimate(mean, low, high, 200, "wilson"),
        prompt_tokens=100.0 + 100.0 * shots,
        completion_tokens=10.0,
    )


ZERO = figures(0, 0.70, 0.63, 0.76)
EIGHT = figures(8, 0.90, 0.86, 0.93)
STEP = ShotStep(
    "p@v1",
    "api/m",
    ZERO.variant,
    EIGHT.variant,
    0,
    8,
    PairedDifference(0.2, 0.13, 0.27, 1e-6, 200, "mcnemar-exact"),
)


def inputs(**changes: Any) -> AdviceInputs:
    base = AdviceInputs(
        metric="accuracy",
        variants=(ZERO, EIGHT),
        steps=(STEP,),
        labelled=1000,
        volume=1_000_000,
        target=0.85,
        prices={"api/m": Prices(1 * M, 2 * M, "test")},
        ft_prices={"api/m": Prices(2 * M, 4 * M, "test")},
        training_price=8 * M,
        epochs=3,
    )
    return replace(base, **changes)


def test_cost_per_call_and_per_month() -> None:
    advice = decide(inputs())
    zero, eight = advice.variants
    assert zero.cost_per_call == pytest.approx(100 * M + 10 * 2 * M)  # $0.00012
    assert eight.cost_per_call == pytest.approx(900 * M + 10 * 2 * M)  # $0.00092
    assert eight.cost_per_month == pytest.approx(920.0)  # x 1,000,000 calls
    assert (zero.reaches, zero.clears) == (False, False)
    assert (eight.reaches, eight.clears) == (True, True)
    assert advice.chosen == EIGHT.variant


def test_finetune_saving_training_cost_and_break_even() -> None:
    ft = decide(inputs()).finetune
    assert ft is not None
    assert ft.baseline == EIGHT.variant
    assert ft.zero_shot_prompt_tokens == 100  # measured at k=0
    assert ft.shot_tokens_saved == 800
    assert ft.finetuned_cost_per_call == pytest.approx(100 * 2 * M + 10 * 4 * M)  # $0.00024
    assert ft.saving_per_call == pytest.approx(920 * M - 240 * M)  # $0.00068
    assert ft.saving_per_month == pytest.approx(680.0)
    assert ft.training_tokens == 1000 * 110  # labelled x (zero-shot prompt + answer)
    assert ft.training_cost == pytest.approx(110_000 * 3 * 8 * M)  # $2.64
    assert ft.break_even_calls == pytest.approx(2.64 / 680e-6)  # 3,882 calls
    assert ft.break_even_months == pytest.approx(2.64 / 680e-6 / 1_000_000)


def test_zero_shot_size_is_extrapolated_without_a_k0_variant() -> None:
    four = figures(4, 0.88, 0.83, 0.92)
    advice = decide(inputs(variants=(four, EIGHT), steps=()))
    assert advice.finetune is not None
    assert advice.finetune.zero_shot_prompt_tokens == pytest.approx(100)


def test_large_pool_and_high_volume_fine_tune() -> None:
    advice = decide(inputs())
    assert advice.action == "fine-tune"
    assert "fine-tuning pays back" in advice.rule
    assert "3,882 calls" in advice.rule and "1000 labelled examples" in advice.rule


def test_large_pool_low_volume_retrieves_examples_instead() -> None:
    advice = decide(inputs(volume=100))  # 3,882 calls take 39 months at 100 a month
    assert advice.action == "similar-shots"
    assert "39 months" in advice.rule or "38.8 months" in advice.rule
    assert decide(inputs(volume=100, strategy="similar")).action == "keep"


def test_tiny_pool_never_fine_tunes_even_at_high_volume() -> None:
    advice = decide(inputs(labelled=16))
    assert advice.action == "keep"
    assert advice.chosen == EIGHT.variant
    assert "16 labelled examples are too few to fine-tune" in advice.rule


def test_tiny_pool_adds_shots_while_the_curve_rises_and_the_target_is_not_cleared() -> None:
    shaky = replace(EIGHT, score=Estimate(0.86, 0.80, 0.91, 200, "wilson"))
    advice = decide(inputs(labelled=16, variants=(ZERO, shaky)))
    assert advice.action == "add-shots"
    assert "only by its point estimate" in advice.rule
    assert "does not clear it" in advice.target_note


def test_a_variant_whose_interval_clears_the_target_beats_a_cheaper_point_estimate() -> None:
    advice = decide(inputs(target=0.65, labelled=16))  # k=0: 0.70 [0.63, 0.76]
    assert advice.variants[0].reaches and not advice.variants[0].clears
    assert advice.chosen == EIGHT.variant


def test_cheaper_variant_reaching_the_target_removes_shots() -> None:
    advice = decide(inputs(target=0.60, labelled=16))
    assert advice.chosen == ZERO.variant
    assert advice.action == "remove-shots"
    assert "$0.000800 less per call ($800.00/month)" in advice.rule
    # once k=0 clears the target, the extra shots no longer pay
    assert advice.curve[0].pays is False
    assert advice.stop_paying_after == 0
    assert advice.curve_note == (
        "p@v1 on api/m: extra examples stop paying after k=0; k=0->8 gains +0.0250 per extra "
        "shot for $0.000100 more per call ($100.00/month), and k=0 already clears the target"
    )


def test_zero_shot_choice_shows_fine_tuning_against_the_best_few_shot_but_never_picks_it() -> None:
    advice = decide(inputs(target=0.60))  # large pool, high volume, but k=0 already suffices
    assert advice.chosen == ZERO.variant
    assert advice.finetune is not None and advice.finetune.baseline == EIGHT.variant
    assert advice.finetune.shot_tokens_saved == 800
    assert advice.finetune.break_even_calls == pytest.approx(2.64 / 680e-6)
    assert advice.action == "remove-shots"


def test_target_unreachable() -> None:
    flat = replace(STEP, gain=PairedDifference(0.01, -0.03, 0.05, 0.7, 200, "mcnemar-exact"))
    big = decide(inputs(target=0.99, steps=(flat,)))
    assert big.chosen is None and big.action == "fine-tune"
    assert "no variant reaches accuracy >= 0.99" in big.rule
    assert "even its upper end is below" in big.target_note
    small = decide(inputs(target=0.99, steps=(flat,), labelled=16))
    assert small.action == "similar-shots"
    assert decide(inputs(target=0.99, steps=(flat,), labelled=5)).action == "keep"
    rising = decide(inputs(target=0.99, labelled=16))
    assert rising.action == "add-shots"
    assert rising.stop_paying_after == 8
    assert rising.curve_note == "p@v1 on api/m: every extra example still paid up to k=8"


def test_local_model_costs_zero_and_never_pays_back() -> None:
    free = {"api/m": Prices(0.0, 0.0, "local")}
    advice = decide(inputs(prices=free, ft_prices=free))
    assert advice.variants[1].cost_per_month == 0
    assert advice.finetune is not None and advice.finetune.saving_per_call == 0
    assert advice.action == "similar-shots"
    assert "not less than $0" in advice.rule
    assert any("--input-price" in note for note in advice.notes)


def test_unknown_training_price_leaves_break_even_unknown() -> None:
    advice = decide(inputs(training_price=None, training_price_source="no training price"))
    assert advice.finetune is not None
    assert advice.finetune.training_cost is None and advice.finetune.break_even_calls is None
    assert advice.action == "similar-shots"
    assert "training cost is unknown" in advice.rule
    assert "no training price" in advice.notes


def test_json_has_no_nan() -> None:
    advice = decide(inputs(volume=None))
    data = json.loads(advice.to_json())
    assert data["finetune"]["break_even_months"] is None
    assert data["variants"][0]["cost_per_month"] is None
    assert data["finetune"]["break_even_calls"] == pytest.approx(2.64 / 680e-6)


def test_prices_come_from_litellms_map() -> None:
    from promptkit.providers.litellm_provider import import_litellm

    table = import_litellm().model_cost
    base = model_prices("openai/gpt-4o-mini")
    assert base.input == table["gpt-4o-mini"]["input_cost_per_token"]
    assert base.output == table["gpt-4o-mini"]["output_cost_per_token"]
    tuned = finetuned_prices("openai/gpt-4o-mini")
    key = max(k for k in table if k.startswith("ft:gpt-4o-mini-"))
    assert key in tuned.source
    assert tuned.input == table[key]["input_cost_per_token"]
    assert model_prices("openai/no-such-model").input is None
    assert model_prices("local/smollm2").input == 0


# -- on a stored run --------------------------------------------------------------------


def shots_in(request: Request) -> int:
    return sum(1 for m in request.messages if m.role == "assistant")


def scripted(request: Request) -> Completion:
    """Right on rows 0-2 always, on every row with 2 shots; 30 + 20 tokens per shot."""
    text = request.messages[-1].content
    label = "pos" if int(text.split()[-1]) % 2 else "neg"
    right = shots_in(request) >= 2 or text in {"row 0", "row 1", "row 2"}
    return Completion(
        text=label if right else "?",
        prompt_tokens=30 + 20 * shots_in(request),
        completion_tokens=1,
        cost=None,
    )


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    register_mock("advise", scripted)
    suite = make_project(tmp_path / "proj", BASE.replace("mock/echo", "mock/advise"))
    monkeypatch.chdir(tmp_path / "proj")  # the run is read back by id, from its project
    result = evaluate(suite, prompts=["cls@v1"])
    return result.run_id


def test_advise_on_a_run(run: str) -> None:
    advice = advise_run(
        run,
        target=0.9,
        volume=10_000,
        prices=PriceOptions(input=1.0, output=2.0),
    )
    assert advice.run == run
    assert advice.labelled == 6  # the pool, none of it overlapping the rows
    zero, two = advice.variants
    assert zero.figures.score.mean == 0.5 and two.figures.score.mean == 1.0
    assert two.figures.prompt_tokens == 70 and two.figures.shots == 2
    assert two.cost_per_call == pytest.approx(70 * M + 2 * M)
    assert two.cost_per_month == pytest.approx(0.72)
    assert advice.curve[0].extra_prompt_tokens == 40
    assert advice.finetune is not None and advice.finetune.zero_shot_prompt_tokens == 30
    # the fine-tuned model's price is assumed equal to the given one for a scripted model
    assert advice.finetune.saving_per_call == pytest.approx(40 * M)
    # 6 rows, 3 'neg' and 3 'pos': always answering either is right on half of them, and
    # k=2's 6 of 6 wins only 3 rows against that (exact McNemar p = 0.25), so it is not
    # kept although it reaches the target; with a pool of 6 the lever left is retrieval.
    assert advice.majority is not None and advice.majority.majority == ("neg", "pos")
    assert two.figures.versus_majority is not None
    assert two.figures.versus_majority.difference.p_value == pytest.approx(0.25)
    assert advice.chosen is None and advice.action == "similar-shots"
    assert advice.rule.startswith("no variant is significantly better than the majority class")
    assert "6 labelled examples are too few" in advice.rule
    assert "not significantly better than the majority class" in advice.target_note


def test_advise_cli_prints_figures_and_json(cli: Any, run: str) -> None:
    code, out, _ = cli("advise", run, "--target", "0.9", "--volume", "10000")
    assert code == 0
    assert "Recommendation: similar-shots" in out and "Decided by:" in out
    assert "Trivial answers: majority class always 'neg' or 'pos' (tied, 3 rows each)" in out
    assert "beats majority" in out and "no p=0.25" in out
    assert "cost 0 per call" in out and "--training-price" in out
    code, out, _ = cli(
        "advise", "--json", "--target", "0.9", "--labelled", "5000", "--volume", "1e6",
        "--input-price", "1", "--output-price", "2", "--ft-input-price", "2",
        "--ft-output-price", "4", "--training-price", "8",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["run"] == run and data["labelled"] == 5000
    ft = data["finetune"]
    assert ft["training_tokens"] == 5000 * 31
    assert ft["training_cost"] == pytest.approx(5000 * 31 * 3 * 8 * M)
    saving = (70 * M + 2 * M) - (30 * 2 * M + 4 * M)
    assert ft["saving_per_call"] == pytest.approx(saving)
    assert ft["break_even_calls"] == pytest.approx(5000 * 31 * 3 * 8 * M / saving)
    assert data["action"] == "fine-tune"


def test_advise_bad_input_is_one_line(cli: Any, run: str) -> None:
    code, _, err = cli("advise", run, "--metric", "nope")
    assert code == 2
    assert "the run has no metric 'nope' (choose one of: label_accuracy" in err
    code, _, err = cli("advise", "no-such-run")
    assert code == 2 and "no run matches 'no-such-run'" in err


def test_runs_written_by_hand_are_read(tmp_path: Path) -> None:
    """A journal written directly, as another tool would: figures come out exact."""
    folder = tmp_path / ".promptkit" / "runs" / "r1"
    write(folder / "meta.json", json.dumps({"metrics": ["acc"], "resolved_suite": {}}))
    rows = [
        {
            "variant": f"q@v1 | openai/gpt-4o-mini | k={k}",
            "prompt": "q@v1",
            "model": "openai/gpt-4o-mini",
            "shots": k,
            "shot_ids": [f"e{i}" for i in range(k)],
            "row_id": f"r{i}",
            "scores": {"acc": float(i < (8 if k else 5))},
            "prompt_tokens": 200 + 150 * k,
            "completion_tokens": 5,
            "error": None,
        }
        for k in (0, 4)
        for i in range(10)
    ]
    write(folder / "journal.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    advice = advise_run("r1", volume=1000, root=tmp_path / ".promptkit" / "runs")
    assert advice.labelled == 0
    assert any("no example pool" in n for n in advice.notes)
    assert [v.figures.score.mean for v in advice.variants] == [0.5, 0.8]
    assert advice.variants[1].figures.prompt_tokens == 800
    price = model_prices("openai/gpt-4o-mini")
    assert price.input is not None and price.output is not None
    expected = 800 * price.input + 5 * price.output
    assert advice.variants[1].cost_per_call == pytest.approx(expected)
    assert advice.curve[0].step.gain.mean == pytest.approx(0.3)
    # no --target: a variant inside the best one's interval matches it, so the cheaper wins
    assert advice.target is None and advice.chosen == "q@v1 | openai/gpt-4o-mini | k=0"
    assert advice.action == "remove-shots"
    assert "the best score (not significantly worse, paired 95% interval)" in advice.rule


@pytest.mark.slow
@needs_local_model
def test_advise_on_a_real_local_model_run(repo: Path) -> None:
    """Token counts measured by llama.cpp, not scripted: the arithmetic must follow them."""
    result = evaluate(
        repo / "evals" / "sentiment.yaml", RunOptions(limit=4), prompts=["sentiment@v2"]
    )
    frame = load_run(result.run_id)
    advice = advise_run(
        result.run_id, target=0.5, volume=50_000, prices=PriceOptions(input=0.15, output=0.6)
    )
    zero, four = advice.variants
    measured = frame.groupby("shots")["prompt_tokens"].mean()
    assert zero.figures.prompt_tokens == pytest.approx(measured[0])
    assert four.figures.prompt_tokens == pytest.approx(measured[4])
    assert four.figures.shots == 4
    assert four.cost_per_call == pytest.approx(
        four.figures.prompt_tokens * 0.15e-6 + four.figures.completion_tokens * 0.6e-6
    )
    assert advice.labelled == 16  # the sentiment pool shares nothing with its rows
    assert advice.finetune is not None
    assert advice.finetune.shot_tokens_saved == pytest.approx(measured[4] - measured[0])
    assert advice.action in ACTIONS and advice.rule.endswith(".")


def test_a_variant_is_not_passed_over_for_a_dominator_that_misses_the_target() -> None:
    # y, the cheapest, dominates x but misses the target; x clears it at half the cost of z.
    def rows(passed: int) -> dict[str, float]:
        return {f"r{i}": float(i < passed) for i in range(40)}

    def variant(shots: int, passed: int) -> VariantFigures:
        return replace(
            figures(shots, passed / 40, 0.0, 1.0),
            score=Estimate(
                passed / 40, passed / 40 - 0.02, min(1.0, passed / 40 + 0.02), 40, "wilson"
            ),
            rows=rows(passed),
        )

    y, x, z = variant(0, 31), variant(1, 33), variant(3, 40)
    advice = decide(inputs(variants=(y, x, z), steps=(), target=0.8))
    by_id = {v.figures.variant: v for v in advice.variants}
    assert by_id[x.variant].dominated_by == y.variant and not by_id[y.variant].reaches
    assert advice.chosen == x.variant  # not z, which costs twice as much


# -- the trivial answer: a label task's majority class ----------------------------------


def versus(mean: float, low: float, high: float, p: float) -> VersusMajority:
    """A variant minus always answering 'a', as a paired test on 200 rows gives it."""
    return VersusMajority(
        "a", PairedDifference(mean, low, high, p, 200, "mcnemar-exact", "newcombe-score")
    )


def majority(rows_of_a: int) -> LabelBaseline:
    found = label_baseline({f"r{i}": "a" if i < rows_of_a else "b" for i in range(200)})
    assert found is not None
    return found


def test_a_variant_no_better_than_the_majority_class_is_never_kept() -> None:
    plain = inputs(labelled=5, steps=())
    assert decide(plain).action == "keep"  # without a baseline: keep k=8, which clears 0.85
    # 'a' on 176 of 200 rows: 0.88; k=0 (0.70) is below it, k=8 (0.90) not clearly above
    trivial = replace(
        plain,
        majority=majority(176),
        variants=(
            replace(ZERO, versus_majority=versus(-0.18, -0.25, -0.11, 1e-6)),
            replace(EIGHT, versus_majority=versus(0.02, -0.03, 0.07, 0.5)),
        ),
    )
    advice = decide(trivial)
    assert advice.chosen is None and advice.action == "rework-prompt"
    assert advice.recommendation.startswith(
        f"rework the prompt: {EIGHT.variant} does not yet beat the trivial answer (always 'a')"
    )
    assert advice.rule.startswith(
        "no variant is significantly better than the majority class (always 'a': "
        "0.880 [0.828, 0.918] on 200 rows; uniform chance 0.500): the best, "
        f"{EIGHT.variant}, scores 0.900 [0.860, 0.930] (+0.020 [-0.030, +0.070] "
        "newcombe-score against it, paired p=0.5)"
    )
    assert "5 labelled examples are too few to fine-tune" in advice.rule
    assert "reaches accuracy >= 0.85 (0.900) but is not significantly better" in advice.target_note
    assert advice.majority == trivial.majority
    # the other levers still apply: a large pool says fine-tune, not keep
    assert decide(replace(trivial, labelled=1000)).action == "fine-tune"


def test_only_a_variant_that_beats_the_majority_class_can_be_chosen() -> None:
    # k=0 is chosen for being cheaper (remove-shots) unless it sits at the majority rate
    assert decide(inputs(target=0.60, labelled=16)).chosen == ZERO.variant
    advice = decide(
        inputs(
            target=0.60,
            labelled=16,
            majority=majority(140),  # 0.70, k=0's own score
            variants=(
                replace(ZERO, versus_majority=versus(0.0, -0.06, 0.06, 1.0)),
                replace(EIGHT, versus_majority=versus(0.20, 0.13, 0.27, 1e-8)),
            ),
        )
    )
    assert advice.chosen == EIGHT.variant and advice.action == "keep"
