"""The on-disk response cache: one SQLite file, safe for several runs at once.

The key is a SHA-256 over everything that can change an answer: the model name
(its prefix names the provider), the endpoint (``api_base``), the full message
list, every parameter, the seed and the repeat index. A hit returns the
completion exactly as it was first received, latency and cost included, marked
``cached=True``; only successful completions are stored.

SQLite runs in WAL mode: readers never block, writers queue on a busy timeout,
and a process killed at any moment leaves the file consistent (a transaction
either committed or not). Two runs sharing one cache therefore both finish, and
the cache stays readable. Writes are grouped into one short transaction per
``batch`` answers or ``flush_s`` seconds, which costs a quarter of a commit per
answer; a kill forgets at most that batch, which the run journal holds anyway.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptkit.errors import BadInput
from promptkit.providers.base import Completion, Request, ToolCall

__all__ = ["ResponseCache", "cache_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    completion TEXT NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID
"""
_KEY_VERSION = 1  # bump when the key's recipe changes, so old entries stop matching


def cache_key(
    request: Request, api_base: str | None = None, wire: Mapping[str, Any] | None = None
) -> str:
    """The cache key of ``request`` sent to ``api_base`` (the request's own wins);
    ``wire``: provider options that change what is sent (``Provider.wire_options``)."""
    recipe: dict[str, Any] = {
        "v": _KEY_VERSION,
        "model": request.model,
        "api_base": request.api_base or api_base,
        "messages": [[m.role, m.content] for m in request.messages],
        "params": dict(request.params),
        "seed": request.seed,
        "repeat": request.repeat,
    }
    if wire:  # only when set, so every other key stays what it was
        recipe["wire"] = dict(wire)
    canonical = json.dumps(
        recipe, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Completions by cache key, in one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_s: float = 60.0,
        batch: int = 32,
        flush_s: float = 0.25,
    ) -> None:
        self.path = Path(path)
        self.batch, self.flush_s = batch, flush_s
        self._pending: dict[str, tuple[str, str, float]] = {}
        self._oldest_pending = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every put is its own short transaction, so a kill loses at most it.
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._use_wal(busy_timeout_s)
        # NORMAL in WAL mode: commits survive a killed process; only power loss may
        # drop the last ones, and a cache may forget.
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(_SCHEMA)

    def _use_wal(self, busy_timeout_s: float) -> None:
        """Switch the file to WAL. Two processes opening a new cache at once may both try;
        SQLite answers the loser "database is locked" without waiting (its busy handler
        does not cover this switch), so wait and retry, within the busy timeout."""
        deadline = time.monotonic() + busy_timeout_s
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get(self, key: str) -> Completion | None:
        if key in self._pending:
            text = self._pending[key][1]
        else:
            row = self._db.execute(
                "SELECT completion FROM responses WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            text = row[0]
        data: dict[str, Any] = json.loads(text)
        calls = tuple(ToolCall.from_dict(call) for call in data.pop("tool_calls", ()))
        return Completion(**data, tool_calls=calls, cached=True)

    def put(self, key: str, model: str, completion: Completion) -> None:
        data = {
            "text": completion.text,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "latency_s": completion.latency_s,
            "cost": completion.cost,
            "finish_reason": completion.finish_reason,
        }
        if completion.label_probs is not None:  # hf/ likelihood scoring
            data["label_probs"] = completion.label_probs
        if completion.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in completion.tool_calls]
        for name in ("reported_model", "system_fingerprint"):  # drift checks read them back
            if getattr(completion, name) is not None:
                data[name] = getattr(completion, name)
        now = time.time()
        if not self._pending:
            self._oldest_pending = now
        self._pending[key] = (model, json.dumps(data, ensure_ascii=False), now)
        if len(self._pending) >= self.batch or now - self._oldest_pending >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        """Write pending answers in one transaction."""
        if not self._pending:
            return
        rows = [(key, *entry) for key, entry in self._pending.items()]
        with self._db:  # BEGIN ... COMMIT, or ROLLBACK on error
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR REPLACE INTO responses (key, model, completion, created) "
                "VALUES (?,?,?,?)",
                rows,
            )
        self._pending.clear()

    def absorb(self, other: str | Path) -> int:
        """Add the answers of another cache file (a shard's, say); entries here win.
        Returns how many were added. The same file is not read into itself."""
        other = Path(other)
        if other.resolve() == self.path.resolve():
            return 0
        self.flush()
        before = len(self)
        # Read-only: a shard's cache file is never changed by merging it.
        source = sqlite3.connect(f"{other.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return self._copy_from(source, before)
        except sqlite3.DatabaseError as exc:
            raise BadInput(
                f"cannot read the response cache {other}: {exc}",
                path=other,
                hint="leave it out (--no-cache) or replace the file",
            ) from None
        finally:
            source.close()

    def _copy_from(self, source: sqlite3.Connection, before: int) -> int:
        rows = source.execute("SELECT key, model, completion, created FROM responses")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR IGNORE INTO responses (key, model, completion, created) "
                "VALUES (?,?,?,?)",
                rows,
            )
        return len(self) - before

    def __len__(self) -> int:
        self.flush()
        return int(self._db.execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        self.flush()
        self._db.close()
