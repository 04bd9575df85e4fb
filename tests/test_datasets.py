from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from promptkit import DatasetError, load_dataset
from promptkit.define.datasets import Row
from tests.conftest import write


def test_jsonl_csv_and_yaml_load_with_ids(tmp_path: Path) -> None:
    jsonl = write(tmp_path / "a.jsonl", '{"id": 1, "t": "x"}\n\n{"id": 2, "t": "y"}\n')
    csv = write(tmp_path / "b.csv", 'id,t\n1,"x, with comma"\n2,y\n')
    yml = write(tmp_path / "c.yaml", "- {id: 1, t: x}\n- {id: 2, t: y}\n")
    for path in (jsonl, csv, yml):
        data = load_dataset(path, id_column="id")
        assert [r.id for r in data] == ["1", "2"]
    assert load_dataset(csv, id_column="id").rows[0]["t"] == "x, with comma"
    assert load_dataset(jsonl).rows[1].line == 3


def test_content_hash_ids_are_stable_under_reordering(tmp_path: Path) -> None:
    a = load_dataset(write(tmp_path / "a.jsonl", '{"t": "x"}\n{"t": "y"}\n'))
    b = load_dataset(write(tmp_path / "b.jsonl", '{"t": "y"}\n{"t": "x"}\n'))
    assert {r.id for r in a} == {r.id for r in b}
    assert a.rows[0].id == b.rows[1].id


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    lines = [json.dumps({"t": i}) for i in range(16)] + ['{"t": oops}']
    path = write(tmp_path / "bad.jsonl", "\n".join(lines))
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value).startswith(f"{path}:17: invalid JSON")


def test_missing_column_names_row_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"id": "a", "text": "x"}\n{"id": "b", "txt": "y"}\n')
    data = load_dataset(path, id_column="id")
    with pytest.raises(DatasetError) as info:
        data.require_columns(["text"], needed_by="suite s.yaml")
    assert str(info.value).startswith(f"{path}:2: row 'b' has no column 'text'")


def test_duplicate_ids_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="duplicate row id '1'"):
        load_dataset(write(tmp_path / "d.jsonl", '{"id": 1}\n{"id": 1}\n'), id_column="id")
    with pytest.raises(DatasetError, match="dataset file not found"):
        load_dataset(tmp_path / "missing.jsonl")
    with pytest.raises(DatasetError, match="unsupported dataset format"):
        load_dataset(write(tmp_path / "x.txt", "hi"))
    with pytest.raises(DatasetError, match="must be a list of mappings"):
        load_dataset(write(tmp_path / "y.yaml", "a: 1"))
    with pytest.raises(DatasetError, match="has no id column 'id'"):
        load_dataset(write(tmp_path / "z.jsonl", '{"t": 1}\n'), id_column="id")


def test_shipped_datasets_are_big_enough(repo: Path) -> None:
    pairs = [
        ("sentiment.jsonl", "sentiment_pool.jsonl", "label"),
        ("intent.jsonl", "intent_pool.jsonl", "intent"),
        ("ratings.csv", "ratings_pool.yaml", "stars"),
    ]
    for rows, pool, label in pairs:
        data = load_dataset(repo / "datasets" / rows, id_column="id")
        examples = load_dataset(repo / "datasets" / pool, id_column="id")
        assert len(data) >= 40
        assert len(examples) >= 10
        data.require_columns([label], needed_by="test")
        assert not {r.id for r in data} & {r.id for r in examples}


def test_intent_pool_is_big_enough_to_learn_from(repo: Path) -> None:
    rows = load_dataset(repo / "datasets" / "intent.jsonl", id_column="id")
    pool = load_dataset(repo / "datasets" / "intent_pool.jsonl", id_column="id")
    counts = Counter(str(r.data["intent"]) for r in pool)
    assert len(pool) >= 200
    assert set(counts) == {str(r.data["intent"]) for r in rows}
    assert len(set(counts.values())) == 1  # balanced: every intent has as many rows

    def text(row: Row) -> str:  # the overlap guard's normal form (define/shots.py)
        return " ".join(str(row.data["message"]).lower().split())

    assert not {text(r) for r in pool} & {text(r) for r in rows}
    assert len({text(r) for r in pool}) == len(pool)  # no example written twice
