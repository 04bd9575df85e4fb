"""The one vocabulary for checking what a user wrote, before anything runs.

Suites, model entries, shot settings, parsers, front matter and provider options
are all read through these functions. Each takes a value and :class:`Where` it was
written (file, key path such as ``models[2].concurrency``, the line when known)
and returns the value typed, or raises one :class:`~promptkit.errors.BadInput`
line that names the file, the line, the key, what was found and the fix. Garbage
is never coerced: ``"5"`` is not an integer, ``true`` is not a number, and NaN or
infinity is never a timeout.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from promptkit.errors import BadInput

__all__ = [
    "Where",
    "boolean",
    "choice",
    "concurrency",
    "finite_number",
    "integer",
    "key_lines",
    "known_keys",
    "mapping",
    "non_negative_int",
    "pattern",
    "positive_int",
    "positive_number",
    "request_params",
    "seed_value",
    "string",
    "string_list",
]

_SHOWN_CHARS = 60


@dataclass(frozen=True)
class Where:
    """Where a value was written: ``path``, the key path to it, and file lines by key path."""

    path: str | None = None
    key: str = ""
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    error: type[BadInput] = BadInput
    #: What each key is for (``{"timeout": "seconds allowed per request"}``): the default fix.
    help: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def at(self, part: str | int) -> Where:
        """The place of a key (``str``) or list position (``int``) below this one."""
        if isinstance(part, int):
            key = f"{self.key}[{part}]"
        else:
            key = f"{self.key}.{part}" if self.key else part
        return Where(self.path, key, self.lines, self.error, self.help)

    @property
    def line(self) -> int | None:
        """The line of this key, else of the nearest key above it that has one."""
        cuts = [match.start() for match in re.finditer(r"[.\[]", self.key)]
        for end in [len(self.key), *reversed(cuts)]:
            if self.key[:end] in self.lines:
                return self.lines[self.key[:end]]
        return None

    def fail(self, message: str, hint: str | None = None) -> BadInput:
        if hint is None and self.key in self.help:
            hint = f"{self.key}: {self.help[self.key]}"
        return self.error(message, path=self.path, line=self.line, hint=hint)

    def expected(self, what: str, value: Any, hint: str | None = None) -> BadInput:
        """``'timeout' must be a number of seconds > 0, not nan``."""
        return self.fail(f"{self.key!r} must be {what}, not {show(value)}", hint)


def show(value: Any) -> str:
    """A short, safe rendering of a user's value (a 5000-digit integer has no repr)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _range_words(minimum: float | None, maximum: float | None, above: float | None = None) -> str:
    """' from 1 to 10000', ' >= 0', ' > 0 and <= 86400', or ''."""
    if above is None and minimum is not None and maximum is not None:
        return f" from {_number(minimum)} to {_number(maximum)}"
    bounds = [f"> {_number(above)}"] if above is not None else []
    bounds += [f">= {_number(minimum)}"] if minimum is not None else []
    bounds += [f"<= {_number(maximum)}"] if maximum is not None else []
    return " " + " and ".join(bounds) if bounds else ""


