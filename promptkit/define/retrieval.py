"""Retrieval-augmented prompts: a document collection, ranked per row, swept over k.

A suite names the collection and the passage counts to measure::

    retrieval:
      documents: handbook.jsonl   # JSONL or CSV rows of id, text (and title); or a
                                  # folder of .md files (id: the file's path, no suffix)
      k: [0, 2, 4]                # each count is its own variant: "... | docs=2"
      by: question                # the columns that make the query (default: the inputs)
      method: bm25                # or embedding: all-MiniLM (the similarity extra)

The template reads ``documents``: the top k passages, best first, each a mapping of
``id``, ``text``, ``score`` and ``title`` (``None`` when the collection has none).
Passages are data like any input: they are placed inside a message block and can
never open a new one. Ranking is deterministic: equal scores keep collection order.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.define.datasets import load_dataset
from promptkit.define.files import is_dir, is_file, read_text
from promptkit.define.validate import (
    Where,
    choice,
    known_keys,
    non_negative_int,
    string,
    string_list,
)
from promptkit.errors import DatasetError

__all__ = [
    "BM25",
    "METHODS",
    "RETRIEVAL_KEYS",
    "Document",
    "RetrievalSpec",
    "Retrieved",
    "docs_part",
    "docs_suffix",
    "read_documents",
    "read_retrieval",
    "tokens",
    "top_k",
]

METHODS = ("bm25", "embedding")
RETRIEVAL_KEYS = ("documents", "k", "by", "method")
#: Past this a passage count is a typo: no context holds a thousand retrieved passages.
MAX_DOCS = 1_000
_WORD = re.compile(r"\w+")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)
_DOCS_PART = re.compile(r" \| docs=\d+$")


def docs_suffix(docs: int | None) -> str:
    """How a variant id ends when its suite retrieves passages: `` | docs=2``."""
    return "" if docs is None else f" | docs={docs}"


def docs_part(variant_id: str) -> str:
    """The :func:`docs_suffix` of a variant id; empty for a suite without retrieval."""
    match = _DOCS_PART.search(variant_id)
    return match.group(0) if match else ""


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, the unit BM25 counts."""
    return _WORD.findall(text.lower())


class BM25:
    """Okapi BM25 over a small collection; a few dozen lines beat a dependency here."""

    def __init__(self, documents: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [Counter(tokens(d)) for d in documents]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg_length = (sum(self.lengths) / len(self.lengths)) if self.docs else 0.0
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(self.docs)
        # the "+1" form of idf (Lucene's): never negative, so a common word never hurts
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query: str) -> list[float]:
        """One score per document, in collection order."""
        terms = tokens(query)
        result = []
        for doc, length in zip(self.docs, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / (self.avg_length or 1))
            score = 0.0
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    score += self.idf[term] * tf * (self.k1 + 1) / (tf + norm)
            result.append(score)
        return result


def top_k(scores: Sequence[float], k: int) -> list[tuple[int, float]]:
    """The ``k`` best (index, score) pairs, best first; ties keep collection order."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [(i, float(scores[i])) for i in order[:k]]


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    title: str | None = None

    @property
    def searchable(self) -> str:
        """What the ranking reads: the title, when there is one, and the text."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class Retrieved:
    """One passage retrieved for one row, as the template sees it."""

    id: str
    text: str
    score: float
    title: str | None = None

    def context(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "score": self.score, "title": self.title}


@dataclass(frozen=True)
class RetrievalSpec:
    """A suite's ``retrieval`` key, its collection read."""

    path: str
    documents: tuple[Document, ...]
    counts: tuple[int, ...]
    by: tuple[str, ...]  # empty: the suite's input columns
    method: str = "bm25"

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(d.id for d in self.documents)


