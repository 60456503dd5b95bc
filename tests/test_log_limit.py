"""Rate-limited log lines per kind: a burst, then one count per window while a flood lasts."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from edge_mining.log_limit import LogLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Records:
    """The records of the running test phase (caplog.records is per phase)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    def __len__(self) -> int:
        return len(self.caplog.records)

    def __iter__(self):
        return iter(self.caplog.records)

    def __getitem__(self, index):
        return self.caplog.records[index]


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Records:
    caplog.set_level(logging.DEBUG, logger="test.limit")
    return Records(caplog)


def messages(records: Records) -> list[str]:
    return [r.getMessage() for r in records]


def left_out(records: Records) -> int:
    return sum(
        int(m.group(1)) for m in map(re.compile(r": (\d+) more in").search, messages(records)) if m
    )


def test_a_flood_is_a_burst_then_one_count_per_window(records):
    clock = FakeTime()
    limiter = LogLimiter(logging.getLogger("test.limit"), window_s=60, burst=3, now=clock)
    for i in range(1000):  # 1000 in the first 10 s
        limiter.log(logging.WARNING, "rejected a", "bad %d", i)
        clock.now += 0.01
    assert messages(records) == ["bad 0", "bad 1", "bad 2"]
    clock.now += 55  # the flood goes on into the next window
    for i in range(1000, 1500):
        limiter.log(logging.WARNING, "rejected a", "bad %d", i)
    assert messages(records)[3] == (
        "rejected a: 997 more in the last 65 s, not logged one by one (the last: bad 999)"
    )
    assert len(records) == 4  # no new burst while the flood lasts
    clock.now += 61
    limiter.log(logging.WARNING, "rejected a", "bad again")  # still the flood's tail
    assert messages(records)[4].startswith("rejected a: 500 more in the last 61 s")
    assert len(records) == 5
    clock.now += 61  # a window of one message ends the flood
    limiter.log(logging.WARNING, "rejected a", "news")
    assert messages(records)[5].startswith("rejected a: 1 more in the last 61 s")
    assert messages(records)[6] == "news"
    # Every message is in the log, one by one or in a count.
    assert left_out(records) + 4 == limiter.counts["rejected a"] == 1502


def test_kinds_are_limited_separately_and_flush_writes_the_counts(records):
    clock = FakeTime()
    limiter = LogLimiter(logging.getLogger("test.limit"), burst=1, now=clock)
    for _ in range(10):
        limiter.log(logging.WARNING, "a", "a")
        limiter.log(logging.INFO, "b", "b")
    assert messages(records) == ["a", "b"]
    limiter.flush()
    assert sorted(messages(records)[2:]) == [
        "a: 9 more in the last 0 s, not logged one by one (the last: a)",
        "b: 9 more in the last 0 s, not logged one by one (the last: b)",
    ]
    assert [r.levelno for r in records[2:]] in (
        [logging.WARNING, logging.INFO],
        [logging.INFO, logging.WARNING],
    )


async def test_the_count_of_a_flood_that_stopped_is_written_by_a_timer(records):
    limiter = LogLimiter(logging.getLogger("test.limit"), window_s=0.2, burst=1)
    for i in range(50):
        limiter.log(logging.WARNING, "dropped", "dropped %d", i)
    assert len(records) == 1
    for _ in range(100):
        if len(records) == 2:
            break
        await asyncio.sleep(0.02)
    assert messages(records)[1].startswith("dropped: 49 more in the last")
    await asyncio.sleep(0.5)  # the next (empty) window ends without a line
    assert len(records) == 2
