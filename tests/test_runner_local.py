"""The in-process llama.cpp model under concurrency: one instance per process,
requests take turns, and answers do not depend on what else is in flight."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from promptkit import Message, Request, RunOptions, evaluate, get_provider, load_run
from tests.conftest import needs_local_model

pytestmark = [pytest.mark.slow, needs_local_model]

QUESTIONS = ["Name a colour.", "Say hello in French.", "What is 2 + 2?", "Name a fruit."]


def _request(question: str) -> Request:
    return Request(
        model="local/smollm2",
        messages=(Message("user", question),),
        params={"max_tokens": 12, "temperature": 0},
    )


def test_concurrent_requests_get_the_answers_they_get_alone() -> None:
    from promptkit.providers import local

    provider = get_provider("local/smollm2")
    alone = [asyncio.run(provider.complete(_request(q))).text for q in QUESTIONS]

    async def together() -> list[str]:
        answers = await asyncio.gather(*(provider.complete(_request(q)) for q in QUESTIONS * 2))
        return [a.text for a in answers]

    assert asyncio.run(together()) == alone * 2
    assert len(local._MODELS) == 1  # one model instance, shared by every request
    assert get_provider("local/smollm2").path == provider.path


def test_every_generation_runs_on_one_long_lived_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # llama.cpp's OpenMP teams are per calling thread; a pool of callers left idle teams
    # spinning and cost a third of the CPU (issue: the embedded model as fast as llama.cpp).
    provider = get_provider("local/smollm2")
    generate, threads = provider._generate, []  # type: ignore[attr-defined]

    def spy(request: Request) -> object:
        threads.append(threading.get_ident())
        return generate(request)

    monkeypatch.setattr(provider, "_generate", spy)

    async def several() -> None:
        await asyncio.gather(*(provider.complete(_request(q)) for q in QUESTIONS))

    asyncio.run(several())
    asyncio.run(several())  # a second event loop, as a second eval in the process
    assert len(threads) == 8 and len(set(threads)) == 1
    assert threads[0] != threading.get_ident()  # never the event loop's thread


def test_run_at_concurrency_4_matches_concurrency_1_and_reports_speed(repo: Path) -> None:
    def answers(concurrency: int) -> dict[tuple[str, str], str]:
        result = evaluate(
            repo / "evals" / "sentiment.yaml",
            RunOptions(limit=4, concurrency=concurrency, cache=False),
            prompts=["sentiment@v2"],
        )
        summary = json.loads((result.path / "summary.json").read_text())
        assert summary["output_tokens_per_s"]["local/smollm2"] > 0
        assert result.output_tokens_per_s == summary["output_tokens_per_s"]
        frame = load_run(result.run_id)
        return {(r.variant, r.row_id): r.output for r in frame.itertuples()}

    assert answers(4) == answers(1)
