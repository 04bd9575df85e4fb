"""LLM as judge: structure, k samples and agreement, both-order pairing, tokens counted.

Exact verdicts come from scripted mock judges (a real model cannot produce them on
demand); one slow test runs the real local model as judge and checks structure only.
"""

from __future__ import annotations

import asyncio
import itertools
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import pytest

from promptkit import (
    Case,
    Completion,
    Provider,
    Request,
    RunOptions,
    SuiteError,
    evaluate,
    load_run,
    register_mock,
    register_provider,
)
from promptkit.scorers import ScorerSetup, make_scorer
from tests.conftest import needs_local_model, write
from tests.test_suite import BASE, make_project

RUBRIC = "The answer names the sentiment."


def judged(spec: Any, case: Case, setup: ScorerSetup | None = None) -> Any:
    return asyncio.run(make_scorer(spec, setup=setup)(case))


def a_case(raw: str = "It is positive", expected: str | None = "positive") -> Case:
    return Case(
        output=raw, raw=raw, expected=expected, row={"text": "Great!"}, inputs={"text": "Great!"}
    )


def scripted(name: str, replies: list[str]) -> list[Request]:
    """Register mock/<name> answering with ``replies`` in turn; returns the requests seen."""
    seen: list[Request] = []
    cycle = itertools.cycle(replies)

    def handler(request: Request) -> Completion:
        seen.append(request)
        return Completion(text=next(cycle), prompt_tokens=50, completion_tokens=5, cost=0.001)

    register_mock(name, handler)
    return seen


def test_rubric_judge_renders_the_versioned_prompt_and_reads_the_verdict() -> None:
    seen = scripted("judge-pass", ["Names it clearly.\nVERDICT: PASS"])
    score = judged({"llm_judge": {"model": "mock/judge-pass", "rubric": RUBRIC}}, a_case())
    assert score.value == 1.0 and score.label == "PASS"
    details = score.details
    assert details["prompt"] == "judge@v1" and len(details["prompt_hash"]) == 12
    assert details["k"] == 1 and details["valid"] == 1 and details["agreement"] == 1.0
    assert details["samples"][0]["verdict"] == "PASS"
    (request,) = seen
    assert [m.role for m in request.messages] == ["system", "user"]
    user = request.messages[1].content
    assert RUBRIC in user and "Great!" in user and "It is positive" in user and "positive" in user
    assert request.params["temperature"] == 0  # one sample: the prompt's own parameters


def test_k_samples_are_distinct_requests_and_agreement_is_reported() -> None:
    seen = scripted("judge-mixed", ["VERDICT: PASS", "VERDICT: FAIL", "verdict: pass"])
    spec = {"llm_judge": {"model": "mock/judge-mixed", "rubric": RUBRIC, "samples": 3}}
    score = judged(spec, a_case())
    assert score.value == pytest.approx(2 / 3)
    assert score.details["agreement"] == pytest.approx(2 / 3)
    assert score.label == "PASS"
    assert sorted(r.repeat for r in seen) == [0, 1, 2]  # each sample is cached apart
    assert {r.params["temperature"] for r in seen} == {0.7}  # k > 1 samples are sampled
    pinned = {"llm_judge": {**spec["llm_judge"], "params": {"temperature": 0.2}}}
    judged(pinned, a_case())
    assert seen[-1].params["temperature"] == 0.2


def test_no_verdict_scores_zero_and_says_so() -> None:
    scripted("judge-mumble", ["I am not sure what to say."])
    score = judged({"llm_judge": {"model": "mock/judge-mumble", "rubric": RUBRIC}}, a_case())
    assert score.value == 0.0 and score.label == "no verdict"
    assert score.details["valid"] == 0 and score.details["agreement"] is None


def test_numeric_scale_verdicts() -> None:
    scripted("judge-four", ["Score 4\nVERDICT: 4"])
    write(
        Path("prompts/judge/v2.jinja"),
        "---\ninputs: [rubric, question, answer, reference]\n"
        'parser: {type: regex, pattern: "VERDICT\\\\W*([1-5])", group: 1}\n---\n'
        '{% message "user" %}{{ rubric }} {{ question }} {{ answer }} {{ reference }}{% endmessage %}\n',
    )
    from promptkit.define.prompts import PromptLibrary

    setup = ScorerSetup(prompts=PromptLibrary("prompts"))
    spec = {"llm_judge": {"model": "mock/judge-four", "rubric": RUBRIC, "prompt": "judge@v2"}}
    assert judged(spec, a_case(), setup).value == pytest.approx(0.75)  # 4 on 1..5


