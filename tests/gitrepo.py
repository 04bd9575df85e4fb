"""A small prompt project in a real temporary git repository, scored by a scripted model.

The mock model's rules (suite ``responses``) make each template's accuracy known
in advance on the 30 rows (odd rows are ``pos``, even rows ``neg``):

    "Label: {{ text }}"          v1: right on every even row and odd rows below 20 -> 25/30
    "Careful label: {{ text }}"  better: right everywhere                          -> 30/30
    "Guess: {{ text }}"          worse: always "pos"                                -> 15/30
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import write

FRONT = """---
description: Labels a row.
inputs: [text]
parser: {type: label, labels: [pos, neg]}
---
"""
V1 = FRONT + '{% message "user" %}Label: {{ text }}{% endmessage %}\n'
BETTER = FRONT + '{% message "user" %}Careful label: {{ text }}{% endmessage %}\n'
WORSE = FRONT + '{% message "user" %}Guess: {{ text }}{% endmessage %}\n'

SUITE = r"""description: Labels rows with a scripted model.
dataset: {path: ../datasets/rows.jsonl, id: id}
inputs: [text]
reference: label
prompts: [cls]
models:
  - name: mock/scripted
    responses:
      - {match: '^Careful label: item \d*[13579]$', reply: pos}
      - {match: '^Careful label: ', reply: neg}
      - {match: '^Label: item (1|3|5|7|9|11|13|15|17|19)$', reply: pos}
      - {match: '^Label: ', reply: neg}
    default: pos
scorers: [label_accuracy]
gate:
  min: {label_accuracy: 0.4}
  max_regression: 0.02
"""

# Fixed identity and dates: commit ids are the same on every run of the tests.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_AUTHOR_DATE": "2024-05-01T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2024-05-01T12:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def make_repo(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository on branch main with cls@v1, 30 rows and the suite; returns the suite."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write(root / "prompts" / "cls" / "v1.jinja", V1)
    rows = "".join(
        json.dumps({"id": f"r{i}", "text": f"item {i}", "label": "pos" if i % 2 else "neg"}) + "\n"
        for i in range(30)
    )
    write(root / "datasets" / "rows.jsonl", rows)
    suite = write(root / "evals" / "s.yaml", SUITE)
    write(root / ".gitignore", ".promptkit/\nout/\n")
    commit_all(root, "cls@v1")
    return suite
