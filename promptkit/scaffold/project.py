"""``promptkit init``: a new project's first prompt, suite, datasets, CI workflow and hook.

The files come from one label dataset -- the user's own (``from_dataset``) or the
support-ticket example shipped in ``files/`` -- so both roads give the same, working
shape: a seeded stratified split into evaluation rows and an example pool, a prompt
whose parser knows the data's labels, and a suite that runs on ``local/smollm2``
with no key and no server. A file that already exists is never touched: it is
reported as kept, so running ``init`` twice is harmless.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import yaml

from promptkit.define.datasets import Dataset, Row, load_dataset
from promptkit.define.files import is_dir
from promptkit.define.parsers import fold
from promptkit.errors import BadInput, DatasetError
from promptkit.scaffold.split import Split, split_rows

__all__ = ["DEFAULT_MODEL", "InitResult", "init_project"]

DEFAULT_MODEL = "local/smollm2"
EXAMPLE_NAME = "tickets"
_FILES = resources.files("promptkit.scaffold") / "files"
_FAMILY = re.compile(r"^[A-Za-z0-9_\-]+$")  # what a prompt reference accepts
_MAX_SHOTS = 4


@dataclass(frozen=True)
class InitResult:
    root: Path
    suite: Path  # relative to root
    written: tuple[Path, ...]  # relative to root, in the order written
    kept: tuple[Path, ...]  # existed already, left as they were
    next_commands: tuple[str, ...]


def init_project(
    directory: str | Path = ".",
    *,
    from_dataset: str | Path | None = None,
    input_column: str = "text",
    label_column: str = "label",
    name: str | None = None,
    id_column: str | None = None,
    pool_fraction: float = 0.2,
    seed: int = 0,
    model: str = DEFAULT_MODEL,
) -> InitResult:
    """Write the scaffold into ``directory`` (created if missing); never overwrite a file.

    Without ``from_dataset`` the example support-ticket task is written; with it, a
    label task over the file's ``input_column`` and ``label_column``.
    """
    root = _project_root(directory)
    source = Path(from_dataset) if from_dataset is not None else None
    if source is None:
        dataset = load_dataset(str(_FILES / "example.jsonl"), id_column="id")
        id_column, input_column, label_column = "id", "text", "label"
    else:
        dataset = load_dataset(source, id_column=id_column)
    family = _family_name(name, source)
    labels = _labels(dataset, input_column, label_column)
    split = split_rows(dataset, label_column, pool_fraction=pool_fraction, seed=seed)
    task = _Task(family, input_column, label_column, id_column, labels, split, seed, model)
    files = _project_files(task)
    _refuse_half_split(root, task)
    written, kept = _write_new(root, files)
    suite = _suite_path(family)
    return InitResult(root, suite, written, kept, _next_commands(root, suite))


@dataclass(frozen=True)
class _Task:
    family: str
    input_column: str
    label_column: str
    id_column: str | None
    labels: tuple[str, ...]
    split: Split
    seed: int
    model: str

    @property
    def rows_file(self) -> Path:
        return Path("datasets") / f"{self.family}.jsonl"

    @property
    def pool_file(self) -> Path:
        return Path("datasets") / f"{self.family}_pool.jsonl"


# --- checks on what the user passed ---------------------------------------------------------------


def _project_root(directory: str | Path) -> Path:
    root = Path(directory)
    if root.exists() and not is_dir(root):
        raise BadInput(
            "is a file, not a folder",
            path=root,
            hint="pass the folder to set up (it is created when missing)",
        )
    return root


def _family_name(name: str | None, source: Path | None) -> str:
    if name is None:
        if source is None:
            return EXAMPLE_NAME
        # A file name like "my data.v2.jsonl" still gives a usable family name.
        return re.sub(r"[^A-Za-z0-9_\-]+", "_", source.stem).strip("_") or "task"
    if not _FAMILY.match(name):
        raise BadInput(
            f"--name {name!r} cannot name a prompt family",
            hint="use letters, digits, '_' and '-' only, e.g. --name tickets",
        )
    return name


def _labels(dataset: Dataset, input_column: str, label_column: str) -> tuple[str, ...]:
    """The distinct labels in file order, once each the way the label parser compares them."""
    if input_column == label_column:
        raise BadInput(
            f"--input and --label both name column {input_column!r}",
            hint="the model must not see the answer: pass the text column to --input",
        )
    for option, column in (("--input", input_column), ("--label", label_column)):
        if column not in dataset.columns:
            raise DatasetError(
                f"no column {column!r} (asked for by {option})",
                path=dataset.path,
                hint=f"pass {option} with one of the columns: {', '.join(dataset.columns)}",
            )
    dataset.require_columns([input_column, label_column], needed_by="promptkit init")
    seen: dict[str, str] = {}  # folded -> as written
    for row in dataset.rows:
        label = _label_text(row, label_column, dataset.path)
        first = seen.setdefault(fold(label).strip(), label)
        if first != label:
            raise DatasetError(
                f"labels {first!r} and {label!r} differ only in case, accents or spaces",
                path=dataset.path,
                line=row.line,
                hint="write one label the same way in every row",
            )
    if len(seen) < 2:
        raise DatasetError(
            f"column {label_column!r} holds one label only",
            path=dataset.path,
            hint="a label task needs rows of two or more labels; check --label",
        )
    return tuple(seen.values())


def _label_text(row: Row, column: str, path: str) -> str:
    value = row.data[column]
    text = str(value)
    if isinstance(value, (dict, list)) or not text.strip() or "\n" in text:
        raise DatasetError(
            f"row {row.id!r} has {json.dumps(value, default=str)} as its label",
            path=path,
            line=row.line,
            hint=f"column {column!r} must hold one non-empty, one-line label per row",
        )
    return text


def _refuse_half_split(root: Path, task: _Task) -> None:
    """Keeping one half of an older split beside a new other half would mix two splits
    (and a pool row could also be scored), so both halves exist or neither does."""
    present = [path.exists() for path in (root / task.rows_file, root / task.pool_file)]
    if any(present) and not all(present):
        there = task.rows_file if present[0] else task.pool_file
        raise BadInput(
            "exists, and a new split would be written beside it",
            path=root / there,
            hint="pass --name with another name, or move the file away",
        )


# --- the files ------------------------------------------------------------------------------------


def _suite_path(family: str) -> Path:
    return Path("evals") / f"{family}.yaml"


def _project_files(task: _Task) -> dict[Path, str]:
    files = {
        Path("prompts") / task.family / "v1.jinja": _prompt_text(task),
        _suite_path(task.family): _suite_text(task),
        task.rows_file: _jsonl(task.split.rows),
        Path(".github") / "workflows" / "promptkit.yml": _workflow_text(task),
        Path(".pre-commit-config.yaml"): (_FILES / "pre-commit-config.yaml").read_text("utf-8"),
    }
    if task.split.pool:
        files[task.pool_file] = _jsonl(task.split.pool)
    return files


def _flow(value: Any) -> str:
    """One YAML value on one line, quoted where YAML would misread it ('yes', '1')."""
    text: str = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10**6
    )
    return text.removesuffix("...\n").strip()


def _prompt_text(task: _Task) -> str:
    listed = ", ".join(task.labels)
    front = {"type": "label", "labels": list(task.labels)}
    return (
        "---\n"
        "description: One label per text from a fixed list; few-shot ready "
        "(written by promptkit init).\n"
        "inputs: [text]\n"
        "params: {temperature: 0, max_tokens: 16}\n"
        f"parser: {_flow(front)}\n"
        "---\n"
        '{% message "system" %}\n'
        f"Label the text with exactly one of these labels: {_literal(listed)}.\n"
        "Reply with the label only.\n"
        "{% endmessage %}\n"
        "{% for ex in examples %}\n"
        '{% message "user" %}{{ ex.text }}{% endmessage %}\n'
        '{% message "assistant" %}{{ ex.answer }}{% endmessage %}\n'
        "{% endfor %}\n"
        '{% message "user" %}{{ text }}{% endmessage %}\n'
    )


def _literal(text: str) -> str:
    """Label text inside the Jinja body stays text, even '{{ x }}'."""
    return f"{{% raw %}}{text}{{% endraw %}}" if "{" in text or "#" in text else text


def _suite_text(task: _Task) -> str:
    def data(path: Path) -> str:
        spec = {"path": f"../{path.as_posix()}"}
        return _flow(spec | {"id": task.id_column} if task.id_column else spec)

    inputs: list[str] | dict[str, str] = (
        ["text"] if task.input_column == "text" else {"text": task.input_column}
    )
    pool = len(task.split.pool)
    shots = {"k": [0, min(_MAX_SHOTS, pool)], "strategy": "stratified", "seed": task.seed}
    lines = [
        f"description: {_flow(f'{task.family}: one label per text (written by promptkit init)')}",
        f"dataset: {data(task.rows_file)}",
        *([f"examples: {data(task.pool_file)}"] if pool else []),
        f"inputs: {_flow(inputs)}",
        f"reference: {_flow(task.label_column)}",
        f"prompts: [{task.family}@v1]",
        f"models: {_flow([task.model])}",
        f"shots: {_flow(shots) if pool else '[0]'}",
        "scorers:",
        "  - label_accuracy",
    ]
    return "\n".join(lines) + "\n"


def _jsonl(rows: tuple[Row, ...]) -> str:
    # default=str: a YAML date stays the text it was written as
    return "".join(json.dumps(dict(r.data), ensure_ascii=False, default=str) + "\n" for r in rows)


def _workflow_text(task: _Task) -> str:
    template = (_FILES / "workflow.yml").read_text("utf-8")
    return template.replace("__SUITES__", _suite_path(task.family).as_posix()).replace(
        "__VERSION__", _promptkit_version()
    )


def _promptkit_version() -> str:
    try:
        return metadata.version("promptkit")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0.1.0"


# --- writing --------------------------------------------------------------------------------------


def _write_new(root: Path, files: Mapping[Path, str]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    written: list[Path] = []
    kept: list[Path] = []
    for relative, text in files.items():
        target = root / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("x", encoding="utf-8", newline="\n") as file:  # "x": never overwrite
                file.write(text)
        except FileExistsError:
            kept.append(relative)
        except OSError as exc:  # a file where a folder must go, no permission, disk full
            raise BadInput(
                f"cannot write this file: {exc.strerror}",
                path=target,
                hint="move what is in the way or pick another folder",
            ) from None
        else:
            written.append(relative)
    return tuple(written), tuple(kept)


def _next_commands(root: Path, suite: Path) -> tuple[str, ...]:
    """What to run next, from inside ``root`` (the CLI prints a ``cd`` first when needed)."""
    return (
        "promptkit check",
        f"promptkit eval {suite.as_posix()}",
        "git add prompts evals datasets .github .pre-commit-config.yaml"
        ' && git commit -m "promptkit: first prompt suite"',
    )
