"""Shards back into one run: ``promptkit merge`` checks them and writes the whole run.

Shard runs (``promptkit eval --shard I/N``) each hold the rows whose id hashes to
their shard. Merging checks that they are the shards of one run (same suite,
templates, dataset, models, variants, metrics and shard count; every shard there
once, finished, and together holding every row), then writes a new run whose
journal is the shards' final rows, unchanged, and whose summary is built by the
same code as any run's: the figures are those of an unsharded run on the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.define.datasets import shard_of
from promptkit.errors import BadInput
from promptkit.paths import DEFAULT_ROOT
from promptkit.results.run_summary import SUMMARY_FILE, RunFigures, record_summary
from promptkit.results.store import RunStore, write_json

__all__ = ["MergedRun", "ShardRun", "find_shard_runs", "merge_shards"]

_HINT = (
    "merge the shard runs of one 'promptkit eval --shard I/N' job set "
    "(a folder holding several sets: name the runs)"
)
#: meta.json entries every shard of one run shares.
_SAME = ("suite", "fingerprint", "variants", "metrics")


@dataclass(frozen=True)
class ShardRun:
    folder: Path
    meta: dict[str, Any]

    @property
    def shard(self) -> dict[str, int]:
        return dict(self.meta["shard"])

    @property
    def name(self) -> str:
        return f"shard {self.shard['index']}/{self.shard['count']} (run {self.folder.name})"


@dataclass(frozen=True)
class MergedRun:
    folder: Path
    figures: RunFigures
    shards: list[ShardRun]
    #: response caches found beside the shard runs (``.promptkit/cache/*.sqlite``)
    caches: list[Path]


def find_shard_runs(
    sources: Sequence[str | Path], root: str | Path = DEFAULT_ROOT
) -> list[ShardRun]:
    """The shard runs named by ``sources``: run ids, run folders, or folders holding runs
    (e.g. the artifacts of a CI matrix, each a ``.promptkit`` folder)."""
    store = RunStore(root)
    runs: list[ShardRun] = []
    for source in sources:
        path = Path(source)
        if path.is_dir() and not (path / "meta.json").is_file():
            found = [_shard_run(f.parent) for f in sorted(path.rglob("meta.json"))]
            found = [run for run in found if "shard" in run.meta]
            if not found:
                raise BadInput(f"no shard runs in {path}", path=path, hint=_HINT)
            runs += found
            continue
        folder = store.find(source)
        run = _shard_run(folder)
        if "shard" not in run.meta:
            raise BadInput(f"run {folder.name} is not a shard", path=folder, hint=_HINT)
        runs.append(run)
    return runs


def _shard_run(folder: Path) -> ShardRun:
    """The run in ``folder``, its shard record and journal checked enough to merge."""
    run = ShardRun(folder, _meta(folder))
    shard = run.meta.get("shard")
    if shard is None:
        return run
    fields = ("index", "count", "rows", "of_rows")
    if not isinstance(shard, dict) or not all(isinstance(shard.get(k), int) for k in fields):
        raise BadInput(
            f"run {folder.name} has a damaged shard record in meta.json", path=folder, hint=_HINT
        )
    if not (folder / "journal.jsonl").is_file():
        raise BadInput(
            f"{run.name} has no journal.jsonl", path=folder, hint="copy the whole run folder"
        )
    return run


def _meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(
            f"cannot read {folder / 'meta.json'}: {exc}", path=folder, hint="is it a run folder?"
        ) from None
    if not isinstance(meta, dict):
        raise BadInput("meta.json is not a mapping", path=folder, hint="is it a run folder?")
    return meta


def check_shards(runs: Sequence[ShardRun]) -> list[ShardRun]:
    """The runs in shard order, or the first reason they are not one run's shards."""
    if not runs:
        raise BadInput("no shard runs to merge", hint=_HINT)
    first = runs[0]
    for run in runs[1:]:
        _check_same(first, run)
    by_index: dict[int, ShardRun] = {}
    for run in runs:
        index = run.shard["index"]
        if index in by_index:
            raise BadInput(
                f"shard {index}/{run.shard['count']} is given twice: runs "
                f"{by_index[index].folder.name} and {run.folder.name}",
                hint="give each shard's run once",
            )
        by_index[index] = run
    count = first.shard["count"]
    missing = [i for i in range(1, count + 1) if i not in by_index]
    if missing:
        raise BadInput(
            f"shard {missing[0]}/{count} is missing"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            hint=f"run it (promptkit eval SUITE --shard {missing[0]}/{count}) and merge again",
        )
    ordered = [by_index[i] for i in range(1, count + 1)]
    for run in ordered:
        _check_finished(run)
        _check_journal(run)
    _check_rows(ordered)
    return ordered


