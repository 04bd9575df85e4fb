"""A seeded, stratified split of a label dataset into evaluation rows and an example pool.

Every label keeps the same share in both parts, so few-shot examples can show
every label and the scores still cover every label. The same rows, fraction and
seed always give the same split, and each part keeps the file's row order, so a
re-split shows as a small diff.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from promptkit.define.datasets import Dataset, Row
from promptkit.errors import BadInput, DatasetError

__all__ = ["Split", "split_rows"]


@dataclass(frozen=True)
class Split:
    rows: tuple[Row, ...]  # scored
    pool: tuple[Row, ...]  # few-shot examples, never scored


def split_rows(dataset: Dataset, label: str, *, pool_fraction: float, seed: int) -> Split:
    """Put ``round(n * pool_fraction)`` rows of each label (at least one, and never all of
    them) into the pool; the rest are evaluation rows."""
    if not 0 <= pool_fraction < 1:
        raise BadInput(
            f"pool fraction {pool_fraction} is outside [0, 1)",
            hint="pass --pool-fraction between 0 (no pool) and 1, e.g. 0.2",
        )
    groups = _by_label(dataset.rows, label)
    rng = random.Random(seed)
    in_pool: set[str] = set()
    for value in sorted(groups):
        members = groups[value]
        size = _pool_size(len(members), pool_fraction)
        if pool_fraction and len(members) < 2:
            raise DatasetError(
                f"label {value!r} has only 1 row; a split needs 2 or more per label",
                path=dataset.path,
                line=members[0].line,
                hint="add rows with this label, remove this row, or pass --pool-fraction 0",
            )
        in_pool.update(row.id for row in rng.sample(members, size))
    return Split(
        rows=tuple(r for r in dataset.rows if r.id not in in_pool),
        pool=tuple(r for r in dataset.rows if r.id in in_pool),
    )


def _pool_size(count: int, fraction: float) -> int:
    if fraction == 0:
        return 0
    return min(count - 1, max(1, round(count * fraction)))


def _by_label(rows: Sequence[Row], label: str) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(str(row.data[label]), []).append(row)
    return groups
