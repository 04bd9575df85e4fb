"""``tuned/<id>``: a model ``promptkit tune`` trained, served by ``hf/`` (base + adapter).

    tuned/intent-v2-lora      .promptkit/tuned/intent-v2-lora/ of the current project
    tuned/<path>/<folder>     an artifact folder anywhere (a path, with a slash)

An artifact folder holds ``tuned.json`` (this module's :class:`TunedManifest`: the
method, the base model's name and file hash, the pool's hash, the prompt that framed
the inputs, the training figures and the loss curve) and ``adapter/``, the PEFT
adapter. The base is checked against its recorded hash when the model loads: an
adapter applied to other weights would give answers nobody measured.

Everything else is the ``hf/`` provider's: the same options (``device``, ``dtype``,
``max_batch_size``, ``score_labels`` for likelihood scoring of the label words: the
verbalizer), the same batching and the same injection-safe chat tokens. The
adapter's hash is part of the response cache key, so a re-tuned model never
answers from the old one's cache.

The manifest is read here and written by :mod:`promptkit.tune`, so that serving a
tuned model needs no training code.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from promptkit.errors import ProviderConfigError
from promptkit.paths import find_project
from promptkit.providers.base import register_provider
from promptkit.providers.hf import HFProvider
from promptkit.providers.hf_load import ModelSource, resolve_source

__all__ = [
    "ADAPTER_DIR",
    "MANIFEST",
    "TUNED_DIR",
    "TunedManifest",
    "TunedProvider",
    "list_tuned",
    "read_manifest",
    "tuned_folder",
    "tuned_manifest",
    "tuned_root",
    "weights_sha256",
]

TUNED_DIR = Path(".promptkit") / "tuned"
MANIFEST = "tuned.json"
ADAPTER_DIR = "adapter"
#: An artifact id: a folder name that is safe on every file system and in a model name.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_FORMAT = 1


@dataclass(frozen=True)
class TunedManifest:
    """What ``tuned.json`` records about one tuned model."""

    id: str
    method: str  # prompt-tuning | prefix-tuning | lora
    base: str  # the hf/ model name trained on, e.g. hf/smollm2
    base_sha256: str
    adapter_sha256: str
    prompt: str  # FAMILY@vN that framed every training input, zero-shot
    prompt_sha256: str
    suite: str
    pool: str
    pool_sha256: str  # of the training and validation rows, as used
    examples: int  # training rows
    validation: int  # held-out rows for early stopping
    settings: dict[str, Any]  # lr, batch size, epochs, steps, virtual tokens, rank, seed
    figures: dict[str, Any]  # steps, wall_s, tokens_per_s, device, best step and losses
    loss_curve: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # the verbalizer's words, when a label task
    created: str = ""
    format: int = _FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @property
    def model(self) -> str:
        return f"tuned/{self.id}"


_FIELDS = frozenset(TunedManifest.__dataclass_fields__)


def tuned_root(start: str | Path | None = None) -> Path:
    """``.promptkit/tuned`` of the project of ``start`` (default: the current folder)."""
    here = Path(start) if start is not None else Path.cwd()
    project = find_project(here)
    return (project or here) / TUNED_DIR


def tuned_folder(name: str, root: Path | None = None) -> Path:
    """The artifact folder ``tuned/<name>`` means: an id in ``root``, or a path (with a
    slash); anything else is refused."""
    if ID_PATTERN.fullmatch(name):
        return (root or tuned_root()) / name
    if "/" not in name:
        raise ProviderConfigError(
            f"tuned/{name}: not a tuned model's id (letters, digits, . _ -) or a path",
            hint="promptkit tuned lists the ids; a folder elsewhere is named tuned/<path>/<id>",
        )
    return Path(name).expanduser()


def read_manifest(folder: Path) -> TunedManifest:
    """The manifest of an artifact folder, or one clear error naming the fix."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ProviderConfigError(
            f"no tuned model at {folder} (no {MANIFEST})",
            hint="train one with: promptkit tune SUITE --method lora --prompt FAMILY@vN; "
            "promptkit tuned lists them",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not an object")
        # Only known keys, so a newer writer's extra figures never break this reader.
        manifest = TunedManifest(**{k: v for k, v in data.items() if k in _FIELDS})
        _check_types(manifest)
    except (OSError, ValueError, TypeError) as exc:
        raise ProviderConfigError(
            f"{path} is not a tuned model's manifest ({type(exc).__name__})",
            hint="tune the model again with promptkit tune",
        ) from None
    if manifest.format != _FORMAT:
        raise ProviderConfigError(
            f"{path} has format {manifest.format}; this promptkit reads {_FORMAT}",
            hint="tune the model again with this promptkit",
        )
    return manifest


