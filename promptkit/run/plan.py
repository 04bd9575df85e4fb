"""From a suite to the requests a model receives: rows x variants x repeats.

Rendering happens here, lazily, so a 100,000-case run never holds every
rendered prompt at once; each variant's first row is rendered up front by
:func:`check_renders` so a template error stops the run before any model call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptkit.define.datasets import Row
from promptkit.define.prompts import Message
from promptkit.define.retrieval import Retrieved
from promptkit.define.shots import ShotSelector
from promptkit.providers.base import Request, estimate_text_tokens
from promptkit.run.retrieval import Retriever
from promptkit.run.shards import Shard
from promptkit.suite import Suite, Variant

__all__ = ["CasePlan", "Planner", "estimate_tokens"]

#: Tokens of chat framing (role markers, separators) counted per message.
_FRAMING_TOKENS = 4


def estimate_tokens(messages: Sequence[Message]) -> int:
    """The text estimate (about four characters a token), plus chat framing per message.

    Used for the many-shot token budget and for dry-run estimates; real counts
    come back from the provider with each completion.
    """
    return sum(estimate_text_tokens(m.content) + _FRAMING_TOKENS for m in messages)


@dataclass(frozen=True)
class CasePlan:
    variant: Variant
    row: Row
    repeat: int
    request: Request
    shot_ids: tuple[str, ...]
    #: The row's place among the rows the whole (unsharded) run asks.
    position: int = 0
    #: The passages retrieved for the row, best first (retrieval suites only).
    retrieved_ids: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.variant.id, self.row.id, self.repeat)


class Planner:
    """Renders the cases of one suite."""

    def __init__(
        self, suite: Suite, *, limit: int | None = None, shard: Shard | None = None
    ) -> None:
        self.suite = suite
        rows = suite.dataset.rows
        limit = limit or suite.limit
        rows = rows[:limit] if limit else rows
        self.unsharded = len(rows)
        # A shard splits the rows the whole run would ask, after the limit.
        self.sharded = shard is not None
        self.rows = [r for r in rows if shard.holds(r.id)] if shard else rows
        self.positions = {r.id: i for i, r in enumerate(rows)} if shard else {}
        self.selector = None
        if suite.pool is not None:
            self.selector = ShotSelector(
                suite.pool,
                suite.shot_settings,
                input_columns=list(suite.inputs.values()),
                label_column=suite.reference,
                exclude=suite.dataset.rows,  # all rows, not only the limited ones
            )
        self.retriever = None
        if suite.retrieval is not None:
            self.retriever = Retriever(suite.retrieval, list(suite.inputs.values()))

    def variables(self, row: Row) -> dict[str, Any]:
        return {var: row.data[col] for var, col in self.suite.inputs.items()}

    def example(self, row: Row) -> dict[str, Any]:
        """An example as the template sees it: input variables, columns, and ``answer``."""
        answer = row.data.get(self.suite.reference) if self.suite.reference else None
        return {**row.data, **self.variables(row), "answer": answer}

    def passages(self, variant: Variant, row: Row) -> list[Retrieved] | None:
        """The row's passages for this variant; None when the suite retrieves nothing."""
        if self.retriever is None or variant.docs is None:
            return None
        return self.retriever.retrieve(row, variant.docs)

    def render(
        self, variant: Variant, row: Row, passages: Sequence[Retrieved] | None = None
    ) -> tuple[list[Message], list[Row]]:
        self._check_inputs(variant)
        variables = self.variables(row)
        documents = None if passages is None else [p.context() for p in passages]
        if self.selector is None or variant.shots == 0:
            return variant.prompt.render(variables, documents=documents), []
        budget = self.suite.shot_settings.token_budget

        def render(examples: Sequence[Row]) -> list[Message]:
            chosen = [self.example(e) for e in examples]
            return variant.prompt.render(variables, chosen, documents=documents)

        def fits(examples: Sequence[Row]) -> bool:
            return budget is None or estimate_tokens(render(examples)) <= budget

        shots = self.selector.select(row, variant.shots, fits)
        return render(shots), shots

    def _check_inputs(self, variant: Variant) -> None:
        """A declared input the suite does not map: the fix is in the suite (or the prompt)."""
        prompt = variant.prompt
        unmapped = [name for name in prompt.meta.inputs if name not in self.suite.inputs]
        if unmapped:
            name = unmapped[0]
            raise self.suite.where("inputs").fail(
                f"{prompt.ref} declares input {name!r}, which the suite's inputs do not map",
                f"add {name!r} to inputs if the dataset has that column, map it "
                f"({{{name}: COLUMN}}), or drop it from {prompt.ref}'s front matter inputs",
            )

    def params(self, variant: Variant) -> dict[str, Any]:
        model_params = variant.model.options.get("params") or {}
        return {**variant.prompt.meta.params, **self.suite.params, **model_params}

    def request(self, variant: Variant, messages: Sequence[Message], repeat: int) -> Request:
        options: Mapping[str, Any] = variant.model.options
        return Request(
            model=variant.model.name,
            messages=tuple(messages),
            params=self.params(variant),
            seed=self.suite.seed,
            repeat=repeat,
            api_base=options.get("api_base"),
        )

    def check_renders(self) -> None:
        """Render the first row of every variant so template errors surface before calls."""
        if self.rows:
            for variant in self.suite.variants():
                self.render(variant, self.rows[0], self.passages(variant, self.rows[0]))

    def cases(self) -> Iterator[CasePlan]:
        for variant in self.suite.variants():
            for row in self.rows:
                passages = self.passages(variant, row)
                messages, shots = self.render(variant, row, passages)
                for repeat in range(self.suite.repeat):
                    yield CasePlan(
                        variant=variant,
                        row=row,
                        repeat=repeat,
                        request=self.request(variant, messages, repeat),
                        shot_ids=tuple(s.id for s in shots),
                        position=self.positions.get(row.id, 0),
                        retrieved_ids=tuple(p.id for p in passages or ()),
                    )

    def count(self) -> int:
        return len(self.suite.variants()) * len(self.rows) * self.suite.repeat
