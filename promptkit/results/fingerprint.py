"""What decides a case's request and its score, hashed part by part.

A run records these hashes in ``meta.json`` (templates are hashed there on their
own). ``--resume`` hashes the suite as it is now and refuses when a part differs,
naming the part, so a resumed journal never mixes answers to two different sets
of questions: an edited dataset row, a reordered example pool or a new
temperature would otherwise be scored beside answers to the old ones.

Left out on purpose: what only paces or bounds the run (concurrency, rpm,
timeout, retries, limit, repeat, prices) and which key is used. Resuming with more repeats or rows
asks more cases; the cases already answered got the very same requests.
Only hashes reach the file, never a value (an api_base may carry credentials).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptkit.define.datasets import Dataset
    from promptkit.suite import Suite

__all__ = ["changed_parts", "suite_fingerprint"]

#: Model-entry options that change how fast answers come (or with which key), not what
#: is asked.
OPTIONS_LEFT_OUT = frozenset(
    {
        "concurrency",
        "rpm",
        "timeout",
        "retries",
        "latency_ms",
        "n_threads",
        "max_batch_size",
        "api_key_env",
        "actors",
        "num_cpus",
        "num_gpus",
    }
)
#: Rows serialised at once when hashing a dataset: twice as fast as one row at a time,
#: and memory stays flat. Changing it changes every recorded hash.
_ROWS_PER_CHUNK = 4096


def suite_fingerprint(suite: Suite) -> dict[str, str]:
    """One short hash per part of ``suite`` that decides a request or a score."""
    return {
        "dataset": _dataset_hash(suite.dataset),
        "examples": _dataset_hash(suite.pool) if suite.pool is not None else "none",
        "shot_settings": _hash(asdict(suite.shot_settings)),
        "columns": _hash({"inputs": dict(suite.inputs), "reference": suite.reference}),
        "params": _hash(suite.params),
        "seed": _hash(suite.seed),
        "models": _hash([[m.name, _request_options(m.options)] for m in suite.models]),
        "scorers": _hash(
            {
                "scorers": [[s.metric, s.name, s.args] for s in suite.scorers],
                "files": _scorer_files(suite),
            }
        ),
        "retrieval": _retrieval_hash(suite),
    }


def changed_parts(recorded: Any, suite: Suite) -> list[str]:
    """The parts of ``suite`` whose hash differs from ``recorded``, named for a person.

    A part the run did not record (a run made before it was hashed) is not compared.
    """
    if not isinstance(recorded, Mapping):
        return []
    names = _part_names(suite)
    now = suite_fingerprint(suite)
    return [names[part] for part, digest in now.items() if recorded.get(part, digest) != digest]


def _part_names(suite: Suite) -> dict[str, str]:
    pool = f"the example pool {suite.pool.path}" if suite.pool is not None else "the example pool"
    return {
        "dataset": f"the dataset {suite.dataset.path}",
        "examples": pool,
        "shot_settings": "the shot settings (strategy, seed, token_budget)",
        "columns": "the inputs or reference column",
        "params": "the params",
        "seed": "the seed",
        "models": "the model entries",
        "scorers": "the scorers",
        "retrieval": "the retrieval settings or documents",
    }


def _hash(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _dataset_hash(dataset: Dataset) -> str:
    """The rows as loaded, ids included, in file order (a prefix is what --limit runs)."""
    digest = hashlib.sha256()
    rows = dataset.rows
    for start in range(0, len(rows), _ROWS_PER_CHUNK):
        chunk = [[row.id, row.data] for row in rows[start : start + _ROWS_PER_CHUNK]]
        text = json.dumps(chunk, sort_keys=True, ensure_ascii=False, default=str)
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()[:16]


def _retrieval_hash(suite: Suite) -> str:
    """The passages and how they are chosen; not the path, which differs between clones."""
    if suite.retrieval is None:
        return "none"
    return _hash({k: v for k, v in asdict(suite.retrieval).items() if k != "path"})


def _request_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in OPTIONS_LEFT_OUT}


def _scorer_files(suite: Suite) -> list[str]:
    """The content hash of each ``scorer_files`` entry: editing one changes the scores."""
    files = suite.raw.get("scorer_files") or []
    hashes = []
    for name in files if isinstance(files, list) else [files]:
        path = Path(os.path.normpath(Path(suite.path).parent / str(name)))
        try:
            hashes.append(hashlib.sha256(path.read_bytes()).hexdigest()[:16])
        except OSError:
            hashes.append("missing")
    return hashes
