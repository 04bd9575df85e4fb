"""What a tuned model learns from: the suite's example pool, framed by one prompt.

Rows come from :func:`promptkit.export.finetune_rows`: the pool only, never an
evaluation row (a pool row sharing an id or an input text with one is dropped, the
shot selector's rule), each rendered zero-shot by the prompt the tuned model will be
served with, its reference answer the reply. One seeded shuffle decides both the
validation share (held out for early stopping) and, for ``--size``, nested training
subsets: the first N rows of the same order, so a larger subset holds every smaller
one and the curve measures data, not luck of the draw.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptkit.define.messages import Message
from promptkit.define.prompts import Prompt
from promptkit.errors import BadInput, DatasetError
from promptkit.export.finetune import finetune_rows
from promptkit.providers.hf_generate import encode_chat, encode_text
from promptkit.suite import Suite

__all__ = ["Example", "Split", "encode", "label_words", "pool_sha256", "split", "training_examples"]

#: Labels past this many are an open answer, not a label task with a verbalizer.
MAX_LABELS = 50


@dataclass(frozen=True)
class Example:
    """One pool row: the messages the prompt renders for it and the answer to learn."""

    id: str
    messages: tuple[Message, ...]
    answer: str


@dataclass(frozen=True)
class Split:
    train: list[Example]  # in the seeded order: a size N trains on train[:N]
    validation: list[Example]


def training_examples(suite: Suite, prompt: Prompt) -> list[Example]:
    """Each usable pool row, rendered zero-shot by ``prompt``; a row without an answer
    is refused, since training on an empty reply would teach silence."""
    examples = []
    for row, example in finetune_rows(suite, prompt):
        *messages, reply = example["messages"]
        if not reply["content"].strip():
            assert suite.pool is not None
            raise DatasetError(
                f"pool row {row.id!r} has no answer in {suite.reference!r}",
                path=suite.pool.path,
                line=row.line,
                hint="give every pool row its reference answer, or remove the row",
            )
        examples.append(
            Example(
                row.id, tuple(Message(m["role"], m["content"]) for m in messages), reply["content"]
            )
        )
    return examples


def split(examples: Sequence[Example], validation_share: float, seed: int) -> Split:
    """A seeded shuffle, then the first ``validation_share`` of it held out."""
    if not 0 <= validation_share < 1:
        raise BadInput("--validation-share must be at least 0 and below 1", hint="e.g. 0.2")
    order = list(examples)
    random.Random(seed).shuffle(order)
    held = math.ceil(len(order) * validation_share) if validation_share else 0
    if len(order) - held < 1:
        after = f" after holding out {validation_share:.0%}" if held else ""
        raise BadInput(
            f"a pool of {len(order)} usable rows leaves nothing to train on{after}",
            hint="add labelled rows that are not evaluation rows to the suite's example pool"
            + (", or give --validation-share 0" if held else ""),
        )
    return Split(train=order[held:], validation=order[:held])


def encode(tokenizer: Any, example: Example, end_id: int) -> tuple[list[int], list[int]]:
    """Token ids of the whole chat and the loss labels: -100 (ignored) over the prompt,
    the answer's tokens and the end token after it, so the model learns to stop."""
    prompt = encode_chat(tokenizer, example.messages)
    answer = [*encode_text(tokenizer, example.answer, special=False), end_id]
    return prompt + answer, [-100] * len(prompt) + answer


def label_words(prompt: Prompt, examples: Sequence[Example]) -> list[str]:
    """The verbalizer: the prompt parser's labels, else the answers when they are few."""
    labels = prompt.meta.parser.get("labels")
    if isinstance(labels, list) and labels:
        return [str(label) for label in labels]
    answers = sorted({e.answer for e in examples})
    return answers if len(answers) <= MAX_LABELS else []


def pool_sha256(examples: Sequence[Example]) -> str:
    """One hash of the rows as trained on (ids, rendered messages, answers)."""
    canonical = [[e.id, [m.to_dict() for m in e.messages], e.answer] for e in examples]
    text = json.dumps(sorted(canonical, key=lambda item: str(item[0])), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
