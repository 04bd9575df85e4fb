"""Fine-tuning data from a suite's example pool, checked the way OpenAI's cookbook does.

    export_finetune(suite, prompt, out)   pool rows -> JSONL, rendered zero-shot
    check_finetune(path)                  validate any chat or completion JSONL file

Rows come from the suite's example *pool*, never from its evaluation rows: a pool
row with the same id or the same input text as an evaluation row is dropped (the
rule the shot selector applies). Each row is rendered zero-shot with the prompt
template the model will be served with, and the reference answer becomes the
assistant message. The template decides the roles; a template without a system
message gives user + assistant rows, which the chat format accepts, and no system
message is invented, so training and serving see the same prompt.

Token counts use tiktoken with the encodings litellm ships (``o200k_base``,
``cl100k_base``), so nothing is downloaded; a model without one of those gets
``cl100k_base`` and the figures are labelled estimates.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.define.datasets import Row
from promptkit.define.prompts import Message, Prompt
from promptkit.define.shots import ShotSelector, ShotSettings
from promptkit.errors import BadInput, DatasetError
from promptkit.export.check import (
    COMPLETION_SEPARATOR,
    COMPLETION_STOP,
    DEFAULT_MAX_TOKENS,
    FORMATS,
    FinetuneReport,
    check_rows,
    finetune_report,
)
from promptkit.export.tokens import TokenCounter, token_counter
from promptkit.run.plan import Planner
from promptkit.suite import Suite

# -- export -----------------------------------------------------------------------------


def finetune_rows(
    suite: Suite, prompt: Prompt, *, fmt: str = "chat", with_reasoning: str | None = None
) -> list[tuple[Row, dict[str, Any]]]:
    """Each usable pool row with its training example, rendered zero-shot by ``prompt``.

    ``with_reasoning`` names a pool column of reasoning written before each answer:
    the assistant message is then that reasoning, the prompt parser's marker and the
    answer, so the tuned model writes what the prompt's parser reads.
    """
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    if suite.pool is None:
        raise BadInput(
            "the suite has no example pool to train on",
            path=suite.path,
            hint="add 'examples: <path>' (evaluation rows are never exported)",
        )
    if not suite.reference:
        raise BadInput(
            "the suite has no reference column for the answers",
            path=suite.path,
            hint="add 'reference: <column>'",
        )
    planner = Planner(suite)
    join = _reasoning_joiner(prompt) if with_reasoning else None
    examples = []
    docs = _export_docs(suite, prompt)
    for row in usable_pool(suite):
        passages = planner.retriever.retrieve(row, docs) if planner.retriever and docs else []
        documents = [p.context() for p in passages]
        messages = prompt.render(planner.variables(row), documents=documents)
        _check_ends_with_user(messages, prompt)
        answer = row.data.get(suite.reference)
        text = "" if answer is None else str(answer)
        if join is not None:
            assert with_reasoning is not None
            text = join(_reasoning(row, with_reasoning, suite), text)
        examples.append((row, _example(messages, text, fmt)))
    return examples


def _reasoning_joiner(prompt: Prompt) -> Callable[[str, str], str]:
    """How the prompt's parser expects reasoning and answer: after its marker, or on
    the last line."""
    after = prompt.meta.parser.get("answer_after")
    if after is None or (isinstance(after, Mapping) and "pattern" in after):
        raise BadInput(
            f"--with-reasoning needs {prompt.ref}'s parser to read the answer after a "
            "literal marker or on the last line",
            path=prompt.path,
            hint='add answer_after: "Answer:" (or {line: last}) to its parser',
        )
    if isinstance(after, str):
        return lambda reasoning, answer: f"{reasoning}\n{after} {answer}"
    return lambda reasoning, answer: f"{reasoning}\n{answer}"


def _reasoning(row: Row, column: str, suite: Suite) -> str:
    value = row.data.get(column)
    if not isinstance(value, str) or not value.strip():
        assert suite.pool is not None
        raise DatasetError(
            f"pool row {row.id!r} has no reasoning in column {column!r}",
            path=suite.pool.path,
            line=row.line,
            hint="write the reasoning for every pool row, or export without --with-reasoning",
        )
    return value.strip()


def usable_pool(suite: Suite) -> list[Row]:
    """Pool rows that share neither id nor input text with any evaluation row."""
    assert suite.pool is not None
    selector = ShotSelector(
        suite.pool,
        ShotSettings(),
        input_columns=list(suite.inputs.values()),
        label_column=None,
        exclude=suite.dataset.rows,
    )
    return list(selector.pool)


def _check_ends_with_user(messages: Sequence[Message], prompt: Prompt) -> None:
    if messages[-1].role != "user":
        raise BadInput(
            f"{prompt.ref} rendered zero-shot ends with a {messages[-1].role} message",
            path=prompt.path,
            hint="the answer must follow a user message; end the template with one",
        )


def _example(messages: Sequence[Message], answer: str, fmt: str) -> dict[str, Any]:
    if fmt == "completion":
        prompt = "\n\n".join(m.content for m in messages) + COMPLETION_SEPARATOR
        return {"prompt": prompt, "completion": f" {answer}{COMPLETION_STOP}"}
    return {
        "messages": [*(m.to_dict() for m in messages), {"role": "assistant", "content": answer}]
    }


@dataclass(frozen=True)
class ExportResult:
    train: FinetuneReport
    validation: FinetuneReport | None
    pool_rows: int  # rows in the suite's pool
    exported: int  # rows written, train and validation together
    system_message: bool  # whether the template renders one
    notes: list[str] = field(default_factory=list)


def validation_path(out: str | Path) -> Path:
    """``train.jsonl`` -> ``train.validation.jsonl``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.validation{out.suffix or '.jsonl'}")


