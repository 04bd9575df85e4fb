"""Conversations as data: a dataset column of ``{role, content}`` turns.

A suite declares the column (``conversation: history``) and a template places it
with an explicit tag, ``{% conversation history %}``, which appends one message
per turn. Data then chooses between ``user`` and ``assistant`` (``tool`` only
where the suite opts in) and nothing more: ``system`` belongs to the template, a
turn's text is its message's content verbatim (never rendered as Jinja), and the
tag cannot stand inside a ``{% message %}`` block, so text inside a turn still
never opens another turn.

:func:`read_turns` is the one home of the rule. The suite runs it on every row of
the dataset and the example pool before any call (a bad turn is one line naming the
file and row), and the tag runs it again at render time for values that did not
come through a suite (``promptkit render --var``, a report re-rendering a run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension

from promptkit.define.datasets import Dataset, Row
from promptkit.define.files import load_json
from promptkit.define.messages import Message, current_collector
from promptkit.define.validate import Where, known_keys, string, string_list
from promptkit.errors import BadInput, DatasetError, PromptError

__all__ = [
    "ALLOWED_ROLES",
    "TURN_ROLES",
    "Conversation",
    "ConversationExtension",
    "ConversationSpec",
    "conversation_spec",
    "looks_like_turns",
    "read_conversations",
    "read_turns",
    "transcript",
]

#: The roles a conversation's data may take without asking.
TURN_ROLES = ("user", "assistant")
#: Every role a suite may allow; ``system`` is never one (it is the template's).
ALLOWED_ROLES = ("user", "assistant", "tool")
TURN_KEYS = ("role", "content")
SPEC_KEYS = ("column", "roles")
_EXAMPLE = '[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]'


class _Problem(BadInput):
    """What is wrong with one conversation; re-raised with the file that holds it."""


class Conversation(tuple[dict[str, str], ...]):
    """Checked turns, with the roles the suite allowed them (a template cannot widen them).

    A tuple, so rows stay immutable and the journal writes it as a JSON list; its text
    (``{{ history }}``, a judge's view of the input) is the transcript."""

    roles: tuple[str, ...]

    def __new__(
        cls, turns: Iterable[dict[str, str]] = (), roles: tuple[str, ...] = TURN_ROLES
    ) -> Conversation:
        made = super().__new__(cls, turns)
        made.roles = roles
        return made

    def __str__(self) -> str:
        return transcript(self)


def transcript(turns: Iterable[Mapping[str, Any]]) -> str:
    """``user: ...`` / ``assistant: ...`` lines, for people and for judges."""
    return "\n".join(f"{turn.get('role')}: {turn.get('content')}" for turn in turns)


def looks_like_turns(value: Any) -> bool:
    """A non-empty list of ``{role, content}`` mappings, e.g. a conversation in a journal."""
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(t, Mapping) and set(t) == set(TURN_KEYS) for t in value)
    )


def read_turns(value: Any, roles: Iterable[str] = TURN_ROLES) -> Conversation:
    """``value`` as checked turns: a list of ``{role, content}`` mappings, or that list
    written as JSON text (a CSV cell, a ``--var``). Raises ``BadInput`` saying what to fix."""
    allowed = tuple(roles)
    if isinstance(value, str):
        label = "not a JSON list of turns"
        value = load_json(value, path="", error=_Problem, label=label, hint=f"e.g. {_EXAMPLE}")
    if not isinstance(value, list | tuple):
        raise _Problem(f"is not a list of turns but {_kind(value)}", hint=f"e.g. {_EXAMPLE}")
    if not value:
        raise _Problem("has no turns", hint="give at least one {role, content} turn")
    return Conversation((_turn(i, turn, allowed) for i, turn in enumerate(value, 1)), allowed)


