"""``concurrency: auto``: a window of requests in flight that follows the server.

A server you run yourself (a single-slot llama.cpp server, a vLLM replica) has a
capacity. Past it requests queue: each extra request in flight adds its wait to
every answer and nothing to throughput (Little's law: throughput = in flight /
latency, so while the window is full, latency that holds as the window grows *is*
throughput that grows). So the window grows while latency holds, and shrinks
when latency blows up, or the server refuses (429, 503) or a request times out.

What it follows, and where it departs:

- TCP congestion control (Jacobson 1988; RFC 5681 slow start and congestion
  avoidance): start at one request, double the window each round while all is
  well, then add one a round; halve it on a *drop* (429, 503, 504 or a timeout),
  once for the requests sent at the window that caused it (a drop from a request
  sent before the last change is old news, like TCP's recovery period).
- TCP Vegas (Brakmo & Peterson 1994) and the ``GradientLimit`` of Netflix's
  concurrency-limits (github.com/Netflix/concurrency-limits: ``gradient =
  rtt_noload / rtt``, floored at 0.5): a round's latency is compared with the
  no-load latency. Past ``tolerance`` times it the window becomes
  ``window * rtt_noload / rtt`` (Little's law's estimate of how many requests the
  server really serves at once), but never below half the window.
- Unlike Gradient2's long-term average, the no-load latency is the lowest round
  seen, measured afresh whenever the window is at its minimum (one request in
  flight queues nothing of ours); an average creeps up with the queue it should
  detect; a round faster than it at a wider window means it was a cold server's, and
  it is measured again at the minimum. After a latency cut the next probe above the
  window waits 2, 4, 8 ... 32 rounds, so a single-slot server is not pushed into a
  queue every other round.

A *round* is ``max(window, min_round)`` answers to requests sent since the window
last changed; its latency is their mean without the slowest one. The window never grows when it was
not full (nothing is learnt about a window nobody fills). Everything here is
fed observations and has no clock of its own: :class:`AdaptiveLimit` is pure,
:class:`AdaptiveSlots` puts it in front of requests with an injectable clock.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promptkit.errors import ProviderError

__all__ = ["AUTO", "OVERLOAD_STATUSES", "AdaptiveLimit", "AdaptiveSlots", "Ticket"]

#: What a suite, a model entry or ``--concurrency`` says to get an adaptive window.
AUTO = "auto"
#: HTTP statuses that mean "too much at once" (rate limited, overloaded, gateway timeout).
OVERLOAD_STATUSES = frozenset({429, 503, 504})


class AdaptiveLimit:
    """The controller: observations in, a window out (see the module docstring)."""

    def __init__(
        self,
        *,
        maximum: int,
        minimum: int = 1,
        initial: int = 1,
        tolerance: float = 1.5,
        grow_below: float = 1.2,
        backoff: float = 0.5,
        min_round: int = 4,
        max_hold: int = 32,
        slack_s: float = 0.001,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got {minimum}, {maximum}")
        self.minimum, self.maximum = minimum, maximum
        #: Past ``tolerance`` x the no-load latency, the window is cut (a latency blow-up).
        self.tolerance = tolerance
        #: At or under ``grow_below`` x the no-load latency, latency holds: the window may grow.
        self.grow_below = grow_below
        self.backoff, self.min_round, self.max_hold = backoff, min_round, max_hold
        #: Latency differences this small are noise, not a queue (an instant mock model).
        self.slack_s = slack_s
        self.limit = float(min(max(initial, minimum), maximum))
        self.epoch = 0  # bumped at every change of the window
        self.no_load_s: float | None = None
        self.drops = 0
        self.latency_cuts = 0
        self._slow_start = True
        self._latencies: list[float] = []
        self._peak = 0  # most requests in flight when one was sent this round
        self._wait = 0  # rounds the next probe after a latency cut waits
        self._hold = 0  # rounds left before growing again
        self._cut_to: int | None = None  # the window the last latency cut left
        self._sent: Counter[int] = Counter()  # requests sent at each window

    @property
    def window(self) -> int:
        """Requests allowed in flight now."""
        return max(self.minimum, min(self.maximum, int(self.limit)))

    def sent(self, in_flight: int) -> int:
        """A request is sent with ``in_flight`` requests (itself included) holding slots;
        the epoch to give back with its outcome."""
        self._peak = max(self._peak, in_flight)
        self._sent[self.window] += 1
        return self.epoch

    def answered(self, epoch: int, latency_s: float) -> None:
        """A request sent in ``epoch`` was answered after ``latency_s`` seconds."""
        if epoch != self.epoch:
            return  # sent at another window: it says nothing about this one
        self._latencies.append(latency_s)
        if len(self._latencies) >= max(self.window, self.min_round):
            self._end_round()

    def dropped(self, epoch: int) -> None:
        """A request sent in ``epoch`` was refused as too much (429, 503) or timed out."""
        if epoch != self.epoch:
            return
        self.drops += 1
        self._slow_start = False
        self._change(self.limit * self.backoff)

    def record(self) -> dict[str, Any]:
        """What a run reports: the window most requests were sent at ("settled"), the
        window at the end, the lowest and highest used, and how often it was cut."""
        used = sorted(self._sent)
        settled = self._sent.most_common(1)[0][0] if self._sent else self.window
        return {
            "settled": settled,
            "final": self.window,
            "lowest": used[0] if used else self.window,
            "highest": used[-1] if used else self.window,
            "drops": self.drops,
            "latency_cuts": self.latency_cuts,
            "no_load_latency_s": None if self.no_load_s is None else round(self.no_load_s, 6),
        }

    def _end_round(self) -> None:
        latency = _round_latency(self._latencies)
        window, peak = self.window, self._peak
        self._latencies.clear()
        self._peak = 0
        if self.no_load_s is None or window <= self.minimum:
            self.no_load_s = latency  # nothing of ours queues at the minimum
        elif (latency + self.slack_s) * self.grow_below < self.no_load_s + self.slack_s:
            # Faster with more in flight than at no load: that figure was a cold server's
            # (first requests load the model, fill caches). Measure it again at the minimum.
            self.no_load_s = None
            self._change(self.minimum)
            return
        self.no_load_s = min(self.no_load_s, latency)
        ratio = (latency + self.slack_s) / (self.no_load_s + self.slack_s)
        if ratio > self.tolerance:
            self._cut_for_latency(ratio)
        elif ratio <= self.grow_below and peak >= window:
            self._grow(window)

    def _cut_for_latency(self, ratio: float) -> None:
        self.latency_cuts += 1
        self._slow_start = False
        self._wait = min(max(2, self._wait * 2), self.max_hold)
        self._hold = self._wait
        self._change(self.limit * max(self.backoff, 1 / ratio))
        self._cut_to = self.window

    def _grow(self, window: int) -> None:
        if self._cut_to is not None and window > self._cut_to:
            self._wait, self._cut_to = 0, None  # the window above the last cut held
        if self._hold > 0:
            self._hold -= 1
            return
        self._change(self.limit * 2 if self._slow_start else self.limit + 1)

    def _change(self, limit: float) -> None:
        before = self.window
        self.limit = float(min(max(limit, self.minimum), self.maximum))
        if self.window == before:
            return  # the same window: this round's answers still describe it
        self.epoch += 1
        self._latencies.clear()
        self._peak = 0


def _round_latency(latencies: list[float]) -> float:
    """The mean latency of a round without its slowest answer: the mean is what Little's
    law relates to throughput, and one answer that paid for a new connection or a cold
    server must not set the no-load latency of a whole run."""
    ordered = sorted(latencies)
    return statistics.fmean(ordered[:-1] if len(ordered) >= 3 else ordered)


@dataclass(frozen=True)
class Ticket:
    """One attempt: the controller's epoch when it was sent, and when."""

    epoch: int
    started: float


