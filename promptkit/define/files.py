"""Reading the files a user wrote: suites, prompt files, datasets, schemas.

One home for the rules every reader obeys, so that any bytes give either the
data or one :class:`~promptkit.errors.BadInput` line naming the file (and the
line where there is one), never a traceback and never a silent guess:

- text must be UTF-8; other bytes are refused with their line and byte offset;
- YAML refuses duplicate keys (PyYAML keeps the last one silently) and keys
  that are not text (``yes:`` is read as ``True``, ``1:`` as an integer);
- YAML aliases may add at most :data:`MAX_ALIAS_NODES` nodes in all, so a
  600-byte "billion laughs" file is refused at once instead of expanding to
  10^9 nodes; an alias inside its own anchor (a cycle) is refused too;
- nesting deeper than :data:`MAX_DEPTH` levels is refused in YAML and JSON,
  before Python's recursion limit turns it into a crash;
- scalars Python cannot hold (a 5000-digit integer, the date 2024-13-45) and
  lone surrogates (``"\\ud800"``, not Unicode text) are refused with their line.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import BadInput, yaml_problem

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "StrictLoader",
    "is_dir",
    "is_file",
    "load_json",
    "parse_yaml",
    "read_python_source",
    "read_text",
]

#: Deepest nesting of lists and mappings a user file may have.
MAX_DEPTH = 100
#: Most nodes that YAML aliases may add to a document, counted as fully expanded.
MAX_ALIAS_NODES = 10_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Python's limit on the digits of an int read from text (3.10.7+; 0 means none).
_INT_DIGITS: int = getattr(sys, "get_int_max_str_digits", lambda: 0)()
_LONG_DIGITS = re.compile(rf"\d{{{_INT_DIGITS + 1},}}")
_QUOTE_HINT = "quote the value to keep it as text"

ErrorType = type[BadInput]


def is_file(path: str | Path) -> bool:
    """``Path.is_file``, but False for a name no file can have (too long, a NUL byte
    from a YAML escape) where pathlib raises OSError or ValueError."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: str | Path) -> bool:
    """``Path.is_dir``, False for a name no folder can have (see :func:`is_file`)."""
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False


def read_text(path: str | Path, *, error: ErrorType, strip_bom: bool = False) -> str:
    """The file's text; bytes that are not UTF-8 are an ``error`` naming line and offset."""
    text = _decode(_read_bytes(path, error), "utf-8", path, error)
    return text[1:] if strip_bom and text.startswith("\ufeff") else text


def read_python_source(path: str | Path, *, error: ErrorType) -> str:
    """A Python file's text in its declared encoding (UTF-8 unless a coding line says
    otherwise, PEP 263), read before importing it so bad bytes name their offset."""
    data = _read_bytes(path, error)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # a bad coding line, or bad UTF-8 in the first two lines
        _decode(data, "utf-8", path, error)
        raise error(
            f"cannot read the source: {exc.msg}", path=path, hint="fix the coding line"
        ) from None
    return _decode(data, encoding, path, error)


def _read_bytes(path: str | Path, error: ErrorType) -> bytes:
    try:
        return Path(path).read_bytes()
    except (OSError, ValueError) as exc:
        raise error(
            f"cannot read the file: {getattr(exc, 'strerror', None) or exc}",
            path=path,
            hint="check the path and its permissions",
        ) from None


def _decode(data: bytes, encoding: str, path: str | Path, error: ErrorType) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding.startswith("utf-8") else encoding
        raise error(
            f"not {name} text: byte 0x{data[exc.start]:02x} at byte offset {exc.start}",
            path=path,
            line=data.count(b"\n", 0, exc.start) + 1,
            hint="save the file as UTF-8",
        ) from None


# -- YAML ---------------------------------------------------------------------------------


class _Refused(yaml.MarkedYAMLError):
    """A document PyYAML would accept (or choke on) that promptkit refuses; carries its fix."""

    def __init__(self, problem: str, mark: yaml.Mark | None, hint: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.hint = hint


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with the limits in this module's docstring."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._alias_nodes = 0
        #: node -> (nodes it stands for with aliases expanded, depth with aliases expanded)
        self._extent: dict[yaml.Node, tuple[int, int]] = {}

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # refused while scanning: PyYAML scans ahead through every open '[' before it
        # yields a token, in time that grows with each one (100,000 of them: seconds)
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(
                f"nested deeper than {MAX_DEPTH} levels", self.get_mark(), "flatten the data"
            )
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            return self._alias(self._composed(parent, index), mark)
        nests = self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent)
        self._depth += nests
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", mark, "flatten the data")
        try:
            node = self._composed(parent, index)
        finally:
            self._depth -= nests
        extents = [self._extent[child] for child in _children(node)]
        size = 1 + sum(s for s, _ in extents)
        depth = nests + max((d for _, d in extents), default=0)
        if depth > MAX_DEPTH:
            raise _Refused(
                f"aliases nest the data deeper than {MAX_DEPTH} levels", mark, "flatten the data"
            )
        self._extent[node] = (size, depth)
        return node

    def _composed(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        node = super().compose_node(parent, index)
        assert node is not None  # called only where an event starts a node
        return node

    def _alias(self, node: yaml.Node, mark: yaml.Mark) -> yaml.Node:
        extent = self._extent.get(node)
        if extent is None:  # the anchor is still open: the alias sits inside it
            raise _Refused(
                "an alias inside its own anchor (a cycle)", mark, "an alias must follow its anchor"
            )
        self._alias_nodes += extent[0]
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise _Refused(
                f"aliases expand past {MAX_ALIAS_NODES:,} nodes (a YAML alias bomb?)",
                mark,
                "write the data out instead of repeating anchors",
            )
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            value = super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # e.g. a date 2024-13-45
            problem = f"cannot read {_short(node)} as {_tag_name(node)}: {exc}"
            if "integer string conversion" in str(exc):
                problem = f"integer {_short(node)} is longer than {_INT_DIGITS} digits"
            raise _Refused(problem, node.start_mark, _QUOTE_HINT) from None
        _check_scalar(value, node)
        return value

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep)  # type: ignore[arg-type]
        self._check_keys(node)
        return super().construct_mapping(node, deep)

    def _check_keys(self, node: yaml.MappingNode) -> None:
        """Written keys must be text and unique; merged ones (``<<``) may be overridden."""
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._text_key(key_node)
            if key in seen:
                raise _Refused(
                    f"duplicate key {key!r} (first on line {seen[key]})",
                    key_node.start_mark,
                    "keep one of them: YAML would silently use the last",
                )
            seen[key] = key_node.start_mark.line + 1
        self.flatten_mapping(node)
        for key_node, _ in node.value:
            self._text_key(key_node)

    def _text_key(self, key_node: yaml.Node) -> str:
        key = self.construct_object(key_node)
        if not isinstance(key, str):
            raise _Refused(
                f"key {_short(key_node)} is read as {type(key).__name__}, not as text",
                key_node.start_mark,
                "quote the key",
            )
        return key


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _short(node: yaml.Node) -> str:
    text = node.value if isinstance(node, yaml.ScalarNode) else f"<{getattr(node, 'id', 'node')}>"
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _tag_name(node: yaml.Node) -> str:
    return str(node.tag).rsplit(":", 1)[-1]


