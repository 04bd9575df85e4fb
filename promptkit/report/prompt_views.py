"""The prompts part of the report: each variant's messages rendered again, and diffs.

Rendering uses the template sources stored with the run, the inputs of the
variant's first row and, for few-shot variants, its examples read again from the
example pool the suite names (and its passages, from the suite's retrieval
documents). The pool is read from disk as it is now, so this is
best effort: when the examples cannot be found the page says so and shows the
zero-shot rendering.
"""

from __future__ import annotations

import difflib
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.define.datasets import load_dataset
from promptkit.define.prompts import Message, Prompt
from promptkit.define.retrieval import Document, read_documents
from promptkit.errors import PromptkitError
from promptkit.report.content import RunContent, VariantView
from promptkit.results.store import JournalRow

__all__ = ["PromptDiff", "PromptView", "prompt_diffs", "rendered_prompts"]


@dataclass(frozen=True)
class PromptView:
    """One variant's prompt, rendered again from the stored template source."""

    variant: VariantView
    template: Prompt
    messages: list[Message]
    note: str
    error: str | None = None


def rendered_prompts(content: RunContent) -> list[PromptView]:
    first: dict[str, JournalRow] = {}
    for record in content.journal:
        first.setdefault(str(record.get("variant")), record)
    pool, collection = _pool(content), _collection(content)
    views = []
    for v in content.variants:
        template = content.templates.get(v.summary.prompt)
        if template is None or v.id not in first:
            continue
        views.append(_render(v, template, first[v.id], pool, collection))
    return views


def _collection(content: RunContent) -> dict[str, Document] | str:
    """The suite's retrieval documents read again from disk by id, or why they could not be."""
    spec = content.resolved_suite.get("retrieval")
    if not isinstance(spec, Mapping) or "documents" not in spec:
        return {}
    suite_folder = Path(str(content.meta.get("suite_path", "."))).parent
    path = Path(os.path.normpath(suite_folder / str(spec["documents"])))
    try:
        return {d.id: d for d in read_documents(path)}
    except PromptkitError as exc:
        return str(exc)


def _passages(
    record: JournalRow, collection: dict[str, Document] | str
) -> tuple[list[dict[str, Any]] | None, str]:
    """The passages a case was given, re-read by id (scores are not kept), and a note."""
    if "retrieved_ids" not in record:
        return None, ""
    ids = [str(i) for i in record.get("retrieved_ids") or []]
    if isinstance(collection, str) or any(i not in collection for i in ids):
        why = collection if isinstance(collection, str) else "some are no longer in it"
        return [], f"; its {len(ids)} passages could not be re-read ({why})"
    docs = [collection[i] for i in ids]
    return [{"id": d.id, "text": d.text, "score": None, "title": d.title} for d in docs], (
        f"; {len(ids)} passages re-read from the collection" if ids else ""
    )


@dataclass(frozen=True)
class _Pool:
    """The example pool and how the suite turned a pool row into an example."""

    rows: dict[str, Mapping[str, Any]]
    path: str
    inputs: dict[str, str]  # template variable -> column
    reference: str | None
    error: str | None = None

    def example(self, shot_id: str) -> dict[str, Any]:
        # As Planner.example builds it: the row's columns, the input variables, ``answer``.
        data = self.rows[shot_id]
        variables = {var: data.get(column) for var, column in self.inputs.items()}
        answer = data.get(self.reference) if self.reference else None
        return {**data, **variables, "answer": answer}


def _pool(content: RunContent) -> _Pool:
    """The example pool named by the stored suite, read again from disk (best effort)."""
    suite = content.resolved_suite
    inputs = suite.get("inputs") or []
    inputs = [inputs] if isinstance(inputs, str) else inputs
    mapping = (
        {str(k): str(v) for k, v in inputs.items()}
        if isinstance(inputs, Mapping)
        else {str(c): str(c) for c in inputs}
    )
    reference = suite.get("reference")
    reference = str(reference) if reference is not None else None
    spec = suite.get("examples")
    if spec is None:
        return _Pool({}, "", mapping, reference, "the suite has no example pool")
    spec = {"path": spec} if isinstance(spec, str) else dict(spec)
    suite_folder = Path(str(content.meta.get("suite_path", "."))).parent
    path = Path(os.path.normpath(suite_folder / str(spec.get("path"))))
    try:
        dataset = load_dataset(path, id_column=spec.get("id"))
    except PromptkitError as exc:
        return _Pool({}, str(path), mapping, reference, str(exc))
    return _Pool({row.id: row.data for row in dataset}, str(path), mapping, reference)


def _render(
    variant: VariantView,
    template: Prompt,
    record: JournalRow,
    pool: _Pool,
    collection: dict[str, Document] | str,
) -> PromptView:
    inputs = dict(record.get("input") or {})
    shot_ids = [str(s) for s in record.get("shot_ids") or []]
    missing = [s for s in shot_ids if s not in pool.rows]
    where = f"row {record.get('row_id')}"
    examples = []
    if not shot_ids:
        note = f"{where}, zero-shot"
    elif not missing:
        examples = [pool.example(s) for s in shot_ids]
        note = f"{where} with its {len(shot_ids)} examples, re-read from {pool.path}"
    else:
        reason = pool.error or f"{len(missing)} of them are no longer in {pool.path}"
        note = (
            f"{where} rendered zero-shot: its {len(shot_ids)} examples could not be "
            f"re-read ({reason})"
        )
    documents, said = _passages(record, collection)
    note += said
    try:
        # the journal keeps a conversation as a plain list; the run checked it
        messages = template.render(inputs, examples, documents=documents, raw_conversations=True)
    except PromptkitError as exc:
        return PromptView(variant, template, [], note, error=str(exc))
    return PromptView(variant, template, messages, note)


@dataclass(frozen=True)
class PromptDiff:
    old: str
    new: str
    lines: list[tuple[str, str]]  # (add | del | same | hunk, text)


def prompt_diffs(content: RunContent) -> list[PromptDiff]:
    """Each prompt family's versions in the run, every version against the one before."""
    families: dict[str, list[Prompt]] = {}
    for template in content.templates.values():
        families.setdefault(template.family, []).append(template)
    diffs = []
    for _, versions in sorted(families.items()):
        versions.sort(key=lambda t: t.version)
        for old, new in itertools.pairwise(versions):
            diffs.append(PromptDiff(old.ref, new.ref, _diff_lines(old.source, new.source)))
    return diffs


def _diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3))
    kinds = {"@": "hunk", "+": "add", "-": "del"}
    return [(kinds.get(line[:1], "same"), line) for line in lines[2:]]  # [2:]: file headers
