"""Shards (``eval --shard I/N``) and ``promptkit merge``: a partition of the rows whose
merged run gives the figures an unsharded run gives."""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptkit import (
    BadInput,
    Completion,
    Request,
    RunOptions,
    Shard,
    evaluate,
    evaluate_pr,
    load_run,
    merge_runs,
    parse_shard,
    register_mock,
)
from promptkit.results.stats import mean_interval
from promptkit.run.cache import ResponseCache
from promptkit.run.shards import shard_of
from tests.conftest import CliResult, write

ROWS = 40
SUITE = """\
dataset: {path: ../datasets/rows.jsonl, id: id}
inputs: [text]
reference: label
prompts: [cls@v1, cls@v2]
models: [mock/shardy]
repeat: 2
scorers: [label_accuracy, {chrf: {}}]
gate: {min: {label_accuracy: 0.99}}
"""


def _reply(request: Request) -> Completion:
    """Deterministic and uneven: v2 is right more often, and chrF gets graded scores."""
    text = request.messages[-1].content
    number = int(text.rsplit(" ", 1)[-1])
    better = "now" in text
    right = number % 3 != 0 or (better and number % 2 == 0)
    label = ("pos" if number % 2 else "neg") if right else "maybe"
    return Completion(text=label + "!" * (number % 4), prompt_tokens=7, completion_tokens=2)


def make_project(root: Path) -> Path:
    register_mock("shardy", _reply)
    prompt = '{% message "user" %}Label it{{ " now" if v2 }}: {{ text }}{% endmessage %}'
    write(root / "prompts" / "cls" / "v1.jinja", prompt.replace('{{ " now" if v2 }}', ""))
    write(root / "prompts" / "cls" / "v2.jinja", prompt.replace('{{ " now" if v2 }}', " now"))
    rows = "".join(
        json.dumps({"id": f"r{i}", "text": f"row {i}", "label": "pos" if i % 2 else "neg"}) + "\n"
        for i in range(ROWS)
    )
    write(root / "datasets" / "rows.jsonl", rows)
    return write(root / "evals" / "s.yaml", SUITE)


def _shard_runs(suite: Path, count: int) -> list[Path]:
    # through the pull-request pipeline, as 'promptkit eval' runs them: gate rules are saved
    return [
        evaluate_pr(suite, RunOptions(shard=Shard(i, count))).run.path for i in range(1, count + 1)
    ]


