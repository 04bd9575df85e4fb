"""The runner on the scripted mock model: exact outputs, so exact assertions."""

from __future__ import annotations

import json
from pathlib import Path

from promptkit import Completion, ProviderError, Request, evaluate, load_run, register_mock
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
    frame = load_run(result.run_id)
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
    frame = load_run(result.run_id)
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
    evaluate(suite, prompts=["cls@v2"], limit=2)
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
