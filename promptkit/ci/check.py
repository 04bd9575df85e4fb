"""``promptkit check``: validate every prompt and suite without calling a model.

For each prompt file: the front matter, the Jinja syntax, the parser, and that
the variables it declares (``inputs``) are the variables it uses. For each
suite: everything ``load_suite`` checks (keys, datasets, prompt references,
scorers), its gate rules, that the first row renders in every variant, and what
a run would get silently wrong (:mod:`promptkit.run.preflight`): request
parameters a model does not know, reference labels a parser can never produce.

Then the immutability rule: a version file that exists at a git ref (by default
the merge base with ``origin/main``, else ``main``) must not change content.
Released versions are what past runs measured; a change belongs in a new file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jinja2.defaults import DEFAULT_NAMESPACE

from promptkit.ci.gitrefs import (
    GitError,
    GitTree,
    changed_versions,
    default_base,
    next_version_path,
    repo_root,
)
from promptkit.define.files import read_text
from promptkit.define.parsers import make_parser
from promptkit.define.prompts import Prompt
from promptkit.errors import BadInput, PromptError, PromptkitError

__all__ = ["CheckReport", "Problem", "check_project"]

_VERSION_FILE = re.compile(r"^v[1-9]\d*\.jinja$")
#: Names every template may read without declaring them.
_IMPLICIT = frozenset({"examples", "documents", *DEFAULT_NAMESPACE})


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    hint: str | None = None
    line: int | None = None
    #: The suite that led to a problem in another file; a broken prompt used by three
    #: suites is still one problem.
    suite: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        fix = f" ({self.hint})" if self.hint else ""
        used = f" [suite {self.suite}]" if self.suite else ""
        return f"{where}: {self.message}{fix}{used}"

    @classmethod
    def from_error(cls, exc: PromptkitError, path: str | Path) -> Problem:
        elsewhere = exc.path is not None and Path(exc.path) != Path(path)
        suite = str(path) if elsewhere else None
        return cls(exc.path or str(path), exc.message, exc.hint, exc.line, suite)


@dataclass
class CheckReport:
    prompts: int = 0
    suites: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: Problem) -> None:
        if problem not in self.problems:  # a broken prompt also breaks the suites using it
            self.problems.append(problem)


def check_project(
    suites: Sequence[str | Path] = (),
    prompt_dirs: Sequence[str | Path] = (),
    *,
    against: str | None = None,
    use_git: bool = True,
) -> CheckReport:
    """Check suites and prompt folders; ``against`` is the git ref for the immutability rule.

    The folders of the suites' prompt libraries are checked too. Raises
    :class:`BadInput` only for problems with the request itself (an unknown ref).
    """
    report = CheckReport()
    folders = [Path(d) for d in prompt_dirs]
    for path in suites:
        folders += _check_suite(Path(path), report)
    unique = _unique_folders(folders)
    for folder in unique:
        _check_prompts(folder, report)
    if use_git:
        _check_immutable(unique, against, report)
    return report


def _unique_folders(folders: Iterable[Path]) -> list[Path]:
    seen: dict[Path, Path] = {}
    for folder in folders:
        if folder.is_dir():
            seen.setdefault(folder.resolve(), folder)
    return list(seen.values())


# --- suites --------------------------------------------------------------------------------


def _check_suite(path: Path, report: CheckReport) -> list[Path]:
    """Check one suite; returns its prompt folder when it could be read."""
    from promptkit.ci.gate import suite_gate
    from promptkit.run.plan import Planner
    from promptkit.run.preflight import preflight, unhonoured_features
    from promptkit.suite import load_suite

    report.suites += 1
    try:
        suite = load_suite(path)
    except BadInput as exc:
        report.add(Problem.from_error(exc, path))
        return []
    try:
        suite_gate(suite)
        Planner(suite).check_renders()
        for finding in [*unhonoured_features(suite), *preflight(suite)]:
            report.add(Problem.from_error(finding, path))
    except BadInput as exc:
        report.add(Problem.from_error(exc, path))
    return [suite.library.root] if suite.library is not None else []


# --- prompt files --------------------------------------------------------------------------


def _check_prompts(folder: Path, report: CheckReport) -> None:
    for family in sorted(p for p in folder.iterdir() if p.is_dir()):
        for file in sorted(family.glob("*.jinja")):
            if not _VERSION_FILE.match(file.name):
                report.add(
                    Problem(
                        str(file),
                        "not a version file, so promptkit never loads it",
                        "name it vN.jinja (v1, v2, ...) with no leading zeros",
                    )
                )
                continue
            report.prompts += 1
            for problem in check_prompt_file(file):
                report.add(problem)


def check_prompt_file(file: Path) -> list[Problem]:
    """Problems of one version file: syntax, front matter, parser, declared inputs."""
    try:
        source = read_text(file, error=PromptError)
        version = int(file.stem[1:])
        prompt = Prompt(family=file.parent.name, version=version, source=source, path=file)
        make_parser(prompt.meta.parser, path=prompt.path)
    except PromptkitError as exc:
        return [Problem.from_error(exc, file)]
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(file), f"cannot read: {exc}", "save it as UTF-8 text")]
    return _variable_problems(prompt)


def _variable_problems(prompt: Prompt) -> list[Problem]:
    used = set(prompt.variables) - _IMPLICIT
    declared = set(prompt.meta.inputs)
    problems = []
    undeclared = sorted(used - declared)
    if undeclared:
        names = ", ".join(undeclared)
        problems.append(
            Problem(
                prompt.path,
                f"uses variables it does not declare: {names}",
                f"list them in the front matter: inputs: [{', '.join(sorted(used))}]",
                _first_use(prompt.source, undeclared[0]),
            )
        )
    unused = sorted(declared - used)
    if unused:
        problems.append(
            Problem(
                prompt.path,
                f"declares inputs it never uses: {', '.join(unused)}",
                "use them in the template or drop them from inputs",
            )
        )
    return problems


def _first_use(source: str, name: str) -> int | None:
    pattern = re.compile(rf"(\{{\{{|\{{%)[^}}]*\b{re.escape(name)}\b")
    for number, line in enumerate(source.split("\n"), start=1):
        if pattern.search(line):
            return number
    return None


# --- released versions are immutable -------------------------------------------------------


def _check_immutable(folders: Sequence[Path], against: str | None, report: CheckReport) -> None:
    if not folders:
        return
    try:
        root = repo_root(folders[0])
    except GitError:
        if against is not None:
            raise
        report.notes.append("not a git repository: the immutability rule was not checked")
        return
    ref = against or default_base(root)
    if ref is None:
        _no_base(root, report)
        return
    tree = GitTree(root, ref)
    label = f"{against} ({tree.short})" if against else f"the merge base {tree.short}"
    report.notes.append(f"released versions compared with {label}")
    for folder in folders:
        for change in changed_versions(tree, folder):
            if change.kind == "deleted":
                report.notes.append(f"{change.path}: deleted since {label}")
                continue
            report.add(
                Problem(
                    change.path,
                    f"released version changed since {label}; its runs measured the old text",
                    f"restore it with 'git checkout {tree.short} -- {change.path}' "
                    f"and put the change in a new version, {next_version_path(tree, change.path)}",
                )
            )


def _no_base(root: Path, report: CheckReport) -> None:
    from promptkit.ci.gitrefs import resolve_commit

    try:
        resolve_commit("HEAD", root)
    except GitError:
        report.notes.append("no commit yet: the immutability rule was not checked")
        return
    raise GitError(
        "no origin/main or main branch to compare released versions with",
        path=root,
        hint="pass --against REF (e.g. origin/develop), or --no-git to skip this rule",
    )
