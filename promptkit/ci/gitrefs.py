"""Prompt files as they are at a git ref, read from git objects, never the working tree.

Two questions are answered here: *what did a prompt version look like at REF*
(for baseline runs) and *which released version files changed since REF* (the
immutability rule of ``promptkit check``). Both speak to ``git`` through its
plumbing commands, so the answers match git's own idea of the content (clean
filters and line-ending rules included).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from promptkit.git import GitError, git_ok, run_git

__all__ = [
    "DEFAULT_BASES",
    "GitError",
    "GitTree",
    "VersionChange",
    "changed_versions",
    "default_base",
    "next_version_path",
    "repo_root",
    "resolve_commit",
]

#: Branches whose merge base with HEAD is the default ref to compare with, in order.
DEFAULT_BASES = ("origin/main", "main", "origin/master", "master")
_VERSION_FILE = re.compile(r"^v(\d+)\.jinja$")


def repo_root(start: str | Path) -> Path:
    """The top folder of the repository holding ``start`` (a file or a folder)."""
    folder = Path(start).resolve()
    if not folder.is_dir():
        folder = folder.parent
    done = run_git(["rev-parse", "--show-toplevel"], folder)
    if done.returncode != 0:
        raise GitError(
            "not inside a git repository",
            path=folder,
            hint="run from a clone, or pass --no-git to skip the git checks",
        )
    return Path(done.stdout.strip()).resolve()


def resolve_commit(ref: str, root: Path) -> str:
    """The full commit id ``ref`` names, or a :class:`GitError` saying how to get it."""
    done = run_git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    if done.returncode != 0 or not done.stdout.strip():
        raise GitError(
            f"unknown git ref {ref!r}",
            path=root,
            hint="fetch it first (in CI: actions/checkout with fetch-depth: 0) or name a commit",
        )
    return done.stdout.strip()


def default_base(root: Path) -> str | None:
    """The merge base of HEAD with origin/main, else main (master as a last resort).

    None when the repository has no commit yet or none of those branches exists.
    """
    for branch in DEFAULT_BASES:
        done = run_git(["merge-base", "HEAD", branch], root)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return None


class GitTree:
    """The files of one commit, under one repository."""

    def __init__(self, root: Path, ref: str) -> None:
        self.root = root
        self.ref = ref
        self.commit = resolve_commit(ref, root)
        self.short = self.commit[:7]

    def relative(self, path: str | Path) -> str:
        """``path`` (absolute or relative to the working folder) as a repository path."""
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.resolve().relative_to(self.root).as_posix()
        except ValueError:
            raise GitError(
                f"{path} is outside the git repository {self.root}",
                path=path,
                hint="keep prompts inside the repository",
            ) from None

    def blobs(self, folder: str | Path) -> dict[str, str]:
        """Repository path -> blob id of every file under ``folder`` at this commit."""
        listing = git_ok(
            ["ls-tree", "-r", "-z", "--full-tree", self.commit, "--", self.relative(folder)],
            self.root,
        )
        blobs = {}
        for entry in listing.split("\0"):
            if not entry:
                continue
            info, _, name = entry.partition("\t")
            _, kind, blob = info.split()
            if kind == "blob":
                blobs[name] = blob
        return blobs

    def read(self, path: str | Path) -> str | None:
        """The text of ``path`` at this commit; None when it did not exist there."""
        done = run_git(["show", f"{self.commit}:{self.relative(path)}"], self.root)
        return done.stdout if done.returncode == 0 else None

    def versions(self, prompts_dir: str | Path, family: str) -> list[int]:
        """The version numbers of ``family`` at this commit, ascending."""
        folder = Path(prompts_dir) / family
        names = (Path(name).name for name in self.blobs(folder))
        found = (_VERSION_FILE.match(name) for name in names)
        return sorted(int(m.group(1)) for m in found if m)

    def version_source(
        self, prompts_dir: str | Path, family: str, version: int
    ) -> tuple[str, str] | None:
        """``family@vN``'s text at this commit and a name for it (``1a2b3c4:path``).

        None when that version file did not exist at this commit.
        """
        path = Path(prompts_dir) / family / f"v{version}.jinja"
        source = self.read(path)
        if source is None:
            return None
        return source, f"{self.short}:{self.relative(path)}"


@dataclass(frozen=True)
class VersionChange:
    """A version file that exists at the ref and differs (or is gone) in the working tree."""

    path: str  # repository path, e.g. prompts/sentiment/v1.jinja
    kind: str  # "modified" or "deleted"


def changed_versions(tree: GitTree, prompts_dir: str | Path) -> list[VersionChange]:
    """Version files under ``prompts_dir`` at ``tree`` whose working-tree content differs.

    One ``git hash-object`` call hashes every working file with git's own filters,
    so a checkout with other line endings does not count as a change.
    """
    released = {
        path: blob
        for path, blob in tree.blobs(prompts_dir).items()
        if _VERSION_FILE.match(Path(path).name) and len(Path(path).parts) >= 2
    }
    present = [p for p in sorted(released) if (tree.root / p).is_file()]
    hashed = git_ok(
        ["hash-object", "--stdin-paths"], tree.root, stdin="".join(f"{p}\n" for p in present)
    ).split()
    current = dict(zip(present, hashed, strict=True))
    changes = []
    for path, blob in sorted(released.items()):
        if path not in current:
            changes.append(VersionChange(path, "deleted"))
        elif current[path] != blob:
            changes.append(VersionChange(path, "modified"))
    return changes


def next_version_path(tree: GitTree, path: str) -> str:
    """Where the change to released ``path`` belongs: the family's next free version."""
    family_dir = Path(path).parent
    at_ref = tree.versions(tree.root / family_dir.parent, family_dir.name)
    local_dir = tree.root / family_dir
    names = [p.name for p in local_dir.iterdir()] if local_dir.is_dir() else []
    local = [int(m.group(1)) for m in map(_VERSION_FILE.match, names) if m]
    return (family_dir / f"v{max([0, *at_ref, *local]) + 1}.jinja").as_posix()
