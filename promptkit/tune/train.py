"""The training loop: a PEFT adapter on a frozen base, AdamW, early stopping.

    prompt-tuning   soft prompt tokens in front of the input (Lester et al., 2021),
                    initialised from the label words' embeddings, their best init
    prefix-tuning   trained keys and values in front of every layer (Li & Liang, 2021)
    lora            low-rank updates of the attention projections (Hu et al., 2021)

The loss is the answer's tokens only (the prompt is context), the validation loss is
measured twice an epoch on the held-out rows, and training stops when it has not
improved for ``patience`` measurements; the adapter kept is the best one seen, not
the last. Everything runs in float32: the base models this is for are small, and a
CPU has no fast half precision.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptkit.errors import BadInput
from promptkit.providers.hf_load import LoadedModel, import_peft
from promptkit.tune.data import Example, encode

__all__ = ["METHODS", "TrainProgress", "TrainSettings", "Trained", "train"]

METHODS = ("prompt-tuning", "prefix-tuning", "lora")
#: Learning rates that train each method in tens of steps on small pools (AdamW);
#: soft prompts move slowly and need a rate about thirty times LoRA's.
DEFAULT_LR = {"prompt-tuning": 3e-2, "prefix-tuning": 1e-2, "lora": 1e-3}


@dataclass(frozen=True)
class TrainSettings:
    method: str = "lora"
    epochs: int = 5
    max_steps: int | None = None  # a cap on optimizer steps, across epochs
    lr: float | None = None  # None: DEFAULT_LR of the method
    batch_size: int = 8
    virtual_tokens: int = 20
    rank: int = 8
    patience: int = 3
    seed: int = 0

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]

    def check(self) -> None:
        if self.method not in METHODS:
            raise BadInput(
                f"unknown method {self.method!r}", hint=f"use one of: {', '.join(METHODS)}"
            )
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise BadInput("--lr must be a positive number", hint="e.g. --lr 0.001")


@dataclass(frozen=True)
class TrainProgress:
    step: int
    total: int  # steps planned; early stopping may end sooner
    train_loss: float
    validation_loss: float | None  # the latest measurement
    tokens_per_s: float


@dataclass
class Trained:
    model: Any  # the PEFT model, holding the best adapter seen
    figures: dict[str, Any]
    curve: list[dict[str, Any]] = field(default_factory=list)


class _Batches:
    """Encoded examples, padded on the right per batch (training has no generation)."""

    def __init__(self, loaded: LoadedModel, examples: Sequence[Example]) -> None:
        end = loaded.tokenizer.eos_token_id
        self.rows = [encode(loaded.tokenizer, e, int(end)) for e in examples]
        self.loaded = loaded
        limit = loaded.context_length
        for example, (ids, _) in zip(examples, self.rows, strict=True):
            if limit is not None and len(ids) > limit:
                raise BadInput(
                    f"pool row {example.id!r} is {len(ids)} tokens, past the model's "
                    f"context of {limit}",
                    hint="shorten the row or leave it out of the pool",
                )

    def tensors(self, indices: Sequence[int]) -> tuple[Any, Any, Any, int]:
        import torch

        chosen = [self.rows[i] for i in indices]
        width = max(len(ids) for ids, _ in chosen)
        pad = self.loaded.pad_id

        def padded(values: list[int], filler: int) -> list[int]:
            return values + [filler] * (width - len(values))

        device = self.loaded.device
        ids = torch.tensor([padded(i, pad) for i, _ in chosen], device=device)
        labels = torch.tensor([padded(lab, -100) for _, lab in chosen], device=device)
        mask = torch.tensor([padded([1] * len(i), 0) for i, _ in chosen], device=device)
        return ids, mask, labels, sum(len(i) for i, _ in chosen)


def peft_config(settings: TrainSettings) -> Any:
    peft = import_peft()
    task = peft.TaskType.CAUSAL_LM
    if settings.method == "lora":
        return peft.LoraConfig(
            task_type=task, r=settings.rank, lora_alpha=2 * settings.rank, lora_dropout=0.05
        )
    if settings.method == "prefix-tuning":
        return peft.PrefixTuningConfig(task_type=task, num_virtual_tokens=settings.virtual_tokens)
    return peft.PromptTuningConfig(task_type=task, num_virtual_tokens=settings.virtual_tokens)


def train(
    loaded: LoadedModel,
    train_rows: Sequence[Example],
    validation_rows: Sequence[Example],
    settings: TrainSettings,
    *,
    init_words: Sequence[str] = (),
    progress: Callable[[TrainProgress], None] | None = None,
) -> Trained:
    """Train an adapter on ``loaded`` (a fresh base: LoRA changes its layers in place)."""
    import torch

    peft = import_peft()
    settings.check()
    torch.manual_seed(settings.seed)
    model = peft.get_peft_model(loaded.model, peft_config(settings))
    if settings.method == "prompt-tuning":
        _init_soft_prompt(model, loaded, init_words, settings.virtual_tokens)
    data, held = _Batches(loaded, train_rows), _Batches(loaded, validation_rows)
    loop = _Loop(model, data, held, settings, progress)
    return loop.run()


class _Loop:
    def __init__(
        self,
        model: Any,
        data: _Batches,
        held: _Batches,
        settings: TrainSettings,
        progress: Callable[[TrainProgress], None] | None,
    ) -> None:
        import torch

        self.model, self.data, self.held, self.settings = model, data, held, settings
        self.progress = progress
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=settings.learning_rate)
        per_epoch = math.ceil(len(data.rows) / settings.batch_size)
        planned = per_epoch * settings.epochs
        self.total = min(planned, settings.max_steps) if settings.max_steps else planned
        self.per_epoch = per_epoch
        self.every = max(1, math.ceil(per_epoch / 2))  # validation twice an epoch
        self.curve: list[dict[str, Any]] = []
        self.best: tuple[float, int, dict[str, Any]] | None = None
        self.tokens = 0

    def run(self) -> Trained:
        started = time.perf_counter()
        step, losses, stopped, validation = 0, [], "all steps", None
        self.model.train()
        for indices in self._schedule():
            step += 1
            loss = self._step(indices)
            losses.append(loss)
            point: dict[str, Any] = {"step": step, "train_loss": loss}
            if self.held.rows and (step % self.every == 0 or step == self.total):
                validation = self._validation_loss()
                point["validation_loss"] = validation
                if self._keep_if_best(validation, step) >= self.settings.patience:
                    stopped = "early stop"
            self.curve.append(point)
            self._report(step, loss, validation, started)
            if stopped == "early stop":
                break
        wall = time.perf_counter() - started
        self._restore_best()
        self.model.eval()
        return Trained(self.model, self._figures(step, losses, wall, stopped), self.curve)

    def _schedule(self) -> Iterator[list[int]]:
        """Batches of row indices, reshuffled (seeded) every epoch, ``total`` of them."""
        count, size, given = len(self.data.rows), self.settings.batch_size, 0
        for epoch in range(self.settings.epochs):
            order = list(range(count))
            random.Random(self.settings.seed * 1000 + epoch).shuffle(order)
            for start in range(0, count, size):
                if given == self.total:
                    return
                given += 1
                yield order[start : start + size]

    def _step(self, indices: Sequence[int]) -> float:
        ids, mask, labels, tokens = self.data.tensors(indices)
        loss = self.model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.tokens += tokens
        return float(loss.detach())

    def _validation_loss(self) -> float:
        """Mean loss per answer token over every held-out row."""
        import torch

        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(self.held.rows), self.settings.batch_size):
                indices = range(start, min(start + self.settings.batch_size, len(self.held.rows)))
                ids, mask, labels, _ = self.held.tensors(indices)
                answer_tokens = int((labels[:, 1:] != -100).sum())
                loss = self.model(input_ids=ids, attention_mask=mask, labels=labels).loss
                total += float(loss) * answer_tokens
                count += answer_tokens
        self.model.train()
        return total / max(count, 1)

    def _keep_if_best(self, validation: float, step: int) -> int:
        """Remember the adapter when it is the best yet; the measurements since the best."""
        if self.best is None or validation < self.best[0]:
            self.best = (validation, step, _adapter_state(self.model))
            return 0
        return sum(1 for p in self.curve if p["step"] > self.best[1] and "validation_loss" in p) + 1

    def _restore_best(self) -> None:
        if self.best is not None:
            self.model.load_state_dict(self.best[2], strict=False)

    def _report(self, step: int, loss: float, validation: float | None, started: float) -> None:
        if self.progress is not None:
            rate = self.tokens / max(time.perf_counter() - started, 1e-9)
            self.progress(TrainProgress(step, self.total, loss, validation, rate))

    def _figures(
        self, steps: int, losses: list[float], wall: float, stopped: str
    ) -> dict[str, Any]:
        best = self.best
        return {
            "steps": steps,
            "planned_steps": self.total,
            "epochs": round(steps / self.per_epoch, 2),
            "stopped": stopped,
            "wall_s": round(wall, 3),
            "tokens": self.tokens,
            "tokens_per_s": round(self.tokens / wall, 1) if wall > 0 else None,
            "first_train_loss": losses[0] if losses else None,
            "last_train_loss": losses[-1] if losses else None,
            "best_step": best[1] if best else steps,
            "best_validation_loss": best[0] if best else None,
            "trainable_parameters": sum(
                p.numel() for p in self.model.parameters() if p.requires_grad
            ),
        }


def _adapter_state(model: Any) -> dict[str, Any]:
    """A copy of the trained tensors only (the frozen base is not copied)."""
    names = {name for name, p in model.named_parameters() if p.requires_grad}
    return {k: copy.deepcopy(v.detach()) for k, v in model.state_dict().items() if k in names}


def _init_soft_prompt(model: Any, loaded: LoadedModel, words: Sequence[str], count: int) -> None:
    """Start the soft prompt at the label words' embeddings, repeated to ``count``
    tokens (Lester et al. found class-label initialisation the best of their three)."""
    import torch

    ids = [
        i for word in words for i in loaded.tokenizer(word, add_special_tokens=False)["input_ids"]
    ]
    if not ids:
        return  # no label words: PEFT's random initialisation
    chosen = torch.tensor([ids[i % len(ids)] for i in range(count)], device=loaded.device)
    embedding = model.prompt_encoder[model.active_adapter].embedding
    with torch.no_grad():
        embedding.weight.copy_(model.word_embeddings(chosen).detach())