def _check_scalar(value: Any, node: yaml.Node) -> None:
    if isinstance(value, str) and _SURROGATE.search(value):
        raise _Refused(
            f"{_short(node)} holds a lone surrogate, which is not Unicode text",
            node.start_mark,
            "fix the \\u escape",
        )
    if isinstance(value, int) and _INT_DIGITS and value.bit_length() > 3 * _INT_DIGITS:
        try:  # hex and binary ints have no digit limit, but printing them in decimal does
            str(value)
        except ValueError:
            problem = f"integer {_short(node)} is longer than {_INT_DIGITS} digits"
            raise _Refused(problem, node.start_mark, _QUOTE_HINT) from None


def parse_yaml(
    text: str,
    *,
    path: str | Path,
    error: ErrorType,
    label: str = "invalid YAML",
    hint: str = "fix the YAML syntax",
    first_line: int = 1,
) -> tuple[Any, yaml.Node | None]:
    """The document and its node tree (for line numbers); ``None, None`` when empty.

    ``first_line`` is the file line the text starts on (front matter: 2).
    """
    loader = None
    try:
        loader = StrictLoader(text)  # refuses characters YAML forbids, such as NUL, at once
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        problem, line = _yaml_problem(exc, text, first_line)
        fix = exc.hint if isinstance(exc, _Refused) else hint
        raise error(f"{label}: {problem}", path=path, line=line, hint=fix) from None
    except (ValueError, OverflowError):  # PyYAML's scanner calls chr() on a \U escape unchecked
        mark = loader.get_mark() if loader is not None else None
        raise error(
            f"{label}: an escape past Unicode's last character",
            path=path,
            line=mark.line + first_line if mark is not None else None,
            hint="write \\U escapes up to \\U0010FFFF",
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def _yaml_problem(exc: yaml.YAMLError, text: str, first_line: int) -> tuple[str, int | None]:
    """PyYAML's complaint as one line, and the file line it points at."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML forbids, such as NUL
        at = text.count("\n", 0, exc.position) + first_line
        return f"character #x{exc.character:04x} is not allowed in YAML", at
    problem, line = yaml_problem(exc, first_line=first_line)
    context = getattr(exc, "context", None)
    if context and problem.startswith("but "):  # "but found another document"
        problem = f"{context} {problem}"
    return " ".join(problem.split()), line


# -- JSON ---------------------------------------------------------------------------------


def load_json(
    text: str,
    *,
    path: str | Path,
    error: ErrorType,
    line: int = 1,
    label: str = "invalid JSON",
    hint: str = "fix the JSON",
) -> Any:
    """One JSON document; ``line`` is the file line it starts on (a JSONL row)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        where = line + exc.lineno - 1
        problem = exc.msg.removesuffix(" at")  # "Invalid control character at"
        raise error(
            f"{label}: {problem} at column {exc.colno}", path=path, line=where, hint=hint
        ) from None
    except RecursionError:
        raise _too_deep(error, path, line) from None
    except ValueError:  # Python's limit on the digits of an integer
        found = _LONG_DIGITS.search(text)
        where = line + text.count("\n", 0, found.start()) if found else line
        raise error(
            f"{label}: an integer longer than {_INT_DIGITS} digits",
            path=path,
            line=where,
            hint="write it as a string",
        ) from None
    _check_tree(value, path=path, line=line, error=error)
    return value


def _too_deep(error: ErrorType, path: str | Path, line: int) -> BadInput:
    return error(f"nested deeper than {MAX_DEPTH} levels", path=path, line=line, hint="flatten it")


def _check_tree(value: Any, *, path: str | Path, line: int, error: ErrorType) -> None:
    """Depth and lone surrogates, walked without recursion (the tree may be deep)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise error(
                    f"{item[:40]!r} holds a lone surrogate, which is not Unicode text",
                    path=path,
                    line=line,
                    hint="fix the \\u escape",
                )
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise _too_deep(error, path, line)
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
