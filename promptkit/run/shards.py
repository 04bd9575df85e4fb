"""Shards: one suite split across CI jobs or array tasks, by a stable hash of row ids.

A row belongs to shard ``1 + sha256(row id) mod N``, so every variant and repeat
of a row runs in the same shard (its pairs stay together), and the split is the
same on every machine and in every run. Shards are numbered 1..N.

``--shard auto`` (or ``auto/N``) reads the index from the engine that launched
the job: ``PROMPTKIT_SHARD`` (``I/N``, e.g. from a GitHub Actions matrix),
Kubernetes Indexed Jobs' ``JOB_COMPLETION_INDEX`` (0-based; the count from
``auto/N`` or ``PROMPTKIT_SHARDS``), or a Slurm job array's
``SLURM_ARRAY_TASK_ID`` (offset by ``SLURM_ARRAY_TASK_MIN``, counted by
``SLURM_ARRAY_TASK_COUNT``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from promptkit.define.datasets import shard_of
from promptkit.errors import BadInput

__all__ = ["Shard", "parse_shard", "shard_of"]

_FORMS = "I/N (e.g. 2/4), auto or auto/N"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise BadInput(
                f"shard {self.index}/{self.count} does not exist",
                hint=f"give I/N with 1 <= I <= N ({_FORMS})",
            )

    def holds(self, row_id: str) -> bool:
        return shard_of(row_id, self.count) == self.index

    def to_dict(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str, env: Mapping[str, str] | None = None) -> Shard:
    """``I/N``, ``auto`` or ``auto/N`` (the index from ``env``, by default the process's)."""
    env = os.environ if env is None else env
    head, _, tail = text.strip().partition("/")
    count = _number(tail, text) if tail else None
    if head.lower() != "auto":
        if count is None:
            raise BadInput(f"--shard {text!r} lacks the shard count", hint=f"give {_FORMS}")
        return Shard(_number(head, text), count)
    return _from_environment(env, count)


def _number(part: str, text: str) -> int:
    try:
        return int(part)
    except ValueError:
        raise BadInput(f"--shard {text!r} is not a shard", hint=f"give {_FORMS}") from None


def _from_environment(env: Mapping[str, str], count: int | None) -> Shard:
    """The shard the launching engine assigned, checked against ``count`` when given."""
    found = _engine_shard(env, count)
    if found is None:
        raise BadInput(
            "--shard auto found no shard index in the environment",
            hint="set PROMPTKIT_SHARD=I/N, or run under a Kubernetes Indexed Job "
            "(JOB_COMPLETION_INDEX) or a Slurm array (SLURM_ARRAY_TASK_ID)",
        )
    if count is not None and found.count != count:
        raise BadInput(
            f"--shard auto/{count}: the environment says shard {found}",
            hint="make the count agree with the job's number of shards",
        )
    return found


def _engine_shard(env: Mapping[str, str], count: int | None) -> Shard | None:
    if env.get("PROMPTKIT_SHARD"):
        return parse_shard(env["PROMPTKIT_SHARD"], {})
    total = count if count is not None else _env_int(env, "PROMPTKIT_SHARDS")
    if env.get("JOB_COMPLETION_INDEX"):
        if total is None:
            raise BadInput(
                "JOB_COMPLETION_INDEX gives the shard but not how many there are",
                hint="give --shard auto/N (N = the Job's completions) or set PROMPTKIT_SHARDS",
            )
        return Shard((_env_int(env, "JOB_COMPLETION_INDEX", 0) or 0) + 1, total)
    if env.get("SLURM_ARRAY_TASK_ID"):
        first = _env_int(env, "SLURM_ARRAY_TASK_MIN", 0) or 0
        total = total if total is not None else _env_int(env, "SLURM_ARRAY_TASK_COUNT")
        if total is None:
            raise BadInput(
                "SLURM_ARRAY_TASK_ID gives the shard but SLURM_ARRAY_TASK_COUNT is not set",
                hint="give --shard auto/N (N = the array's size)",
            )
        return Shard((_env_int(env, "SLURM_ARRAY_TASK_ID", 0) or 0) - first + 1, total)
    return None


def _env_int(env: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise BadInput(
            f"{name}={value!r} is not a number", hint=f"set {name} to an integer"
        ) from None
