"""Gathering concurrent requests into batches, for providers whose model runs many
prompts in one call (``hf/`` on a GPU).

A :class:`Batcher` belongs to one event loop. ``submit`` queues a request and
waits; one worker task takes whatever is queued, up to ``max_size``, and runs
the provider's ``work`` function on it in a thread. Requests that arrive while a
batch runs form the next one, so under load every batch is full and when
requests trickle in none waits for company.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from promptkit.providers.base import Completion, Request

__all__ = ["BatchWork", "Batcher", "Outcome"]

#: A work function returns, for each request in order, its completion or its error.
Outcome = Completion | Exception
BatchWork = Callable[[list[Request]], list[Outcome]]


class Batcher:
    """Gathers concurrent requests into batches for one worker task on this event loop."""

    def __init__(self, work: BatchWork, max_size: int) -> None:
        self.work, self.max_size = work, max_size
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[Request, asyncio.Future[Completion]]] = asyncio.Queue()
        self.worker = self.loop.create_task(self._run())

    async def submit(self, request: Request) -> Completion:
        future: asyncio.Future[Completion] = self.loop.create_future()
        self.queue.put_nowait((request, future))
        return await future

    def close(self) -> None:
        self.worker.cancel()

    async def _gather(self) -> list[tuple[Request, asyncio.Future[Completion]]]:
        batch = [await self.queue.get()]
        while len(batch) < self.max_size:
            if self.queue.empty():
                await asyncio.sleep(0)  # let cases started in the same tick join this batch
                if self.queue.empty():
                    break
            batch.append(self.queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            # A request whose caller timed out has a cancelled future: skip it.
            live = [(r, f) for r, f in await self._gather() if not f.done()]
            if not live:
                continue
            try:
                outcomes = await asyncio.to_thread(self.work, [r for r, _ in live])
            except Exception as exc:
                outcomes = [exc] * len(live)
            for (_, future), outcome in zip(live, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
