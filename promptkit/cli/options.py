"""Parsing helpers shared by sub-commands."""

from __future__ import annotations

from collections.abc import Sequence

import click


def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    """``("text=hello", "lang=pt")`` -> mapping; one option per variable, no comma packing."""
    values = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--var")
        values[name] = value
    return values