def _check_types(m: TunedManifest) -> None:
    """What readers index into must have its type: a hand-edited manifest fails here."""
    for name in ("id", "method", "base", "base_sha256", "adapter_sha256", "prompt"):
        if not isinstance(getattr(m, name), str):
            raise TypeError(f"{name} is not a string")
    if not isinstance(m.figures, dict) or not isinstance(m.settings, dict):
        raise TypeError("figures and settings must be objects")
    if not isinstance(m.examples, int) or not isinstance(m.loss_curve, list):
        raise TypeError("examples must be a number and loss_curve a list")
    tokens = m.figures.get("tokens")
    if tokens is not None and not isinstance(tokens, int | float):
        raise TypeError("figures.tokens is not a number")


def tuned_manifest(model: str) -> TunedManifest | None:
    """The manifest of the ``tuned/`` model ``model`` names, as its artifact is now; None
    for any other model and for an artifact that is gone or broken (what reads a stored
    run shows the rest of it without the training figures)."""
    provider, _, name = model.partition("/")
    if provider != "tuned":
        return None
    try:
        return read_manifest(tuned_folder(name))
    except ProviderConfigError:
        return None


def list_tuned(root: Path | None = None) -> list[TunedManifest]:
    """Every finished artifact under ``root``, oldest first; half-written ones are not
    artifacts (their folders start with a dot)."""
    root = root or tuned_root()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not (folder / MANIFEST).is_file():
            continue
        try:
            found.append(read_manifest(folder))
        except ProviderConfigError:
            continue  # a broken manifest is reported when that model is used
    return sorted(found, key=lambda m: (m.created, m.id))


_HASHES: dict[tuple[str, int, int], str] = {}


def weights_sha256(source: ModelSource) -> str:
    """SHA-256 of the base's weight files (the GGUF file, or a folder's weight files),
    remembered per file size and time, so a process hashes each file once."""
    folder = Path(source.path)
    files = (
        [folder / source.gguf_file]
        if source.gguf_file
        else sorted(
            p for p in folder.glob("*") if p.suffix in {".safetensors", ".bin", ".gguf", ".json"}
        )
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(_file_sha256(path).encode())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


class TunedProvider(HFProvider):
    """An ``hf/`` provider whose weights are a tuned artifact's base plus its adapter."""

    def weights(self, model: str) -> tuple[ModelSource, Path | None]:
        folder = tuned_folder(model.partition("/")[2])
        self.manifest = read_manifest(folder)
        source = resolve_source(self.manifest.base.partition("/")[2])
        if weights_sha256(source) != self.manifest.base_sha256:
            raise ProviderConfigError(
                f"{model} was tuned on other weights than {self.manifest.base} has now "
                "(the file's hash differs)",
                hint=f"tune it again on these weights: promptkit tune {self.manifest.suite} "
                f"--method {self.manifest.method} --prompt {self.manifest.prompt} --replace",
            )
        return source, folder / ADAPTER_DIR

    def wire_options(self) -> dict[str, Any]:
        return {**super().wire_options(), "adapter": self.manifest.adapter_sha256}


register_provider("tuned")(TunedProvider)