def _without_run_id(folder: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((folder / "summary.json").read_text())
    summary.pop("run_id")
    return summary


# --- the partition ----------------------------------------------------------------------


@given(st.sets(st.text(min_size=1, max_size=20), min_size=1, max_size=60), st.integers(1, 9))
def test_every_row_is_in_exactly_one_shard(ids: set[str], count: int) -> None:
    shards = [Shard(i, count) for i in range(1, count + 1)]
    for row_id in ids:
        assert sum(shard.holds(row_id) for shard in shards) == 1
        assert 1 <= shard_of(row_id, count) <= count


def test_shard_assignment_is_pinned() -> None:
    # computed once from sha256 and written down: a change here re-shards every user's CI
    assert [shard_of(i, 4) for i in ("r0", "r1", "r2", "row-17")] == [3, 2, 2, 3]


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("2/4", {}, Shard(2, 4)),
        (" 1/1 ", {}, Shard(1, 1)),
        ("auto", {"PROMPTKIT_SHARD": "3/5"}, Shard(3, 5)),
        ("auto/5", {"PROMPTKIT_SHARD": "3/5"}, Shard(3, 5)),
        ("auto/3", {"JOB_COMPLETION_INDEX": "0"}, Shard(1, 3)),
        ("auto", {"JOB_COMPLETION_INDEX": "2", "PROMPTKIT_SHARDS": "3"}, Shard(3, 3)),
        (
            "auto",
            {
                "SLURM_ARRAY_TASK_ID": "11",
                "SLURM_ARRAY_TASK_MIN": "10",
                "SLURM_ARRAY_TASK_COUNT": "4",
            },
            Shard(2, 4),
        ),
    ],
)
def test_shard_forms_and_engines(text: str, env: dict[str, str], expected: Shard) -> None:
    assert parse_shard(text, env) == expected


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("2", {}, "lacks the shard count"),
        ("a/4", {}, "is not a shard"),
        ("5/4", {}, "shard 5/4 does not exist"),
        ("0/4", {}, "shard 0/4 does not exist"),
        ("auto", {}, "found no shard index"),
        ("auto", {"JOB_COMPLETION_INDEX": "1"}, "not how many there are"),
        ("auto/4", {"PROMPTKIT_SHARD": "1/3"}, "the environment says shard 1/3"),
        ("auto", {"SLURM_ARRAY_TASK_ID": "3"}, "SLURM_ARRAY_TASK_COUNT is not set"),
        ("auto/2", {"JOB_COMPLETION_INDEX": "x"}, "is not a number"),
    ],
)
def test_bad_shards_say_what_to_give(text: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_shard(text, env)


def test_shard_runs_split_whole_rows(tmp_path: Path) -> None:
    suite = make_project(tmp_path)
    frames = [load_run(path) for path in _shard_runs(suite, 3)]
    rows = [set(frame["row_id"]) for frame in frames]
    assert set().union(*rows) == {f"r{i}" for i in range(ROWS)}
    assert sum(len(r) for r in rows) == ROWS  # no row in two shards
    for frame in frames:  # every variant and repeat of a row in its shard
        per_row = frame.groupby("row_id").size()
        assert (per_row == 2 * 2).all()


# --- merge ------------------------------------------------------------------------------


def test_merged_run_gives_the_unsharded_figures(tmp_path: Path) -> None:
    suite = make_project(tmp_path)
    whole = evaluate_pr(suite, RunOptions(concurrency=64), junit="whole.xml", markdown="whole.md")
    shards = _shard_runs(suite, 4)
    random.Random(0).shuffle(shards)  # the order they are given in does not matter
    merged = merge_runs(shards, junit="merged.xml", markdown="merged.md")
    assert _without_run_id(merged.run.path) == _without_run_id(whole.run.path)
    assert merged.run.cases == whole.run.cases == ROWS * 2 * 2
    # the gate the shards ran with is judged on all rows, with the same verdict
    assert merged.verdict.gate is not None and whole.verdict.gate is not None
    assert merged.verdict.gate.to_dict() == whole.verdict.gate.to_dict()
    assert not merged.passed
    for name in ("xml", "md"):
        text = Path(f"merged.{name}").read_text()
        assert text.replace(merged.run.run_id, "RUN") == Path(f"whole.{name}").read_text().replace(
            whole.run.run_id, "RUN"
        )
    meta = json.loads((merged.run.path / "meta.json").read_text())
    assert "shard" not in meta and [s["index"] for s in meta["merged_from"]] == [1, 2, 3, 4]


def test_a_shard_does_not_judge_the_gate_merge_does(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    make_project(tmp_path)
    for i in (1, 2):
        code, out, _ = cli("eval", "evals/s.yaml", "--shard", f"{i}/2", "--gate", "-q")
        assert code == 0 and f"shard {i}/2: these rows only" in out
    runs = [p.name for p in sorted((tmp_path / ".promptkit" / "runs").iterdir())]
    code, out, err = cli("merge", *runs, "--gate")
    assert code == 1 and "gate failed: min label_accuracy" in err
    assert f"{ROWS * 4} cases, 0 errors" in out
    code, _, _ = cli("merge", *runs)  # without --gate the verdict is shown, not enforced
    assert code == 0


def test_merge_finds_shards_and_caches_in_ci_artifacts(tmp_path: Path) -> None:
    suite = make_project(tmp_path)
    whole = evaluate(suite)
    for number, run in enumerate(_shard_runs(suite, 2), start=1):
        artifact = tmp_path / "artifacts" / f"shard-{number}" / ".promptkit"
        shutil.move(str(run), artifact / "runs" / run.name)
        cache = ResponseCache(artifact / "cache" / "responses.sqlite")
        cache.put(f"key-{number}", "oai/m", Completion(text=f"answer {number}"))
        cache.close()
    merged = merge_runs([tmp_path / "artifacts"])
    assert _without_run_id(merged.run.path) == _without_run_id(whole.path)
    local = ResponseCache(tmp_path / ".promptkit" / "cache" / "responses.sqlite")
    hit = local.get("key-2")
    assert hit is not None and hit.text == "answer 2"
    local.close()


def test_absorbing_a_cache_keeps_the_answers_already_here(tmp_path: Path) -> None:
    theirs = ResponseCache(tmp_path / "theirs.sqlite")
    theirs.put("a", "m", Completion(text="their a"))
    theirs.put("b", "m", Completion(text="their b"))
    theirs.close()
    ours = ResponseCache(tmp_path / "ours.sqlite")
    ours.put("a", "m", Completion(text="our a"))
    assert ours.absorb(tmp_path / "theirs.sqlite") == 1
    assert ours.absorb(tmp_path / "ours.sqlite") == 0  # not into itself
    a, b = ours.get("a"), ours.get("b")
    assert a is not None and a.text == "our a" and b is not None and b.text == "their b"
    ours.close()


def _runs(tmp_path: Path) -> list[str]:
    return [p.name for p in sorted((tmp_path / ".promptkit" / "runs").iterdir())]


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda runs: runs[:2], r"shard \d/3 is missing"),
        (lambda runs: [runs[0], *runs], r"shard \d/3 is given twice"),
    ],
)
def test_merge_refuses_incomplete_sets(
    tmp_path: Path, cli: Callable[..., CliResult], spoil: Any, message: str
) -> None:
    _shard_runs(make_project(tmp_path), 3)
    code, _, err = cli("merge", *spoil(_runs(tmp_path)))
    assert code == 2 and re.search(message, err) and len(err.strip().splitlines()) == 1


