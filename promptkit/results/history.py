"""Run history: one record per stored run, read from its ``meta.json`` and ``summary.json``.

Reading a record never loads the journal, so listing hundreds of runs stays quick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.paths import DEFAULT_ROOT
from promptkit.results.store import RunStore

__all__ = ["RunRecord", "list_runs", "run_record"]


@dataclass(frozen=True)
class RunRecord:
    id: str
    path: Path
    created: str | None
    commit: str | None
    dirty: bool | None
    suite: str | None
    variants: int
    cases: int | None  # None: the run never finished (no summary.json)
    errors: int | None
    headline: dict[str, tuple[float, str]]  # metric -> (best mean, variant), variants under test
    baseline: str | None  # label of what it was compared with
    gate: bool | None  # None: no gate judged


def list_runs(root: str | Path = DEFAULT_ROOT) -> list[RunRecord]:
    """Every stored run, oldest first (run ids start with their date)."""
    return [run_record(folder) for folder in RunStore(root).runs()]


def run_record(folder: Path) -> RunRecord:
    meta = _read(folder / "meta.json") or {}
    summary = _read(folder / "summary.json")
    git = meta.get("git") or {}
    return RunRecord(
        id=folder.name,
        path=folder,
        created=meta.get("created"),
        commit=git.get("commit"),
        dirty=git.get("dirty"),
        suite=meta.get("suite"),
        variants=len(meta.get("variants") or []),
        cases=summary.get("cases") if summary else None,
        errors=summary.get("errors") if summary else None,
        headline=_headline(meta.get("metrics") or [], summary),
        baseline=(_read(folder / "baseline.json") or {}).get("label"),
        gate=(_read(folder / "gate.json") or {}).get("passed"),
    )


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _headline(metrics: list[str], summary: dict[str, Any] | None) -> dict[str, tuple[float, str]]:
    """Per metric, the best mean among the variants under test (not baseline ones)."""
    best: dict[str, tuple[float, str]] = {}
    for variant in (summary or {}).get("variants", []):
        if " (" in str(variant.get("prompt", "")):
            continue  # a baseline variant, e.g. "cls@v1 (base 1a2b3c4)"
        for metric in metrics:
            score = (variant.get("scores") or {}).get(metric) or {}
            mean = score.get("mean")
            if not isinstance(mean, int | float) or mean != mean or not score.get("n"):
                continue  # nothing scored (nan mean)
            if metric not in best or mean > best[metric][0]:
                best[metric] = (float(mean), str(variant.get("variant")))
    return best
