"""``concurrency: auto``'s controller (promptkit/run/adaptive.py), fed observations:
latencies are numbers handed in and the server is simulated, so no test reads a clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest

from promptkit.errors import ProviderError
from promptkit.run.adaptive import AdaptiveLimit, AdaptiveSlots


def feed(limit: AdaptiveLimit, latency: float, answers: int, in_flight: int | None = None) -> None:
    """``answers`` requests sent at the current window (full unless ``in_flight`` says)
    and answered after ``latency`` seconds each."""
    for _ in range(answers):
        epoch = limit.sent(limit.window if in_flight is None else in_flight)
        limit.answered(epoch, latency)


def rounds(limit: AdaptiveLimit, latency: float, count: int) -> list[int]:
    """The window after each of ``count`` full rounds at ``latency``."""
    seen = []
    for _ in range(count):
        feed(limit, latency, max(limit.window, limit.min_round))
        seen.append(limit.window)
    return seen


def test_starts_at_one_and_doubles_while_latency_holds() -> None:
    limit = AdaptiveLimit(maximum=64)
    assert limit.window == 1
    assert rounds(limit, 0.2, 7) == [2, 4, 8, 16, 32, 64, 64]  # never above the maximum


def test_a_round_needs_as_many_answers_as_the_window() -> None:
    limit = AdaptiveLimit(maximum=64, initial=8)
    feed(limit, 0.2, 7)
    assert limit.window == 8
    feed(limit, 0.2, 1)
    assert limit.window == 16


def test_a_window_nobody_fills_does_not_grow() -> None:
    limit = AdaptiveLimit(maximum=64, initial=8)
    feed(limit, 0.2, 32, in_flight=3)
    assert limit.window == 8


def test_latency_blow_up_cuts_to_the_capacity_littles_law_gives() -> None:
    limit = AdaptiveLimit(maximum=64, initial=4)
    rounds(limit, 0.1, 1)  # no-load latency 0.1 s; window 8
    feed(limit, 0.2, 8)  # latency doubled at 8 in flight: the server serves 4 at once
    assert limit.window == 4 and limit.latency_cuts == 1


def test_latency_cut_is_at_most_a_halving() -> None:
    limit = AdaptiveLimit(maximum=64, initial=16)
    rounds(limit, 0.1, 1)  # window 32
    feed(limit, 1.0, 32)  # ten times the latency
    assert limit.window == 16


def test_latency_under_the_tolerance_holds_the_window() -> None:
    limit = AdaptiveLimit(maximum=64, initial=4)
    rounds(limit, 0.1, 1)  # window 8
    assert rounds(limit, 0.14, 3) == [8, 8, 8]  # 1.4x: neither grow nor cut


def test_after_a_cut_the_window_grows_by_one() -> None:
    limit = AdaptiveLimit(maximum=64, initial=8)
    limit.dropped(limit.sent(8))  # 429: halved to 4, slow start over
    assert limit.window == 4
    assert rounds(limit, 0.1, 3) == [5, 6, 7]


def test_drops_halve_the_window_once_per_window() -> None:
    limit = AdaptiveLimit(maximum=64, initial=32)
    epochs = [limit.sent(i + 1) for i in range(32)]
    for epoch in epochs:  # 32 requests sent at 32 all get 429
        limit.dropped(epoch)
    assert limit.window == 16 and limit.drops == 1
    limit.dropped(limit.sent(16))  # one sent at 16 gets 429: halve again
    assert limit.window == 8


def test_answers_to_requests_sent_at_an_old_window_are_ignored() -> None:
    limit = AdaptiveLimit(maximum=64, initial=8)
    stale = [limit.sent(8) for _ in range(8)]
    limit.dropped(stale[0])  # window 4
    for epoch in stale:
        limit.answered(epoch, 10.0)  # a slow answer from before the cut
    assert limit.window == 4 and limit.latency_cuts == 0


def test_the_window_stays_within_its_bounds() -> None:
    limit = AdaptiveLimit(maximum=8, minimum=2, initial=4)
    for _ in range(5):
        limit.dropped(limit.sent(2))
    assert limit.window == 2
    feed(limit, 0.1, 4)  # no-load latency at the minimum; window 3
    feed(limit, 10.0, 4)  # a blow-up: halved, but not below 2
    assert limit.window == 2
    assert rounds(limit, 0.1, 12)[-1] == 8


def test_single_slot_server_probes_more_and_more_rarely() -> None:
    limit = AdaptiveLimit(maximum=64)
    windows = []
    for _ in range(40):
        feed(limit, 0.4 * limit.window, max(limit.window, limit.min_round))  # one slot: queue
        windows.append(limit.window)
    assert set(windows) == {1, 2}
    probes = [i for i, w in enumerate(windows) if w == 2]
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]  # 2, 4, 8 ... rounds between probes
    assert limit.record()["settled"] == 1


def test_no_load_latency_is_measured_again_at_the_minimum() -> None:
    limit = AdaptiveLimit(maximum=64, initial=1)
    feed(limit, 0.1, 4)  # window 2
    limit.dropped(limit.sent(2))  # back to 1
    feed(limit, 0.3, 4)  # the server got slower for everyone: the new no-load latency
    assert limit.no_load_s == pytest.approx(0.3) and limit.window == 2


def test_a_cold_start_no_load_latency_is_measured_again() -> None:
    limit = AdaptiveLimit(maximum=64)
    feed(limit, 4.0, 4)  # the first answers load the model: window 2
    feed(limit, 1.0, 4)  # faster at 2 in flight than "no load": back to 1 to measure again
    assert limit.window == 1 and limit.no_load_s is None
    feed(limit, 0.5, 4)
    assert limit.no_load_s == pytest.approx(0.5) and limit.window == 2
    feed(limit, 1.0, 4)  # now 2 in flight is twice the latency: a single slot
    assert limit.window == 1 and limit.latency_cuts == 1


def test_instant_answers_are_not_read_as_a_queue() -> None:
    limit = AdaptiveLimit(maximum=64)
    feed(limit, 0.00001, 4)
    assert rounds(limit, 0.0001, 6)[-1] == 64  # 10x, but a tenth of a millisecond


def test_record_says_where_it_settled() -> None:
    limit = AdaptiveLimit(maximum=64)
    rounds(limit, 0.1, 2)  # 1 -> 2 -> 4
    feed(limit, 0.1, 40, in_flight=1)  # 40 requests at 4 (not full: it stays)
    record = limit.record()
    assert record["settled"] == 4 and record["final"] == 4
    assert (record["lowest"], record["highest"]) == (1, 4)
    assert record["drops"] == 0 and record["no_load_latency_s"] == pytest.approx(0.1)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        AdaptiveLimit(maximum=0)


def simulate(capacity: int, service_s: float, cases: int) -> tuple[AdaptiveLimit, float]:
    """Run ``cases`` requests through the controller against a simulated server that
    serves ``capacity`` at once (first come first served); (controller, mean latency)."""
    limit = AdaptiveLimit(maximum=64)
    now, seq, busy, in_flight, sent = 0.0, 0, 0, 0, 0
    queue: list[tuple[float, int]] = []
    done: list[tuple[float, int, tuple[float, int]]] = []
    latencies = []
    while sent < cases or in_flight:
        while sent < cases and in_flight < limit.window:
            in_flight, sent = in_flight + 1, sent + 1
            queue.append((now, limit.sent(in_flight)))
        while queue and busy < capacity:
            busy, seq = busy + 1, seq + 1
            heapq.heappush(done, (now + service_s, seq, queue.pop(0)))
        now, _, (started, epoch) = heapq.heappop(done)
        busy, in_flight = busy - 1, in_flight - 1
        latencies.append(now - started)
        limit.answered(epoch, now - started)
    return limit, sum(latencies) / len(latencies)


@pytest.mark.parametrize(
    ("capacity", "settles"), [(1, {1}), (4, {4, 5, 6}), (16, set(range(16, 25))), (500, {64})]
)
def test_settles_near_the_servers_capacity(capacity: int, settles: set[int]) -> None:
    limit, mean_latency = simulate(capacity, 0.1, 600)
    assert limit.record()["settled"] in settles
    assert mean_latency < 2 * 0.1  # within twice an idle server's latency


def test_slots_hold_at_most_the_window_and_follow_it() -> None:
    async def main() -> tuple[int, int, int]:
        slots = AdaptiveSlots(AdaptiveLimit(maximum=8, initial=2), clock=lambda: 0.0)
        peak = 0

        async def request() -> None:
            nonlocal peak
            async with slots:
                peak = max(peak, slots.in_flight)
                ticket = slots.start()
                await asyncio.sleep(0)
                slots.answered(ticket)  # at once, by the frozen clock

        await asyncio.gather(*(request() for _ in range(20)))
        first_peak = peak
        ticket = slots.start()
        slots.failed(ticket, ProviderError("bad request", status=400))  # not overload
        kept = slots.limit.window
        slots.failed(slots.start(), ProviderError("slow down", status=429))
        return first_peak, kept, slots.limit.window

    peak, kept, after_429 = asyncio.run(main())
    assert peak <= 8 and peak > 2  # it grew, never past the maximum
    assert after_429 == max(1, kept // 2)


def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    async def main() -> int:
        slots = AdaptiveSlots(AdaptiveLimit(maximum=4, initial=1))
        await slots.__aenter__()
        waiter = asyncio.ensure_future(slots.__aenter__())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        await slots.__aexit__()
        async with slots:
            return slots.in_flight

    assert asyncio.run(main()) == 1
