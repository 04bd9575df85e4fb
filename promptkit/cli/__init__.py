"""The ``promptkit`` command: a thin layer over the public Python API.

Sub-commands live in their own modules and are imported only when run, so
``promptkit --help`` imports neither litellm, llama_cpp nor pandas.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

__all__ = ["cli", "main"]

# name -> (module, one-line help shown by --help without importing the module)
COMMANDS = {
    "advise": (
        "promptkit.cli.advise_cmd",
        "From a run's figures: keep the prompt, change shots, retrieve examples or fine-tune.",
    ),
    "compare": (
        "promptkit.cli.compare_cmd",
        "Paired differences, intervals and flipped rows between variants or runs.",
    ),
    "drift": (
        "promptkit.cli.drift_cmd",
        "Re-ask pinned suites fresh; exit 1 when a metric drifted.",
    ),
    "eval": ("promptkit.cli.eval_cmd", "Run an eval suite and print a table per variant."),
    "export": (
        "promptkit.cli.export_cmd",
        "Write a suite's example pool as fine-tuning JSONL, or check such a file.",
    ),
    "merge": (
        "promptkit.cli.merge_cmd",
        "Join the runs of 'eval --shard I/N' into one run, judged on all rows.",
    ),
    "init": ("promptkit.cli.init_cmd", "Start a project: prompt, suite, datasets, CI workflow."),
    "import": ("promptkit.cli.import_cmd", "Convert a promptfoo config to promptkit files."),
    "power": (
        "promptkit.cli.power_cmd",
        "Rows a paired comparison needs, and what a run's rows can detect.",
    ),
    "render": ("promptkit.cli.render_cmd", "Print a prompt's messages exactly as sent."),
    "prompts": ("promptkit.cli.prompts_cmd", "List prompt families, versions and hashes."),
    "check": (
        "promptkit.cli.check_cmd",
        "Validate prompts and suites; refuse edits to released prompt versions.",
    ),
    "runs": ("promptkit.cli.runs_cmd", "List stored runs with commit, suite and scores."),
    "show": ("promptkit.cli.show_cmd", "Reprint a stored run's summary, comparison and gate."),
    "report": ("promptkit.cli.report_cmd", "Write a self-contained HTML report of a run."),
    "tune": (
        "promptkit.cli.tune_cmd",
        "Train prompt tuning, prefix tuning or LoRA on a suite's example pool (PEFT).",
    ),
    "tuned": ("promptkit.cli.tuned_cmd", "List the tuned models (tuned/<id>) of this project."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        command: click.Command = importlib.import_module(COMMANDS[name][0]).command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="promptkit")
def cli() -> None:
    """promptkit: versioned prompts, measured on any model.

    Exit codes: 0 ok (gate passed), 1 gate or check failed, 2 bad input,
    3 provider errors, 4 internal error.
    Set PROMPTKIT_DEBUG=1 to see tracebacks.
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point: every promptkit error becomes one line on stderr and an exit code."""
    from promptkit.errors import PromptkitError

    debug = os.environ.get("PROMPTKIT_DEBUG") == "1"
    try:
        return cli.main(args=argv, prog_name="promptkit", standalone_mode=False)
    except PromptkitError as exc:
        if debug:
            raise
        click.echo(f"promptkit: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("promptkit: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except KeyboardInterrupt:
        click.echo("promptkit: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        from promptkit.redact import redact  # promptkit errors are redacted as they are made

        click.echo(
            f"promptkit: internal error: {type(exc).__name__}: {redact(str(exc))} "
            "(set PROMPTKIT_DEBUG=1 for the traceback and report it)",
            err=True,
        )
        sys.exit(4)
