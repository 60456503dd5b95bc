"""Cancelling tasks so that they really end.

One ``cancel()`` is not always enough on Python 3.11: ``asyncio.wait_for`` returns its inner
result when that completed in the same loop turn as the cancellation (CPython gh-86296, fixed
in 3.12), and aiomqtt waits for every QoS 1 acknowledgement through it. The cancellation is
then lost and a loop such as the bridge's publisher runs on: waiting for it hung the stop for
10 s. So a task still running is cancelled again, until a deadline; one that outlives it is
logged and left behind. The daemon's own tasks (``Daemon._cancel_tasks``) are cancelled the
same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

RETRY_S = 0.1


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[object]],
    *,
    logger: logging.Logger,
    deadline_s: float = 5.0,
    left_behind: str = "%s did not stop when cancelled; going on without",
) -> None:
    """Cancel ``tasks`` (again and again) until each has ended, or ``deadline_s`` passed; the
    names of those still running then are logged with ``left_behind`` (an error line).

    Like ``gather(..., return_exceptions=True)``, the exceptions of tasks that had already
    failed count as retrieved: the caller looks at the ones it cares about."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    deadline = time.monotonic() + deadline_s
    try:
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=RETRY_S)
            if pending and time.monotonic() > deadline:
                names = ", ".join(sorted(task.get_name() for task in pending))
                logger.error(left_behind, names)
                return
    finally:
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()
