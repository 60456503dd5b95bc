"""Rate-limited logging per kind of message, for events that outsiders can repeat at will
(commands received over MQTT): a flood must not flood the log.

Per kind, the first ``burst`` messages of a window (``window_s``, a minute by default) are
logged as they come; the rest are counted, and when the window ends one line says how many
were left out and what the last one was. While the flood goes on, only that count is logged,
once per window; after a window with no more than ``burst`` of them the kind is logged
normally again.

The count is written by a timer on the running event loop, so the last window of a flood
that stopped is reported too (and lazily by the next message when there is no loop).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Window:
    started: float
    level: int
    logged: int = 0
    left_out: int = 0
    last: str = ""
    flooding: bool = False  # the previous window left messages out: no burst in this one
    timer: asyncio.TimerHandle | None = None


class LogLimiter:
    """``log(level, kind, message, *args)``: logged, or counted for the window's summary."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        window_s: float = 60.0,
        burst: int = 3,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self.window_s = window_s
        self.burst = burst
        self._now = now
        self._windows: dict[str, _Window] = {}
        # Every message per kind, logged or not (tests, benchmarks).
        self.counts: dict[str, int] = {}

    def log(self, level: int, kind: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless ``kind`` is over its allowance; True if logged."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        now = self._now()
        window = self._windows.get(kind)
        if window is not None and now - window.started >= self.window_s:
            window = self._roll(kind, now)
        if window is None:
            window = self._windows[kind] = _Window(started=now, level=level)
        allowance = 0 if window.flooding else self.burst
        if window.logged < allowance:
            window.logged += 1
            self._logger.log(level, message, *args)
            return True
        window.left_out += 1
        window.level = max(window.level, level)
        window.last = message % args if args else message
        if window.timer is None:
            window.timer = self._call_later(window.started + self.window_s - now, kind)
        return False

    def flush(self) -> None:
        """Write the counts of every window now (at shutdown)."""
        for kind in list(self._windows):
            self._summary(kind, self._windows.pop(kind))

    def _call_later(self, delay: float, kind: str) -> asyncio.TimerHandle | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None  # no loop: the next message of this kind rolls the window over
        return loop.call_later(max(0.0, delay), self._on_timer, kind)

    def _on_timer(self, kind: str) -> None:
        window = self._windows.get(kind)
        if window is not None:
            window.timer = None
            self._roll(kind, self._now())

    def _roll(self, kind: str, now: float) -> _Window | None:
        """End ``kind``'s window: its count, then a new window if it was flooding."""
        window = self._windows.pop(kind)
        if window.timer is not None:
            window.timer.cancel()
        if not window.left_out:
            return None
        self._summary(kind, window)
        if window.logged + window.left_out <= self.burst:
            return None  # a trickle, not a flood: log the next ones again
        fresh = self._windows[kind] = _Window(started=now, level=window.level, flooding=True)
        fresh.timer = self._call_later(self.window_s, kind)
        return fresh

    def _summary(self, kind: str, window: _Window) -> None:
        if window.timer is not None:
            window.timer.cancel()
        if window.left_out:
            self._logger.log(
                window.level,
                "%s: %d more in the last %.0f s, not logged one by one (the last: %s)",
                kind,
                window.left_out,
                self._now() - window.started,
                window.last,
            )
