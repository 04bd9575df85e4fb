"""Datasets and example pools: JSONL, CSV or YAML files of one mapping per row.

Every row gets a stable id: the value of a declared id column, or else a hash
of the row's content, so the same row keeps its id when the file is reordered.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptkit.define.files import is_file, load_json, parse_yaml, read_text
from promptkit.errors import DatasetError

__all__ = ["Dataset", "Row", "load_dataset", "row_hash", "shard_of"]

SUFFIXES = (".jsonl", ".csv", ".yaml", ".yml")
JSONL_HINT = "each line must be one JSON object"
YAML_HINT = "the file must be a YAML list of mappings"


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
        """Fail on the first row that lacks one of ``columns`` or holds null in it (in a
        CSV file, an empty cell: CSV has no null), naming its line: a null input would
        reach the model as the text "None" and a null reference would only be noticed by
        the statistics, after every call was paid for. An empty string in JSON or YAML is
        written on purpose (an expected empty answer) and stays."""
        csv_file = Path(self.path).suffix.lower() == ".csv"
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
                value = row.data[column]
                if value is None or (csv_file and isinstance(value, str) and not value.strip()):
                    what = "null" if value is None else "an empty value"
                    raise DatasetError(
                        f"row {row.id!r} has {what} in column {column!r} (needed by {needed_by})",
                        path=self.path,
                        line=row.line,
                        hint="fill in the value or remove the row",
                    )


def load_dataset(path: str | Path, *, id_column: str | None = None) -> Dataset:
    """Load a dataset file; the format comes from the suffix."""
    path = Path(path)
    if not is_file(path):
        raise DatasetError("dataset file not found", path=path, hint="check the path")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DatasetError(
            f"unsupported dataset format {suffix!r}",
            path=path,
            hint="use .jsonl, .csv or .yaml",
        )
    text = read_text(path, error=DatasetError, strip_bom=True)
    records: list[tuple[int | None, Any]]
    if suffix == ".jsonl":
        records = list(_read_jsonl(text, path))
    elif suffix == ".csv":
        records = list(_read_csv(text, path))
    else:
        records = _read_yaml(text, path)
    rows = _with_ids(records, path, id_column)
    if not rows:
        raise DatasetError("dataset has no rows", path=path, hint="add at least one row")
    return Dataset(path=str(path), rows=tuple(rows), id_column=id_column)


def _read_jsonl(text: str, path: Path) -> Iterator[tuple[int | None, Any]]:
    # "\n" only: str.splitlines also splits on U+2028, U+0085 and form feeds, which JSON
    # strings may hold raw
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield (
                number,
                load_json(line, path=path, error=DatasetError, line=number, hint=JSONL_HINT),
            )


def _read_csv(text: str, path: Path) -> Iterator[tuple[int | None, Any]]:
    """Rows of a CSV file, parsed from the whole text so quoted fields keep their
    newlines; each row is numbered by the physical line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader, None)
        except csv.Error as exc:
            raise _csv_error(exc, path, start, reader.line_num) from None
        if fields is None:
            return
        if not fields:
            continue  # a blank line
        if header is None:
            header = _csv_header(fields, path, start)
        elif len(fields) != len(header):
            raise DatasetError(
                f"this row has {len(fields)} field(s) but the header has {len(header)}",
                path=path,
                line=start,
                hint="give every row one value per column; quote values that hold commas",
            )
        else:
            yield start, dict(zip(header, fields, strict=True))


def _csv_header(fields: list[str], path: Path, line: int) -> list[str]:
    duplicate = next((name for name in fields if fields.count(name) > 1), None)
    if duplicate is not None:
        raise DatasetError(
            f"column {duplicate!r} appears twice in the header",
            path=path,
            line=line,
            hint="give every column its own name",
        )
    return fields


def _csv_error(exc: csv.Error, path: Path, start: int, end: int) -> DatasetError:
    if "unexpected end of data" in str(exc):
        return DatasetError(
            "a quote opened in this row is never closed",
            path=path,
            line=start,
            hint='close the quote; write a quote inside a quoted field as ""',
        )
    return DatasetError(
        f"invalid CSV: {exc}",
        path=path,
        line=end,
        hint='quote fields that hold commas, quotes or newlines; write a quote inside as ""',
    )


def _read_yaml(text: str, path: Path) -> list[tuple[int | None, Any]]:
    data, node = parse_yaml(text, path=path, error=DatasetError, hint=YAML_HINT)
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        raise DatasetError(
            "a YAML dataset must be a list of mappings", path=path, hint="start rows with '- '"
        )
    lines = [item.start_mark.line + 1 for item in node.value]
    return list(zip(lines, data, strict=True))


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


def shard_of(row_id: str, count: int) -> int:
    """The shard (1..count) a row belongs to when a run is split (``eval --shard``): a
    sha256 of its id, so it depends neither on row order nor on the machine."""
    digest = hashlib.sha256(row_id.encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count