def test_merge_refuses_shards_of_different_runs(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    suite = make_project(tmp_path)
    first = evaluate(suite, RunOptions(shard=Shard(1, 2))).path
    other_count = evaluate(suite, RunOptions(shard=Shard(2, 3))).path
    code, _, err = cli("merge", str(first), str(other_count))
    assert code == 2 and "has other shard count than shard 1/2" in err
    limited = evaluate(suite, RunOptions(shard=Shard(2, 2), limit=10)).path
    code, _, err = cli("merge", str(first), str(limited))
    assert code == 2 and "has other rows (--limit) than shard 1/2" in err
    edited = '{% message "user" %}{{ text }}?{% endmessage %}'
    write(tmp_path / "prompts" / "cls" / "v2.jinja", edited)
    second = evaluate(suite, RunOptions(shard=Shard(2, 2))).path
    code, _, err = cli("merge", str(first), str(second))
    assert code == 2 and "has other prompt templates than shard 1/2" in err


def test_merge_refuses_unfinished_and_whole_runs(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    suite = make_project(tmp_path)
    runs = _shard_runs(suite, 2)
    (runs[1] / "summary.json").unlink()  # killed before it ended
    code, _, err = cli("merge", *map(str, runs))
    assert code == 2 and "has not finished" in err and f"--resume {runs[1].name}" in err
    whole = evaluate(suite).path
    code, _, err = cli("merge", str(runs[0]), str(whole))
    assert code == 2 and "is not a shard" in err
    code, _, err = cli("merge", str(tmp_path / "datasets"))
    assert code == 2 and "no shard runs in" in err


def test_a_shard_resumes_only_as_itself(tmp_path: Path) -> None:
    suite = make_project(tmp_path)
    run = evaluate(suite, RunOptions(shard=Shard(1, 2))).path
    with pytest.raises(BadInput, match="is shard 1/2, this run would be shard 2/2"):
        evaluate(suite, RunOptions(shard=Shard(2, 2), resume=str(run)))
    with pytest.raises(BadInput, match="is shard 1/2, this run would be not sharded"):
        evaluate(suite, RunOptions(resume=str(run)))
    again = evaluate(suite, RunOptions(shard=Shard(1, 2), resume=str(run)))
    assert again.path == run


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=30), st.randoms())
def test_an_interval_does_not_depend_on_the_order_of_its_values(
    values: list[float], rng: random.Random
) -> None:
    shuffled = list(values)
    rng.shuffle(shuffled)
    assert mean_interval(values) == mean_interval(shuffled)


# --- found in review -----------------------------------------------------------------------------


def test_a_shard_resumes_only_with_the_limit_it_split(tmp_path: Path) -> None:
    suite = make_project(tmp_path)
    run = evaluate(suite, RunOptions(shard=Shard(1, 2), limit=10)).path
    with pytest.raises(BadInput, match="split 10 rows, this run would split 30"):
        evaluate(suite, RunOptions(shard=Shard(1, 2), limit=30, resume=str(run)))


def test_resuming_the_latest_run_means_the_latest_run_of_this_shard(tmp_path: Path) -> None:
    suite = make_project(tmp_path)
    first = evaluate(suite, RunOptions(shard=Shard(1, 2))).path
    evaluate(suite, RunOptions(shard=Shard(2, 2)))
    again = evaluate(suite, RunOptions(shard=Shard(1, 2), resume=True))
    assert again.path == first


def test_merge_checks_each_journal_against_its_shard(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    runs = _shard_runs(make_project(tmp_path), 2)
    other = next(f"r{i}" for i in range(ROWS) if shard_of(f"r{i}", 2) == 2)
    journal = runs[0] / "journal.jsonl"
    row = json.loads(journal.read_text().splitlines()[0])
    journal.write_text(journal.read_text() + json.dumps({**row, "row_id": other}) + "\n")
    code, _, err = cli("merge", *map(str, runs))
    assert code == 2 and f"holds row {other!r} of another shard" in err
    (runs[1] / "journal.jsonl").unlink()
    code, _, err = cli("merge", str(runs[1]))
    assert code == 2 and "has no journal.jsonl" in err
    meta = json.loads((runs[1] / "meta.json").read_text())
    (runs[1] / "meta.json").write_text(json.dumps({**meta, "shard": 5}))
    code, _, err = cli("merge", str(runs[1]))
    assert code == 2 and "damaged shard record" in err


def test_a_cache_file_that_is_not_sqlite_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.sqlite").write_bytes(b"not a database at all" * 100)
    ours = ResponseCache(tmp_path / "ours.sqlite")
    with pytest.raises(BadInput, match="cannot read the response cache"):
        ours.absorb(tmp_path / "bad.sqlite")
    ours.close()
