from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptkit import Case, Score, SuiteError, scorer
from promptkit.scorers import make_scorer


def run(spec: Any, output: Any, expected: Any = None, raw: str | None = None) -> float:
    case = Case(
        output=output, raw=raw if raw is not None else str(output or ""), expected=expected, row={}
    )
    return asyncio.run(make_scorer(spec)(case)).value


def test_exact_match_normalises_case_accents_punctuation_space() -> None:
    assert run("exact_match", "  Não é  BOM! ", "nao e bom") == 1.0
    assert run("exact_match", "bom", "ruim") == 0.0
    assert run({"exact_match": {"normalize": False}}, "Bom", "bom") == 0.0
    assert run("exact_match", None, "x", raw="x") == 1.0  # unparsed: falls back to the raw reply
    assert run("exact_match", "", "") == 1.0


def test_contains_any_and_all() -> None:
    spec = {"contains": {"values": ["refund", "reembolso"], "mode": "any"}}
    assert run(spec, None, raw="Quero meu REEMBOLSO") == 1.0
    spec_all = {"contains": {"values": ["refund", "reembolso"], "mode": "all"}}
    assert run(spec_all, None, raw="Quero meu reembolso") == 0.0
    assert run("contains", None, expected="positive", raw="It is positive, I think") == 1.0
    assert run("contains", None, expected="ünïcödé", raw="x" * 100_000 + " unicode") == 1.0


def test_regex_and_label_accuracy_and_numeric() -> None:
    assert run({"regex": {"pattern": r"^\d stars?$"}}, None, raw="4 stars") == 1.0
    assert run("label_accuracy", "positive", "positive") == 1.0
    assert run("label_accuracy", None, "positive", raw="positive-ish") == 0.0
    assert run({"numeric": {"tolerance": 1}}, "4", 5) == 1.0
    assert run({"numeric": {"tolerance": 1}}, "2", 5) == 0.0
    assert run({"numeric": {"tolerance": 0.1, "relative": True}}, "105", 100) == 1.0
    assert run("numeric", "none", 5) == 0.0


def test_custom_scorer_registers_and_may_be_async() -> None:
    @scorer("length_under")
    async def length_under(case: Case, *, limit: int = 10) -> Score:
        return Score(float(len(case.raw) < limit), label="short")

    assert run({"length_under": {"limit": 3}}, "ab") == 1.0


def test_unknown_scorer_and_argument_are_suite_errors() -> None:
    with pytest.raises(SuiteError, match="unknown scorer 'exactmatch'"):
        make_scorer("exactmatch")
    with pytest.raises(
        SuiteError, match=r"scorer 'contains' has no argument 'valeus'.*values, mode, raw"
    ):
        make_scorer({"contains": {"valeus": ["a"]}})
    with pytest.raises(SuiteError, match="must be a mapping"):
        make_scorer({"contains": "values=a,b"})


def test_metric_rename() -> None:
    assert make_scorer({"numeric": {"tolerance": 1, "metric": "within_one"}}).metric == "within_one"


def test_out_of_range_score_is_rejected() -> None:
    @scorer("broken")
    def broken(case: Case) -> float:
        return 2.0

    with pytest.raises(ValueError, match="outside"):
        run("broken", "x")
