"""The request batcher behind hf/: how concurrent requests are grouped and answered.

A scripted work function stands in for the model here, because what is tested is
the grouping itself (exact batch sizes, errors, cancellations), which a real
model cannot be asked to show; tests/test_hf_provider.py runs the real model.
"""

from __future__ import annotations

import asyncio

import pytest

from promptkit import Completion, Message, ProviderError, Request
from promptkit.providers.batching import Batcher, Outcome


def request(text: str) -> Request:
    return Request(model="hf/test", messages=(Message("user", text),))


class Recorder:
    """Answers each request with its own text and remembers every batch it saw."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, requests: list[Request]) -> list[Outcome]:
        texts = [r.messages[0].content for r in requests]
        self.batches.append(texts)
        return [
            ProviderError(f"cannot answer {t}") if t.startswith("bad") else Completion(text=t)
            for t in texts
        ]


def test_concurrent_requests_fill_batches_in_order() -> None:
    work = Recorder()

    async def main() -> list[Completion]:
        batcher = Batcher(work, max_size=8)
        try:
            return await asyncio.gather(*(batcher.submit(request(f"r{i}")) for i in range(20)))
        finally:
            batcher.close()

    answers = asyncio.run(main())
    assert [a.text for a in answers] == [f"r{i}" for i in range(20)]
    assert [len(b) for b in work.batches] == [8, 8, 4]
    assert [t for b in work.batches for t in b] == [f"r{i}" for i in range(20)]


def test_requests_arriving_one_at_a_time_do_not_wait_for_company() -> None:
    work = Recorder()

    async def main() -> list[str]:
        batcher = Batcher(work, max_size=8)
        texts = [(await batcher.submit(request(f"r{i}"))).text for i in range(3)]
        batcher.close()
        return texts

    assert asyncio.run(main()) == ["r0", "r1", "r2"]
    assert work.batches == [["r0"], ["r1"], ["r2"]]


def test_an_error_reaches_only_its_own_request() -> None:
    work = Recorder()

    async def main() -> list[Completion | BaseException]:
        batcher = Batcher(work, max_size=8)
        texts = ["ok1", "bad", "ok2"]
        answers = await asyncio.gather(
            *(batcher.submit(request(t)) for t in texts), return_exceptions=True
        )
        batcher.close()
        return answers

    first, bad, last = asyncio.run(main())
    assert isinstance(first, Completion) and first.text == "ok1"
    assert isinstance(bad, ProviderError) and "cannot answer bad" in str(bad)
    assert isinstance(last, Completion) and last.text == "ok2"
    assert work.batches == [["ok1", "bad", "ok2"]]


def test_a_failing_batch_fails_each_of_its_requests() -> None:
    def broken(requests: list[Request]) -> list[Outcome]:
        raise ProviderError("out of memory")

    async def main() -> list[Completion | BaseException]:
        batcher = Batcher(broken, max_size=4)
        answers = await asyncio.gather(
            *(batcher.submit(request(str(i))) for i in range(3)), return_exceptions=True
        )
        batcher.close()
        return answers

    answers = asyncio.run(main())
    assert all(isinstance(a, ProviderError) and "out of memory" in str(a) for a in answers)


def test_a_request_whose_caller_gave_up_is_not_run() -> None:
    work = Recorder()

    async def main() -> str:
        batcher = Batcher(work, max_size=8)
        abandoned = asyncio.ensure_future(batcher.submit(request("gone")))
        await asyncio.sleep(0)  # queued, not yet taken by the worker
        abandoned.cancel()
        kept = await batcher.submit(request("kept"))
        batcher.close()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        return kept.text

    assert asyncio.run(main()) == "kept"
    assert work.batches == [["kept"]]
