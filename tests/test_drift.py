"""``promptkit drift``: a pinned suite re-asked with the cache bypassed, tested against its
baseline file; through the fake OpenAI-compatible server on ``oai/``, and on ``mock/``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkit import load_run
from promptkit.ci.drift import check_drift
from promptkit.providers.base import Request
from promptkit.providers.mock import register_mock
from promptkit.results.stats import holm
from tests.conftest import write
from tests.fake_server import FakeServer, Faults
from tests.test_runner_http import http_project


@pytest.fixture
def server() -> Iterator[FakeServer]:
    faults = Faults(reported_model="fake-2024-05-13", system_fingerprint="fp_a")
    with FakeServer(faults) as running:
        yield running


def _saved(tmp_path: Path, cli: Any, suite: Path) -> dict[str, Any]:
    code, _, err = cli("eval", str(suite), "--quiet", "--save-baseline", "base.json")
    assert code == 0, err
    data: dict[str, Any] = json.loads((tmp_path / "base.json").read_text())
    return data


def test_baseline_file_keeps_what_the_endpoint_reported(
    server: FakeServer, tmp_path: Path, cli: Any
) -> None:
    suite = http_project(tmp_path, server.url, rows=20)
    saved = _saved(tmp_path, cli, suite)
    assert saved["reported"] == {
        "oai/fake": {"models": ["fake-2024-05-13"], "fingerprints": ["fp_a"]}
    }
    # A cache hit keeps them too: the cache stores what the first answer reported.
    code, _, _ = cli("eval", str(suite), "--quiet")
    frame = load_run()
    assert code == 0 and frame["cached"].all()
    assert set(frame["system_fingerprint"]) == {"fp_a"}


def test_unchanged_model_is_no_drift_and_is_asked_again(
    server: FakeServer, tmp_path: Path, cli: Any
) -> None:
    suite = http_project(tmp_path, server.url, rows=20)
    _saved(tmp_path, cli, suite)
    asked = len(server.log())
    code, out, err = cli("drift", str(suite), "--against", "base.json")
    assert code == 0, err
    assert len(server.log()) == asked + 20  # the cache the eval filled was bypassed
    assert "reported fingerprint fp_a -> fp_a (unchanged)" in out
    assert "same  review@v1 | oai/fake | k=0: label_accuracy 1.000 -> 1.000" in out


def test_changed_answers_drift_with_fingerprints_before_and_after(
    server: FakeServer, tmp_path: Path, cli: Any
) -> None:
    suite = http_project(tmp_path, server.url, rows=20)
    _saved(tmp_path, cli, suite)
    # The provider rolls a new snapshot behind the same name: the positives now fail to parse.
    server.configure(
        reply_prefix="negative ", reported_model="fake-2024-08-06", system_fingerprint="fp_b"
    )
    code, out, err = cli("drift", str(suite), "--against", "base.json")
    assert code == 1
    assert "reported model fake-2024-05-13 -> fake-2024-08-06 (CHANGED)" in out
    assert "reported fingerprint fp_a -> fp_b (CHANGED)" in out
    assert "DRIFT review@v1 | oai/fake | k=0: label_accuracy 1.000 -> 0.500" in out
    assert err.startswith("promptkit: error: drift in reviews: ")
    assert "difference -0.500" in err and err.count("\n") == 1


def test_new_fingerprint_with_the_same_answers_is_not_drift(
    server: FakeServer, tmp_path: Path, cli: Any
) -> None:
    suite = http_project(tmp_path, server.url, rows=20)
    _saved(tmp_path, cli, suite)
    server.configure(system_fingerprint="fp_b")
    code, out, _ = cli("drift", str(suite), "--against", "base.json")
    assert code == 0
    assert "fp_a -> fp_b (CHANGED)" in out


def test_provider_errors_exit_3_after_the_report(
    server: FakeServer, tmp_path: Path, cli: Any
) -> None:
    suite = http_project(tmp_path, server.url, rows=20)
    _saved(tmp_path, cli, suite)
    server.configure(bad_request=1.0)
    code, out, err = cli("drift", str(suite), "--against", "base.json")
    assert code == 3
    assert "no rows scored by both" in out
    assert "20 cases failed" in err


# --- mock/: the library function, both directions, several suites -------------------

PROMPT = """---
inputs: [text]
parser: {type: label, labels: [cat, dog]}
---
{% message "user" %}{{ text }}{% endmessage %}
"""

#: What ``mock/canary`` answers to row i: a list of labels, changed by the tests.
ANSWERS: dict[str, list[str]] = {}


def _canary(request: Request) -> str:
    text = request.messages[-1].content  # "suite-name row i"
    suite, _, index = text.rpartition(" ")
    return ANSWERS[suite][int(index)]


register_mock("canary", _canary)


def _mock_suite(root: Path, name: str, rows: int = 20) -> Path:
    write(root / "prompts" / "ask" / "v1.jinja", PROMPT)
    lines = [
        json.dumps({"id": f"r{i}", "text": f"{name} {i}", "label": "cat"}) for i in range(rows)
    ]
    write(root / "datasets" / f"{name}.jsonl", "\n".join(lines) + "\n")
    ANSWERS[name] = ["cat"] * (rows // 2) + ["dog"] * (rows - rows // 2)
    return write(
        root / "evals" / f"{name}.yaml",
        f"dataset: {{path: ../datasets/{name}.jsonl, id: id}}\n"
        "inputs: [text]\nreference: label\nprompts: [ask@v1]\n"
        "models: [mock/canary]\nscorers: [label_accuracy]\n",
    )


def _baseline_folder(tmp_path: Path, cli: Any, *suites: Path) -> Path:
    for suite in suites:
        target = tmp_path / "baselines" / f"{suite.stem}.json"
        code, _, err = cli("eval", str(suite), "--quiet", "--save-baseline", str(target))
        assert code == 0, err
    return tmp_path / "baselines"


def test_improvement_is_drift_unless_regressions_only(tmp_path: Path, cli: Any) -> None:
    suite = _mock_suite(tmp_path, "canary_a")
    folder = _baseline_folder(tmp_path, cli, suite)
    ANSWERS["canary_a"] = ["cat"] * 20
    report = check_drift([suite], [folder])
    assert [round(m.result.difference.mean, 3) for m in report.drifted] == [0.5]
    assert check_drift([suite], [folder], regressions_only=True).passed
    code, out, _ = cli("drift", str(suite), "--against", str(folder), "--regressions-only")
    assert code == 0 and "drops only" in out
    # A file written before fingerprints were kept still works; nothing to show before.
    base = folder / "canary_a.json"
    base.write_text(
        json.dumps({k: v for k, v in json.loads(base.read_text()).items() if k != "reported"})
    )
    code, out, _ = cli("drift", str(suite), "--against", str(base))
    assert code == 1
    assert "reported model (not reported) -> (not reported) (unchanged)" in out


def test_holm_covers_every_metric_of_every_suite(tmp_path: Path) -> None:
    from promptkit.api import evaluate
    from promptkit.ci.baseline import save_baseline_file

    one, two = _mock_suite(tmp_path, "canary_a"), _mock_suite(tmp_path, "canary_b", rows=30)
    files = [tmp_path / "canary_a.json", tmp_path / "canary_b.json"]
    for suite, file in zip((one, two), files, strict=True):
        save_baseline_file(evaluate(suite).path, file)
    ANSWERS["canary_a"] = ["cat"] * 16 + ["dog"] * 4  # 6 rows fixed: exact McNemar p 0.031
    ANSWERS["canary_b"] = ["cat"] * 9 + ["dog"] * 21  # 6 rows broken: p 0.031
    assert not check_drift([one], files[:1]).passed  # alone, each would count
    assert not check_drift([two], files[1:]).passed
    report = check_drift([one, two], files)
    raw = [m.result.difference.p_value for m in report.metrics]
    assert [m.suite for m in report.metrics] == ["canary_a", "canary_b"]
    assert [m.result.p_holm for m in report.metrics] == pytest.approx(holm(raw))
    assert raw == pytest.approx([0.03125, 0.03125])
    assert report.passed  # two tests at once: neither is significant after Holm


def test_margin_keeps_small_moves_from_failing(tmp_path: Path) -> None:
    suite = _mock_suite(tmp_path, "canary_a", rows=200)
    from promptkit.api import evaluate
    from promptkit.ci.baseline import save_baseline_file

    save_baseline_file(evaluate(suite).path, tmp_path / "base.json")
    ANSWERS["canary_a"] = ["cat"] * 130 + ["dog"] * 70  # +0.15 on 200 rows: significant
    assert not check_drift([suite], [tmp_path / "base.json"]).passed
    assert check_drift([suite], [tmp_path / "base.json"], margin=0.2).passed


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, cli: Any) -> None:
    one, two = _mock_suite(tmp_path, "canary_a"), _mock_suite(tmp_path, "canary_b")
    folder = _baseline_folder(tmp_path, cli, one)
    code, _, err = cli("drift", str(one), str(two), "--against", str(folder / "canary_a.json"))
    assert code == 2 and "2 suites but 1 baseline files" in err
    code, _, err = cli("drift", str(one), str(two), "--against", str(folder))
    assert code == 2 and "canary_b.json: no baseline file for suite canary_b" in err
    write(tmp_path / "other.json", json.dumps({"format": "promptkit-baseline/1", "variants": []}))
    code, _, err = cli("drift", str(one), "--against", "other.json")
    assert code == 2 and "has no variant of suite canary_a" in err
    code, _, err = cli("drift", str(one), "--against", "evals/canary_a.yaml")
    assert code == 2 and "canary_a.yaml: cannot read baseline file" in err
    assert err.count("\n") == 1


def test_litellm_path_records_what_the_endpoint_reported(
    server: FakeServer, tmp_path: Path
) -> None:
    from promptkit import evaluate

    suite = http_project(tmp_path, server.url, rows=2)
    suite.write_text(suite.read_text().replace("oai/fake", "openai/fake"))
    frame = load_run(evaluate(suite).run_id)
    assert set(frame["system_fingerprint"]) == {"fp_a"}
    assert set(frame["reported_model"]) == {"fake-2024-05-13"}
