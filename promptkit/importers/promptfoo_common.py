"""What the promptfoo importer's parts share: the error, the list of what was not
converted, and a reader that knows each key's line in the file being read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from promptkit.errors import BadInput

__all__ = ["ImportConfigError", "ImportResult", "Reader", "Skipped"]


class ImportConfigError(BadInput):
    """A promptfoo config promptkit cannot read at all (exit code 2)."""


@dataclass(frozen=True)
class Skipped:
    """Something in the config that was not converted, and where it was written."""

    path: str
    line: int | None
    what: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: not converted: {self.what}"


@dataclass
class ImportResult:
    written: list[Path] = field(default_factory=list)
    suites: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass
class Reader:
    path: Path
    lines: Mapping[str, int]
    result: ImportResult

    def skip(self, key: str, what: str, path: Path | None = None, line: int | None = None) -> None:
        where = line if line is not None else self.line(key)
        self.result.skipped.append(Skipped(str(path or self.path), where, what))

    def line(self, key: str) -> int | None:
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rsplit(".", 1)[0] if "." in key else key.rsplit("[", 1)[0]
            if "[" not in key and "." not in key and key not in self.lines:
                return None
        return None

    def fail(self, key: str, message: str, hint: str) -> ImportConfigError:
        return ImportConfigError(message, path=self.path, line=self.line(key), hint=hint)

    def resolve(self, ref: str) -> Path:
        return self.path.parent / ref.removeprefix("file://")