def read_retrieval(value: Any, where: Where, resolve: Callable[[str], Path]) -> RetrievalSpec:
    """The ``retrieval`` key as written; ``resolve`` makes a suite-relative path absolute."""
    if not isinstance(value, dict):
        raise where.expected("a mapping {documents, k, by, method}", value)
    known_keys(value, RETRIEVAL_KEYS, where, what="retrieval key")
    if "documents" not in value:
        raise where.fail("retrieval needs 'documents'", "documents: a JSONL/CSV file or a folder")
    path = resolve(string(value["documents"], where.at("documents"), what="a path"))
    by = value.get("by")
    documents = read_documents(path)
    counts = _counts(value.get("k", [0, 2]), where.at("k"))
    if max(counts) > len(documents):  # docs=100 would send 30 and be labelled 100
        raise where.at("k").fail(
            f"k={max(counts)} asks for more passages than the {len(documents)} in {path}",
            f"use counts up to {len(documents)}",
        )
    return RetrievalSpec(
        path=str(path),
        documents=documents,
        counts=counts,
        by=tuple(string_list(by, where.at("by"), what="column names")) if by else (),
        method=choice(value.get("method", "bm25"), METHODS, where.at("method")),
    )


def _counts(value: Any, where: Where) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise where.fail("no passage count given", "e.g. k: [0, 2, 4]")
    counts: list[int] = []
    for index, k in enumerate(values):
        place = where.at(index) if isinstance(value, list) else where
        count = non_negative_int(k, place, cap=MAX_DOCS, hint="use integers, e.g. k: [0, 2, 4]")
        if count in counts:
            raise place.fail(f"passage count {k!r} is listed twice", "list each count once")
        counts.append(count)
    return tuple(counts)


def read_documents(path: str | Path) -> tuple[Document, ...]:
    """A collection: a JSONL or CSV file with ``id`` and ``text`` (``title`` optional),
    or a folder of Markdown files, each one passage titled by its first ``#`` heading."""
    path = Path(path)
    if is_dir(path):
        documents = _markdown_folder(path)
    elif is_file(path):
        documents = _table(path)
    else:
        raise DatasetError("document collection not found", path=path, hint="check the path")
    if not documents:
        raise DatasetError("the document collection is empty", path=path, hint="add passages")
    return documents


def _table(path: Path) -> tuple[Document, ...]:
    if path.suffix.lower() not in (".jsonl", ".csv"):
        raise DatasetError(
            f"unsupported document format {path.suffix!r}",
            path=path,
            hint="use .jsonl or .csv rows of id and text, or a folder of .md files",
        )
    dataset = load_dataset(path, id_column="id")
    dataset.require_columns(["text"], needed_by="retrieval")
    documents = []
    for row in dataset:
        text, title = row.data["text"], row.data.get("title")
        if not isinstance(text, str) or not text.strip():
            what = "no text" if isinstance(text, str) else "a text that is not a string"
            raise DatasetError(
                f"passage {row.id!r} has {what}", path=path, line=row.line, hint="write its text"
            )
        if title is not None and not isinstance(title, str):
            raise DatasetError(
                f"passage {row.id!r} has a title that is not text",
                path=path,
                line=row.line,
                hint="quote the title, or leave it out",
            )
        documents.append(Document(row.id, text, title or None))
    return tuple(documents)


def _markdown_folder(folder: Path) -> tuple[Document, ...]:
    documents = []
    for file in sorted(folder.rglob("*")):  # sorted: the same order on every machine
        hidden = any(part.startswith(".") for part in file.relative_to(folder).parts)
        if hidden or file.suffix.lower() != ".md" or not file.is_file():
            continue  # .git/, an editor's .notes/, a README.txt: not passages
        text = read_text(file, error=DatasetError, strip_bom=True)
        if not text.strip():
            continue  # an empty note is not a passage
        heading = _HEADING.search(text)
        document_id = file.relative_to(folder).with_suffix("").as_posix()
        documents.append(Document(document_id, text.strip(), heading.group(1) if heading else None))
    return tuple(documents)
