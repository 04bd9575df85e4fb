"""Render limits: what one render may make and how long it may take.

Jinja's sandbox keeps a template away from Python, not from memory or time:
``{{ text * 10**8 }}``, ``'a'|center(10**9)``, nested ``range(100000)`` loops or
``10**10000000`` would each run for minutes or exhaust memory, and a CI run renders
templates from other branches. The rules, each checked *before* the value is made:

* size: no value a template makes (a repeat, a concatenation, padding, a join, a
  replace, a format) may pass ``max_chars`` characters (or items); all the text a
  render makes, output and intermediate values together, may not pass
  :data:`WORK_FACTOR` times that; and the rendered request itself may not pass it;
* numbers: ``*`` and ``**`` on integers stop at :data:`MAX_INT_DIGITS` digits
  (``range`` stops at Jinja's own ``MAX_RANGE``, see :mod:`promptkit.define.sandbox`);
* time: every loop step, call, operator and filter checks a deadline of
  ``max_seconds``; nothing is killed from outside, the render stops itself.

This module holds the rules and the per-render :class:`Budget`; the sandbox
(:mod:`promptkit.define.sandbox`) routes a template's operations through them. A
limit that trips raises :class:`RenderLimitExceeded`, which the prompt reports as
one line naming the file, the line, the limit and the fix.
"""

from __future__ import annotations

import contextvars
import math
import os
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeGuard

from promptkit.errors import BadInput

__all__ = [
    "DEFAULT_MAX_CHARS",
    "LIMIT_ENV",
    "MAX_INT_DIGITS",
    "RENDER_SECONDS",
    "WORK_FACTOR",
    "Budget",
    "RenderLimitExceeded",
    "RenderLimits",
    "allow_text",
    "check_binop",
    "check_request_size",
    "checked_call",
    "current_budget",
    "filter_checks",
    "is_int",
    "render_budget",
    "size_of",
    "text_estimate",
]

#: Characters one rendered request may hold (1 MB of ASCII text).
DEFAULT_MAX_CHARS = 1_000_000
#: The variable that changes it, for a project whose prompts really are that long.
LIMIT_ENV = "PROMPTKIT_RENDER_LIMIT"
#: Seconds one render may take; a real prompt takes milliseconds.
RENDER_SECONDS = 2.0
#: All text a render makes, garbage included, is held to this many times ``max_chars``.
WORK_FACTOR = 10
#: Digits an integer made by ``*`` or ``**`` may have.
MAX_INT_DIGITS = 10_000

_LOG10_2 = math.log10(2)


@dataclass(frozen=True)
class RenderLimits:
    max_chars: int = DEFAULT_MAX_CHARS
    max_seconds: float = RENDER_SECONDS

    @classmethod
    def from_environment(cls) -> RenderLimits:
        """The defaults, with ``max_chars`` from ``$PROMPTKIT_RENDER_LIMIT`` when it is set."""
        raw = os.environ.get(LIMIT_ENV)
        if raw is None or not raw.strip():
            return cls()
        try:
            chars = int(raw.strip().replace("_", ""))
        except ValueError:
            chars = 0
        if chars < 1:
            raise BadInput(
                f"{LIMIT_ENV}={raw!r} is not a positive number of characters",
                hint=f"set it to a whole number such as {DEFAULT_MAX_CHARS * 2}, or unset it",
            )
        return cls(max_chars=chars)