def test_pairwise_is_asked_in_both_orders_and_cancels_position_bias() -> None:
    seen = scripted("judge-first", ["The first one.\nVERDICT: A"])  # always prefers position A
    spec = {"pairwise_judge": {"model": "mock/judge-first", "samples": 2}}
    score = judged(spec, a_case("It is positive", "positive"))
    assert score.value == 0.5 and score.label == "tie"
    assert score.details["consistent"] is False
    assert len(score.details["output_first"]) == 2 and len(score.details["output_second"]) == 2
    assert len(seen) == 4
    firsts = [r for r in seen if '<answer id="A">\nIt is positive' in r.messages[1].content]
    seconds = [r for r in seen if '<answer id="B">\nIt is positive' in r.messages[1].content]
    assert len(firsts) == 2 and len(seconds) == 2


def test_pairwise_consistent_judge_gives_a_clear_win_or_loss() -> None:
    def prefers_detail(request: Request) -> str:
        text = request.messages[1].content
        a = text.split('<answer id="A">')[1].split("</answer>")[0]
        b = text.split('<answer id="B">')[1].split("</answer>")[0]
        return "VERDICT: A" if len(a) > len(b) else "VERDICT: B"

    register_mock("judge-detail", prefers_detail)
    spec = {"pairwise_judge": {"model": "mock/judge-detail", "against": "baseline"}}
    row = {"baseline": "pos"}
    win = judged(
        spec,
        Case(output=None, raw="Positive, because it praises the product", expected=None, row=row),
    )
    assert win.value == 1.0 and win.label == "win" and win.details["consistent"] is True
    loss = judged(spec, Case(output=None, raw="p", expected=None, row=row))
    assert loss.value == 0.0 and loss.label == "loss"
    with pytest.raises(ValueError, match="column 'baseline' is empty"):
        judged(spec, Case(output=None, raw="p", expected=None, row={}))


def test_judge_prompt_errors_are_suite_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="judge prompt 'nojudge@v1' not found") as missing:
        make_scorer({"llm_judge": {"rubric": RUBRIC, "prompt": "nojudge@v1", "model": "mock/x"}})
    shipped = Path(str(missing.value.hint).rpartition("a copy of promptkit's own ")[2])
    assert shipped.name == "v1.jinja" and "VERDICT" in shipped.read_text("utf-8")  # copyable
    with pytest.raises(SuiteError, match="needs the argument 'rubric'"):
        make_scorer({"llm_judge": {"model": "mock/x"}})
    with pytest.raises(SuiteError, match="samples must be at least 1"):
        make_scorer({"llm_judge": {"rubric": RUBRIC, "samples": 0, "model": "mock/x"}})


JUDGED_SUITE = BASE.replace("scorers: [label_accuracy, {exact_match: {normalize: true}}]", "")


def judged_project(root: Path, judge: str, samples: int, params: str = "{}") -> Path:
    suite = JUDGED_SUITE + (
        "scorers:\n  - label_accuracy\n"
        f"  - llm_judge: {{model: {judge}, rubric: Names the label., samples: {samples}, "
        f"params: {params}}}\n"
        f"  - pairwise_judge: {{model: {judge}, metric: vs_reference, params: {params}}}\n"
    )
    return make_project(root, suite)


def test_judge_through_the_run_counts_tokens_and_cost_on_the_row(tmp_path: Path) -> None:
    seen: list[Request] = []

    def judge(request: Request) -> Completion:
        seen.append(request)
        if "compare two answers" in request.messages[0].content:
            text = "VERDICT: B"  # always the second position: a tie once both orders are in
        else:
            text = "VERDICT: PASS" if request.repeat == 0 else "VERDICT: FAIL"
        return Completion(text=text, prompt_tokens=50, completion_tokens=5, cost=0.001)

    register_mock("judge-run", judge)
    suite = judged_project(tmp_path, "mock/judge-run", samples=2)
    result = evaluate(suite, RunOptions(limit=2), prompts=["cls@v1"])
    frame = load_run(result.run_id)
    assert result.errors == 0 and len(frame) == 4
    # per case: 2 rubric samples + 2 pairwise orders x 1 sample
    assert len(seen) == 4 * 4
    assert (frame["scorer_tokens"] == 4 * 55).all()
    assert frame["scorer_cost"].round(6).eq(0.004).all()
    details = frame["score_details"].iloc[0]
    assert details["llm_judge"]["k"] == 2 and details["llm_judge"]["agreement"] == 0.5
    assert details["vs_reference"]["consistent"] is False
    assert (frame["score.llm_judge"] == 0.5).all() and (frame["score.vs_reference"] == 0.5).all()
    summary = result.summaries[0]
    assert summary.judges["llm_judge"].samples == 2
    assert summary.judges["llm_judge"].agreement == 0.5
    assert summary.judges["vs_reference"].consistent == 0.0
    assert summary.scorer_tokens == pytest.approx(4 * 55)


