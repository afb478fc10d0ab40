"""Fair turns at the password-hashing threads (server/slots.py)."""

from __future__ import annotations

import asyncio

import pytest

from server.slots import Busy, FairSlots, Gone


async def _taker(slots: FairSlots, lane: str, order: list[str], **kw) -> None:
    await slots.acquire(lane, **kw)
    order.append(lane)
    await asyncio.sleep(0)
    slots.release()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_known_name_goes_before_a_queue_of_guesses():
    slots = FairSlots(1, max_waiting=10)
    await slots.acquire("holder")
    order: list[str] = []
    tasks = [asyncio.create_task(_taker(slots, f"guess{i}", order)) for i in range(5)]
    await _settle()
    tasks.append(asyncio.create_task(_taker(slots, "owner", order, priority=True)))
    await _settle()
    slots.release()
    await asyncio.gather(*tasks)
    assert order[0] == "owner"
    assert order[1:] == [f"guess{i}" for i in range(5)]


async def test_one_waiter_per_address_and_a_bounded_queue():
    slots = FairSlots(1, max_waiting=3)
    await slots.acquire("holder")
    waiting = [asyncio.create_task(slots.acquire(f"a{i}")) for i in range(3)]
    await _settle()
    with pytest.raises(Busy):
        await slots.acquire("a0")  # that address already waits
    with pytest.raises(Busy):
        await slots.acquire("a9")  # three wait already: refused at once, not queued
    owner = asyncio.create_task(slots.acquire("home", priority=True))  # never refused
    await _settle()
    assert slots.waiting == 4
    for _ in range(4):
        slots.release()
        await _settle()
    assert owner.done() and all(t.done() for t in waiting)


async def test_a_waiter_whose_client_left_is_skipped_and_its_turn_passed_on():
    slots = FairSlots(1, max_waiting=10)
    await slots.acquire("holder")
    left = asyncio.create_task(slots.acquire("left", gone=lambda: True))
    stays = asyncio.create_task(slots.acquire("stays", gone=lambda: False))
    cancelled = asyncio.create_task(slots.acquire("cancelled"))
    await _settle()
    cancelled.cancel()
    await _settle()
    slots.release()
    await _settle()
    with pytest.raises(Gone):
        await left
    assert stays.done() and stays.exception() is None
    slots.release()
    assert slots.waiting == 0
    await slots.acquire("next")  # the slot came back to the pool