class RenderLimitExceeded(Exception):
    """A render limit tripped; ``hint`` says how to stay under it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


#: What made a value, for the message; a function when naming it costs (only on failure).
Label = str | Callable[[], str]


class Budget:
    """What one render may still spend: its deadline and the characters it may make."""

    def __init__(self, limits: RenderLimits, *, bounded: bool = True) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds if bounded else math.inf
        self.work_left = limits.max_chars * WORK_FACTOR if bounded else math.inf

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(
                f"rendering ran past {self.limits.max_seconds:g}s",
                "make the loops or the recursion smaller: a template only formats data",
            )

    def allow(self, size: float, what: Label, unit: str = "characters") -> None:
        """Refuse to make ``what`` of ``size`` characters (or items) when it is over the cap."""
        if size > self.limits.max_chars:
            raise RenderLimitExceeded(
                f"{what() if callable(what) else what} would make {size:,.0f} {unit}, over "
                f"the limit of {self.limits.max_chars:,}",
                _size_hint(),
            )

    def charge(self, size: int) -> None:
        self.work_left -= size
        if self.work_left < 0:
            raise RenderLimitExceeded(
                f"the template made over {self.limits.max_chars * WORK_FACTOR:,} characters "
                f"of text while rendering ({WORK_FACTOR} x the limit of "
                f"{self.limits.max_chars:,})",
                _size_hint(),
            )

    def made(self, value: Any, what: Label) -> Any:
        """Check and count a value an operation made; returns it."""
        size = size_of(value)
        if size is not None:
            self.allow(size, what, "characters" if isinstance(value, str | bytes) else "items")
            self.charge(size)
        return value


def check_request_size(size: int, limits: RenderLimits) -> None:
    """The rendered request itself (every message together) stays under ``max_chars``."""
    if size > limits.max_chars:
        raise RenderLimitExceeded(
            f"the rendered request is {size:,} characters, over the limit of {limits.max_chars:,}",
            _size_hint(),
        )


def _size_hint() -> str:
    return f"make the output smaller, or raise the limit with {LIMIT_ENV}=<characters>"


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "promptkit_render_budget", default=None
)


def current_budget() -> Budget:
    # Outside a render (Jinja folding constants at compile time) the size caps still
    # hold; the deadline and the running total belong to a render.
    return _BUDGET.get() or Budget(RenderLimits(), bounded=False)


@contextmanager
def render_budget(limits: RenderLimits) -> Iterator[None]:
    """Hold the renders inside to ``limits``."""
    token = _BUDGET.set(Budget(limits))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def size_of(value: Any) -> int | None:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value)
    return None


_CONTAINERS = (list, tuple, dict, set, frozenset)
_PER_ITEM = 2  # a separator and a space: what str() adds around each item
_MAX_DEPTH = 100


def text_estimate(value: Any, cap: float) -> float:
    """About how long ``str(value)`` is, found without building it.

    A container is walked, each element charged its length plus :data:`_PER_ITEM`;
    the walk stops as soon as the estimate passes ``cap`` (so it is bounded by the
    cap, not by the container), and a cycle or deep nesting counts as over the cap.
    """
    total = 0.0
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen: set[int] = set()
    while stack and total <= cap:
        item, depth = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + _PER_ITEM
        elif isinstance(item, _CONTAINERS):
            if depth > _MAX_DEPTH or id(item) in seen:
                return math.inf
            seen.add(id(item))
            total += _PER_ITEM
            children = item.items() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in _bounded(children, cap - total))
        elif isinstance(item, int) and not isinstance(item, bool):
            total += _digits(item) + 2
        else:
            total += len(str(item)) + _PER_ITEM  # a scalar: short by nature
    return total


def _bounded(items: Iterable[Any], room: float) -> Iterator[Any]:
    """At most enough of ``items`` to pass ``room`` at :data:`_PER_ITEM` each."""
    for count, item in enumerate(items):
        if count * _PER_ITEM > room:
            return
        yield item


def allow_text(budget: Budget, value: Any, what: Label) -> None:
    """Refuse ``str(value)`` (or its repr or JSON) before it is built when it is over the cap."""
    if not isinstance(value, str | bytes):
        budget.allow(text_estimate(value, budget.limits.max_chars), what)


# --- operators ---------------------------------------------------------------------------


def _digits(value: int) -> float:
    return value.bit_length() * _LOG10_2


def _refuse_number(what: str, digits: float) -> None:
    if digits > MAX_INT_DIGITS:
        raise RenderLimitExceeded(
            f"{what} would make a number of about {digits:,.0f} digits, over the limit of "
            f"{MAX_INT_DIGITS:,}",
            "a template formats numbers; compute big ones before rendering",
        )


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int)


def check_binop(budget: Budget, operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if size_of(seq) is not None and is_int(times):
                unit = "characters" if isinstance(seq, str | bytes) else "items"
                budget.allow(len(seq) * max(times, 0), "a repeat with *", unit)
                if isinstance(seq, list | tuple) and times > 0:
                    cap = budget.limits.max_chars
                    budget.allow(times * text_estimate(seq, cap / times), "a repeat with *")
        if is_int(left) and is_int(right):
            _refuse_number("*", _digits(left) + _digits(right))
    elif operator == "**":
        if is_int(left) and is_int(right) and right > 1 and abs(left) > 1:
            _refuse_number("**", right * math.log10(abs(left)))
    elif operator == "+":
        if isinstance(left, str | bytes | list | tuple) and isinstance(right, type(left)):
            budget.allow(len(left) + len(right), "a concatenation with +")
            if isinstance(left, list | tuple):
                cap = budget.limits.max_chars
                budget.allow(text_estimate((left, right), cap), "a concatenation with +")
    elif operator == "%" and isinstance(left, str):
        _check_percent(budget, left, right)


_PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
    r"[hlL]?(?P<kind>[diouxXeEfFgGcrsa%])"
)


def _check_percent(budget: Budget, template: str, values: Any) -> None:
    """``template % values`` (the ``%`` operator and the ``format`` filter), sized before."""
    args = list(values) if isinstance(values, tuple) else [values]
    total: float = len(template)
    position = 0
    for spec in _PERCENT.finditer(template):
        if spec["kind"] == "%":
            continue
        widths = []
        for part in (spec["width"], spec["precision"]):
            if part == "*":
                widths.append(args[position] if position < len(args) else 0)
                position += 1
            elif part:
                widths.append(int(part))
        if spec["key"] is not None and isinstance(values, Mapping):
            value = values.get(spec["key"], "")
        else:
            value = args[position] if position < len(args) else ""
            position += 1
        total += _textsize_of(value) + sum(w for w in widths if is_int(w))
    budget.allow(total, "a % format")


def _textsize_of(value: Any) -> float:
    if isinstance(value, str | bytes):
        return len(value)
    return text_estimate(value, current_budget().limits.max_chars)  # before str() builds it


def _check_str_format(
    budget: Budget, template: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    """``template.format(...)`` sized before it is made: each field's value and width."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # the call itself reports the bad format
    numbers = [v for v in (*args, *kwargs.values()) if is_int(v)]
    largest = max((_textsize_of(v) for v in (*args, *kwargs.values())), default=0)
    total: float = 0
    auto = 0
    for literal, name, spec, _ in fields:
        total += len(literal)
        if name is None:
            continue
        head = re.split(r"[.\[]", name, maxsplit=1)[0]
        if head == "":
            head, auto = str(auto), auto + 1
        size: float
        if head != name:
            size = largest  # an attribute or item of an argument: at most the largest
        elif head.isdigit():
            size = _textsize_of(args[int(head)]) if int(head) < len(args) else 0
        else:
            size = _textsize_of(kwargs.get(head, ""))
        widths = [int(d) for d in re.findall(r"\d+", spec or "")]
        if spec and "{" in spec:
            widths += numbers  # a nested width comes from the arguments
        total += size + sum(widths)
    budget.allow(total, "a str.format")