def test_suite_may_override_the_judge_prompt(tmp_path: Path) -> None:
    seen = scripted("judge-own", ["VERDICT: PASS"])
    suite = judged_project(tmp_path, "mock/judge-own", samples=1)
    own = (files("promptkit.scorers") / "judge_prompts" / "judge" / "v1.jinja").read_text("utf-8")
    write(tmp_path / "prompts" / "judge" / "v1.jinja", own.replace("strict, fair", "house-style"))
    evaluate(suite, RunOptions(limit=1), prompts=["cls@v1"])
    rubric_requests = [r for r in seen if "house-style" in r.messages[0].content]
    assert len(rubric_requests) == 2  # one case x two shot variants


def test_identical_runs_send_identical_judge_requests(tmp_path: Path) -> None:
    """What a response cache keys on (model, messages, params, seed, repeat) repeats exactly,
    so a second identical run can be answered from the cache."""
    seen = scripted("judge-key", ["VERDICT: PASS"])
    suite = judged_project(tmp_path, "mock/judge-key", samples=2)

    def keys(requests: list[Request]) -> list[Any]:
        return sorted(
            (
                r.model,
                [(m.role, m.content) for m in r.messages],
                sorted(r.params.items()),
                r.seed,
                r.repeat,
            )
            for r in requests
        )

    evaluate(suite, RunOptions(limit=2), prompts=["cls@v1"])
    first = keys(seen)
    seen.clear()
    evaluate(suite, RunOptions(limit=2), prompts=["cls@v1"])
    assert keys(seen) == first
    assert len(first) == 4 * 4  # 4 cases x (2 rubric samples + 2 pairwise orders)


class CachedJudge(Provider):
    """A scripted judge whose answers the response cache may keep, like a real model's
    (``mock/`` answers are never cached, so they cannot show the cache at work)."""

    calls: ClassVar[list[Request]] = []

    async def complete(self, request: Request) -> Completion:
        CachedJudge.calls.append(request)
        return Completion(text="VERDICT: PASS", prompt_tokens=50, completion_tokens=5, cost=0.001)


def test_second_identical_run_reuses_judge_answers(tmp_path: Path) -> None:
    register_provider("cachedjudge")(CachedJudge)
    CachedJudge.calls.clear()
    suite = judged_project(tmp_path, "cachedjudge/v1", samples=2)
    first = evaluate(suite, RunOptions(limit=2), prompts=["cls@v1"])
    asked = len(CachedJudge.calls)
    # 4 cases x (2 rubric samples + 2 pairwise orders) = 16 judge requests, but mock/echo
    # gives both shot variants of a row the same answer, so only 8 differ: the cache
    # answers the other 8 within the first run already.
    assert asked == 8
    second = evaluate(suite, RunOptions(limit=2), prompts=["cls@v1"])
    assert len(CachedJudge.calls) == asked  # every judge answer came from the cache
    # ...and its tokens and cost still count on the rows, as the first run's did
    assert (
        load_run(second.run_id)["scorer_tokens"].tolist()
        == load_run(first.run_id)["scorer_tokens"].tolist()
    )


@pytest.mark.slow
@needs_local_model
def test_local_model_as_judge_structure(tmp_path: Path) -> None:
    """The real SmolLM2 judges a few answers: structure, counts and pairing, not its taste."""
    suite = judged_project(tmp_path, "local/smollm2", samples=2, params="{max_tokens: 48}")
    result = evaluate(suite, RunOptions(limit=2), prompts=["plain@v1"], models=["mock/echo"])
    frame = load_run(result.run_id)
    assert result.errors == 0 and len(frame) == 2
    for details in frame["score_details"]:
        rubric, pairwise = details["llm_judge"], details["vs_reference"]
        assert rubric["judge"] == "local/smollm2" and rubric["k"] == 2
        assert len(rubric["samples"]) == 2 and all(s["text"] for s in rubric["samples"])
        assert rubric["agreement"] is None or rubric["agreement"] in (0.5, 1.0)
        assert len(pairwise["output_first"]) == 1 and len(pairwise["output_second"]) == 1
    assert frame["score.llm_judge"].between(0, 1).all()
    assert frame["score.vs_reference"].between(0, 1).all()
    assert (frame["scorer_tokens"] > 0).all()


def test_shipped_judged_suite_loads(repo: Path) -> None:
    from promptkit import load_suite

    suite = load_suite(repo / "evals" / "sentiment_judged.yaml")
    assert [s.metric for s in suite.scorers] == ["label_accuracy", "one_word", "short", "llm_judge"]
