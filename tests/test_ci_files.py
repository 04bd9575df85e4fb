"""The shipped GitHub Actions workflow and pre-commit hook call promptkit as it is."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import yaml

from promptkit.cli import cli


def _promptkit_commands(workflow: dict[str, object]) -> list[list[str]]:
    """Every ``promptkit ...`` line of the workflow's run steps, as argument lists."""
    commands = []
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    for job in jobs.values():
        for step in job["steps"]:
            for line in str(step.get("run", "")).splitlines():
                line = line.strip().split("||")[0]
                if line.startswith("promptkit "):
                    commands.append(shlex.split(line)[1:])
    return commands


def _parses(args: list[str]) -> None:
    """Parse (never run) the arguments with the real command: unknown flags raise."""
    name, rest = args[0], args[1:]
    group = click.Context(cli)
    command = cli.get_command(group, name)
    assert command is not None, name
    command.make_context(name, rest, parent=group)


def test_workflow_runs_check_and_gated_eval_with_a_cache(repo: Path) -> None:
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "promptkit.yml").read_text())
    steps = workflow["jobs"]["prompts"]["steps"]
    caches = [s for s in steps if str(s.get("uses", "")).startswith("actions/cache")]
    assert {s["with"]["path"] for s in caches} == {".promptkit/cache"}
    assert steps[0]["with"]["fetch-depth"] == 0  # merge base and base branch reachable
    commands = _promptkit_commands(workflow)
    assert [c[0] for c in commands] == ["check", "eval", "eval"]
    assert "--gate" in commands[1] and "--baseline" in commands[1]
    for args in commands:
        _parses(args)
    for suite in workflow["env"]["SUITES"].split():
        assert (repo / suite).is_file()


def test_pre_commit_hook_runs_check(repo: Path) -> None:
    hooks = yaml.safe_load((repo / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "promptkit-check"
    assert hook["entry"] == "promptkit check" and hook["pass_filenames"] is False
    _parses(shlex.split(hook["entry"])[1:])


def test_sharded_workflow_runs_a_matrix_of_shards_then_merges_and_gates(repo: Path) -> None:
    path = repo / ".github" / "workflows" / "promptkit-sharded.yml"
    workflow = yaml.safe_load(path.read_text())
    jobs = workflow["jobs"]
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, int(workflow["env"]["SHARDS"]) + 1))
    assert jobs["merge"]["needs"] == "shard"
    commands = _promptkit_commands(workflow)
    assert [c[0] for c in commands] == ["eval", "merge"]
    assert "--shard" in commands[0] and "--gate" in commands[1]
    for args in commands:
        _parses(args)
    assert (repo / workflow["env"]["SUITE"]).is_file()
