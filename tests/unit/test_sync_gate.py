"""Admission control of push and pull (`township.app.SyncGate`): a request waits for a sync slot only while it can
expect to start before the kiosk gives up, and is otherwise answered 503 at once with the expected wait (#15)."""

from __future__ import annotations

import asyncio

import pytest

from township import db
from township.app import RETRY_AFTER_BUSY_S, RETRY_AFTER_MAX_S, SyncGate, retry_after


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _settle() -> None:
    """Let every task that can run do so (a slot is taken a few event-loop turns after it is asked for)."""
    for _turn in range(20):
        await asyncio.sleep(0)


async def _hold(gate: SyncGate, clock: Clock, seconds: float) -> None:
    async with gate.admit():
        clock.now += seconds


def test_a_free_slot_admits_at_once_and_the_mean_hold_follows_the_requests() -> None:
    clock = Clock()
    gate = SyncGate(slots=2, wait_s=10, clock=clock)

    async def run() -> None:
        assert gate.expected_wait_s() == 0
        await _hold(gate, clock, 4.0)
        assert gate.held_s == 4.0
        await _hold(gate, clock, 9.0)
        assert gate.held_s == pytest.approx(0.8 * 4.0 + 0.2 * 9.0)
        assert gate.expected_wait_s() == 0  # slots free: nobody waits, whatever the mean

    asyncio.run(run())


def test_a_request_that_would_wait_past_the_budget_is_refused_at_once_with_the_expected_wait() -> None:
    clock = Clock()
    gate = SyncGate(slots=1, wait_s=15, clock=clock)

    async def run() -> None:
        await _hold(gate, clock, 10.0)  # a request holds the slot for 10 s on average
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.admit():
                await release.wait()

        first = asyncio.create_task(holder())
        await _settle()
        assert gate.full
        second = asyncio.create_task(holder())  # expected to start in 10 s: waits
        await _settle()
        assert gate.waiting == 1
        assert gate.expected_wait_s() == 20.0  # one waiting ahead plus the holder
        with pytest.raises(db.Busy) as refused:
            async with gate.admit():
                pytest.fail("admitted past the budget")
        assert refused.value.retry_after_s == 20.0
        # The refusal did not wait, and left the queue as it was.
        assert gate.waiting == 1 and not second.done()
        release.set()
        await asyncio.gather(first, second)
        assert gate.waiting == 0 and not gate.full

    asyncio.run(run())


def test_a_request_expected_in_time_waits_and_gets_the_slot() -> None:
    clock = Clock()
    gate = SyncGate(slots=1, wait_s=15, clock=clock)

    async def run() -> None:
        await _hold(gate, clock, 5.0)
        release = asyncio.Event()
        admitted: list[str] = []

        async def holder(name: str) -> None:
            async with gate.admit():
                admitted.append(name)
                await release.wait()

        first = asyncio.create_task(holder("first"))
        await _settle()
        second = asyncio.create_task(holder("second"))  # expected wait 5 s ≤ 15 s
        third = asyncio.create_task(holder("third"))  # expected wait 10 s ≤ 15 s
        await _settle()
        assert gate.waiting == 2 and admitted == ["first"]
        release.set()
        await asyncio.gather(first, second, third)
        assert admitted == ["first", "second", "third"]

    asyncio.run(run())


def test_a_request_still_waiting_at_the_budget_is_refused_and_leaves_the_queue() -> None:
    gate = SyncGate(slots=1, wait_s=0.05)

    async def run() -> None:
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.admit():
                await release.wait()

        first = asyncio.create_task(holder())
        await _settle()
        with pytest.raises(db.Busy):
            async with gate.admit():
                pytest.fail("admitted while the slot was held")
        assert gate.waiting == 0
        release.set()
        await first
        async with gate.admit():  # the slot given up was not lost
            assert gate.full

    asyncio.run(run())


@pytest.mark.parametrize(
    ("expected", "header"),
    [(None, RETRY_AFTER_BUSY_S), (0.3, RETRY_AFTER_BUSY_S), (17.2, 18), (3600.0, RETRY_AFTER_MAX_S)],
)
def test_retry_after_is_the_expected_wait_in_whole_seconds_within_bounds(
    expected: float | None, header: int
) -> None:
    assert retry_after(expected) == header