def _check_same(first: ShardRun, run: ShardRun) -> None:
    def differs(what: str) -> BadInput:
        return BadInput(
            f"{run.name} has other {what} than {first.name}", path=run.folder, hint=_HINT
        )

    for key in _SAME:
        if first.meta.get(key) != run.meta.get(key):
            raise differs("fingerprint parts" if key == "fingerprint" else key)
    if _prompt_hashes(first) != _prompt_hashes(run):
        raise differs("prompt templates")
    if _model_names(first) != _model_names(run):
        raise differs("models")
    if _repeat(first) != _repeat(run):
        raise differs("repeats")
    for key in ("count", "of_rows"):
        if first.shard.get(key) != run.shard.get(key):
            raise differs("shard count" if key == "count" else "rows (--limit)")


def _prompt_hashes(run: ShardRun) -> dict[str, Any]:
    return {ref: info.get("hash") for ref, info in (run.meta.get("prompts") or {}).items()}


def _model_names(run: ShardRun) -> list[Any]:
    return [m.get("name") for m in run.meta.get("models") or []]


def _repeat(run: ShardRun) -> Any:
    return (run.meta.get("resolved_suite") or {}).get("repeat")


def _check_finished(run: ShardRun) -> None:
    try:
        summary = json.loads((run.folder / SUMMARY_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        summary = None
    if not isinstance(summary, dict) or "failed" in summary:
        raise BadInput(
            f"{run.name} has not finished",
            path=run.folder,
            hint=f"resume it: promptkit eval {run.meta.get('suite_path')} "
            f"--shard {run.shard['index']}/{run.shard['count']} --resume {run.folder.name}",
        )


def _check_journal(run: ShardRun) -> None:
    """The journal holds exactly the shard's rows: as many as recorded, each hashing to
    this shard (a resume with another --limit, or mixed files, would break both)."""
    index, count = run.shard["index"], run.shard["count"]
    rows = {row.get("row_id") for _, _, row in _journal_lines(run.folder)}
    strays = [r for r in rows if not isinstance(r, str) or shard_of(r, count) != index]
    if strays or len(rows) != run.shard["rows"]:
        what = f"row {strays[0]!r} of another shard" if strays else f"{len(rows)} rows"
        raise BadInput(
            f"{run.name} holds {what}; its record says {run.shard['rows']} rows of shard {index}",
            path=run.folder,
            hint="run the shard again into a new run (same --limit as the others)",
        )


def _check_rows(ordered: Sequence[ShardRun]) -> None:
    held = sum(run.shard.get("rows", 0) for run in ordered)
    whole = ordered[0].shard.get("of_rows")
    if held != whole:
        raise BadInput(
            f"the shards hold {held} rows, the run they split has {whole}",
            path=ordered[0].folder,
            hint=_HINT,
        )


def merge_shards(
    sources: Sequence[str | Path],
    root: str | Path = DEFAULT_ROOT,
    *,
    side_files: Sequence[str] = (),
) -> MergedRun:
    """Check the shard runs of ``sources`` and write their merged run under ``root``.

    ``side_files`` (e.g. the baseline link) are copied from the shards into the
    merged run; the shards must agree on them.
    """
    shards = check_shards(find_shard_runs(sources, root))
    sides = {name: _agreed_side_file(shards, name) for name in side_files}
    first = shards[0]
    writer = RunStore(root).create_folder(str(first.meta.get("suite")))
    try:
        for row in _rows_in_run_order(shards):
            writer.append(row)  # type: ignore[arg-type]
    finally:
        writer.close()
    folder = writer.folder
    _copy_prompts(shards, folder)
    for name, text in sides.items():
        if text is not None:
            (folder / name).write_text(text, "utf-8")
    write_json(folder, "meta.json", _merged_meta(shards, folder.name))
    stopped = "; ".join(filter(None, (_stopped(s) for s in shards))) or None
    figures = record_summary(folder, [str(m) for m in first.meta.get("metrics") or []], stopped)
    return MergedRun(folder, figures, shards, _caches(sources))


def _rows_in_run_order(shards: Sequence[ShardRun]) -> Iterator[dict[str, Any]]:
    """Every shard's final row of each case, in the order an unsharded run asks them
    (variant, then row, then repeat): reports list rows as the whole run would.

    Only each row's place is held in memory, so a 100,000-case merge stays small.
    """
    variants = {v: i for i, v in enumerate(shards[0].meta.get("variants") or [])}
    places: list[tuple[int, int, int, int, int, int]] = []
    for number, shard in enumerate(shards):
        last: dict[tuple[Any, ...], tuple[int, int, int, int, int, int]] = {}
        for offset, size, row in _journal_lines(shard.folder):
            key = (row.get("variant"), row.get("row_id"), row.get("repeat"))
            variant = variants.get(row.get("variant"), len(variants))
            index = row.get("row_index", 0)
            last[key] = (variant, int(index), int(row.get("repeat") or 0), number, offset, size)
        places += last.values()
    places.sort()
    journals = [(s.folder / "journal.jsonl").open("rb") for s in shards]
    try:
        for *_, number, offset, size in places:
            journals[number].seek(offset)
            yield json.loads(journals[number].read(size))
    finally:
        for handle in journals:
            handle.close()


def _journal_lines(folder: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(byte offset, size, row) of each whole line of a journal (a torn one is skipped)."""
    with (folder / "journal.jsonl").open("rb") as handle:
        offset = 0
        for line in handle:
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if isinstance(row, dict):
                yield offset, len(line), row
            offset += len(line)


def _agreed_side_file(shards: Sequence[ShardRun], name: str) -> str | None:
    texts = {
        (s.folder / name).read_text("utf-8") if (s.folder / name).is_file() else None
        for s in shards
    }
    if len(texts) > 1:
        raise BadInput(
            f"the shards disagree on {name}",
            path=shards[0].folder,
            hint="run every shard with the same options (--baseline, --gate) and merge again",
        )
    return texts.pop()


def _copy_prompts(shards: Sequence[ShardRun], folder: Path) -> None:
    for shard in shards:
        source = shard.folder / "prompts"
        if source.is_dir():
            shutil.copytree(source, folder / "prompts", dirs_exist_ok=True)


def _merged_meta(shards: Sequence[ShardRun], run_id: str) -> dict[str, Any]:
    meta = {k: v for k, v in shards[0].meta.items() if k not in ("shard", "resumed")}
    meta["run_id"] = run_id
    meta["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    meta["merged_from"] = [
        {
            "run_id": s.folder.name,
            **s.shard,
            "created": s.meta.get("created"),
            "git": s.meta.get("git"),
        }
        for s in shards
    ]
    return meta


def _stopped(shard: ShardRun) -> str | None:
    summary = json.loads((shard.folder / SUMMARY_FILE).read_text("utf-8"))
    reason = summary.get("stopped")
    return f"shard {shard.shard['index']}: {reason}" if reason else None


def _caches(sources: Sequence[str | Path]) -> list[Path]:
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir() and not (path / "meta.json").is_file():
            found += sorted(p for p in path.rglob("*.sqlite") if p.parent.name == "cache")
    return found
