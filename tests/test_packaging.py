"""promptkit as a user gets it: a wheel, installed into a fresh environment.

The wheel is built from a copy of the package sources (so the checkout gains no
``build/`` folder), installed into a new venv that sees the checkout's installed
dependencies but neither the checkout nor its editable promptkit, and run from a
folder with no judge prompts of its own: what it finds, it found in the wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import REPO, write

pytestmark = pytest.mark.slow

#: Package data a user's install cannot do without, as repository paths.
PACKAGE_DATA = (
    "promptkit/report/assets",
    "promptkit/scorers/judge_prompts",
    "promptkit/scaffold/files",  # what `promptkit init` writes
)

PROMPT = '{% message "user" %}Review: {{ text }}{% endmessage %}\n'
ROWS = (
    '{"id": "r1", "text": "a good day", "label": "positive"}\n'
    '{"id": "r2", "text": "a sad day", "label": "negative"}\n'
)
# mock/echo judges answer with the user message they were shown, so the verdict they
# give is the first VERDICT line in it: the judged answer's for llm_judge (its rubric
# has none), the rubric's for pairwise_judge.
SUITE = """\
dataset: {path: ../datasets/rows.jsonl, id: id}
inputs: [text]
reference: label
prompts: [cls@v1]
models:
  - name: mock/scripted
    responses:
      - {match: good, reply: "Fine. VERDICT: PASS"}
    default: "Poor. VERDICT: FAIL"
scorers:
  - llm_judge: {model: mock/echo, rubric: The answer is right.}
  - pairwise_judge: {model: mock/echo, rubric: "Both are equal. VERDICT: TIE"}
"""


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A child process that sees no PYTHONPATH, so no checkout leaks into it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env |= {"PYTHONNOUSERSITE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def _ok(*args: str | Path, cwd: Path | None = None) -> str:
    done = _run(*args, cwd=cwd)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _offline_build() -> bool:
    """The running environment can build promptkit itself (pyproject: setuptools>=77)."""
    try:
        return int(metadata.version("setuptools").split(".")[0]) >= 77
    except metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "promptkit", source / "promptkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("dist")
    # Offline where the environment has the build backend; otherwise pip fetches it,
    # as it did for the install that is running these tests.
    offline = ["--no-build-isolation", "--no-index"] if _offline_build() else []
    _ok(sys.executable, "-m", "pip", "wheel", "--no-deps", *offline, "-w", out, source)
    (built,) = out.glob("promptkit-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; returns its ``bin`` folder."""
    venv = tmp_path_factory.mktemp("venv")
    _ok(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _ok(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel
    )
    # The dependencies only after the install, so pip never sees the editable promptkit.
    # A .pth line only adds its folder to sys.path: the .pth files inside it (the
    # editable install's finder among them) are never run.
    purelib = _ok(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ours = sysconfig.get_paths()
    (Path(purelib.strip()) / "dependencies.pth").write_text(
        "\n".join(dict.fromkeys([ours["purelib"], ours["platlib"]])) + "\n"
    )
    return venv / "bin"


def test_the_wheel_carries_the_package_data(wheel: Path) -> None:
    wanted = {
        path.relative_to(REPO).as_posix()
        for folder in PACKAGE_DATA
        for path in (REPO / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {"promptkit/scorers/judge_prompts/judge/v1.jinja"} < wanted
    with zipfile.ZipFile(wheel) as archive:
        assert wanted <= set(archive.namelist())


def test_installed_promptkit_judges_from_its_own_prompts(installed: Path, tmp_path: Path) -> None:
    where = _ok(installed / "python", "-c", "import promptkit; print(promptkit.__file__)")
    assert Path(where.strip()).is_relative_to(installed.parent), where

    project = tmp_path / "elsewhere"
    write(project / "prompts" / "cls" / "v1.jinja", PROMPT)
    write(project / "datasets" / "rows.jsonl", ROWS)
    write(project / "evals" / "s.yaml", SUITE)
    done = _run(installed / "promptkit", "eval", "evals/s.yaml", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LLM judges" in done.stdout

    (journal,) = project.glob(".promptkit/runs/*/journal.jsonl")
    rows = {r["row_id"]: r for r in map(json.loads, journal.read_text("utf-8").splitlines())}
    assert {k: r["scores"] for k, r in rows.items()} == {
        "r1": {"llm_judge": 1.0, "pairwise_judge": 0.5},
        "r2": {"llm_judge": 0.0, "pairwise_judge": 0.5},
    }
    for metric, family in (("llm_judge", "judge"), ("pairwise_judge", "judge_pairwise")):
        shipped = REPO / "promptkit" / "scorers" / "judge_prompts" / family / "v1.jinja"
        expected_hash = hashlib.sha256(shipped.read_text("utf-8").encode()).hexdigest()[:12]
        details = rows["r1"]["score_details"][metric]
        assert (details["prompt"], details["prompt_hash"]) == (f"{family}@v1", expected_hash)
