"""Reading a measured power series (``time,power_w`` CSV) for the plant and the backtest."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path


def parse_time(text: str) -> float:
    """Epoch seconds, or ISO 8601 (UTC when it names no zone), as epoch seconds."""
    try:
        return float(text)
    except ValueError:
        stamp = datetime.fromisoformat(text.strip())
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()


def read_power_rows(path: Path) -> tuple[list[float], list[float]]:
    """``time,power_w`` rows sorted by time (a header line and ``#`` comments are allowed).

    Raises ValueError naming the file (and line) for anything unreadable, so a bad series is a
    clear message, never a traceback.
    """
    times: list[float] = []
    values: list[float] = []
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror or error}") from None
    with handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].lstrip().startswith("#"):
                continue
            try:
                stamp, value = parse_time(row[0]), float(row[1])
            except (ValueError, IndexError):
                if not times:
                    continue  # header line
                raise ValueError(f"{path}:{line_no}: expected time,power_w, got {row!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"{path}:{line_no}: power is not a finite number")
            times.append(stamp)
            values.append(value)
    if len(times) < 2:
        raise ValueError(f"{path}: needs at least two rows of time,power_w")
    order = sorted(range(len(times)), key=times.__getitem__)
    return [times[i] for i in order], [values[i] for i in order]