def _number(value: float) -> str:
    """10000000, not 1e+07: a limit is read by people."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def integer(
    value: Any,
    where: Where,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    hint: str | None = None,
) -> int:
    """An integer in ``[minimum, maximum]``; ``maximum`` caps absurd sizes with a message."""
    what = f"an integer{_range_words(minimum, maximum)}"
    if not _is_int(value):
        raise where.expected(what, value, hint)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise where.expected(what, value, hint)
    return int(value)


def positive_int(
    value: Any, where: Where, *, cap: int | None = None, hint: str | None = None
) -> int:
    return integer(value, where, minimum=1, maximum=cap, hint=hint)


def concurrency(value: Any, where: Where, *, cap: int) -> int | str:
    """Requests in flight: an integer from 1 to ``cap``, or ``"auto"`` (a window that
    follows the server: :mod:`promptkit.run.adaptive`)."""
    if value == "auto":
        return "auto"
    hint = "a number such as 8, or auto (start small, grow while latency holds)"
    if not _is_int(value) or not 1 <= value <= cap:
        raise where.expected(f"an integer{_range_words(1, cap)} or 'auto'", value, hint)
    return int(value)


def non_negative_int(
    value: Any, where: Where, *, cap: int | None = None, hint: str | None = None
) -> int:
    return integer(value, where, minimum=0, maximum=cap, hint=hint)


def finite_number(
    value: Any,
    where: Where,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    hint: str | None = None,
) -> float:
    """A real number, never NaN or infinite: ``minimum``/``maximum`` inclusive, ``above``
    exclusive (``above=0``: strictly positive)."""
    what = f"a finite number{_range_words(minimum, maximum, above)}"
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise where.expected(what, value, hint)
    try:
        number = float(value)
    except OverflowError:
        raise where.expected(what, value, hint) from None
    out_of_range = (
        (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
        or (above is not None and number <= above)
    )
    if not math.isfinite(number) or out_of_range:
        raise where.expected(what, value, hint)
    return number


def positive_number(
    value: Any, where: Where, *, cap: float | None = None, hint: str | None = None
) -> float:
    return finite_number(value, where, above=0, maximum=cap, hint=hint)


def boolean(value: Any, where: Where) -> bool:
    if not isinstance(value, bool):
        raise where.expected("true or false", value)
    return value


def string(value: Any, where: Where, *, what: str = "a string", empty: bool = False) -> str:
    """A string (not a number YAML read from an unquoted ``1.0``); non-empty unless told."""
    if not isinstance(value, str) or (not empty and not value.strip()):
        scalar = isinstance(value, int | float | bool)
        raise where.expected(what, value, "quote it, or YAML reads a number" if scalar else None)
    return value


def string_list(value: Any, where: Where, *, what: str = "names", single: bool = True) -> list[str]:
    """A list of non-empty strings; ``single``: one bare string means a list of one."""
    if single and isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise where.expected(f"a list of {what}", value)
    return [string(item, where.at(i)) for i, item in enumerate(value)]


def mapping(value: Any, where: Where, *, what: str = "a mapping") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.expected(what, value)
    return value


def choice(value: Any, options: Iterable[str], where: Where) -> str:
    """One of ``options``; a near miss gets a 'did you mean'."""
    allowed = list(options)
    if isinstance(value, str) and value in allowed:
        return value
    raise where.expected(f"one of {', '.join(allowed)}", value, _did_you_mean(value, allowed))


def known_keys(
    data: Mapping[Any, Any], allowed: Iterable[str], where: Where, *, what: str = "key"
) -> None:
    """Every key of ``data`` is a name in ``allowed``; an unknown one gets the closest name."""
    names = list(allowed)
    for key in data:
        if not isinstance(key, str) or key not in names:
            place = where.at(str(key))
            suggestion = _did_you_mean(key, names)
            known = f"known {what}s: {', '.join(names)}"
            hint = f"{suggestion}; {known}" if suggestion else known
            raise place.fail(f"unknown {what} {place.key!r}", hint)


def _did_you_mean(value: Any, names: list[str]) -> str | None:
    if not isinstance(value, str):
        return None
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def pattern(value: Any, where: Where, *, flags: int = 0) -> re.Pattern[str]:
    """A regular expression that compiles; the error says where in it the problem is."""
    text = string(value, where, what="a regular expression")
    try:
        return re.compile(text, flags)
    except re.error as exc:
        raise where.fail(
            f"{where.key!r} is not a valid regular expression ({show(text)}): {exc}",
            "fix the pattern; escape a literal ( [ { * + ? or \\ with a backslash",
        ) from None


#: Seeds fit every backend's seed type once spread over repeats (providers.base.sample_seed).
SEED_MAX = 2**31 - 1


def seed_value(value: Any, where: Where) -> int:
    return integer(
        value, where, minimum=0, maximum=SEED_MAX, hint="a seed is a whole number, e.g. 0"
    )


# --- request parameters -----------------------------------------------------------------------

#: Limits on the parameters every chat API shares; one home, so a prompt's front
#: matter, a suite, a model entry and a judge are read the same way.
MAX_TOKENS_CAP = 10_000_000


def request_params(value: Any, where: Where) -> dict[str, Any]:
    """Model parameters: a mapping of names, the well-known ones checked for type and
    range, and no NaN or infinity anywhere (JSON has no such numbers)."""
    params = mapping(value if value is not None else {}, where, what="a mapping of parameters")
    for name, item in params.items():
        place = where.at(str(name))
        if not isinstance(name, str):
            raise place.fail(f"parameter name {show(name)} is not a name", "quote it")
        if name in PROMPT_ONLY_PARAMS:
            raise place.fail(
                f"{name!r} belongs to the prompt, not to params",
                f"declare it as the key {name}: in the prompt's front matter",
            )
        _finite_everywhere(item, place)
        check = _PARAM_CHECKS.get(name)
        if check is not None and item is not None:
            check(item, place)
    return params


def _finite_everywhere(value: Any, where: Where) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise where.expected("a finite value", value)
    if isinstance(value, dict):
        for key, item in value.items():
            _finite_everywhere(item, where.at(str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _finite_everywhere(item, where.at(index))


def _stop(value: Any, where: Where) -> None:
    string_list(value, where, what="stop strings")


#: Request parameters only a prompt's front matter declares (as keys of their own), so
#: that a tool_choice is checked against the tools and both are hashed with the template.
PROMPT_ONLY_PARAMS = frozenset({"tools", "tool_choice"})

_PARAM_CHECKS: dict[str, Any] = {
    "temperature": lambda v, w: finite_number(v, w, minimum=0),
    "top_p": lambda v, w: finite_number(v, w, minimum=0, maximum=1),
    "min_p": lambda v, w: finite_number(v, w, minimum=0, maximum=1),
    "top_k": lambda v, w: non_negative_int(v, w),
    "max_tokens": lambda v, w: positive_int(v, w, cap=MAX_TOKENS_CAP),
    "max_completion_tokens": lambda v, w: positive_int(v, w, cap=MAX_TOKENS_CAP),
    "n": lambda v, w: positive_int(v, w, cap=128),
    "repeat_penalty": lambda v, w: positive_number(v, w),
    "repetition_penalty": lambda v, w: positive_number(v, w),
    "presence_penalty": lambda v, w: finite_number(v, w),
    "frequency_penalty": lambda v, w: finite_number(v, w),
    "stop": _stop,
}


# --- where each key was written ---------------------------------------------------------------


def key_lines(node: yaml.Node | None, *, first_line: int = 1) -> dict[str, int]:
    """File lines by key path (``models``, ``models[2]``, ``models[2].concurrency``) from
    a composed YAML node. Each node is visited once, so aliases cost nothing extra."""
    lines: dict[str, int] = {}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(node, "")] if node is not None else []
    while stack:
        current, prefix = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                path = f"{prefix}.{name}" if prefix else str(name)
                lines.setdefault(path, key_node.start_mark.line + first_line)
                stack.append((value_node, path))
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                path = f"{prefix}[{index}]"
                lines.setdefault(path, item.start_mark.line + first_line)
                stack.append((item, path))
    return lines
