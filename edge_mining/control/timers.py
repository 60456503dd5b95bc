"""Timers that only read the time they are given: conditions held for a delay, daily counts."""

from __future__ import annotations

SECONDS_PER_DAY = 86400.0


def local_day(now: float, utc_offset_s: float = 0.0) -> int:
    """The site's calendar day of an epoch time (``utc_offset_s``: its offset from UTC), the
    unit of ``max_starts_per_day``: a user's day ends at local midnight, not at 00:00 UTC,
    which falls in the evening (mining on the battery) west of Greenwich."""
    return int((now + utc_offset_s) // SECONDS_PER_DAY)


def local_midnight(day: int, utc_offset_s: float = 0.0) -> float:
    """The epoch time at which local ``day`` begins."""
    return day * SECONDS_PER_DAY - utc_offset_s


def elapsed(since: float | None, now: float) -> float:
    """Seconds since ``since``; infinite when the event never happened (no constraint)."""
    if since is None:
        return float("inf")
    return now - since


class HoldTimer:
    """How long a condition has held *continuously*. Breaking it once resets the timer."""

    __slots__ = ("_since",)

    def __init__(self) -> None:
        self._since: float | None = None

    def update(self, condition: bool, now: float) -> float:
        """Feed this tick's truth value; returns how long it has held (0 when it does not)."""
        if not condition:
            self._since = None
            return 0.0
        if self._since is None:
            self._since = now
        return now - self._since

    def held_for(self, now: float) -> float:
        return 0.0 if self._since is None else now - self._since

    def reset(self) -> None:
        self._since = None


class DailyCounter:
    """Counts events per local calendar day; the count starts again at local midnight."""

    __slots__ = ("_day", "_count", "utc_offset_s")

    def __init__(self, utc_offset_s: float = 0.0) -> None:
        self._day = -1
        self._count = 0
        self.utc_offset_s = utc_offset_s

    def day(self, now: float) -> int:
        return local_day(now, self.utc_offset_s)

    def count(self, now: float) -> int:
        return self._count if self.day(now) == self._day else 0

    def add(self, now: float) -> None:
        day = self.day(now)
        if day != self._day:
            self._day = day
            self._count = 0
        self._count += 1
