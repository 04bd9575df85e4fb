"""The template sandbox: Jinja's, with every operation held to the render limits.

:class:`LimitedSandbox` sends each place a template can make something big or slow
through :mod:`promptkit.define.limits`: the ``*``, ``**``, ``+`` and ``%`` operators
(Jinja's ``intercepted_binops``), every call (methods, macros, globals), every
filter, ``range`` (capped at Jinja's ``MAX_RANGE``) and ``lipsum``. Loops, ``~`` and
literal text are reached through the parsed tree: each ``for`` iterates through a
filter that checks the deadline, each ``~`` joins through one that sizes the result,
and literal text becomes a constant so that it passes ``finalize`` (which counts all
output) at run time instead of being joined unseen.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.runtime import Context, Macro
from jinja2.sandbox import MAX_RANGE, SandboxedEnvironment
from jinja2.utils import _PassArg, generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from promptkit.define.limits import (
    RenderLimitExceeded,
    allow_text,
    check_binop,
    checked_call,
    current_budget,
    filter_checks,
    is_int,
)

__all__ = ["MAX_RANGE", "LimitedSandbox"]

_LOOP_FILTER = "promptkit-loop"  # a name no template can write, so only the rewrite uses it
_CONCAT_FILTER = "promptkit-concat"


def _limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 0 if _PassArg.from_obj(func) is None else 1  # context / environment first

    label = f"the {name} filter"

    @functools.wraps(func)  # keeps Jinja's pass_* marks
    def limited(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        checked = filter_checks(budget, name, args[skip:], kwargs)
        result = func(*args[:skip], *checked, **kwargs)
        return budget.made(result, label)

    return limited


def _loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``for`` iterates through: a deadline check each step."""
    budget = current_budget()
    for item in iterable:
        budget.tick()
        yield item


def _concat(parts: list[Any]) -> str:
    """What every ``~`` joins through."""
    budget = current_budget()
    for part in parts:
        allow_text(budget, part, "a concatenation with ~")
    texts = [str(part) for part in parts]
    budget.allow(sum(map(len, texts)), "a concatenation with ~")
    return budget.made("".join(texts), "a concatenation with ~")  # type: ignore[no-any-return]


@pass_context  # at run time only, so literal text is counted too
def _finalize(_context: Context, value: Any) -> str:
    if not isinstance(value, str):
        allow_text(current_budget(), value, "the output of {{ }}")
    text = value if isinstance(value, str) else str(value)
    current_budget().charge(len(text))  # no deadline here: loops and calls check it
    return text


def _range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise RenderLimitExceeded(
            f"range() of {size:,} numbers is over the limit of {MAX_RANGE:,}",
            "loop over a smaller range",
        )
    return numbers


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    current_budget().allow(n * max * 12 if is_int(n) and is_int(max) else 0, "lipsum()")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


class _Bounder(NodeTransformer):
    """Route loops, ``~`` and literal text through the checks."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _LOOP_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        items = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(items, _CONCAT_FILTER, [], [], None, None, lineno=node.lineno)

    def visit_TemplateData(self, node: nodes.TemplateData) -> nodes.Node:
        return nodes.Const(node.data, lineno=node.lineno)


class LimitedSandbox(SandboxedEnvironment):
    """A sandbox whose templates stay within :class:`RenderLimits` (see the module)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_finalize, **options)
        self.globals["range"] = _range
        self.globals["lipsum"] = _lipsum
        self.filters = {name: _limited_filter(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP_FILTER] = _loop
        self.filters[_CONCAT_FILTER] = _concat

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        bounded: nodes.Template = _Bounder().visit(tree)
        return bounded

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current_budget()
        budget.tick()
        check_binop(budget, operator, left, right)
        result = super().call_binop(context, operator, left, right)
        return budget.made(result, lambda: f"the {operator} operator")

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        args = checked_call(budget, obj, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        if isinstance(obj, Macro):
            return result  # its output was counted as it was made
        return budget.made(result, lambda: f"{getattr(obj, '__name__', 'a call')}()")
