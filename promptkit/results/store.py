"""Runs on disk: ``.promptkit/runs/<run-id>/``.

    journal.jsonl   one line per finished case, appended and flushed as it ends
    meta.json       suite, git commit, template and input hashes, package versions
    prompts/        the exact template sources the run used
    summary.json    per-variant figures, written when the run ends

Every line and file goes through :func:`promptkit.redact.redact` as it is written,
so no key reaches the run folder, nor any report read from it.

The journal is the source of truth: a killed run loses only the cases that were
in flight, and every figure can be recomputed from it. A resumed run appends to
the same journal; a later row for a case (variant, row id, repeat) supersedes an
earlier one, so every reader keeps the last row of each case.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from promptkit.errors import BadInput
from promptkit.git import git_or_none
from promptkit.paths import DEFAULT_ROOT, runs_root
from promptkit.redact import public, redact
from promptkit.results.fingerprint import changed_parts, suite_fingerprint

if TYPE_CHECKING:
    import pandas as pd

    from promptkit.suite import Suite

__all__ = [
    "CASE_KEY",
    "JournalRow",
    "RunStore",
    "RunWriter",
    "finished_cases",
    "load_run",
    "read_journal",
    "summary_frame",
    "write_json",
]

_VERSIONED_PACKAGES = (
    "promptkit",
    "jinja2",
    "litellm",
    "openai",
    "aiohttp",
    "llama_cpp_python",
    "pandas",
)
#: The columns that name one case; a later journal row for the same case supersedes.
CASE_KEY = ("variant", "row_id", "repeat")


class _CaseRow(TypedDict):
    """The keys of every journal row: which case it is, and its answer or its error."""

    variant: str
    prompt: str  # the prompt reference, e.g. sentiment@v2
    prompt_hash: str
    model: str
    shots: int | str  # "max": as many examples as fit the token budget
    shot_ids: list[str]
    repeat: int
    row_id: str
    input: dict[str, Any]  # template variable -> the row's value
    expected: Any
    output: str | None
    parsed: Any
    parse_error: str | None
    scores: dict[str, float]
    error: str | None


class JournalRow(_CaseRow, total=False):
    """One line of ``journal.jsonl``. A case whose model call failed has only the
    keys of every row; one that was answered also has these."""

    score_labels: dict[str, str]
    score_explanations: dict[str, str]
    score_details: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost: float | None
    cached: bool
    finish_reason: str | None
    label_probs: dict[str, float] | None
    reported_model: str | None  # the reply's ``model``: what answered, as the endpoint says
    system_fingerprint: str | None
    tool_calls: list[dict[str, Any]]  # the calls the model proposed: id, name, arguments, raw
    scorer_tokens: int
    scorer_cost: float
    attempts: int
    parse_note: str | None  # what the parser repaired or chose (define/parsers.Parsed)
    row_index: int  # shard runs only: the row's place in the whole run, for merge
    reasoning: str  # the reply before its answer, when the parser reads after a marker
    reasoning_tokens: int  # that reasoning's tokens, estimated from its text
    docs: int  # retrieval suites only: the passages asked for (define/retrieval.py)
    retrieved_ids: list[str]  # the passages retrieved, best first


def git_state(folder: Path) -> dict[str, Any]:
    commit = git_or_none(["rev-parse", "HEAD"], folder)
    dirty = git_or_none(["status", "--porcelain"], folder)
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
        path = folder / "journal.jsonl"
        # Unbuffered: each row reaches the kernel in one write() of one whole line, so a
        # killed process leaves whole lines only (or, at worst, a torn last line).
        self._journal = path.open("ab", buffering=0)
        _lock_or_fail(self._journal.fileno(), folder)
        _drop_torn_tail(path)

    def append(self, row: JournalRow) -> None:
        text = redact(json.dumps(row, ensure_ascii=False, default=str))
        line = (text + "\n").encode("utf-8")
        view = memoryview(line)
        while view:
            written = self._journal.write(view)
            view = view[written or 0 :]

    def write_json(self, name: str, data: Any) -> None:
        write_json(self.folder, name, data)

    def close(self) -> None:
        self._journal.close()


def write_json(folder: Path, name: str, data: Any) -> None:
    """``folder/name`` as JSON, replaced atomically: readers see old or new, never half."""
    tmp = folder / f".{name}.tmp"
    text = redact(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    tmp.write_text(text, "utf-8")
    os.replace(tmp, folder / name)


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a kill left half-written, so appended rows start on a new line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        end = handle.seek(0, os.SEEK_END)
        while end > 0:  # walk back a block at a time to the last newline
            start = max(0, end - 65536)
            handle.seek(start)
            block = handle.read(end - start)
            cut = block.rfind(b"\n")
            if cut >= 0:
                handle.truncate(start + cut + 1)
                return
            end = start
        handle.truncate(0)


def _lock_or_fail(fd: int, folder: Path) -> None:
    """One writer per run: a second process resuming the same run is refused."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, no check
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise BadInput(
            "the run is being written by another promptkit process",
            path=folder,
            hint="wait for it to finish, or start a new run",
        ) from None