def export_finetune(
    suite: Suite,
    prompt: Prompt,
    out: str | Path,
    *,
    fmt: str = "chat",
    validation_split: float = 0.0,
    seed: int = 0,
    model: str | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    epochs: int | None = None,
    training_price: float | None = None,
    with_reasoning: str | None = None,
) -> ExportResult:
    """Write ``out`` (and its validation file); nothing is written when a row is invalid.
    ``with_reasoning``: a pool column of reasoning to put before each answer."""
    if not 0 <= validation_split < 1:
        raise BadInput("--validation-split must be at least 0 and below 1", hint="e.g. 0.2")
    examples = finetune_rows(suite, prompt, fmt=fmt, with_reasoning=with_reasoning)
    counter = token_counter(model or suite.models[0].name)
    _refuse_invalid(examples, fmt, counter, max_tokens, suite)
    train, held_out = _split(examples, validation_split, seed)
    out = Path(out)
    reports = []
    for path, part in ((out, train), (validation_path(out), held_out)):
        training = path == out
        if not part and not training:
            continue
        _write_jsonl(path, [example for _, example in part])
        reports.append(
            finetune_report(
                path,
                [e for _, e in part],
                fmt=fmt,
                counter=counter,
                max_tokens=max_tokens,
                epochs=epochs,
                training_price=training_price,
                training=training,
            )
        )
    rendered = prompt.render(Planner(suite).variables(examples[0][0])) if examples else []
    return ExportResult(
        train=reports[0],
        validation=reports[1] if len(reports) > 1 else None,
        pool_rows=len(suite.pool or ()),
        exported=len(examples),
        system_message=any(m.role == "system" for m in rendered),
        notes=_export_notes(suite, prompt, rendered, len(examples), fmt),
    )


def _refuse_invalid(
    examples: Sequence[tuple[Row, dict[str, Any]]],
    fmt: str,
    counter: TokenCounter,
    max_tokens: int,
    suite: Suite,
) -> None:
    if not examples:
        raise BadInput(
            "no pool row is left to export: every one is also an evaluation row",
            path=suite.pool.path if suite.pool else suite.path,
            hint="add examples that are not in the dataset",
        )
    problems, _, _ = check_rows(
        [e for _, e in examples], fmt=fmt, counter=counter, max_tokens=max_tokens
    )
    first = next((p for p in problems if p.error), None)
    if first is not None and first.line is not None:
        row = examples[first.line - 1][0]
        raise DatasetError(
            f"pool row {row.id!r} would make an invalid example: {first.message}",
            path=suite.pool.path if suite.pool else suite.path,
            line=row.line,
            hint="fix or remove the row; nothing was written",
        )


def _split(
    examples: Sequence[tuple[Row, dict[str, Any]]], share: float, seed: int
) -> tuple[list[tuple[Row, dict[str, Any]]], list[tuple[Row, dict[str, Any]]]]:
    """A seeded shuffle, then the last ``share`` of it held out (at least one row trains)."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    held = min(round(len(order) * share), len(order) - 1)
    return order[: len(order) - held], order[len(order) - held :]


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)  # readers never see half a file


def _export_docs(suite: Suite, prompt: Prompt) -> int:
    """Passages each exported row is given: as many as the suite's widest retrieval, so
    the tuned model is trained on the prompt it will be served with them."""
    if suite.retrieval is None or not prompt.uses_documents:
        return 0
    return max(suite.retrieval.counts)


def _export_notes(
    suite: Suite, prompt: Prompt, rendered: Sequence[Message], exported: int, fmt: str
) -> list[str]:
    pool = len(suite.pool or ())
    notes = [
        f"{exported} of {pool} pool rows exported, rendered zero-shot by {prompt.ref} "
        f"({pool - exported} dropped: same id or input text as an evaluation row)"
    ]
    if fmt == "chat" and rendered and not any(m.role == "system" for m in rendered):
        notes.append(
            f"{prompt.ref} renders no system message, so rows are user + assistant, exactly "
            "the prompt the fine-tuned model will be served; none is invented"
        )
    docs = _export_docs(suite, prompt)
    if docs and suite.retrieval is not None:
        notes.append(
            f"each row's prompt holds its top {docs} passages from {suite.retrieval.path} "
            "(the suite's largest retrieval k), retrieved for the pool row as for a question"
        )
    if fmt == "completion":
        notes.append(
            f"prompts end with {COMPLETION_SEPARATOR!r}; completions start with a space and "
            f"end with {COMPLETION_STOP!r}: serve with the same separator and that stop"
        )
    return notes
