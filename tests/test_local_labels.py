"""Likelihood scoring of labels on ``local/`` (llama.cpp logits), checked against an
independent computation with every position's logits kept (``logits_all``)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from promptkit import (
    Message,
    ProviderConfigError,
    Request,
    RunOptions,
    evaluate,
    get_provider,
    load_run,
)
from tests.conftest import CliResult, needs_local_model, write

pytestmark = [pytest.mark.slow, needs_local_model]

MESSAGES = (
    Message("system", "Classify the review as positive or negative."),
    Message("user", "The kettle leaked on day one and support never answered."),
)


def _reference_log_likelihood(tokens: list[int], label: str) -> float:
    """The label's summed log-probability, read from a second model that keeps every
    position's logits: one forward pass over prompt + label."""
    import numpy as np
    from llama_cpp import Llama

    from promptkit.providers.local import smollm2_path

    llm = Llama(model_path=str(smollm2_path()), n_ctx=1024, logits_all=True, verbose=False)
    ids = llm.tokenize(label.encode(), add_bos=False, special=False)
    llm.eval(tokens + ids)
    total = 0.0
    for offset, token in enumerate(ids):
        logits = np.asarray(llm.scores[len(tokens) - 1 + offset], dtype=np.float64)
        top = logits.max()
        total += float(logits[token] - top - math.log(np.exp(logits - top).sum()))
    return total


def test_label_log_likelihoods_match_a_full_forward_pass() -> None:
    from promptkit.providers.local import _load, prompt_tokens, smollm2_path
    from promptkit.providers.local_labels import label_log_likelihoods

    llm = _load(smollm2_path(), 4096, None)
    tokens = prompt_tokens(llm, list(MESSAGES))
    labels = ["positive", "negative", "mixed feelings"]  # one label of several tokens
    scores = label_log_likelihoods(llm, tokens, labels)
    for label, score in zip(labels, scores, strict=True):
        assert score < 0
        assert score == pytest.approx(_reference_log_likelihood(tokens, label), abs=1e-3)
    # scoring leaves the model clean: generation afterwards is what it was before
    again = label_log_likelihoods(llm, tokens, labels)
    assert again == pytest.approx(scores, abs=1e-6)


def test_score_labels_answers_with_the_most_likely_label() -> None:
    provider = get_provider("local/smollm2", {"score_labels": ["positive", "negative"]})
    request = Request(model="local/smollm2", messages=MESSAGES, params={"max_tokens": 8})
    completion = asyncio.run(provider.complete(request))
    probs = completion.label_probs
    assert probs is not None and set(probs) == {"positive", "negative"}
    assert sum(probs.values()) == pytest.approx(1.0)
    assert completion.text == max(probs, key=probs.__getitem__)
    assert completion.finish_reason == "label_scoring" and completion.completion_tokens == 0


@pytest.mark.parametrize(
    ("labels", "message"), [(["only"], "at least two labels"), (["a", "a"], "repeats a label")]
)
def test_bad_score_labels_are_refused(labels: list[str], message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        get_provider("local/smollm2", {"score_labels": labels})


def test_a_suite_scores_labels_on_the_embedded_model(
    repo: Path, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    suite = write(
        tmp_path / "labels.yaml",
        f"""
dataset: {{path: {repo / "datasets" / "sentiment.jsonl"}, id: id}}
inputs: [text]
reference: label
prompts: [sentiment@v2]
prompts_dir: {repo / "prompts"}
models:
  - {{name: local/smollm2, score_labels: [positive, negative]}}
scorers: [label_accuracy]
""",
    )
    result = evaluate(suite, RunOptions(limit=4, cache=False))
    assert result.errors == 0
    frame = load_run(result.run_id)
    assert (frame["finish_reason"] == "label_scoring").all()
    code, out, _ = cli("eval", str(suite), "--limit", "2")
    assert code == 0 and "label scoring (no text generated): local/smollm2" in out
    assert "answer tokens/s" not in out  # nothing was generated, so there is no speed
    assert all(
        row["output"] == max(row["label_probs"], key=row["label_probs"].get)
        for _, row in frame.iterrows()
    )
