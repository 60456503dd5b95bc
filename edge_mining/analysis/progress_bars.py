"""Progress bars for the backtest on a terminal (``rich``), one per policy run.

Bars go to standard error and only when it is a terminal: piped output, ``--json`` and
the tests see nothing. The oracle's bar advances window by window, the policies' by steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

StepProgress = Callable[[int, int], None]


@contextmanager
def policy_bars(stream: TextIO, enabled: bool) -> Iterator[Callable[[str], StepProgress] | None]:
    """Yields ``bar(name)`` giving a run's ``(done, total)`` callback, or None if disabled."""
    if not enabled:
        yield None
        return
    console = Console(file=stream)
    columns = (
        TextColumn("{task.description:>16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bars:

        def bar(name: str) -> StepProgress:
            windows = name == "oracle"
            task = bars.add_task(f"{name} (windows)" if windows else name, total=None, unit="steps")
            count = 0

            def update(done: int, total: int) -> None:
                nonlocal count
                if windows and done == 0:
                    count = 0  # a new sweep (longer windows) starts over
                count += 1
                unit = f"steps, {max(0, count - 1)} windows" if windows else "steps"
                bars.update(task, completed=done, total=total, unit=unit)

            return update

        yield bar
