"""``promptkit check``: validate prompts and suites; refuse edits to released versions."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("check")
@click.argument("suites", nargs=-1, type=click.Path())
@click.option(
    "--prompts-dir",
    "prompt_dirs",
    multiple=True,
    help="Folder of prompt families (repeatable; default: ./prompts and the suites' folders).",
)
@click.option(
    "--against",
    metavar="REF",
    help="Git ref whose version files must be unchanged (default: the merge base of HEAD "
    "with origin/main, else main).",
)
@click.option("--no-git", is_flag=True, help="Skip the immutability rule.")
def command(
    suites: tuple[str, ...], prompt_dirs: tuple[str, ...], against: str | None, no_git: bool
) -> int:
    """Check every prompt file and suite without calling a model (SUITES default:
    evals/*.yaml): Jinja syntax, declared versus used variables, parsers, references to
    prompts, datasets and scorers, gate rules; and that no version file that exists at
    the git ref changed content (changes belong in a new version file).

    \b
    Exit codes: 0 clean, 1 problems found (listed with the fix), 2 bad input
    (e.g. an unknown --against ref).
    """
    from promptkit.ci.check import check_project
    from promptkit.errors import BadInput

    paths = list(suites) or sorted(str(p) for p in _default_suites())
    dirs = list(prompt_dirs) or (["prompts"] if Path("prompts").is_dir() else [])
    if not paths and not dirs:
        raise BadInput(
            "nothing to check: no evals/*.yaml and no prompts/ here",
            hint="run from the project root or pass suite paths and --prompts-dir",
        )
    report = check_project(paths, dirs, against=against, use_git=not no_git)
    for problem in report.problems:
        click.echo(f"promptkit: {problem}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}")
    found = f"{report.prompts} prompt files and {report.suites} suites"
    if report.problems:
        click.echo(f"check failed: {len(report.problems)} problem(s) in {found}", err=True)
        return 1
    click.echo(f"check passed: {found}")
    return 0


def _default_suites() -> list[Path]:
    folder = Path("evals")
    return [*folder.glob("*.yaml"), *folder.glob("*.yml")] if folder.is_dir() else []
