"""Retrieving a row's passages from the suite's collection (see promptkit.define.retrieval).

A row's ranking is computed once and kept for its largest k, so a sweep over
``k: [0, 2, 4]`` ranks each row once, and each smaller k takes a prefix of the same
ranking: docs=2's passages are always docs=4's first two.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from promptkit.define.datasets import Row
from promptkit.define.retrieval import BM25, RetrievalSpec, Retrieved, top_k

__all__ = ["Retriever"]

Scores = Callable[[str], Sequence[float]]


class Retriever:
    """The top passages for a row, by BM25 or by embedding cosine."""

    def __init__(self, spec: RetrievalSpec, input_columns: Sequence[str]) -> None:
        self.spec = spec
        self.columns = tuple(spec.by or input_columns)
        self.most = max(spec.counts)
        self._scores: Scores | None = None
        self._ranked: dict[str, list[tuple[int, float]]] = {}

    def query(self, row: Row | Mapping[str, object]) -> str:
        data = row.data if isinstance(row, Row) else row
        return " ".join(str(data.get(c, "")) for c in self.columns)

    def retrieve(self, row: Row, k: int) -> list[Retrieved]:
        if k == 0:
            return []
        ranked = self._ranked.get(row.id)
        if ranked is None:
            ranked = top_k(self._scorer()(self.query(row)), self.most)
            self._ranked[row.id] = ranked
        documents = self.spec.documents
        return [
            Retrieved(documents[i].id, documents[i].text, round(score, 4), documents[i].title)
            for i, score in ranked[:k]
        ]

    def _scorer(self) -> Scores:
        if self._scores is None:
            texts = [d.searchable for d in self.spec.documents]
            self._scores = (
                _embedding_scores(texts)
                if self.spec.method == "embedding"
                else (BM25(texts).scores)
            )
        return self._scores


def _embedding_scores(texts: list[str]) -> Scores:
    """Cosine between the query and each passage: all-MiniLM, passages embedded once."""
    from promptkit.scorers.similarity import load_embedder

    embedder = load_embedder(what="retrieval method 'embedding'")
    matrix = embedder.encode(texts)

    def scores(query: str) -> Sequence[float]:
        return [float(v) for v in matrix @ embedder.encode([query])[0]]

    return scores
