"""Nothing a run paid for is lost or mixed up: a resumed run asks the questions it
started with, a failed summary keeps its journal and can be rebuilt, and a baseline
file can be saved from a run whose model has no price."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from promptkit import BadInput, RunOptions, evaluate, load_run
from tests.fake_server import FakeServer, Faults
from tests.test_runner_faults import _answered, _killed_mid_run
from tests.test_runner_http import http_project
from tests.test_suite import BASE, make_project


def _journal_lines(folder: Path) -> int:
    return len((folder / "journal.jsonl").read_text("utf-8").splitlines())


def test_killed_run_resumed_on_an_edited_dataset_is_refused(tmp_path: Path, cli: Any) -> None:
    with FakeServer(Faults(latency_ms=30)) as server:
        journal, _ = _killed_mid_run(tmp_path, server, signal.SIGKILL)
        answered = len(_answered(journal))
        assert 30 <= answered < 120
        dataset = tmp_path / "datasets" / "rows.jsonl"
        dataset.write_text(dataset.read_text().replace("review 3 is", "review three is"))
        asked_before = len(server.log())
        code, out, err = cli("eval", str(tmp_path / "evals" / "reviews.yaml"), "--resume")
        assert len(server.log()) == asked_before  # nothing was asked
    assert code == 2 and out == ""
    assert err.count("\n") == 1, err  # one line
    assert f"the dataset {dataset} changed since run {journal.parent.name}" in err
    assert len(_answered(journal)) == answered  # the journal was not appended to


EDITS = [
    (("rows.jsonl", '"row 3"', '"row three"'), "the dataset"),
    (("pool.jsonl", '"pool 1"', '"pool one"'), "the example pool"),
    (("s.yaml", "shots: [0, 2]", "shots: {k: [0, 2], strategy: random}"), "the shot settings"),
    (("s.yaml", "models: [mock/echo]", "models: [mock/echo]\nparams: {temperature: 1}"), "params"),
    (("s.yaml", "models: [mock/echo]", "models: [{name: mock/echo, default: x}]"), "model"),
    (("s.yaml", "models: [mock/echo]", "models: [mock/echo]\nseed: 7"), "the seed"),
    (("s.yaml", "normalize: true", "normalize: false"), "the scorers"),
    (("s.yaml", "inputs: [text]", "inputs: {text: label}"), "the inputs or reference column"),
]


@pytest.mark.parametrize(("edit", "named"), EDITS, ids=[n for _, n in EDITS])
def test_resume_names_what_changed(tmp_path: Path, edit: tuple[str, str, str], named: str) -> None:
    suite = make_project(tmp_path, BASE)
    first = evaluate(suite, prompts=["cls@v1"])
    lines = _journal_lines(first.path)
    name, old, new = edit
    target = next(tmp_path.rglob(name))
    assert old in target.read_text()
    target.write_text(target.read_text().replace(old, new))
    with pytest.raises(BadInput, match=f"{named}.* changed since run {first.run_id}"):
        evaluate(suite, RunOptions(resume=True), prompts=["cls@v1"])
    assert _journal_lines(first.path) == lines


def test_resume_allows_changes_that_only_pace_the_run(tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE)
    first = evaluate(suite, prompts=["cls@v1"])
    text = suite.read_text().replace(
        "models: [mock/echo]", "models: [{name: mock/echo, concurrency: 2}]\ntimeout: 30"
    )
    suite.write_text(text)
    resumed = evaluate(suite, RunOptions(resume=True), prompts=["cls@v1"])
    assert resumed.run_id == first.run_id and resumed.cases == first.cases


def test_a_run_recorded_before_fingerprints_still_resumes(tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE)
    first = evaluate(suite, prompts=["cls@v1"])
    meta_path = first.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert set(meta["fingerprint"]) >= {"dataset", "examples", "params", "models", "scorers"}
    del meta["fingerprint"]
    meta_path.write_text(json.dumps(meta))
    assert evaluate(suite, RunOptions(resume=True), prompts=["cls@v1"]).run_id == first.run_id


def test_a_failed_summary_keeps_the_journal_and_show_rebuilds_it(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import promptkit.results.summary as summary_module

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("cannot reshape array of size 3 into shape (2,2)")

    suite = make_project(tmp_path, BASE)
    with monkeypatch.context() as patch:
        patch.setattr(summary_module, "cluster_interval", broken)
        code, _, err = cli("eval", str(suite), "--quiet")
    assert code == 4
    assert err.count("\n") == 1, err
    assert "building the summary of run" in err and "ValueError: cannot reshape" in err
    assert "its journal is kept in" in err and "'promptkit show" in err
    folder = next((tmp_path / ".promptkit" / "runs").iterdir())
    assert _journal_lines(folder) == 30  # every answer that was paid for
    assert "failed" in json.loads((folder / "summary.json").read_text())
    code, out, _ = cli("runs")
    assert "unfinished" in out

    code, out, err = cli("show", folder.name)
    assert code == 0 and "cls@v1" in out
    assert f"summary rebuilt from the journal -> .promptkit/runs/{folder.name}/summary.json" in err
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["cases"] == 30 and "failed" not in summary
    assert summary["variants"][0]["scores"]["label_accuracy"]["n"] == 6
    code, _, err = cli("show", folder.name)
    assert code == 0 and "rebuilt" not in err  # only once


def test_a_killed_run_without_summary_is_not_marked_finished_by_show(
    tmp_path: Path, cli: Any
) -> None:
    suite = make_project(tmp_path, BASE)
    first = evaluate(suite)
    (first.path / "summary.json").unlink()  # as a kill leaves it
    code, _, err = cli("show", first.run_id)
    assert code == 0 and "rebuilt" not in err
    assert not (first.path / "summary.json").exists()


def test_save_baseline_without_a_known_price(tmp_path: Path, cli: Any) -> None:
    with FakeServer() as server:
        suite = http_project(tmp_path, server.url, rows=4)
        code, _, err = cli("eval", str(suite), "--quiet", "--save-baseline", "base.json")
        assert code == 0, err
        assert load_run()["cost"].isna().all()  # oai/fake has no price
        code, _, err = cli("show", "--save-baseline", "again.json")
        assert code == 0, err
        code, _, err = cli("eval", str(suite), "--quiet", "--baseline-run", "base.json")
        assert code == 0, err
        link = json.loads((Path(load_run().attrs["path"]) / "baseline.json").read_text())
        assert link["kind"] == "file" and link["pairs"][0]["base"] is not None
    for name in ("base.json", "again.json"):
        rows = json.loads((tmp_path / name).read_text())["variants"][0]["rows"]
        assert len(rows) == 4
        assert all("cost" not in r and r["prompt_tokens"] > 0 for r in rows)
        assert {r["scores"]["label_accuracy"] for r in rows} == {1.0}
