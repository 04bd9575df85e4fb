"""Every built-in scorer on hand-made cases, including empty, Unicode and very long text."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from promptkit import Case, Completion, Score, SuiteError, scorer
from promptkit.scorers import ScorerSetup, make_scorer, registered_scorers
from tests.conftest import write

LONG = "lorem ipsum dolor sit amet " * 20_000  # 100,000 words, 540,000 characters


def case(
    output: Any = None,
    expected: Any = None,
    raw: str | None = None,
    completion: Completion | None = None,
) -> Case:
    text = raw if raw is not None else ("" if output is None else str(output))
    return Case(output=output, raw=text, expected=expected, row={}, completion=completion)


def score(spec: Any, c: Case, setup: ScorerSetup | None = None) -> Score:
    return asyncio.run(make_scorer(spec, setup=setup)(c))


def run(spec: Any, output: Any, expected: Any = None, raw: str | None = None) -> float:
    return score(spec, case(output, expected, raw)).value


def test_every_family_is_registered() -> None:
    assert set(registered_scorers()) >= {
        "exact_match",
        "contains",
        "regex",
        "rouge_l",
        "chrf",
        "label_accuracy",
        "numeric",
        "json_valid",
        "json_schema",
        "semantic_similarity",
        "llm_judge",
        "pairwise_judge",
        "length",
        "latency",
        "cost",
    }


def test_exact_match_normalises_case_accents_punctuation_space() -> None:
    assert run("exact_match", "  Não é  BOM! ", "nao e bom") == 1.0
    assert run("exact_match", "bom", "ruim") == 0.0
    assert run({"exact_match": {"normalize": False}}, "Bom", "bom") == 0.0
    assert run("exact_match", None, "x", raw="x") == 1.0  # unparsed: falls back to the raw reply
    assert run("exact_match", "", "") == 1.0
    assert run("exact_match", "", "x") == 0.0
    assert run("exact_match", "日本語です。", "日本語です") == 1.0
    assert run("exact_match", LONG, LONG.upper()) == 1.0
    assert run("exact_match", LONG, LONG + "x") == 0.0


def test_contains_any_and_all() -> None:
    spec = {"contains": {"values": ["refund", "reembolso"], "mode": "any"}}
    assert run(spec, None, raw="Quero meu REEMBOLSO") == 1.0
    spec_all = {"contains": {"values": ["refund", "reembolso"], "mode": "all"}}
    assert run(spec_all, None, raw="Quero meu reembolso") == 0.0
    assert run(spec_all, None, raw="refund or reembolso") == 1.0
    assert run("contains", None, expected="positive", raw="It is positive, I think") == 1.0
    assert run("contains", None, expected="ünïcödé", raw="x" * 100_000 + " unicode") == 1.0
    assert run("contains", None, expected="positive", raw="") == 0.0
    assert run("contains", None, expected="", raw="anything") == 0.0  # nothing to find


def test_regex_is_compiled_at_load_and_searches_anywhere() -> None:
    assert run({"regex": {"pattern": r"^\d stars?$"}}, None, raw="4 stars") == 1.0
    assert run({"regex": {"pattern": r"\bstars?\b"}}, None, raw="") == 0.0
    assert run({"regex": {"pattern": r"ação"}}, None, raw="Uma AÇÃO rápida") == 1.0
    assert run({"regex": {"pattern": "amet$"}}, None, raw=LONG.strip()) == 1.0
    with pytest.raises(SuiteError, match=r"scorer 'regex': bad pattern"):
        make_scorer({"regex": {"pattern": "(unclosed"}})
    with pytest.raises(SuiteError, match=r"scorer 'regex': give either the argument 'pattern'"):
        make_scorer("regex")
    with pytest.raises(SuiteError, match=r"scorer 'regex': give either the argument 'pattern'"):
        make_scorer({"regex": {"pattern": "a", "column": "b"}})


def test_label_accuracy_and_numeric() -> None:
    assert run("label_accuracy", "positive", "positive") == 1.0
    assert run("label_accuracy", "Négatif", "negatif") == 1.0
    assert run("label_accuracy", None, "positive", raw="positive-ish") == 0.0
    assert run("label_accuracy", "", "positive") == 0.0
    assert run({"numeric": {"tolerance": 1}}, "4", 5) == 1.0
    assert run({"numeric": {"tolerance": 1}}, "2", 5) == 0.0
    assert run({"numeric": {"tolerance": 0.1, "relative": True}}, "105", 100) == 1.0
    assert run({"numeric": {"tolerance": 0.01}}, "cerca de 3,14", "3.14159") == 1.0
    assert run("numeric", "none", 5) == 0.0
    assert run("numeric", "", 5) == 0.0
    assert run("numeric", LONG + " 5", 5) == 1.0


def test_rouge_l_matches_hand_computed_lcs() -> None:
    # LCS of "the cat sat on the mat" / "the cat is on the mat" is 5 words of 6 each.
    result = score("rouge_l", case("the cat sat on the mat", "the cat is on the mat"))
    assert result.value == pytest.approx(5 / 6)
    assert run("rouge_l", "", "") == 1.0
    assert run("rouge_l", "", "the reference") == 0.0
    assert run("rouge_l", "anything", "") == 0.0
    # Unicode words survive tokenization (rouge-score's own tokenizer drops them).
    assert run("rouge_l", "Não é bom", "nao e bom") == 1.0
    assert run("rouge_l", "Привет мир", "привет мир") == 1.0
    long = score("rouge_l", case(LONG, LONG))
    assert long.value == 1.0 and "cut to 2000 tokens" in (long.explanation or "")


def test_chrf_against_sacrebleu_values() -> None:
    assert run("chrf", "the cat sat on the mat", "the cat sat on the mat") == 1.0
    partial = run("chrf", "the cat sat on the mat", "the cat is on the mat")
    assert 0.5 < partial < 1.0
    assert run("chrf", "", "") == 1.0
    assert run("chrf", "", "reference") == 0.0
    assert run("chrf", "日本語のテキスト", "日本語のテキスト") == 1.0
    assert run({"chrf": {"word_order": 2}}, "the cat", "the cat") == 1.0
    assert 0.0 < run("chrf", LONG, "lorem ipsum") < 0.1  # tiny recall of a long reference


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "stars": {"type": "integer", "maximum": 5}},
    "required": ["name", "stars"],
}


def test_json_valid_strict_and_embedded() -> None:
    assert run("json_valid", None, raw='{"a": 1}') == 1.0
    assert run("json_valid", None, raw='Sure! ```json\n{"a": "ção"}\n```') == 1.0
    assert run({"json_valid": {"strict": True}}, None, raw='Sure! {"a": 1}') == 0.0
    assert run("json_valid", None, raw="") == 0.0
    assert run("json_valid", {"already": "parsed"}, raw="ignored") == 1.0
    big = json.dumps({"items": ["ünïcödé"] * 50_000})
    assert run({"json_valid": {"strict": True}}, None, raw=big) == 1.0
    explained = score({"json_valid": {"strict": True}}, case(None, raw="{oops"))
    assert explained.value == 0.0 and "line 1" in (explained.explanation or "")


def test_json_schema_inline_and_from_file(tmp_path: Path) -> None:
    spec = {"json_schema": {"schema": SCHEMA}}
    assert run(spec, None, raw='{"name": "Café", "stars": 4}') == 1.0
    failed = score(spec, case(None, raw='{"name": "x", "stars": 9}'))
    assert failed.value == 0.0 and "$.stars" in (failed.explanation or "")
    assert run(spec, None, raw='{"stars": 2}') == 0.0
    assert run(spec, None, raw="") == 0.0
    write(tmp_path / "evals" / "schema.json", json.dumps(SCHEMA))
    setup = ScorerSetup(suite_path=tmp_path / "evals" / "s.yaml")
    from_file = {"json_schema": {"schema": "schema.json"}}
    assert score(from_file, case(None, raw='{"name": "a", "stars": 1}'), setup).value == 1.0
    with pytest.raises(SuiteError, match="cannot read schema file"):
        make_scorer({"json_schema": {"schema": "missing.json"}}, setup=setup)
    with pytest.raises(SuiteError, match="invalid schema"):
        make_scorer({"json_schema": {"schema": {"type": "no-such-type"}}})


def test_length_bounds_in_chars_words_and_tokens() -> None:
    assert run({"length": {"max": 5}}, None, raw="short") == 1.0
    assert run({"length": {"max": 5}}, None, raw="longer") == 0.0
    assert run({"length": {"min": 1}}, None, raw="") == 0.0
    assert run({"length": {"max": 3, "unit": "words"}}, None, raw="três palavras só") == 1.0
    assert run({"length": {"max": 1000, "unit": "words"}}, None, raw=LONG) == 0.0
    tokens = case(raw="x", completion=Completion(text="x", completion_tokens=12))
    assert score({"length": {"max": 10, "unit": "tokens"}}, tokens).value == 0.0
    with pytest.raises(SuiteError, match="give 'min', 'max' or both"):
        make_scorer("length")
    with pytest.raises(SuiteError, match="unit must be one of"):
        make_scorer({"length": {"max": 1, "unit": "bytes"}})


def test_latency_and_cost_bounds() -> None:
    quick = case(raw="x", completion=Completion(text="x", latency_s=0.2, cost=0.001))
    slow = case(raw="x", completion=Completion(text="x", latency_s=2.5, cost=None))
    assert score({"latency": {"max_ms": 1000}}, quick).value == 1.0
    assert score({"latency": {"max_ms": 1000}}, slow).value == 0.0
    assert score({"cost": {"max": 0.002}}, quick).value == 1.0
    assert score({"cost": {"max": 0.0005}}, quick).value == 0.0
    unpriced = score({"cost": {"max": 1.0}}, slow)
    assert unpriced.value == 0.0 and "no cost" in (unpriced.explanation or "")


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