def _turn(number: int, turn: Any, roles: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(turn, Mapping):
        raise _Problem(f"turn {number} is {_kind(turn)}, not a {{role, content}} mapping")
    if set(turn) != set(TURN_KEYS):
        keys = ", ".join(sorted(map(str, turn))) or "none"
        raise _Problem(
            f"turn {number} has keys {keys}", hint="give each turn exactly 'role' and 'content'"
        )
    role, content = turn["role"], turn["content"]
    if not isinstance(role, str) or role not in roles:
        raise _Problem(f"turn {number} has role {role!r}", hint=_role_hint(roles))
    if not isinstance(content, str):
        raise _Problem(f"turn {number} has content {_kind(content)}", hint="write it as text")
    _check_text(number, content)
    return {"role": role, "content": content}


def _check_text(number: int, content: str) -> None:
    """A lone surrogate (from a CSV cell's ``\\ud800``) would crash the tokenizer later."""
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:
        raise _Problem(
            f"turn {number} holds a lone surrogate, which is not Unicode text",
            hint="fix the \\u escape",
        ) from None


def _role_hint(roles: tuple[str, ...]) -> str:
    hint = f"use {' or '.join(roles)}; a system message belongs in the template"
    if "tool" not in roles:
        hint += "; allow tool turns with conversation: {column: C, roles: [user, assistant, tool]}"
    return hint


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {str: "text", bool: "true/false", int: "a number", float: "a number", dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__}")


# --- the suite's declaration and the check before any call ---------------------------------


@dataclass(frozen=True)
class ConversationSpec:
    """``conversation: COLUMN`` or ``conversation: {column: COLUMN, roles: [...]}``."""

    column: str
    roles: tuple[str, ...] = TURN_ROLES


def conversation_spec(value: Any, where: Where) -> ConversationSpec:
    spec = value if isinstance(value, dict) else {"column": value}
    known_keys(spec, SPEC_KEYS, where)
    if "column" not in spec:
        raise where.fail("'conversation' needs a column", "conversation: {column: COLUMN}")
    at = where.at("column") if isinstance(value, dict) else where
    column = string(spec["column"], at, what="a column name")
    roles = tuple(string_list(spec.get("roles", list(TURN_ROLES)), where.at("roles"), what="roles"))
    for index, role in enumerate(roles):
        if role not in ALLOWED_ROLES:
            raise (
                where.at("roles")
                .at(index)
                .fail(
                    f"a conversation cannot allow role {role!r}",
                    f"use {', '.join(ALLOWED_ROLES)}; a system message belongs in the template",
                )
            )
    if not roles:
        raise where.at("roles").fail("'roles' is empty", "e.g. roles: [user, assistant]")
    return ConversationSpec(column, roles)


def read_conversations(dataset: Dataset, spec: ConversationSpec) -> Dataset:
    """``dataset`` with every row's conversation checked and parsed into turns."""
    rows = tuple(_row(dataset, index, row, spec) for index, row in enumerate(dataset.rows, 1))
    return replace(dataset, rows=rows)


def _row(dataset: Dataset, index: int, row: Row, spec: ConversationSpec) -> Row:
    try:
        turns = read_turns(row.data[spec.column], spec.roles)
    except _Problem as problem:
        raise DatasetError(
            f"row {index} (id {row.id!r}): conversation {spec.column!r} {problem.message}",
            path=dataset.path,
            line=row.line,
            hint=problem.hint,
        ) from None
    # The id stays the one the file's own text gave the row.
    return Row(row.id, {**row.data, spec.column: turns}, row.line)


# --- the template tag ---------------------------------------------------------------------


class ConversationExtension(Extension):
    """``{% conversation EXPR %}`` appends one message per turn of EXPR."""

    tags = {"conversation"}  # noqa: RUF012 - Jinja declares it this way

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        if _inside_message(parser):
            raise PromptError(
                "a {% conversation %} tag cannot stand inside a {% message %} block",
                path=parser.filename,
                line=lineno,
                hint="each turn is a message of its own: close the message block first",
            )
        value = parser.parse_expression()
        where = [nodes.Const(parser.filename), nodes.Const(lineno)]
        return nodes.ExprStmt(self.call_method("_place", [value, *where])).set_lineno(lineno)

    def _place(self, value: Any, path: str | None, line: int) -> str:
        collector = current_collector()
        if collector.depth:  # a macro holding the tag, called inside a message block
            raise PromptError(
                "a {% conversation %} tag cannot run inside a {% message %} block",
                path=path,
                line=line,
                hint="each turn is a message of its own: place the conversation between blocks",
            )
        if not isinstance(value, Conversation) and not collector.raw_conversations:
            raise PromptError(
                "{% conversation %} got a value that is not a conversation column",
                path=path,
                line=line,
                hint="declare the column with the suite's 'conversation:' key: only it holds turns",
            )
        roles = value.roles if isinstance(value, Conversation) else TURN_ROLES
        try:
            turns = read_turns(value, roles)
        except _Problem as problem:
            raise PromptError(
                f"conversation {problem.message}", path=path, line=line, hint=problem.hint
            ) from None
        collector.messages.extend(Message(t["role"], t["content"]) for t in turns)
        return ""


def _inside_message(parser: Any) -> bool:
    """Jinja's parser stacks the end tags of the blocks it is inside."""
    stack = getattr(parser, "_end_token_stack", [])
    return any("name:endmessage" in ends for ends in stack)
