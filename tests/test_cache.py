"""The SQLite response cache: what its key covers, what a hit returns, and that
concurrent writers and killed writers leave it readable."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from promptkit import Completion, Message, Request
from promptkit.run.cache import ResponseCache, cache_key
from tests.conftest import REPO

BASE = Request(
    model="oai/m",
    messages=(Message("system", "Be brief."), Message("user", "Hi")),
    params={"temperature": 0, "max_tokens": 8},
    seed=1,
    repeat=0,
    api_base="http://a/v1",
)


def test_key_covers_everything_that_changes_an_answer() -> None:
    variants = [
        replace(BASE, model="openai/m"),  # another provider
        replace(BASE, model="oai/n"),
        replace(BASE, api_base="http://b/v1"),
        replace(BASE, messages=(Message("system", "Be brief."), Message("user", "Hi!"))),
        replace(BASE, messages=(Message("user", "Be brief."), Message("user", "Hi"))),
        replace(BASE, messages=BASE.messages[1:]),
        replace(BASE, params={"temperature": 0.1, "max_tokens": 8}),
        replace(BASE, params={"temperature": 0, "max_tokens": 8, "top_p": 0.9}),
        replace(BASE, seed=2),
        replace(BASE, seed=None),
        replace(BASE, repeat=1),
    ]
    keys = {cache_key(r) for r in [BASE, *variants]}
    assert len(keys) == len(variants) + 1
    reordered = replace(BASE, params={"max_tokens": 8, "temperature": 0})
    assert cache_key(reordered) == cache_key(BASE)
    # The endpoint a provider defaults to counts when the request names none.
    bare = replace(BASE, api_base=None)
    assert cache_key(bare, "http://a/v1") == cache_key(BASE)
    assert cache_key(bare, "http://b/v1") != cache_key(BASE)


def test_a_hit_keeps_latency_and_cost_and_is_marked(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    answer = Completion("positive", 12, 1, latency_s=0.731, cost=0.00042, finish_reason="stop")
    key = cache_key(BASE)
    assert cache.get(key) is None
    cache.put(key, BASE.model, answer)
    hit = cache.get(key)
    assert hit == replace(answer, cached=True)
    cache.put(key, BASE.model, replace(answer, text="negative"))  # refresh overwrites
    again = cache.get(key)
    assert again is not None and again.text == "negative" and len(cache) == 1
    cache.close()
    reopened = ResponseCache(tmp_path / "c.sqlite")
    assert reopened.get(key) is not None
    reopened.close()


def test_a_hit_keeps_label_probabilities(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    scored = Completion("positive", 12, 0, label_probs={"positive": 0.7, "negative": 0.3})
    cache.put(cache_key(BASE), BASE.model, scored)
    assert cache.get(cache_key(BASE)) == replace(scored, cached=True)
    cache.close()


WRITER = textwrap.dedent(
    """
    import sys
    from promptkit import Completion
    from promptkit.run.cache import ResponseCache
    cache = ResponseCache(sys.argv[1])
    name, count = sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    for i in range(count):
        key = f"shared-{i // 2 % 50}" if i % 2 else f"{name}-{i}"
        cache.put(key, "m", Completion(f"{name} {i}", 1, 1, latency_s=0.1, cost=0.0))
        assert cache.get(key) is not None
    cache.close()
    """
)


def _writer(path: Path, name: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), name, str(count)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


def _check_readable(path: Path) -> int:
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows = db.execute("SELECT completion FROM responses").fetchall()
    db.close()
    cache = ResponseCache(path)
    assert len(cache) == len(rows)
    cache.close()
    return len(rows)


def test_two_processes_write_one_cache_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    writers = [_writer(path, name, 400) for name in ("a", "b")]
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    assert _check_readable(path) == 200 + 200 + 50


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_a_killed_writer_leaves_the_cache_readable(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite"
    writer = _writer(path, "k", 10_000_000)
    assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _size(path) < 200_000:
        time.sleep(0.05)  # let it write a good number of entries (and checkpoints) first
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert _check_readable(path) > 0
