"""Datasets and example pools: JSONL, CSV or YAML files of one mapping per row.

Every row gets a stable id: the value of a declared id column, or else a hash
of the row's content, so the same row keeps its id when the file is reordered.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import DatasetError, yaml_problem

__all__ = ["Dataset", "Row", "load_dataset", "row_hash"]

SUFFIXES = (".jsonl", ".csv", ".yaml", ".yml")


@dataclass(frozen=True)
class Row:
    id: str
    data: Mapping[str, Any]
    line: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def row_hash(data: Mapping[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Dataset:
    path: str
    rows: tuple[Row, ...]
    id_column: str | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    @property
    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row.data))
        return list(seen)

    def require_columns(self, columns: Sequence[str], *, needed_by: str) -> None:
        """Fail on the first row that lacks one of ``columns``, naming its line."""
        for row in self.rows:
            for column in columns:
                if column not in row.data:
                    known = ", ".join(sorted(row.data))
                    raise DatasetError(
                        f"row {row.id!r} has no column {column!r} (needed by {needed_by})",
                        path=self.path,
                        line=row.line,
                        hint=f"add the column or fix the name; this row has: {known}",
                    )


def load_dataset(path: str | Path, *, id_column: str | None = None) -> Dataset:
    """Load a dataset file; the format comes from the suffix."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError("dataset file not found", path=path, hint="check the path")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DatasetError(
            f"unsupported dataset format {suffix!r}",
            path=path,
            hint="use .jsonl, .csv or .yaml",
        )
    text = path.read_text("utf-8-sig")
    records: list[tuple[int | None, Any]]
    if suffix == ".jsonl":
        records = list(_read_jsonl(text, path))
    elif suffix == ".csv":
        records = list(_read_csv(text))
    else:
        records = _read_yaml(text, path)
    rows = _with_ids(records, path, id_column)
    if not rows:
        raise DatasetError("dataset has no rows", path=path, hint="add at least one row")
    return Dataset(path=str(path), rows=tuple(rows), id_column=id_column)


def _read_jsonl(text: str, path: Path) -> Iterator[tuple[int | None, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"invalid JSON: {exc.msg} at column {exc.colno}",
                path=path,
                line=number,
                hint="each line must be one JSON object",
            ) from None


def _read_csv(text: str) -> Iterator[tuple[int | None, Any]]:
    reader = csv.DictReader(text.splitlines())
    for record in reader:
        yield reader.line_num, dict(record)


def _read_yaml(text: str, path: Path) -> list[tuple[int | None, Any]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem, line = yaml_problem(exc)
        raise DatasetError(
            f"invalid YAML: {problem}",
            path=path,
            line=line,
            hint="the file must be a YAML list of mappings",
        ) from None
    if not isinstance(data, list):
        raise DatasetError(
            "a YAML dataset must be a list of mappings", path=path, hint="start rows with '- '"
        )
    return [(None, record) for record in data]


def _with_ids(
    records: Sequence[tuple[int | None, Any]], path: Path, id_column: str | None
) -> list[Row]:
    rows: list[Row] = []
    seen: dict[str, int | None] = {}
    for index, (line, record) in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DatasetError(
                f"row {index} is not an object",
                path=path,
                line=line,
                hint="every row must map column names to values",
            )
        if id_column is not None and id_column not in record:
            raise DatasetError(
                f"row {index} has no id column {id_column!r}",
                path=path,
                line=line,
                hint="add the id or remove the suite's dataset id setting",
            )
        row_id = str(record[id_column]) if id_column else row_hash(record)
        if row_id in seen:
            what = "id" if id_column else "content (duplicate row)"
            raise DatasetError(
                f"duplicate row {what} {row_id!r}",
                path=path,
                line=line,
                hint="ids must be unique; remove or rename the duplicate",
            )
        seen[row_id] = line
        rows.append(Row(id=row_id, data=record, line=line))
    return rows
