"""The runner on the scripted mock model: exact outputs, so exact assertions."""

from __future__ import annotations

import json
from pathlib import Path

from promptkit import (
    Completion,
    ProviderError,
    Request,
    RunOptions,
    evaluate,
    load_run,
    register_mock,
)
from tests.test_suite import BASE, make_project


def test_run_writes_journal_summary_and_dataframe(tmp_path: Path) -> None:
    suite = make_project(tmp_path / "proj", BASE.replace("mock/echo", "mock/scripted") + "")
    suite.write_text(
        suite.read_text().replace(
            "models: [mock/scripted]",
            "models:\n  - name: mock/scripted\n    responses: [{match: 'row [135]', reply: 'It is pos'}]\n    default: neg",
        )
    )
    result = evaluate(suite)
    assert result.cases == 5 * 6
    assert result.errors == 0
    frame = load_run(result.path)
    assert len(frame) == 30
    labelled = frame[frame["prompt"] != "plain@v1"]
    assert set(labelled["score.label_accuracy"]) == {1.0}
    assert labelled["parsed"].isin(["pos", "neg"]).all()
    assert set(frame[frame["prompt"] == "plain@v1"]["parsed"]) == {"It is pos", "neg"}
    folder = result.path
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["cases"] == 30
    first = summary["variants"][0]["scores"]["label_accuracy"]
    assert first["mean"] == 1.0 and first["method"] == "wilson"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["prompts"]["cls@v1"]["hash"]
    assert (folder / "prompts" / "cls" / "v1.jinja").is_file()


def test_provider_failures_become_error_rows(tmp_path: Path) -> None:
    calls: list[Request] = []

    def flaky(request: Request) -> str | Completion:
        calls.append(request)
        if "row 2" in request.messages[-1].content:
            raise ProviderError("HTTP 400: bad request")
        return Completion(text="pos", prompt_tokens=10, completion_tokens=1)

    register_mock("flaky", flaky)
    suite = make_project(tmp_path / "proj", BASE.replace("mock/echo", "mock/flaky"))
    result = evaluate(suite, prompts=["cls@v1"])
    frame = load_run(result.path)
    errors = frame[frame["error"].notna()]
    assert len(errors) == 2  # row 2 in both shot variants
    assert errors["error"].str.contains("HTTP 400").all()
    assert result.errors == 2
    assert result.summaries[0].errors == 1
    assert result.summaries[0].cases == 6
    assert frame["prompt_tokens"].fillna(0).sum() == 10 * 10


def test_shots_and_limit_reach_the_request(tmp_path: Path) -> None:
    seen: list[Request] = []

    def record(request: Request) -> str:
        seen.append(request)
        return "neg"

    register_mock("record", record)
    suite = make_project(tmp_path / "proj", BASE.replace("mock/echo", "mock/record"))
    evaluate(suite, RunOptions(limit=2), prompts=["cls@v2"])
    assert len(seen) == 4
    roles = sorted(len(r.messages) for r in seen)
    assert roles == [2, 2, 6, 6]  # zero-shot: system+user; 2 shots add 2 pairs
    pool_text = {m.content for r in seen for m in r.messages if m.content.startswith("pool")}
    assert pool_text and all(t.startswith("pool") for t in pool_text)


def test_one_seed_formula_gives_every_seed_repeat_pair_its_own_seed() -> None:
    from promptkit.providers.base import sample_seed
    from promptkit.providers.http import request_seed

    pairs = [(seed, repeat) for seed in range(0, 50) for repeat in range(0, 50)]
    seeds = {sample_seed(seed, repeat) for seed, repeat in pairs}
    assert len(seeds) == len(pairs)  # seed+repeat gave 1/0 == 0/1
    # The remote path sends the same seed as the in-process ones.
    request = Request(model="oai/m", messages=(), seed=1, repeat=0)
    assert request_seed(request) == sample_seed(1, 0) != sample_seed(0, 1)
    assert request_seed(Request(model="oai/m", messages=())) is None


def test_params_precedence_prompt_then_suite_then_model_entry(tmp_path: Path) -> None:
    # The prompt's front matter is the default, the suite overrides it, and a model
    # entry's params override both (they are about that model).
    seen: list[dict[str, object]] = []
    register_mock("params", lambda request: seen.append(dict(request.params)) or "pos")
    suite = make_project(tmp_path / "proj", BASE)
    prompt = tmp_path / "proj" / "prompts" / "cls" / "v1.jinja"
    prompt.write_text(
        prompt.read_text().replace(
            "---\n", "---\nparams: {temperature: 0.9, top_p: 0.5, seed: 1}\n", 1
        )
    )
    suite.write_text(
        suite.read_text().replace(
            "models: [mock/echo]",
            "params: {temperature: 0.2, top_p: 0.7}\n"
            "models:\n  - name: mock/params\n    params: {top_p: 0.3}",
        )
    )
    evaluate(suite, RunOptions(limit=1), prompts=["cls@v1"])
    assert seen and all(p["temperature"] == 0.2 and p["top_p"] == 0.3 for p in seen)
    assert all(p["seed"] == 1 for p in seen)


def test_a_failing_scorer_is_an_error_on_its_row_never_dropped(tmp_path: Path) -> None:
    suite = make_project(tmp_path / "proj", BASE)
    write_scorers = tmp_path / "proj" / "evals" / "broken.py"
    write_scorers.write_text(
        "from promptkit import Score, scorer\n\n"
        "@scorer('broken')\n"
        "def broken(case):\n"
        "    raise ZeroDivisionError('no score for ' + case.row['id'])\n"
    )
    suite.write_text(
        suite.read_text().replace(
            "scorers: [label_accuracy, {exact_match: {normalize: true}}]",
            "scorers: [label_accuracy, broken]",
        )
        + "scorer_files: [broken.py]\n"
    )
    result = evaluate(suite, prompts=["cls@v1"])
    frame = load_run(result.path)
    assert frame["error"].notna().all()  # every row says its score is missing, and why
    assert (
        frame["error"]
        .str.contains("scorer 'broken' failed: ZeroDivisionError: no score for r")
        .all()
    )
    assert frame["score.label_accuracy"].notna().all()  # the other scorer's figures stay