# --- calls and filters -------------------------------------------------------------------


def _materialize(items: Iterable[Any], budget: Budget) -> list[Any]:
    """A list of ``items`` (a generator can be read once), within the caps."""
    if isinstance(items, list):
        return items
    out: list[Any] = []
    for item in items:
        out.append(item)
        if len(out) % 4096 == 0:
            budget.tick()
            budget.allow(len(out), "a list", "items")
    return out


def _check_join(budget: Budget, sep: Any, items: list[Any], what: str) -> None:
    sized = sum(_textsize_of(item) for item in items)
    budget.allow(sized + max(len(items) - 1, 0) * _textsize_of(sep), what)  # joined text


def _replacesize_of(text: Any, old: Any, new: Any, count: Any) -> int:
    text, old, new = str(text), str(old), str(new)
    found = len(text) + 1 if old == "" else text.count(old)
    if is_int(count) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _check_text_method(budget: Budget, owner: Any, name: str, args: tuple[Any, ...]) -> None:
    """The str (and bytes) methods that can make more text than they are given."""
    first = args[0] if args else None
    if name in ("ljust", "rjust", "center", "zfill") and is_int(first):
        budget.allow(first, f"str.{name}")
    elif name == "expandtabs":
        tab = first if is_int(first) else 8
        budget.allow(
            len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * tab,
            "str.expandtabs",
        )
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else -1
        budget.allow(_replacesize_of(owner, args[0], args[1], count), "str.replace")
    elif name == "translate" and hasattr(first, "__getitem__"):
        budget.allow(len(owner) * max(_longest_entry(first), 1), "str.translate")


