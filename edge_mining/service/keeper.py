"""The daemon's files in ``state_dir`` and when they are written: the energy counters, the
controller's protections (``memory_file``), the house-load profile the planner learned
(``load_profile_file``) and the settings users changed at run time (``settings_file``).

Counters never go backwards in Home Assistant, whatever kills the process. Home Assistant
reads them as ``total_increasing``: a value lower than one it has seen starts a new meter
cycle. So the daemon publishes the counters as last *saved*, never the live ones: after a
``kill -9`` it restarts from the file, which holds at least what was published. The price is a
lag of up to ``state_save_interval_s`` (60 s by default: invisible in the Energy dashboard's
hourly statistics), and the writes stay few for an SD card: one counters file and one
controller-memory file per interval (2 x 1,440 a day at 60 s), plus one of each right after
start-up and at stop. The house-load profile changes slowly (quarter-hour averages): it is
written every ``PROFILE_SAVE_INTERVAL_S`` and at stop (96 writes a day). Settings changed
over MQTT are written when they change, at most once a second however fast the commands come.

If a file cannot be written (a full or read-only disk), the published counters wait at the
last saved values and the failure is logged once (and once on recovery).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from edge_mining.config import ControlConfig
from edge_mining.control import Controller
from edge_mining.counters import CounterIntegrator, CounterStore, EnergyCounters
from edge_mining.devices.failures import FailureReporter
from edge_mining.service.memory_file import ControllerMemoryFile, LoadProfileFile
from edge_mining.service.settings_file import (
    UserSettingsFile,
    restore_settings,
    settings_document,
)

log = logging.getLogger(__name__)

# Settings changed over MQTT: at most one write per this many seconds (a command flood).
SETTINGS_WRITE_INTERVAL_S = 1.0
# The planner's house-load profile: one write per this many seconds, and at stop.
PROFILE_SAVE_INTERVAL_S = 900.0


class StateKeeper:
    """Loads the state files before the first tick and writes them while the daemon runs."""

    def __init__(
        self,
        directory: Path,
        controller: Controller,
        integrator: CounterIntegrator,
        configured: ControlConfig,
        *,
        save_interval_s: float,
    ) -> None:
        self.store = CounterStore(directory)
        self.memory_file = ControllerMemoryFile(directory)
        self.load_profile_file = LoadProfileFile(directory)
        self.settings_file = UserSettingsFile(directory)
        self.controller = controller
        self.integrator = integrator
        self.configured = configured
        self.save_interval_s = save_interval_s
        # What Home Assistant may see: the counters as last written to disk.
        self.saved = EnergyCounters()
        self.counter_writes = 0
        self.failures = FailureReporter(f"state files in {directory}", log)
        self._last_save = time.monotonic()
        self._last_profile_save: float | None = None
        self._settings_saved: dict[str, Any] | None = None
        self._settings_changed = asyncio.Event()

    # -------------------------------------------------------------------------- start-up

    async def restore(self, now: float) -> None:
        """Counters, protections and settings from disk, then one save at once (the files
        exist and ``state_dir`` is known writable from the start)."""
        counters = await asyncio.to_thread(self.store.load)
        self.integrator.counters = counters
        self.saved = counters.copy()
        await asyncio.to_thread(self.memory_file.restore, self.controller, now)
        await asyncio.to_thread(self.load_profile_file.restore, self.controller, now)
        document = await asyncio.to_thread(self.settings_file.read)
        if document is not None:
            try:
                restore_settings(self.controller, self.configured, document)
            except ValueError as error:
                await asyncio.to_thread(self.settings_file.set_aside, str(error))
                self._settings_saved = None
            else:
                self._settings_saved = document
        await self.save()
        await self.save_settings()

    # ------------------------------------------------------------------ counters, memory

    def due(self) -> bool:
        return time.monotonic() - self._last_save >= self.save_interval_s

    async def save(self, *, final: bool = False) -> None:
        """Write the counters and the controller's memory; the counters become publishable.
        The house-load profile too when its interval has passed, or ``final`` (at stop)."""
        self._last_save = time.monotonic()
        counters = self.integrator.counters.copy()
        try:
            await asyncio.to_thread(self.store.save, counters)
        except OSError as error:
            self.failures.report(
                "counters",
                f"cannot save the counters to {self.store.path} ({error}): Home Assistant "
                "sees them as last saved until they can be saved again",
            )
        else:
            self.saved = counters
            self.counter_writes += 1
            self.failures.recovered("counters")
        try:
            await asyncio.to_thread(self.memory_file.save, self.controller.export_memory())
        except OSError as error:
            self.failures.report(
                "memory", f"cannot save the controller memory to {self.memory_file.path}: {error}"
            )
        else:
            self.failures.recovered("memory")
        await self._save_profile(final)

    async def _save_profile(self, final: bool) -> None:
        profile = self.controller.load_profile
        if profile is None:
            return  # no planner
        now = time.monotonic()
        last = self._last_profile_save
        if not final and last is not None and now - last < PROFILE_SAVE_INTERVAL_S:
            return
        self._last_profile_save = now
        try:
            await asyncio.to_thread(self.load_profile_file.save, profile)
        except OSError as error:
            self.failures.report(
                "profile",
                f"cannot save the house-load profile to {self.load_profile_file.path}: {error}",
            )
        else:
            self.failures.recovered("profile")

    # ------------------------------------------------------------------------- settings

    def settings_changed(self) -> None:
        """A user changed the mode, a control setting or a miner's manual control."""
        self._settings_changed.set()

    async def settings_loop(self) -> None:
        """Writes the settings after each change, at most once per
        ``SETTINGS_WRITE_INTERVAL_S``."""
        while True:
            await self._settings_changed.wait()
            self._settings_changed.clear()
            await self.save_settings()
            await asyncio.sleep(SETTINGS_WRITE_INTERVAL_S)

    async def save_settings(self) -> None:
        """Write the settings document if it differs from what the file holds."""
        document = settings_document(self.controller, self.configured)
        if document == self._settings_saved:
            return
        if self._settings_saved is None and len(document) == 1:
            return  # nothing set at run time and no file: nothing to write
        try:
            await asyncio.to_thread(self.settings_file.save, document)
        except OSError as error:
            self.failures.report(
                "settings",
                f"cannot save the settings set over MQTT to {self.settings_file.path}: {error}",
            )
        else:
            self._settings_saved = document
            self.failures.recovered("settings")
