"""What every driver over one pyasic miner object shares, BraiinsOS's and the other families'.

- The miner is detected once, in a task of its own so a poll's timeout does not cancel it
  (with many miners starting at once it carries on across polls instead of starting over),
  and again only after the miner was unreachable (it may come back with other firmware).
  Detections run at most :data:`MAX_CONCURRENT_DETECTIONS` at a time per event loop.
- ``read`` is bounded by ``timeout_s`` and never raises for an unreachable miner: it reports
  UNREACHABLE (a warning once per loss); a driver error is an ERROR state.
- Every command finds the miner with :meth:`PyasicCore._require` and bounds its calls with
  :meth:`PyasicCore._bounded`.

A driver fills in :meth:`PyasicCore._detect` (what detection does), the reading
(:meth:`PyasicCore._read_telemetry`, :meth:`PyasicCore._reading`) and the state it reports
without telemetry (:meth:`PyasicCore._state`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable
from typing import Any, ClassVar, Generic, TypeVar

from pyasic.miners.base import AnyMiner

from edge_mining.clock import Clock, WallClock
from edge_mining.config import MinerConfig
from edge_mining.devices.base import DeviceError, DeviceUnavailable
from edge_mining.devices.miner_state import Observation, TransitionTracker
from edge_mining.model import MinerState, MinerStatus

T = TypeVar("T")
TelemetryT = TypeVar("TelemetryT")

MAX_CONCURRENT_DETECTIONS = 32
_DETECTION_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


class PyasicCore(Generic[TelemetryT]):
    """Detection, bounded reads and commands, and losses of one pyasic miner."""

    logger: ClassVar[logging.Logger] = logging.getLogger(__name__)  # the driver's module's

    def __init__(
        self,
        config: MinerConfig,
        *,
        clock: Clock | None = None,
        timeout_s: float = 5.0,
        start_timeout_s: float = 180.0,
        stop_timeout_s: float = 60.0,
    ) -> None:
        if not config.host:
            raise ValueError(f"miner {config.name}: host is required")
        self.name = config.name
        self.config = config
        self.host = config.host
        self.clock = clock or WallClock()
        self.timeout_s = timeout_s
        self.tracker = TransitionTracker(
            start_timeout_s=start_timeout_s, stop_timeout_s=stop_timeout_s
        )
        self.model: str | None = None
        self.firmware: str | None = None
        self.serial: str | None = None
        self.detections = 0  # how many times detection ran (for tests and benchmarks)
        self.losses = 0  # how many times it became unreachable: each one means a re-detection
        self._miner: AnyMiner | None = None
        self._lost = False  # unreachable since the last detection: detect again
        self._detect_task: asyncio.Task[AnyMiner] | None = None
        # pyasic's factory waits up to 3 s for each of two stages, then the driver's own calls.
        self.detect_timeout_s = 6.0 + 3 * timeout_s

    @property
    def label(self) -> str:
        return f"miner {self.name} ({self.host})"

    # ------------------------------------------------------------------------- driver's part

    async def _detect(self) -> AnyMiner:
        """Find and describe the miner (inside :func:`detection_slots`); sets ``_miner``."""
        raise NotImplementedError

    async def _read_telemetry(self, miner: AnyMiner) -> TelemetryT:
        raise NotImplementedError

    def _reading(self, now: float, telemetry: TelemetryT) -> MinerState:
        """The state one successful poll reports."""
        raise NotImplementedError

    def _state(self, now: float, status: MinerStatus, *, errors: tuple[str, ...]) -> MinerState:
        """The state reported without telemetry (unreachable, error)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------- reading

    async def read(self) -> MinerState:
        now = self.clock.now()
        try:
            async with asyncio.timeout(self.timeout_s):
                telemetry = await self._read_telemetry(await self._detected())
        except TimeoutError:
            if self._detecting:
                # Detection carries on in its task; this poll just could not wait for it.
                return self._unreachable(now, "detecting the miner", lost=False)
            return self._unreachable(now, f"no answer within {self.timeout_s:g} s")
        except DeviceUnavailable as exc:
            return self._unreachable(now, str(exc))
        except DeviceError as exc:
            return self._state(now, MinerStatus.ERROR, errors=(str(exc),))
        return self._reading(now, telemetry)

    def _mark_lost(self) -> None:
        """Unreachable since the last detection: the next use detects the miner again."""
        if not self._lost:
            self._lost = True
            self.losses += 1

    @property
    def _detecting(self) -> bool:
        return self._detect_task is not None and not self._detect_task.done()

    def _unreachable(self, now: float, why: str, *, lost: bool = True) -> MinerState:
        if lost and not self._lost:
            if why.startswith(self.label):
                self.logger.warning("%s", why)
            else:
                self.logger.warning("%s is unreachable: %s", self.label, why)
        if lost:
            self._mark_lost()
        self.tracker.observe(Observation(False), now)
        return self._state(now, MinerStatus.UNREACHABLE, errors=(why,))

    # ------------------------------------------------------------------------- detection

    async def _detected(self) -> AnyMiner:
        """The cached pyasic miner; detected on first use and after it was unreachable."""
        if self._miner is not None and not self._lost:
            return self._miner
        task = self._detect_task
        if task is None or task.done():
            task = asyncio.create_task(self._detect(), name=f"detect miner {self.name}")
            task.add_done_callback(_consume_result)
            self._detect_task = task
        return await asyncio.shield(task)

    async def _require(self) -> AnyMiner:
        """The detected miner, for a command (unreachable: DeviceUnavailable)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._detected()
        except TimeoutError:
            self._mark_lost()
            raise self._no_answer() from None
        except DeviceUnavailable:
            self._mark_lost()
            raise

    async def close(self) -> None:
        task, self._detect_task = self._detect_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._miner = None

    # ------------------------------------------------------------------------- power

    def _miner_range(self) -> tuple[float | None, float | None]:
        """The power targets the miner itself accepts (None: not known)."""
        return None, None

    def clamp(self, watts: float) -> int:
        """``watts`` inside the miner's range and the configured [min, max]."""
        low, high = self.config.min_power_w, self.config.max_power_w
        miner_low, miner_high = self._miner_range()
        if miner_low is not None and miner_high is not None:
            low = max(low, miner_low)
            high = min(high, miner_high)
            if low > high:  # the configured range misses the miner's: the miner wins
                low, high = miner_low, miner_high
        return int(round(min(max(watts, low), high)))

    # ------------------------------------------------------------------------- transport

    async def _bounded(self, call: Awaitable[T]) -> T:
        """One call to the miner, bounded by ``timeout_s`` (no answer: DeviceUnavailable)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await call
        except TimeoutError:
            self._mark_lost()
            raise self._no_answer() from None

    def _no_answer(self) -> DeviceUnavailable:
        return DeviceUnavailable(f"{self.label}: no answer within {self.timeout_s:g} s")


def _consume_result(task: asyncio.Task[Any]) -> None:
    """Retrieve a detection task's outcome so an unawaited failure is not reported as lost."""
    if not task.cancelled():
        task.exception()


def detection_slots() -> asyncio.Semaphore:
    """A per-event-loop limit on concurrent detections (each one is CPU-heavy in pyasic)."""
    loop = asyncio.get_running_loop()
    slots = _DETECTION_SLOTS.get(loop)
    if slots is None:
        slots = _DETECTION_SLOTS[loop] = asyncio.Semaphore(MAX_CONCURRENT_DETECTIONS)
    return slots
