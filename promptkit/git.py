"""Running ``git``: the one wrapper every stage uses. Below every stage, beside ``errors.py``.

Two kinds of caller share it. The pull-request checks (``ci.gitrefs``) need git and
turn its failures into a :class:`GitError` a user can act on; the run store only
notes the commit a run came from, so :func:`git_or_none` gives ``None`` instead of
failing the run when git is missing, slow or outside a repository.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from promptkit.errors import BadInput

__all__ = ["GitError", "git_ok", "git_or_none", "run_git"]


class GitError(BadInput):
    """git is missing, the folder is not a repository, or a ref does not exist."""


def _run(
    args: Sequence[str], cwd: Path, *, stdin: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


def run_git(
    args: Sequence[str], cwd: Path, *, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in ``cwd``; the caller judges its exit status. No git: :class:`GitError`."""
    try:
        return _run(args, cwd, stdin=stdin, timeout=timeout)
    except FileNotFoundError:
        raise GitError("git is not installed", hint="install git, or pass --no-git") from None


def git_ok(args: Sequence[str], cwd: Path, *, stdin: str | None = None) -> str:
    """The output of ``git ARGS``; a failure is a :class:`GitError` with git's last line."""
    done = run_git(args, cwd, stdin=stdin)
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise GitError(f"git {args[0]}: {message}", path=cwd)
    return done.stdout


def git_or_none(args: Sequence[str], cwd: Path, *, timeout: float = 10) -> str | None:
    """The stripped output of ``git ARGS``, or None when git is missing, fails or hangs."""
    try:
        done = _run(args, cwd, stdin=None, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
