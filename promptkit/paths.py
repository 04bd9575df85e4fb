"""Where promptkit keeps its files. Below every stage, so each can name them.

Runs and the response cache live in a project's ``.promptkit/`` folder. The
project of a folder is the nearest folder at or above it that holds
``.promptkit/``, ``prompts/`` or ``evals/``, never above the top of its git
repository; else that repository's top. Every command uses the current folder's
project, so ``promptkit runs`` in a subfolder finds the project's runs. Outside
any project, ``eval`` keeps a run in its suite file's project, so that
``promptkit eval ../proj/evals/x.yaml`` scatters no new ``.promptkit/``; only
with no project on either side is it the current folder's own ``.promptkit/``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_ROOT", "find_project", "runs_root"]

#: The default folder of runs: ``.promptkit/runs`` of the project, found when used
#: (:func:`runs_root`); the response cache sits beside it in ``.promptkit/cache``.
DEFAULT_ROOT = Path(".promptkit") / "runs"
_MARKERS = (".promptkit", "prompts", "evals")


def find_project(start: str | Path) -> Path | None:
    """The project folder of ``start`` (see the module docstring); None outside any."""
    folder = Path(os.path.abspath(start))
    for candidate in [folder, *folder.parents]:
        if any((candidate / marker).is_dir() for marker in _MARKERS):
            return candidate
        if (candidate / ".git").exists():  # a folder, or a file in a worktree
            return candidate
    return None


def runs_root(root: str | Path = DEFAULT_ROOT, *, suite: str | Path | None = None) -> Path:
    """The folder of runs: ``root`` as given, except :data:`DEFAULT_ROOT`, which is the
    ``.promptkit/runs`` of the current folder's project, else of ``suite``'s, else of
    the current folder.

    It stays the relative :data:`DEFAULT_ROOT` when that is the current folder, and
    is absolute otherwise, so that messages naming it show where runs go.
    """
    if Path(root) != DEFAULT_ROOT:
        return Path(root)
    here = Path.cwd()
    project = find_project(here)
    if project is None and suite is not None:
        project = find_project(Path(suite).parent)
    return DEFAULT_ROOT if project in (None, here) else project / DEFAULT_ROOT
