"""HiGHS writes a two-line banner on the process's standard output when the first solver of
the process is created (from C++, before any option can switch it off). Standard output is
where the commands print what tools parse (``backtest --json``), so the entry points that may
plan create that first solver once with file descriptor 1 pointed at ``/dev/null``; later
solvers print nothing. Not thread-safe (call it at start-up, before other threads write).
"""

from __future__ import annotations

import os
import sys

_done = False


def silence_highs_banner() -> None:
    """Create (and drop) the process's first HiGHS solver with its banner discarded."""
    global _done
    if _done:
        return
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 1)
            try:
                highspy.Highs()
            finally:
                os.dup2(saved, 1)
    finally:
        os.close(saved)
    _done = True
