from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from promptkit.define.datasets import Dataset, Row
from promptkit.define.shots import ShotSelector, ShotSettings


def dataset(rows: list[dict[str, str]]) -> Dataset:
    return Dataset(path="mem", rows=tuple(Row(r["id"], r) for r in rows))


POOL = dataset(
    [
        {
            "id": f"p{i}",
            "text": f"example {i} {'good' if i % 2 else 'bad'}",
            "label": "pos" if i % 2 else "neg",
        }
        for i in range(10)
    ]
    + [
        {"id": "dup-id", "text": "unrelated", "label": "pos"},
        {"id": "p-copy", "text": "The  Row  being Scored", "label": "neg"},
        {"id": "cat", "text": "the cat sat on the mat", "label": "pos"},
    ]
)
ROWS = dataset(
    [
        {"id": "dup-id", "text": "the row being scored", "label": "pos"},
        {"id": "r2", "text": "a cat on a mat", "label": "neg"},
    ]
)


def selector(strategy: str, budget: int | None = None) -> ShotSelector:
    return ShotSelector(
        POOL,
        ShotSettings(strategy=strategy, seed=3, token_budget=budget),
        input_columns=["text"],
        label_column="label",
        exclude=ROWS,
    )


@pytest.mark.parametrize("strategy", ["first", "random", "stratified", "similar"])
def test_examples_never_come_from_scored_rows(strategy: str) -> None:
    chosen = selector(strategy).select(ROWS.rows[0], None)
    ids = {r.id for r in chosen}
    assert "dup-id" not in ids  # same id as a scored row
    assert "p-copy" not in ids  # same text (after normalisation) as a scored row
    assert len(chosen) == len(POOL) - 2


@pytest.mark.parametrize("strategy", ["first", "random", "stratified", "similar"])
def test_same_row_same_examples(strategy: str) -> None:
    a = selector(strategy).select(ROWS.rows[1], 4)
    b = selector(strategy).select(ROWS.rows[1], 4)
    assert [r.id for r in a] == [r.id for r in b]
    assert len(a) == 4


def test_first_keeps_pool_order() -> None:
    assert [r.id for r in selector("first").select(ROWS.rows[1], 3)] == ["p0", "p1", "p2"]


def test_random_depends_on_seed_and_row() -> None:
    one = [r.id for r in selector("random").select(ROWS.rows[0], 5)]
    two = [r.id for r in selector("random").select(ROWS.rows[1], 5)]
    assert one != two


def test_stratified_balances_labels() -> None:
    chosen = selector("stratified").select(ROWS.rows[1], 6)
    assert Counter(r["label"] for r in chosen) == {"pos": 3, "neg": 3}


def test_similar_puts_the_nearest_example_last() -> None:
    chosen = selector("similar").select(ROWS.rows[1], 3)
    assert chosen[-1].id == "cat"


def test_token_budget_keeps_the_longest_fitting_prefix() -> None:
    sizes: list[int] = []

    def fits(examples: object) -> bool:
        n = len(examples)  # type: ignore[arg-type]
        sizes.append(n)
        return n <= 4

    chosen = selector("first", budget=100).select(ROWS.rows[1], None, fits)
    assert [r.id for r in chosen] == ["p0", "p1", "p2", "p3"]


def test_zero_shots() -> None:
    assert selector("similar").select(ROWS.rows[1], 0) == []


def test_shipped_pools_are_disjoint_from_their_datasets(repo: Path) -> None:
    from promptkit import load_suite

    for name in ("sentiment", "intent", "rating"):
        suite = load_suite(repo / "evals" / f"{name}.yaml")
        assert suite.pool is not None
        sel = ShotSelector(
            suite.pool,
            suite.shot_settings,
            input_columns=list(suite.inputs.values()),
            label_column=suite.reference,
            exclude=suite.dataset.rows,
        )
        assert sel.removed == 0
