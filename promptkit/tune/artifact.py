"""Saving a tuned model as ``.promptkit/tuned/<id>/``, all or nothing.

The adapter and its manifest are written into a hidden ``.partial-<id>-*`` folder
beside the final one, flushed, and renamed into place in one step, so a tune that
is interrupted or killed at any moment leaves either no artifact or a whole one;
``promptkit tuned`` never lists the hidden folders. Replacing an artifact
(``--replace``) moves the old one aside first and brings it back if the new one
cannot take its place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from promptkit.errors import BadInput
from promptkit.providers.tuned import ADAPTER_DIR, ID_PATTERN, MANIFEST, TunedManifest

__all__ = ["check_id", "save_artifact"]


def check_id(root: Path, tuned_id: str, *, replacing: bool) -> None:
    """Refuse an id that is not a safe folder name, or that exists without ``--replace``."""
    if not ID_PATTERN.fullmatch(tuned_id):
        raise BadInput(
            f"{tuned_id!r} is not a usable name for a tuned model",
            hint="use up to 100 letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    if (root / tuned_id).exists() and not replacing:
        raise BadInput(
            f"a tuned model {tuned_id!r} exists already in {root}",
            hint="give --name for a new one, or --replace to train it again",
        )


def save_artifact(root: Path, manifest: TunedManifest, model: Any) -> Path:
    """Write the adapter and manifest to ``root/<id>``; the hash of the adapter's files
    goes into the manifest (it keys the response cache)."""
    root.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".partial-{manifest.id}-", dir=root))
    try:
        with warnings.catch_warnings():
            # PEFT looks for the base's config.json beside a GGUF file to compare
            # vocabularies; a GGUF holds it inside, and the warning would only confuse.
            warnings.filterwarnings("ignore", message="Could not find a config file")
            model.save_pretrained(str(partial / ADAPTER_DIR))
        manifest = replace(manifest, adapter_sha256=_folder_sha256(partial / ADAPTER_DIR))
        _write_synced(partial / MANIFEST, manifest.to_json())
        final = root / manifest.id
        _move_into_place(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _move_into_place(partial: Path, final: Path) -> None:
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, old)
    try:
        os.rename(partial, final)
    except BaseException:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _folder_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
