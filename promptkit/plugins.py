"""Providers and scorers found through entry points, promptkit's own and third-party alike.

A distribution adds a model prefix or a scorer by declaring entry points in its
``pyproject.toml``, in the groups ``promptkit.providers`` and ``promptkit.scorers``::

    [project.entry-points."promptkit.providers"]
    echo = "promptkit_echo.provider"            # models named echo/...

    [project.entry-points."promptkit.scorers"]
    shouts = "promptkit_echo.scorers:register"  # the scorer `shouts`

The contract:

- The entry point's *name* is the one thing it provides: a provider prefix or a
  scorer name. A module that provides several declares one entry point for each
  (they may share a value). The provider name ``*`` is the catch-all that takes
  every prefix nobody claims; promptkit's is litellm.
- Its *object* is a module whose import registers that name with
  ``register_provider`` / ``scorer`` / ``scorer_factory``, or a callable
  (``module:function``) that registers it when called with no arguments.
- Loading is lazy: an entry point loads only when its name is looked up and not
  yet registered. Listing the names (``provider_prefixes()``,
  ``registered_scorers()``) reads metadata and imports nothing, so a plugin module
  stays light and imports its heavy library inside its factory.

promptkit's own providers and scorers are declared the same way in its
``pyproject.toml``. Running from a source tree, that file is read directly,
because an install record can be older than the checkout it points at (an
editable install made before an entry point was added).
"""

from __future__ import annotations

import importlib.metadata as metadata
import sys
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from promptkit.errors import BadInput

__all__ = ["PluginGroup"]

OWN = "promptkit"
SOURCE_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@dataclass(frozen=True)
class _EntryPoint:
    name: str
    value: str
    distribution: str

    def describe(self, group: str) -> str:
        return f"entry point {self.name!r} ({self.value}) of {self.distribution}, group {group}"


@dataclass(frozen=True)
class PluginGroup:
    """One entry-point group beside the registry its entry points register into."""

    group: str
    kind: str  # "provider prefix" or "scorer", for messages
    registry: Container[str]
    error: type[BadInput]
    register_with: str  # the decorator a plugin registers through, for the hint

    def names(self, registered: Iterable[str]) -> list[str]:
        """Every name a lookup can find: registered ones and those declared but not loaded."""
        return sorted(set(registered) | set(_declared(self.group)))

    def ensure(self, name: str) -> None:
        """Load the entry point that declares ``name`` unless it is registered already."""
        if name in self.registry:
            return
        found = _declared(self.group).get(name, ())
        if len(found) > 1:
            raise self.error(
                f"{self.kind} {name!r} is declared by several distributions: "
                + ", ".join(sorted(e.distribution for e in found)),
                hint="uninstall all but one",
            )
        if found:
            self._load(found[0])

    def _load(self, entry: _EntryPoint) -> None:
        where = entry.describe(self.group)
        try:
            loaded = metadata.EntryPoint(entry.name, entry.value, self.group).load()
            if not isinstance(loaded, ModuleType):
                _call(loaded, where)
        except BadInput:
            raise
        except Exception as exc:  # a plugin's bug is reported, never a traceback
            detail = (str(exc).splitlines() or [""])[0][:200]
            raise self.error(
                f"{where} failed to load: {type(exc).__name__}: {detail}",
                hint=f"fix or uninstall {entry.distribution}",
            ) from None
        if entry.name not in self.registry:
            raise self.error(
                f"{where} did not register the {self.kind} {entry.name!r}",
                hint=f"its module must register {entry.name!r} with {self.register_with}",
            )


def _call(loaded: Any, where: str) -> None:
    if not callable(loaded):
        raise TypeError(f"{where} is neither a module nor a callable")
    fn: Callable[[], object] = loaded
    fn()


@cache
def _declared(group: str) -> dict[str, tuple[_EntryPoint, ...]]:
    """Name -> the entry points declaring it, read once per process."""
    own = _source_tree(group)
    entries = list(own) if own is not None else []
    for ep in metadata.entry_points(group=group):
        distribution = ep.dist.name if ep.dist is not None else "an unnamed distribution"
        if own is None or _canonical(distribution) != OWN:
            entries.append(_EntryPoint(ep.name, ep.value, distribution))
    if not any(_canonical(e.distribution) == OWN for e in entries):
        raise BadInput(
            f"promptkit's own entry points (group {group}) are missing: "
            "its install record is absent or older than the code",
            hint="reinstall promptkit, e.g. pip install -e . in its source tree",
        )
    by_name: dict[str, tuple[_EntryPoint, ...]] = {}
    for entry in entries:
        by_name[entry.name] = (*by_name.get(entry.name, ()), entry)
    return by_name


def _canonical(distribution: str) -> str:
    return distribution.lower().replace("_", "-").replace(".", "-")


def _source_tree(group: str) -> list[_EntryPoint] | None:
    """promptkit's declarations from the pyproject.toml beside the package, if any."""
    project = _read_toml(SOURCE_PYPROJECT).get("project", {})
    if not isinstance(project, dict) or project.get("name") != OWN:
        return None
    table = project.get("entry-points", {}).get(group, {})
    return [_EntryPoint(str(name), str(value), OWN) for name, value in table.items()]


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info < (3, 11):
        return {}  # no tomllib: Python 3.10 relies on the install record alone
    else:  # the else keeps mypy (checking for 3.10) from resolving tomllib
        import tomllib

        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return {}  # not a source tree (an installed wheel has no pyproject.toml)