class AdaptiveSlots:
    """Slots for requests in flight, as many as the controller's window allows.

    ``async with slots:`` holds one, like ``asyncio.Semaphore``; a slot waiting
    for a window that shrank waits until enough holders leave. ``start()`` and
    ``answered()`` / ``failed()`` around each attempt feed the controller.
    """

    def __init__(
        self, limit: AdaptiveLimit, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.limit = limit
        self.clock = clock
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> AdaptiveSlots:
        if self.in_flight < self.limit.window and not self._waiters:
            self.in_flight += 1
            return self
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._leave()  # handed a slot just as it was cancelled: give it back
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._leave()

    def start(self) -> Ticket:
        return Ticket(self.limit.sent(self.in_flight), self.clock())

    def answered(self, ticket: Ticket) -> None:
        self.limit.answered(ticket.epoch, self.clock() - ticket.started)
        self._wake()

    def failed(self, ticket: Ticket, error: ProviderError | None) -> None:
        """An attempt failed; ``None`` means it timed out. Only overload shrinks the window."""
        if error is None or error.status in OVERLOAD_STATUSES:
            self.limit.dropped(ticket.epoch)

    def _leave(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        """Hand free slots to waiters in order (the slot is theirs before they resume)."""
        while self._waiters and self.in_flight < self.limit.window:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)