class RunStore:
    def __init__(self, root: str | Path = DEFAULT_ROOT) -> None:
        self.root = runs_root(root)

    def create(self, suite: Suite, *, shard: Mapping[str, int] | None = None) -> RunWriter:
        """A new run of ``suite``; ``shard`` (index, count, rows) when it is one shard."""
        writer = self.create_folder(suite.name)
        meta = self._meta(suite, writer.id)
        if shard is not None:
            meta["shard"] = dict(shard)
        writer.write_json("meta.json", meta)
        for prompt in suite.prompts:
            target = writer.folder / "prompts" / prompt.family / f"v{prompt.version}.jinja"
            if target.exists():  # a baseline read from git may share the version number
                target = target.with_name(f"v{prompt.version}.{prompt.hash}.jinja")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(prompt.source, "utf-8")
        return writer

    def create_folder(self, suite_name: str) -> RunWriter:
        """A new, empty run folder (its id: the second, the suite, a random suffix)."""
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = self.root / f"{stamp}-{suite_name}-{secrets.token_hex(3)}"
        folder.mkdir(parents=True)
        return RunWriter(folder)

    def reopen(
        self, run: str | Path | None, suite: Suite, *, shard: Mapping[str, int] | None = None
    ) -> RunWriter:
        """Append to an earlier run of ``suite`` (its latest when ``run`` is None)."""
        folder = self.find(run) if run is not None else self.latest_of(suite, shard)
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
        _check_same_suite(meta, suite, folder)
        _check_same_shard(meta.get("shard"), shard, folder)
        writer = RunWriter(folder)
        meta.setdefault("resumed", []).append(
            {
                "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "git": git_state(Path(suite.path).resolve().parent),
            }
        )
        writer.write_json("meta.json", meta)
        return writer

    def latest_of(self, suite: Suite, shard: Mapping[str, int] | None = None) -> Path:
        """The latest run of the suite file ``suite`` came from (of the same shard)."""
        wanted = str(Path(suite.path).resolve())
        same = (shard["index"], shard["count"]) if shard else None
        for folder in reversed(self.runs()):
            meta = json.loads((folder / "meta.json").read_text("utf-8"))
            recorded = meta.get("shard")
            found = (recorded["index"], recorded["count"]) if recorded else None
            if found != same:
                continue  # shards of one suite may share a runs folder
            if str(Path(meta.get("suite_path", "")).resolve()) == wanted:
                return folder
        raise BadInput(
            f"no earlier run of {suite.path} to resume",
            path=self.root,
            hint="run it without --resume first, or name the run: --resume RUN_ID",
        )

    def _meta(self, suite: Suite, run_id: str) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "suite": suite.name,
            "suite_path": suite.path,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "git": git_state(Path(suite.path).resolve().parent),
            "prompts": {p.ref: {"hash": p.hash, "path": p.path} for p in suite.prompts},
            "fingerprint": suite_fingerprint(suite),
            "models": [{"name": m.name, **public(m.options)} for m in suite.models],
            "resolved_suite": public(suite.raw),
            "variants": [v.id for v in suite.variants()],
            "metrics": [s.metric for s in suite.scorers],
            "versions": package_versions(),
        }

    def runs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        runs = [p for p in self.root.iterdir() if (p / "meta.json").is_file()]
        # Ids start with the second they were made; within one second, the order
        # they were made in (meta.json is written first), not their random suffix.
        return sorted(runs, key=lambda p: (p.name[:15], (p / "meta.json").stat().st_mtime_ns))

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
            what = "no run matches" if not matches else "several runs match"
            raise BadInput(f"{what} {run!r}", path=self.root, hint="give a full run id")
        return matches[0]


def _check_same_suite(meta: Mapping[str, Any], suite: Suite, folder: Path) -> None:
    """A resumed run must ask the same questions, or its rows would not be comparable."""
    hint = "resume with the suite, prompts and models the run started with, or start a new run"
    for prompt in suite.prompts:
        recorded = meta.get("prompts", {}).get(prompt.ref, {}).get("hash")
        if recorded is not None and recorded != prompt.hash:
            raise BadInput(
                f"{prompt.ref} changed since run {folder.name} was started", path=folder, hint=hint
            )
    changed = changed_parts(meta.get("fingerprint"), suite)
    if changed:
        raise BadInput(
            f"{', '.join(changed)} changed since run {folder.name} was started",
            path=folder,
            hint=hint,
        )
    variants = [v.id for v in suite.variants()]
    if variants != meta.get("variants"):
        raise BadInput(
            f"run {folder.name} has other variants than this suite", path=folder, hint=hint
        )


