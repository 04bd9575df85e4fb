"""``--executor ray``: the embedded model on Ray actors of a local cluster gives the
in-process answers, and a killed actor's cases are asked again, journaled once."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkit import (
    BadInput,
    ProviderConfigError,
    RunOptions,
    SuiteError,
    evaluate,
    load_run,
    load_suite,
)
from promptkit.run.runner import Progress
from tests.conftest import needs_local_model, write

HAS_RAY = importlib.util.find_spec("ray") is not None
if os.environ.get("PROMPTKIT_REQUIRE_RAY") == "1" and not HAS_RAY:
    raise RuntimeError("PROMPTKIT_REQUIRE_RAY=1 but ray is missing: pip install -e '.[ray]'")
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="needs the ray extra: pip install -e '.[ray]'")

QUESTIONS = ["Name a colour.", "Say hello.", "What is 2 + 2?", "Name a fruit.", "Name a city."]


def _suite(root: Path, model: str) -> Path:
    write(
        root / "prompts" / "ask" / "v1.jinja",
        "---\nparams: {temperature: 0, max_tokens: 8}\n---\n"
        '{% message "user" %}{{ question }}{% endmessage %}',
    )
    rows = "".join(
        json.dumps({"id": f"q{i}", "question": q}) + "\n" for i, q in enumerate(QUESTIONS)
    )
    write(root / "datasets" / "q.jsonl", rows)
    suite = (
        "dataset: {path: ../datasets/q.jsonl, id: id}\ninputs: [question]\n"
        f"prompts: [ask@v1]\nmodels: [{model}]\nscorers: [{{contains: {{values: ['a']}}}}]\n"
    )
    return write(root / "evals" / "s.yaml", suite)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One local Ray cluster for the module: starting one costs seconds on 2 cores."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


TWO_ACTORS = "{name: local/smollm2, actors: 2, num_cpus: 1, n_threads: 1}"


@pytest.mark.slow
@needs_local_model
@needs_ray
def test_actors_give_the_in_process_answers(tmp_path: Path, cluster: Any) -> None:
    suite = _suite(tmp_path, TWO_ACTORS)
    here = load_run(evaluate(suite, RunOptions(cache=False)).path).set_index("row_id")
    result = evaluate(suite, RunOptions(cache=False, executor="ray"))
    there = load_run(result.path).set_index("row_id")
    assert result.errors == 0
    assert there.loc[here.index, "output"].tolist() == here["output"].tolist()


@pytest.mark.slow
@needs_local_model
@needs_ray
def test_a_killed_actor_costs_a_retry_not_a_case(tmp_path: Path, cluster: Any) -> None:
    suite = _suite(tmp_path, TWO_ACTORS)
    killed: list[str] = []

    def kill_one(progress: Progress) -> None:
        if progress.done == 1 and not killed:
            names = [a["name"] for a in cluster.util.list_named_actors(all_namespaces=True)]
            ours = sorted(n for n in names if n.startswith("promptkit-local-smollm2-"))
            killed.append(ours[0])
            cluster.kill(cluster.get_actor(ours[0]))

    result = evaluate(suite, RunOptions(cache=False, executor="ray"), on_progress=kill_one)
    assert killed and result.errors == 0 and result.cases == len(QUESTIONS)
    lines = (result.path / "journal.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert sorted(row["row_id"] for row in rows) == [f"q{i}" for i in range(5)]  # once each
    assert any(row["attempts"] > 1 for row in rows)  # the dead actor's case was asked again


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("{name: local/smollm2, actors: 0}", "actors"),
        ("{name: local/smollm2, num_gpus: -1}", "num_gpus"),
        ("{name: local/smollm2, num_cpus: many}", "num_cpus"),
        ("{name: oai/m, actors: 2}", r"unknown model option 'models\[0\]\.actors'"),
    ],
)
def test_actor_options_are_checked_with_the_suite(tmp_path: Path, model: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        load_suite(_suite(tmp_path, model))


def test_without_ray_installed_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    suite = _suite(tmp_path, "local/smollm2")
    with pytest.raises(BadInput, match="needs Ray") as info:
        evaluate(suite, RunOptions(cache=False, executor="ray"))
    assert info.value.hint == "pip install 'promptkit[ray]'"


def test_remote_models_stay_in_the_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # never imported for a mock model
    result = evaluate(_suite(tmp_path, "mock/echo"), RunOptions(cache=False, executor="ray"))
    assert result.errors == 0 and result.cases == len(QUESTIONS)


@needs_ray
def test_actors_the_cluster_cannot_place_are_refused(tmp_path: Path, cluster: Any) -> None:
    suite = _suite(tmp_path, "{name: local/smollm2, actors: 3, num_cpus: 1}")  # 2 CPUs here
    with pytest.raises(ProviderConfigError, match=r"3 actor\(s\) x 1 CPU need 3 CPUs"):
        evaluate(suite, RunOptions(cache=False, executor="ray"))


def test_a_dry_run_starts_no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from promptkit import estimate

    monkeypatch.setitem(sys.modules, "ray", None)  # importing ray would fail
    plan = estimate(_suite(tmp_path, "local/smollm2"), RunOptions(executor="ray"))
    assert plan.requests == len(QUESTIONS)


def test_a_ray_address_without_the_ray_executor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="--ray-address needs --executor ray"):
        evaluate(_suite(tmp_path, "mock/echo"), RunOptions(ray_address="127.0.0.1:6379"))
