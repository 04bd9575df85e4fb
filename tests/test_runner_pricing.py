"""Prices: the suite's override, the provider's report, litellm's offline map."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from promptkit import SuiteError, load_suite
from promptkit.run.pricing import PriceBook, litellm_price_map
from tests.test_suite import BASE, make_project


def test_the_suites_price_beats_the_providers_report() -> None:
    book = PriceBook({"oai/mine": {"input_per_1m": 2.0, "output_per_1m": 10.0}})
    assert book.cost("oai/mine", 1000, 100, reported=0.5) == pytest.approx(0.003)
    assert book.cost("openai/gpt-4o-mini", 10, 10, reported=0.25) == 0.25


def test_litellm_map_prices_the_lean_path_without_importing_litellm() -> None:
    entry = litellm_price_map()["gpt-4o-mini"]
    expected = 1000 * entry["input_cost_per_token"] + 50 * entry["output_cost_per_token"]
    assert PriceBook().cost("oai/gpt-4o-mini", 1000, 50, reported=None) == pytest.approx(expected)
    code = (
        "import sys; from promptkit.run.pricing import PriceBook\n"
        "assert PriceBook().price('oai/gpt-4o-mini') is not None\n"
        "print('litellm' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_local_models_are_free_and_unknown_models_unpriced() -> None:
    book = PriceBook()
    assert book.cost("local/smollm2", 500, 20, reported=None) == 0.0
    assert book.cost("mock/echo", 500, 20, reported=None) == 0.0
    assert book.price("oai/no-such-model-anywhere") is None
    assert book.cost("oai/no-such-model-anywhere", 500, 20, reported=None) is None


def test_suite_prices_are_validated(tmp_path: Path) -> None:
    root = tmp_path
    good = BASE + "prices: {mock/echo: {input_per_1m: 0.5, output_per_1m: 1}}\n"
    assert load_suite(make_project(root, good)).prices == {
        "mock/echo": {"input_per_1m": 0.5, "output_per_1m": 1}
    }
    for bad in ("{mock/echo: {input: 1}}", "{mock/echo: {input_per_1m: -1}}", "[1, 2]"):
        with pytest.raises(
            SuiteError,
            match=r"bad price for|'prices[^']*' must be|unknown key 'prices\.mock/echo\.input'",
        ):
            load_suite(make_project(root, BASE + f"prices: {bad}\n"))
