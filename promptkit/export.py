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

import hashlib
import importlib.util
import json
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.datasets import Row
from promptkit.errors import BadInput, DatasetError
from promptkit.plan import Planner
from promptkit.prompts import Message, Prompt
from promptkit.shots import ShotSelector, ShotSettings
from promptkit.suite import Suite

__all__ = [
    "COMPLETION_SEPARATOR",
    "COMPLETION_STOP",
    "DEFAULT_MAX_TOKENS",
    "FORMATS",
    "ExportResult",
    "FinetuneReport",
    "Problem",
    "TokenCounter",
    "check_finetune",
    "check_rows",
    "default_epochs",
    "export_finetune",
    "finetune_rows",
    "token_counter",
    "usable_pool",
    "validation_path",
]

FORMATS = ("chat", "completion")
# The legacy prompt/completion format wants a fixed end of prompt and a stop sequence.
COMPLETION_SEPARATOR = "\n\n###\n\n"
COMPLETION_STOP = " END"
# The cookbook's per-example limit (gpt-3.5-turbo); longer examples are truncated.
DEFAULT_MAX_TOKENS = 16_385
MIN_TRAINING_EXAMPLES = 10  # OpenAI refuses a training file with fewer
CHAT_ROLES = ("system", "user", "assistant", "function", "tool")
MESSAGE_KEYS = ("role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id")
TRAINING_PRICE_UNKNOWN = (
    "litellm's price map has no fine-tuning training prices: pass --training-price "
    "(USD per 1M training tokens) for a cost estimate"
)


# -- token counts -----------------------------------------------------------------------


@dataclass(frozen=True)
class TokenCounter:
    name: str  # which tokenizer, and whether the figures are estimates
    exact: bool
    count: Callable[[str], int]


_TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_OFFLINE_ENCODINGS = ("o200k_base", "cl100k_base")  # the ones litellm ships


def token_counter(model: str | None = None) -> TokenCounter:
    """The tokenizer of ``model`` where one is available offline, else an estimate."""
    name, own = _encoding_name(model)
    encoding = _offline_encoding(name)
    if encoding is None:
        return TokenCounter(
            "estimate: about 4 characters a token (no offline tokenizer)",
            False,
            lambda text: len(text) // 4,
        )
    label = f"{name} (tiktoken, bundled with litellm)"
    if not own:
        label += f"; not {model or 'the model'}'s own tokenizer, so figures are estimates"
    return TokenCounter(label, own, lambda text: len(encoding.encode(text, disallowed_special=())))


def _encoding_name(model: str | None) -> tuple[str, bool]:
    if model:
        try:
            from tiktoken.model import encoding_name_for_model

            name = encoding_name_for_model(model.rpartition("/")[2])
        except (ImportError, KeyError):
            return "cl100k_base", False
        if name in _OFFLINE_ENCODINGS:
            return name, True
    return "cl100k_base", False


def _litellm_tokenizers() -> Path | None:
    # litellm ships tiktoken's cache files so tiktoken works offline; find them without
    # importing litellm, which takes seconds.
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"


def _offline_encoding(name: str) -> Any:
    """The encoding from a local cache file, or ``None``: tiktoken would go to the network."""
    try:
        import tiktoken
    except ImportError:
        return None
    key = hashlib.sha1(_TIKTOKEN_URL.format(name).encode()).hexdigest()  # tiktoken's cache key
    for folder in (os.environ.get("TIKTOKEN_CACHE_DIR"), _litellm_tokenizers()):
        if folder and (Path(folder) / key).is_file():
            previous = os.environ.get("TIKTOKEN_CACHE_DIR")
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
            try:
                return tiktoken.get_encoding(name)  # loaded once, then kept by tiktoken
            finally:
                if previous is None:
                    del os.environ["TIKTOKEN_CACHE_DIR"]
                else:
                    os.environ["TIKTOKEN_CACHE_DIR"] = previous
    return None


def _example_tokens(row: Mapping[str, Any], fmt: str, counter: TokenCounter) -> int:
    """Tokens of one example, counted as the cookbook does (3 per message, 3 to prime)."""
    if fmt == "completion":
        return counter.count(str(row.get("prompt", ""))) + counter.count(
            str(row.get("completion", ""))
        )
    total = 3
    for message in row.get("messages") or []:
        if not isinstance(message, dict):
            continue
        total += 3
        for key, value in message.items():
            if isinstance(value, str):
                total += counter.count(value) + (1 if key == "name" else 0)
    return total


def default_epochs(examples: int) -> int:
    """OpenAI's default epoch count for a training file of this size (from the cookbook)."""
    target, low, high = 3, 100, 25_000
    if examples <= 0:
        return target
    if examples * target < low:
        return min(25, low // examples)
    if examples * target > high:
        return max(1, high // examples)
    return target


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
                f"at ${self.training_price * 1e6:g} per 1M tokens"
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
        size = _example_tokens(row, fmt, counter)
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


def _report(
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
    return _report(
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
    for number, text in enumerate(path.read_text("utf-8-sig").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            rows.append(json.loads(text))
            lines.append(number)
        except json.JSONDecodeError as exc:
            unreadable.append(Problem(number, "invalid_json", f"invalid JSON: {exc.msg}", True))
    return rows, lines, unreadable


def _detect_format(rows: Sequence[Any]) -> str:
    for row in rows:
        if isinstance(row, dict) and "messages" in row:
            return "chat"
        if isinstance(row, dict) and ("prompt" in row or "completion" in row):
            return "completion"
    return "chat"


# -- export -----------------------------------------------------------------------------


def finetune_rows(
    suite: Suite, prompt: Prompt, *, fmt: str = "chat"
) -> list[tuple[Row, dict[str, Any]]]:
    """Each usable pool row with its training example, rendered zero-shot by ``prompt``."""
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
    examples = []
    for row in usable_pool(suite):
        messages = prompt.render(planner.variables(row))
        _check_ends_with_user(messages, prompt)
        answer = row.data.get(suite.reference)
        examples.append((row, _example(messages, "" if answer is None else str(answer), fmt)))
    return examples


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
) -> ExportResult:
    """Write ``out`` (and its validation file); nothing is written when a row is invalid."""
    if not 0 <= validation_split < 1:
        raise BadInput("--validation-split must be at least 0 and below 1", hint="e.g. 0.2")
    examples = finetune_rows(suite, prompt, fmt=fmt)
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
            _report(
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
    if fmt == "completion":
        notes.append(
            f"prompts end with {COMPLETION_SEPARATOR!r}; completions start with a space and "
            f"end with {COMPLETION_STOP!r}: serve with the same separator and that stop"
        )
    return notes
