"""``summary.json``: a run's figures, built from its journal when the run ends.

The journal is the source of truth and is never touched here. When building the
summary fails (a bug in the statistics, say), the paid-for journal stays as it
is, ``summary.json`` records the failure, and the error says how to get the
summary back: ``promptkit show RUN`` rebuilds it from the journal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.define.ensembles import ENSEMBLE_MODEL
from promptkit.errors import PromptkitError
from promptkit.results.store import summary_frame, write_json
from promptkit.results.summary import VariantSummary, summarize

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SUMMARY_FILE",
    "RunFigures",
    "error_counts",
    "output_tokens_per_s",
    "rebuild_summary",
    "record_summary",
]

SUMMARY_FILE = "summary.json"
#: Distinct error messages kept in summary.json, most frequent first.
ERROR_MESSAGES_KEPT = 10


@dataclass(frozen=True)
class RunFigures:
    summaries: list[VariantSummary]
    cases: int
    errors: int
    stopped: str | None = None
    #: Per model, answer tokens per second of request time (fresh answers only).
    output_tokens_per_s: dict[str, float] = field(default_factory=dict)
    #: (error message, cases) for the run's failed cases, most frequent first.
    error_counts: list[tuple[str, int]] = field(default_factory=list)
    #: Per model with ``concurrency: auto``, the window it settled on (run/adaptive.py).
    concurrency: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self, run_id: str) -> dict[str, Any]:
        windows = {"concurrency": self.concurrency} if self.concurrency else {}
        return {
            "run_id": run_id,
            "cases": self.cases,
            "errors": self.errors,
            "stopped": self.stopped,
            "output_tokens_per_s": self.output_tokens_per_s,
            "error_messages": dict(self.error_counts[:ERROR_MESSAGES_KEPT]),
            **windows,
            "variants": [s.to_dict() for s in self.summaries],
        }


def record_summary(
    folder: Path,
    metrics: Sequence[str],
    stopped: str | None,
    *,
    concurrency: dict[str, dict[str, Any]] | None = None,
) -> RunFigures:
    """Build the run's figures from its journal and write ``summary.json``;
    ``concurrency``: the adaptive windows of the run (kept even if building fails).

    On failure ``summary.json`` says so, and the error (exit code 4: a bug) names
    the journal that was kept and the command that rebuilds the summary.
    """
    windows = concurrency or {}
    try:
        figures = replace(_figures(folder, metrics, stopped), concurrency=windows)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        failed: dict[str, Any] = {"run_id": folder.name, "stopped": stopped, "failed": reason}
        if windows:
            failed["concurrency"] = windows
        write_json(folder, SUMMARY_FILE, failed)
        raise PromptkitError(
            f"building the summary of run {folder.name} failed: {reason}; "
            f"its journal is kept in {folder / 'journal.jsonl'}",
            hint=f"a bug in promptkit, please report it; 'promptkit show {folder.name}' "
            "rebuilds the summary from the journal",
        ) from exc
    write_json(folder, SUMMARY_FILE, figures.to_dict(folder.name))
    return figures


def rebuild_summary(folder: Path) -> RunFigures | None:
    """Rebuild ``summary.json`` if building it failed when the run ended; else None.

    A run without a summary at all was stopped before it ended (it may be resumed),
    so it is left as it is.
    """
    recorded = _read(folder / SUMMARY_FILE)
    if recorded is None or "failed" not in recorded:
        return None
    metrics = (_read(folder / "meta.json") or {}).get("metrics") or []
    windows = recorded.get("concurrency")
    return record_summary(
        folder,
        [str(m) for m in metrics],
        recorded.get("stopped"),
        concurrency=windows if isinstance(windows, dict) else None,
    )


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _figures(folder: Path, metrics: Sequence[str], stopped: str | None) -> RunFigures:
    frame = summary_frame(folder, metrics)
    summaries = summarize(frame, metrics)
    return RunFigures(
        summaries=summaries,
        cases=len(frame),
        errors=sum(s.errors for s in summaries),
        stopped=stopped,
        output_tokens_per_s=output_tokens_per_s(frame),
        error_counts=error_counts(frame),
    )


def error_counts(frame: pd.DataFrame) -> list[tuple[str, int]]:
    """Each distinct error message of the failed cases with how many cases it ended."""
    if frame.empty or "error" not in frame:
        return []
    counts = frame["error"].dropna().astype(str).value_counts(sort=True)
    return [(str(message), int(count)) for message, count in counts.items()]


def output_tokens_per_s(frame: pd.DataFrame) -> dict[str, float]:
    """Per model: answer tokens per second of request time, over answers not from the cache.

    For an in-process local model a request's latency is its own generation time
    (requests take turns on the model), so this is the model's generation speed.
    """
    if frame.empty:
        return {}
    # an ensemble's rows are its members' answers again, not generation of their own
    asked = frame["model"] != ENSEMBLE_MODEL
    fresh = frame[asked & frame["error"].isna() & ~frame["cached"] & (frame["latency_s"] > 0)]
    speeds = {}
    for model, group in fresh.groupby("model", sort=False):
        seconds, tokens = float(group["latency_s"].sum()), float(group["completion_tokens"].sum())
        if tokens:  # a model that scored labels (score_labels) generated nothing to time
            speeds[str(model)] = round(tokens / seconds, 1)
    return speeds
