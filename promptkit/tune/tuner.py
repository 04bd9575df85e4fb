"""``tune``: from a suite and a prompt to saved ``tuned/<id>`` models, one per size.

Every size trains from a fresh copy of the base (LoRA changes the layers it wraps),
on the first N rows of one seeded order of the pool, with the same held-out rows for
early stopping; so ``--size 25 --size 50 --size 100`` measures what more labelled
data buys, nothing else. Nothing is written before a model has finished training.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from promptkit.define.prompts import Prompt
from promptkit.errors import BadInput
from promptkit.providers.hf_load import import_peft, load_base, pick_device, resolve_source
from promptkit.providers.tuned import TunedManifest, tuned_root, weights_sha256
from promptkit.suite import Suite
from promptkit.tune.artifact import check_id, save_artifact
from promptkit.tune.data import Split, label_words, pool_sha256, split, training_examples
from promptkit.tune.train import TrainProgress, TrainSettings, train

__all__ = ["TuneProgress", "TuneResult", "tune"]

DEFAULT_BASE = "hf/smollm2"


@dataclass(frozen=True)
class TuneProgress:
    id: str  # the model being trained
    index: int  # which of the sizes, from 0
    of: int
    train: TrainProgress


@dataclass(frozen=True)
class TuneResult:
    folder: Path
    manifest: TunedManifest


def tune(
    suite: Suite,
    prompt: Prompt,
    settings: TrainSettings,
    *,
    base: str = DEFAULT_BASE,
    sizes: Sequence[int] = (),
    validation_share: float = 0.2,
    name: str | None = None,
    replace: bool = False,
    device: str | None = None,
    root: Path | None = None,
    progress: Callable[[TuneProgress], None] | None = None,
) -> list[TuneResult]:
    """Train one adapter per size (the whole training share when ``sizes`` is empty)."""
    settings.check()
    torch = _torch()
    if not base.startswith("hf/"):
        raise BadInput(
            f"--base {base!r}: tuning needs a transformers model", hint="e.g. --base hf/smollm2"
        )
    examples = training_examples(suite, prompt)
    parts = split(examples, validation_share, settings.seed)
    counts = _sizes(sizes, parts)
    root = root or tuned_root(Path(suite.path).parent)
    ids = _ids(prompt, settings.method, name, sizes, counts)
    for tuned_id in ids:
        check_id(root, tuned_id, replacing=replace)
    source = resolve_source(base.partition("/")[2])
    base_sha = weights_sha256(source)
    chosen = pick_device(torch, device)
    words = label_words(prompt, examples)
    results = []
    for index, (tuned_id, count) in enumerate(zip(ids, counts, strict=True)):
        started = time.perf_counter()
        loaded = load_base(source, chosen)
        load_s = time.perf_counter() - started

        def report(step: TrainProgress, tuned_id: str = tuned_id, index: int = index) -> None:
            if progress is not None:
                progress(TuneProgress(tuned_id, index, len(ids), step))

        rows = parts.train[:count]
        trained = train(loaded, rows, parts.validation, settings, init_words=words, progress=report)
        manifest = TunedManifest(
            id=tuned_id,
            method=settings.method,
            base=base,
            base_sha256=base_sha,
            adapter_sha256="",  # filled in by save_artifact, from the files it wrote
            prompt=prompt.ref,
            prompt_sha256=prompt.hash,
            suite=str(suite.path),
            pool=str(suite.pool.path) if suite.pool is not None else "",
            pool_sha256=pool_sha256([*rows, *parts.validation]),
            examples=len(rows),
            validation=len(parts.validation),
            settings={
                **vars(settings),
                "lr": settings.learning_rate,
                "validation_share": validation_share,
            },
            figures={
                **trained.figures,
                "device": chosen,
                "torch_threads": torch.get_num_threads(),
                "load_s": round(load_s, 3),
            },
            loss_curve=trained.curve,
            labels=words,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        folder = save_artifact(root, manifest, trained.model)
        results.append(TuneResult(folder, _saved(folder)))
    return results


def _torch() -> Any:
    import_peft()  # the exact install command when peft or torch is missing
    import torch

    return torch


def _saved(folder: Path) -> TunedManifest:
    from promptkit.providers.tuned import read_manifest

    return read_manifest(folder)


def _sizes(sizes: Sequence[int], parts: Split) -> list[int]:
    available = len(parts.train)
    if not sizes:
        return [available]
    for size in sizes:
        if not 1 <= size <= available:
            raise BadInput(
                f"--size {size}: the pool has {available} training rows after the "
                f"validation share ({len(parts.validation)} held out)",
                hint=f"give sizes from 1 to {available}",
            )
    return sorted(set(sizes))


def _ids(
    prompt: Prompt, method: str, name: str | None, sizes: Sequence[int], counts: list[int]
) -> list[str]:
    stem = name or f"{prompt.family}-v{prompt.version}-{method}"
    if not sizes:
        return [stem]
    return [f"{stem}-n{count}" for count in counts]
