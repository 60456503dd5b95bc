"""Tasks that lose a cancellation (Python 3.11's wait_for, gh-86296) still end."""

from __future__ import annotations

import asyncio
import logging

from edge_mining.cancel import cancel_and_wait

log = logging.getLogger("test.cancel")


async def test_a_task_that_swallowed_one_cancellation_is_cancelled_again():
    swallowed = 0

    async def publisher() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed == 0:  # what a lost cancellation looks like from outside
                    swallowed += 1
                    continue
                raise

    task = asyncio.create_task(publisher())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait([task], logger=log), 5)
    assert task.cancelled() and swallowed == 1


async def test_a_task_that_never_ends_is_logged_and_left_behind(caplog):
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="test.cancel"):
        await asyncio.wait_for(cancel_and_wait([task], logger=log, deadline_s=0.3), 5)
    assert "stubborn did not stop when cancelled; going on without" in caplog.text
    release.set()
    task.cancel()
    await asyncio.wait({task}, timeout=5)
    assert task.done()


async def test_the_exception_of_a_task_that_had_failed_counts_as_retrieved(caplog):
    # The bridge's reader fails with the connection while the publisher's error ends the
    # session: asyncio printed "Task exception was never retrieved" for the reader.
    async def fails() -> None:
        raise RuntimeError("connection lost")

    failed = asyncio.create_task(fails())
    await asyncio.wait({failed})
    await cancel_and_wait([failed], logger=log)
    assert failed._log_traceback is False  # asyncio's own flag: nothing left to report
