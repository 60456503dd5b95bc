"""Report a failing source once per kind of failure, and once more when it recovers.

A source polled every few seconds that keeps timing out must not flood the log with the same
warning; a different failure (401 after a timeout) is news and is logged. Every occurrence is
still counted, so the counts can be published or inspected in tests.
"""

from __future__ import annotations

import logging
from collections import Counter


class FailureReporter:
    """Log-once-per-kind bookkeeping for one source (named in every message)."""

    def __init__(self, source: str, logger: logging.Logger) -> None:
        self.source = source
        self._logger = logger
        self._active: set[str] = set()
        self.counts: Counter[str] = Counter()

    @property
    def failing(self) -> frozenset[str]:
        """Failure kinds seen since the last recovery."""
        return frozenset(self._active)

    def report(self, kind: str, message: str, *, exc_info: bool = False) -> None:
        """Count a failure of ``kind``; log it only the first time until recovery (with the
        current exception's traceback when ``exc_info``: a bug worth showing once)."""
        self.counts[kind] += 1
        if kind in self._active:
            self._logger.debug("%s: %s (%s, again)", self.source, message, kind)
            return
        self._active.add(kind)
        self._logger.warning("%s: %s", self.source, message, exc_info=exc_info)

    def recovered(self, kind: str | None = None) -> None:
        """The source works again (for ``kind`` only, or for every kind)."""
        kinds = {kind} if kind is not None else set(self._active)
        cleared = sorted(k for k in kinds if k in self._active)
        if not cleared:
            return
        self._active.difference_update(cleared)
        self._logger.info("%s: recovered (%s)", self.source, ", ".join(cleared))
