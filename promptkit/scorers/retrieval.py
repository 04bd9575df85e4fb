"""``retrieval_recall``: the share of a row's gold passages that retrieval found.

    scorers:
      - retrieval_recall: {gold: gold_ids}

``gold`` names a dataset column holding the ids of the passages that answer the row:
a list, or one string of comma-separated ids. A row without gold ids is skipped (it
counts in no mean), and so is every row of a variant that retrieved nothing
(docs=0): recall is not defined there, and a gate on it judges the variants that
retrieve. A gold id the collection does not hold is a typo, refused when the
suite loads, since it would lower recall silently.
"""

from __future__ import annotations

from typing import Any

from promptkit.define.datasets import Dataset, Row
from promptkit.errors import DatasetError, SuiteError
from promptkit.scorers.base import Case, Score, ScorerSetup, scorer_factory

__all__ = ["RetrievalRecall", "gold_ids"]


def gold_ids(value: Any) -> tuple[str, ...] | None:
    """The ids a gold cell holds, in order; None for a cell that is not a list of ids."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and all(_is_id(v) for v in value):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


class RetrievalRecall:
    def __init__(self, column: str, known: frozenset[str]) -> None:
        self.column, self.known = column, known

    def check_rows(self, dataset: Dataset) -> None:
        """Refuse, when the suite loads, a gold column no row has, a cell that is not a
        list of ids, and an id the collection does not hold."""
        if not any(self.column in row.data for row in dataset):
            raise DatasetError(
                f"no row has the gold passage column {self.column!r} (needed by retrieval_recall)",
                path=dataset.path,
                hint=f"fix 'gold:' or add the column; the rows have: {', '.join(dataset.columns)}",
            )
        for row in dataset:
            self._check_row(row, dataset.path)

    def _check_row(self, row: Row, path: str) -> None:
        ids = gold_ids(row.data.get(self.column))
        if ids is None:
            raise DatasetError(
                f"row {row.id!r}: {self.column!r} is not a list of passage ids",
                path=path,
                line=row.line,
                hint='write a list ["p1", "p2"] or one string "p1, p2"',
            )
        unknown = [i for i in ids if i not in self.known]
        if unknown:
            raise DatasetError(
                f"row {row.id!r}: gold passage {unknown[0]!r} is not in the collection",
                path=path,
                line=row.line,
                hint="fix the id, or add the passage to the retrieval documents",
            )

    def __call__(self, case: Case) -> Score:
        gold = tuple(dict.fromkeys(gold_ids(case.row.get(self.column)) or ()))  # each id once
        if not gold:
            return Score(0.0, explanation="no gold passage ids on this row", skipped=True)
        if not case.retrieved_ids:  # docs=0, an ensemble: no retrieval to judge
            return Score(0.0, explanation="no passages were retrieved (docs=0)", skipped=True)
        found = [g for g in gold if g in case.retrieved_ids]
        missed = [g for g in gold if g not in case.retrieved_ids]
        why = f"found {len(found)} of {len(gold)} gold passages"
        why += f"; missed {', '.join(missed)}" if missed else ""
        return Score(len(found) / len(gold), explanation=why)


@scorer_factory("retrieval_recall")
def retrieval_recall(setup: ScorerSetup, gold: str) -> RetrievalRecall:
    if not isinstance(gold, str) or not gold.strip():
        raise SuiteError(
            "scorer 'retrieval_recall': 'gold' must name a dataset column",
            hint="write '- retrieval_recall: {gold: COLUMN}'",
        )
    if setup.document_ids is None:
        raise SuiteError(
            "scorer 'retrieval_recall' needs the suite's retrieval",
            hint="add 'retrieval: {documents: PATH, k: [0, 2, 4]}' to the suite",
        )
    return RetrievalRecall(gold, setup.document_ids)