def _check_same_shard(
    recorded: Mapping[str, int] | None, shard: Mapping[str, int] | None, folder: Path
) -> None:
    """A shard is resumed as the same shard, or its rows would mix with another's."""

    def name(s: Mapping[str, int] | None) -> str:
        return f"shard {s['index']}/{s['count']}" if s else "not sharded"

    if name(recorded) != name(shard):
        raise BadInput(
            f"run {folder.name} is {name(recorded)}, this run would be {name(shard)}",
            path=folder,
            hint="resume with the --shard the run started with, or start a new run",
        )
    if recorded and shard and dict(recorded) != dict(shard):
        raise BadInput(
            f"run {folder.name} ({name(recorded)}) split {recorded.get('of_rows')} rows, "
            f"this run would split {shard.get('of_rows')}",
            path=folder,
            hint="resume with the --limit the shards started with, or start a new run",
        )


def read_journal(folder: Path) -> Iterator[JournalRow]:
    """Every row of a run's journal in order, superseded ones included."""
    path = folder / "journal.jsonl"
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill mid-write; the case is simply re-run


def finished_cases(folder: Path) -> set[tuple[str, str, int]]:
    """Cases whose last journal row is an answer, not an error: resume skips them."""
    last_error: dict[tuple[str, str, int], bool] = {}
    for row in read_journal(folder):
        last_error[(row["variant"], row["row_id"], row["repeat"])] = row.get("error") is not None
    return {key for key, errored in last_error.items() if not errored}


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
    frame = _last_row_per_case(pd.DataFrame.from_records(records))
    frame.attrs["run_id"] = folder.name
    frame.attrs["path"] = str(folder)
    return frame


#: What a summary reads, kept compact: no inputs, outputs or shot lists. ``parsed``
#: and ``expected`` feed the per-class figures, ``score_details`` the judge figures.
SUMMARY_TEXT_COLUMNS = (
    "variant",
    "prompt",
    "model",
    "shots",
    "row_id",
    "error",
    "parsed",
    "expected",
    "score_details",
)
SUMMARY_NUMBER_COLUMNS = (
    "repeat",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "cost",
    "scorer_tokens",
    "scorer_cost",
    "reasoning_tokens",
    "docs",
)


def summary_frame(folder: Path, metrics: Sequence[str]) -> pd.DataFrame:
    """The columns a summary needs, one row per case, in a few bytes per cell.

    A 100,000-case journal is read one line at a time straight into preallocated
    arrays (repeated strings shared), never into one dict per row, and the
    DataFrame is built on those arrays without copying them.
    """
    import numpy as np
    import pandas as pd

    size = _line_count(folder / "journal.jsonl")
    texts = {c: np.empty(size, dtype=object) for c in SUMMARY_TEXT_COLUMNS}
    scores = [f"score.{m}" for m in metrics]
    numbers = {c: np.full(size, np.nan) for c in [*SUMMARY_NUMBER_COLUMNS, *scores]}
    cached = np.zeros(size, dtype=bool)
    shared: dict[Any, Any] = {}
    count = 0
    for count, row in enumerate(read_journal(folder), start=1):
        i = count - 1
        for column, strings in texts.items():
            strings[i] = _shared(shared, row.get(column))
        for column in SUMMARY_NUMBER_COLUMNS:
            number = row.get(column)
            if number is not None:
                numbers[column][i] = number
        for column, metric in zip(scores, metrics, strict=True):
            value = (row.get("scores") or {}).get(metric)
            if value is not None:
                numbers[column][i] = value
        cached[i] = bool(row.get("cached"))
    columns: dict[str, Any] = {c: v[:count] for c, v in {**texts, **numbers}.items()}
    columns["repeat"] = columns["repeat"].astype(np.int64)
    columns["cached"] = cached[:count]
    return _last_row_per_case(pd.DataFrame(columns, copy=False))


def _shared(pool: dict[Any, Any], value: Any) -> Any:
    """One object for equal repeated values (labels, variant ids) so big runs stay small."""
    if value is None or isinstance(value, dict | list):
        return value or None
    try:
        return pool.setdefault(value, value)
    except TypeError:  # an unhashable parsed value is kept as it is
        return value


def _line_count(path: Path) -> int:
    """Lines in the file, counting a last line without a newline (arrays are sized by it)."""
    if not path.is_file():
        return 0
    newlines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            newlines += block.count(b"\n")
    return newlines + 1


def _last_row_per_case(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop rows superseded by a later row of the same case, keeping variants in order."""
    if frame.empty or not set(CASE_KEY) <= set(frame.columns):
        return frame
    superseded = frame.duplicated(list(CASE_KEY), keep="last")
    if not superseded.any():
        return frame
    order = {v: i for i, v in enumerate(frame["variant"].unique())}
    kept = frame[~superseded]
    position = kept["variant"].map(order).to_numpy()
    reordered: pd.DataFrame = kept.iloc[position.argsort(kind="stable")]
    result: pd.DataFrame = reordered.reset_index(drop=True)
    return result
