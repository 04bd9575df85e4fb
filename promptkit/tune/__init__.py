"""Tuning: soft prompts, prefix tuning and LoRA (PEFT) on a local model, measured.

    tune(suite, prompt, TrainSettings(method="lora"))   -> [TuneResult]
    list_tuned()                                        -> [TunedManifest]

A tuned model trains on the suite's example pool only (never its evaluation rows),
is saved as ``.promptkit/tuned/<id>/`` and is served as ``tuned/<id>`` by the
``hf/`` provider, so it sits in the same table as the prompts it competes with.
torch, transformers and peft are imported when training starts, not here.
"""

from __future__ import annotations

from promptkit.providers.tuned import TunedManifest, list_tuned, read_manifest, tuned_root
from promptkit.tune.train import METHODS, TrainProgress, TrainSettings
from promptkit.tune.tuner import DEFAULT_BASE, TuneProgress, TuneResult, tune

__all__ = [
    "DEFAULT_BASE",
    "METHODS",
    "TrainProgress",
    "TrainSettings",
    "TuneProgress",
    "TuneResult",
    "TunedManifest",
    "list_tuned",
    "read_manifest",
    "tune",
    "tuned_root",
]