def _longest_entry(table: Any) -> float:
    """The longest text a translate table maps to; any table, since any ``__getitem__`` is one."""
    if isinstance(table, str | bytes):
        return 1
    entries = table.values() if isinstance(table, Mapping) else table
    if not isinstance(entries, Iterable):
        return math.inf  # nothing to measure it by: refuse rather than guess
    cap = current_budget().limits.max_chars
    longest: float = 0
    for entry in _bounded(entries, cap):
        if entry is not None:
            longest = max(longest, text_estimate(entry, cap) - _PER_ITEM)
        if longest > cap:
            break
    return longest


def checked_call(
    budget: Budget, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Check a call before it is made; returns its arguments (a generator read into a list)."""
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    if name in ("format", "format_map"):
        # The sandbox hands out its own wrapper of str.format, the method under __wrapped__.
        template = getattr(getattr(obj, "__wrapped__", None), "__self__", None)
        if isinstance(template, str):
            named = args[0] if name == "format_map" and args else kwargs
            _check_str_format(budget, template, args if name == "format" else (), named)
    elif isinstance(owner, str | bytes):
        if name == "join" and args:
            items = _materialize(args[0], budget)
            _check_join(budget, owner, items, "str.join")
            return (items, *args[1:])
        _check_text_method(budget, owner, name, args)
    elif name == "fromkeys" and isinstance(owner, type) and args:
        keys = _materialize(args[0], budget)
        budget.allow(len(keys), f"{owner.__name__}.fromkeys", "items")
        value = args[1] if len(args) > 1 else None
        cap = budget.limits.max_chars
        each = text_estimate(value, cap / max(len(keys), 1))
        budget.allow(len(keys) * each + text_estimate(keys, cap), f"{owner.__name__}.fromkeys")
        return (keys, *args[1:])
    elif isinstance(owner, list) and name in ("extend", "append", "insert") and args:
        if name == "extend":
            items = _materialize(args[0], budget)
            budget.allow(len(owner) + len(items), "list.extend", "items")
            return (items,)
        budget.allow(len(owner) + 1, f"list.{name}", "items")
    return args


def filter_checks(
    budget: Budget, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Filters that can make far more than they are given: sized before they run."""
    value = args[0] if args else ""
    rest = args[1:]

    def arg(index: int, key: str, default: Any) -> Any:
        return rest[index] if len(rest) > index else kwargs.get(key, default)

    if name == "center" and is_int(arg(0, "width", 80)):
        budget.allow(arg(0, "width", 80), "the center filter")
    elif name == "indent":
        width = arg(0, "width", 4)
        step = len(width) if isinstance(width, str) else width if is_int(width) else 0
        text = str(value)
        budget.allow(len(text) + (text.count("\n") + 1) * step, "the indent filter")
    elif name == "replace" and len(rest) >= 2:
        budget.allow(
            _replacesize_of(value, rest[0], rest[1], arg(2, "count", None)), "the replace filter"
        )
    elif name == "wordwrap":
        text, width = str(value), arg(0, "width", 79)
        wrap = arg(2, "wrapstring", None) or "\n"
        lines = len(text) // max(width if is_int(width) else 1, 1) + text.count("\n") + 1
        budget.allow(len(text) + lines * len(str(wrap)), "the wordwrap filter")
    elif name == "join" and arg(1, "attribute", None) is None:
        items = _materialize(value, budget)
        _check_join(budget, arg(0, "d", ""), items, "the join filter")
        return (items, *rest)
    elif name in ("string", "pprint", "tojson", "list"):
        allow_text(budget, value, f"the {name} filter")
    elif name == "format" and isinstance(value, str):
        _check_percent(budget, value, kwargs or tuple(rest))
    elif name in ("batch", "slice"):
        count = arg(0, "linecount" if name == "batch" else "slices", 0)
        if is_int(count):
            budget.allow(count, f"the {name} filter", "items")
    return args
