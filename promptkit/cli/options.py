"""Parsing helpers shared by sub-commands."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from promptkit.paths import DEFAULT_ROOT, runs_root


class FiniteFloatRange(click.FloatRange):
    """``click.FloatRange`` that also refuses nan and inf (which compare false with any bound)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def concurrency(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    """``--concurrency``: an integer >= 1, or ``auto`` (a window that follows the server)."""
    if value is None or value == "auto":
        return value
    text = value.strip()
    if text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text)
    raise click.BadParameter(f"{value!r} is not an integer >= 1 or 'auto'")


def note_runs_root(root: str | Path = DEFAULT_ROOT, *, suite: str | None = None) -> Path:
    """The folder of runs a command uses; named on stderr when it is not the current
    folder's ``.promptkit/runs`` (a project above it, or the suite's)."""
    resolved = runs_root(root, suite=suite)
    if Path(root) == DEFAULT_ROOT and resolved != DEFAULT_ROOT:
        click.echo(f"promptkit: runs are kept in {resolved}", err=True)
    return resolved


def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    """``("text=hello", "lang=pt")`` -> mapping; one option per variable, no comma packing."""
    values = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--var")
        values[name] = value
    return values
