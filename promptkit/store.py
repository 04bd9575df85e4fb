"""Runs on disk: ``.promptkit/runs/<run-id>/``.

    journal.jsonl   one line per finished case, appended and flushed as it ends
    meta.json       suite, git commit, template hashes, package versions
    prompts/        the exact template sources the run used
    summary.json    per-variant figures, written when the run ends

The journal is the source of truth: a killed run loses only the cases that were
in flight, and every figure can be recomputed from it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import subprocess
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from promptkit.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

    from promptkit.suite import Suite

__all__ = ["RunStore", "RunWriter", "load_run", "read_journal"]

DEFAULT_ROOT = Path(".promptkit") / "runs"
_VERSIONED_PACKAGES = ("promptkit", "jinja2", "litellm", "openai", "llama_cpp_python", "pandas")


def _git(*args: str, cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(folder: Path) -> dict[str, Any]:
    commit = _git("rev-parse", "HEAD", cwd=folder)
    dirty = _git("status", "--porcelain", cwd=folder)
    return {"commit": commit, "dirty": bool(dirty) if commit else None}


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


class RunWriter:
    """Appends journal rows for one run; safe to stop at any moment."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.id = folder.name
        self._journal: IO[str] = (folder / "journal.jsonl").open("a", encoding="utf-8")

    def append(self, row: Mapping[str, Any]) -> None:
        # One write() of one whole line, then flush: a SIGKILL leaves whole lines only,
        # except perhaps a torn last line, which read_journal skips.
        self._journal.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self._journal.flush()

    def write_json(self, name: str, data: Any) -> None:
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), "utf-8")
        os.replace(tmp, self.folder / name)  # atomic: readers see old or new, never half

    def close(self) -> None:
        self._journal.close()


class RunStore:
    def __init__(self, root: str | Path = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    def create(self, suite: Suite) -> RunWriter:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{suite.name}-{secrets.token_hex(3)}"
        folder = self.root / run_id
        folder.mkdir(parents=True)
        writer = RunWriter(folder)
        writer.write_json("meta.json", self._meta(suite, run_id))
        for prompt in suite.prompts:
            target = folder / "prompts" / prompt.family / f"v{prompt.version}.jinja"
            if target.exists():  # a baseline read from git may share the version number
                target = target.with_name(f"v{prompt.version}.{prompt.hash}.jinja")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(prompt.source, "utf-8")
        return writer

    def _meta(self, suite: Suite, run_id: str) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "suite": suite.name,
            "suite_path": suite.path,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "git": git_state(Path(suite.path).resolve().parent),
            "prompts": {p.ref: {"hash": p.hash, "path": p.path} for p in suite.prompts},
            "models": [{"name": m.name, **_public(m.options)} for m in suite.models],
            "resolved_suite": _public(suite.raw),
            "variants": [v.id for v in suite.variants()],
            "metrics": [s.metric for s in suite.scorers],
            "versions": package_versions(),
        }

    def runs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if (p / "meta.json").is_file())

    def find(self, run: str | Path | None = None) -> Path:
        """A run folder from an id, a path, or ``None`` for the latest run."""
        if run is not None and Path(run).is_dir():
            return Path(run)
        runs = self.runs()
        if run is None:
            if not runs:
                raise BadInput("no runs yet", path=self.root, hint="run 'promptkit eval' first")
            return runs[-1]
        matches = [p for p in runs if p.name == run or p.name.startswith(str(run))]
        if len(matches) != 1:
            what = "no run" if not matches else "several runs"
            raise BadInput(f"{what} match {run!r}", path=self.root, hint="give a full run id")
        return matches[0]


_SECRET_WORDS = ("key", "token", "secret", "password", "authorization")


def _public(options: Any) -> Any:
    """Drop anything that looks like a credential before it reaches a file."""
    if isinstance(options, Mapping):
        return {
            k: _public(v)
            for k, v in options.items()
            if not any(word in str(k).lower() for word in _SECRET_WORDS) or k == "api_key_env"
        }
    if isinstance(options, list):
        return [_public(v) for v in options]
    return options


def read_journal(folder: Path) -> Iterator[dict[str, Any]]:
    path = folder / "journal.jsonl"
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill mid-write; the case is simply re-run


def load_run(run: str | Path | None = None, *, root: str | Path = DEFAULT_ROOT) -> pd.DataFrame:
    """A run's journal as a DataFrame, one row per case; scores as ``score.<metric>``."""
    import pandas as pd

    folder = RunStore(root).find(run)
    records = []
    for row in read_journal(folder):
        flat = {k: v for k, v in row.items() if k != "scores"}
        for metric, value in (row.get("scores") or {}).items():
            flat[f"score.{metric}"] = value
        records.append(flat)
    frame: pd.DataFrame = pd.DataFrame.from_records(records)
    frame.attrs["run_id"] = folder.name
    frame.attrs["path"] = str(folder)
    return frame
