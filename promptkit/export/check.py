"""The checks OpenAI's cookbook runs on a fine-tuning file: errors that make it unusable,
warnings that make it worse; the same checks run on export and on ``--check``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.define.files import load_json, read_text
from promptkit.errors import DatasetError
from promptkit.export.tokens import TokenCounter, default_epochs, example_tokens, token_counter
from promptkit.run.pricing import PER_MILLION, training_price_unknown

FORMATS = ("chat", "completion")
# The legacy prompt/completion format wants a fixed end of prompt and a stop sequence.
COMPLETION_SEPARATOR = "\n\n###\n\n"
COMPLETION_STOP = " END"
# The cookbook's per-example limit (gpt-3.5-turbo); longer examples are truncated.
DEFAULT_MAX_TOKENS = 16_385
MIN_TRAINING_EXAMPLES = 10  # OpenAI refuses a training file with fewer
CHAT_ROLES = ("system", "user", "assistant", "function", "tool")
MESSAGE_KEYS = ("role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id")
TRAINING_PRICE_UNKNOWN = training_price_unknown("a cost estimate")


# -- validation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    line: int | None  # 1-based line of the JSONL file; None for the file as a whole
    kind: str
    message: str
    error: bool  # False: a warning, the file is still accepted


@dataclass(frozen=True)
class FinetuneReport:
    path: str
    format: str
    rows: int
    problems: tuple[Problem, ...]
    tokenizer: str
    tokens_exact: bool
    tokens_per_example: tuple[int, ...]
    max_tokens: int
    epochs: int
    epochs_source: str
    training_price: float | None  # USD per token
    no_system_message: int = 0
    training: bool = True  # False for a validation file: it is not trained on, so not billed

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.error]

    @property
    def billed_tokens(self) -> int:
        """Tokens billed per epoch: examples over the limit are truncated to it."""
        return sum(min(n, self.max_tokens) for n in self.tokens_per_example)

    @property
    def training_tokens(self) -> int:
        return self.billed_tokens * self.epochs

    @property
    def training_cost(self) -> float | None:
        return None if self.training_price is None else self.training_tokens * self.training_price

    def to_dict(self) -> dict[str, Any]:
        n = self.tokens_per_example
        return {
            "path": self.path,
            "format": self.format,
            "rows": self.rows,
            "errors": [p.__dict__ for p in self.errors],
            "warnings": [p.__dict__ for p in self.warnings],
            "tokenizer": self.tokenizer,
            "tokens_exact": self.tokens_exact,
            "tokens_min": min(n, default=0),
            "tokens_max": max(n, default=0),
            "tokens_mean": sum(n) / len(n) if n else 0.0,
            "max_tokens": self.max_tokens,
            "billed_tokens_per_epoch": self.billed_tokens,
            "epochs": self.epochs,
            "training_tokens": self.training_tokens,
            "training_cost": self.training_cost,
        }

    def lines(self) -> list[str]:
        """The report as printed by ``promptkit export finetune``."""
        n = self.tokens_per_example
        estimate = "" if self.tokens_exact else " (estimated)"
        out = [
            f"{self.path}: {self.rows} {self.format} examples, {len(self.errors)} errors, "
            f"{len(self.warnings)} warnings",
            f"  tokens per example{estimate}: min {min(n, default=0):,}, "
            f"mean {sum(n) / len(n) if n else 0:,.0f}, max {max(n, default=0):,} "
            f"(limit {self.max_tokens:,}); tokenizer: {self.tokenizer}",
        ]
        if self.training:
            out += self._cost_lines(estimate)
        if self.no_system_message:
            out.append(f"  {self.no_system_message} examples have no system message (allowed)")
        for p in self.problems:
            where = f"line {p.line}: " if p.line else ""
            out.append(f"  {'error' if p.error else 'warning'}: {where}{p.message} [{p.kind}]")
        return out

    def _cost_lines(self, estimate: str) -> list[str]:
        out = [
            f"  training tokens{estimate}: {self.billed_tokens:,} per epoch x {self.epochs} "
            f"epochs ({self.epochs_source}) = {self.training_tokens:,}"
        ]
        if self.training_cost is not None:
            assert self.training_price is not None
            out.append(
                f"  training cost{estimate}: {_dollars(self.training_cost)} "
                f"at ${self.training_price * PER_MILLION:g} per 1M tokens"
            )
        else:
            out.append(f"  training cost: unknown; {TRAINING_PRICE_UNKNOWN}")
        return out


def _dollars(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.3g}"


def check_rows(
    rows: Sequence[Any],
    *,
    fmt: str = "chat",
    counter: TokenCounter | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    lines: Sequence[int] | None = None,
) -> tuple[list[Problem], list[int], int]:
    """Problems, tokens per well-formed example, and examples without a system message."""
    counter = counter or token_counter()
    problems: list[Problem] = []
    tokens: list[int] = []
    seen: dict[str, int] = {}
    prompts: dict[str, tuple[int, str]] = {}
    no_system = 0
    for index, row in enumerate(rows):
        line = lines[index] if lines else index + 1
        found = list(_row_problems(row, fmt, line))
        problems += found
        if any(p.error for p in found):
            continue
        no_system += fmt == "chat" and not any(m.get("role") == "system" for m in row["messages"])
        size = example_tokens(row, fmt, counter)
        tokens.append(size)
        if size > max_tokens:
            problems.append(
                Problem(
                    line,
                    "too_long",
                    f"{size:,} tokens, over the {max_tokens:,} limit: it will be truncated",
                    False,
                )
            )
        problems += _duplicates(row, fmt, line, seen, prompts)
    return problems, tokens, no_system


def _row_problems(row: Any, fmt: str, line: int) -> Iterator[Problem]:
    if not isinstance(row, dict):
        yield Problem(line, "not_an_object", "each line must be a JSON object", True)
    elif fmt == "completion":
        yield from _completion_problems(row, line)
    else:
        yield from _chat_problems(row, line)


def _chat_problems(row: Mapping[str, Any], line: int) -> Iterator[Problem]:
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        yield Problem(line, "missing_messages", "no 'messages' list", True)
        return
    for number, message in enumerate(messages, start=1):
        yield from _message_problems(message, number, line)
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if "assistant" not in roles:
        yield Problem(line, "missing_assistant", "no assistant message to learn from", True)
    if "user" not in roles:
        yield Problem(line, "missing_user", "no user message", False)


def _message_problems(message: Any, number: int, line: int) -> Iterator[Problem]:
    where = f"message {number}"
    if not isinstance(message, dict):
        yield Problem(line, "bad_message", f"{where} is not an object", True)
        return
    if "role" not in message or "content" not in message:
        yield Problem(line, "missing_key", f"{where} needs 'role' and 'content'", True)
    extra = sorted(set(message) - set(MESSAGE_KEYS))
    if extra:
        yield Problem(line, "unknown_key", f"{where} has unknown keys: {', '.join(extra)}", True)
    role = message.get("role")
    if "role" in message and role not in CHAT_ROLES:
        yield Problem(
            line, "bad_role", f"{where} has role {role!r}; use {', '.join(CHAT_ROLES)}", True
        )
    content = message.get("content")
    calls = message.get("function_call") or message.get("tool_calls")
    if "content" in message and not calls and (not isinstance(content, str) or not content.strip()):
        kind = (
            "empty_content" if content in (None, "") or isinstance(content, str) else "bad_content"
        )
        yield Problem(line, kind, f"{where} ({role}) has no text content", True)


def _completion_problems(row: Mapping[str, Any], line: int) -> Iterator[Problem]:
    for key in ("prompt", "completion"):
        value = row.get(key)
        if not isinstance(value, str):
            yield Problem(line, "missing_key", f"'{key}' must be a string", True)
        elif not value.strip():
            yield Problem(line, "empty_content", f"'{key}' is empty", True)
    extra = sorted(set(row) - {"prompt", "completion"})
    if extra:
        yield Problem(line, "unknown_key", f"unknown keys: {', '.join(extra)}", True)


def _prompt_and_answer(row: Mapping[str, Any], fmt: str) -> tuple[str, str]:
    if fmt == "completion":
        return str(row["prompt"]), str(row["completion"])
    messages = row["messages"]
    last = max(i for i, m in enumerate(messages) if m.get("role") == "assistant")
    asked = json.dumps(messages[:last], sort_keys=True, ensure_ascii=False)
    return asked, json.dumps(messages[last:], sort_keys=True, ensure_ascii=False)


def _duplicates(
    row: Mapping[str, Any],
    fmt: str,
    line: int,
    seen: dict[str, int],
    prompts: dict[str, tuple[int, str]],
) -> Iterator[Problem]:
    whole = json.dumps(row, sort_keys=True, ensure_ascii=False)
    if whole in seen:
        yield Problem(line, "duplicate", f"same example as line {seen[whole]}", False)
        return
    seen[whole] = line
    asked, answer = _prompt_and_answer(row, fmt)
    if asked in prompts and prompts[asked][1] != answer:
        first = prompts[asked][0]
        yield Problem(line, "conflict", f"same prompt as line {first}, different answer", False)
    prompts.setdefault(asked, (line, answer))


def finetune_report(
    path: str | Path,
    rows: Sequence[Any],
    *,
    fmt: str,
    counter: TokenCounter,
    max_tokens: int,
    epochs: int | None,
    training_price: float | None,
    lines: Sequence[int] | None = None,
    extra: Sequence[Problem] = (),
    training: bool = True,
) -> FinetuneReport:
    problems, tokens, no_system = check_rows(
        rows, fmt=fmt, counter=counter, max_tokens=max_tokens, lines=lines
    )
    if training and 0 < len(tokens) < MIN_TRAINING_EXAMPLES:
        message = f"{len(tokens)} examples: OpenAI needs at least {MIN_TRAINING_EXAMPLES} to train"
        problems.append(Problem(None, "too_few", message, False))
    chosen = epochs if epochs is not None else default_epochs(len(tokens))
    return FinetuneReport(
        path=str(path),
        format=fmt,
        rows=len(rows) + len(extra),
        problems=(*extra, *problems),
        tokenizer=counter.name,
        tokens_exact=counter.exact,
        tokens_per_example=tuple(tokens),
        max_tokens=max_tokens,
        epochs=chosen,
        epochs_source="given" if epochs is not None else "OpenAI's default for this size",
        training_price=training_price,
        no_system_message=no_system,
        training=training,
    )


def check_finetune(
    path: str | Path,
    *,
    fmt: str | None = None,
    model: str | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    epochs: int | None = None,
    training_price: float | None = None,
) -> FinetuneReport:
    """Validate a fine-tuning JSONL file; the format is detected unless given."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError("file not found", path=path, hint="check the path")
    rows, lines, unreadable = _read_jsonl(path)
    if not rows and not unreadable:
        raise DatasetError(
            "no examples: the file is empty",
            path=path,
            hint="write one JSON object per line, e.g. with 'promptkit export finetune'",
        )
    fmt = fmt or _detect_format(rows)
    return finetune_report(
        path,
        rows,
        fmt=fmt,
        counter=token_counter(model),
        max_tokens=max_tokens,
        epochs=epochs,
        training_price=training_price,
        lines=lines,
        extra=unreadable,
    )


def _read_jsonl(path: Path) -> tuple[list[Any], list[int], list[Problem]]:
    rows, lines, unreadable = [], [], []
    text = read_text(path, error=DatasetError, strip_bom=True)
    # "\n" only: str.splitlines also splits on U+2028 and U+0085, which JSON strings may hold
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append(load_json(line, path=path, error=DatasetError, line=number))
            lines.append(number)
        except DatasetError as exc:
            unreadable.append(Problem(number, "invalid_json", exc.message, True))
    return rows, lines, unreadable


def _detect_format(rows: Sequence[Any]) -> str:
    for row in rows:
        if isinstance(row, dict) and "messages" in row:
            return "chat"
        if isinstance(row, dict) and ("prompt" in row or "completion" in row):
            return "completion"
    return "chat"
