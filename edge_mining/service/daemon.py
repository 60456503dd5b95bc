"""The daemon: polls the devices, ticks the controller, applies its commands.

Shape:

- one poller task per device (energy source, each miner, the forecast), each read bounded by
  ``device_timeout_s``; a failed read is counted and logged once per kind of failure (and
  once on recovery), and the last good value ages until the controller treats it as stale;
  the forecast is asked every ``FORECAST_POLL_S``: the sources cache and rate-limit
  themselves, so they, not the daemon, decide when to fetch again;
- one control task: every ``control.tick_s`` of the injected clock it builds a Snapshot, asks
  the controller for a Decision, sends the commands (concurrently across miners, in order per
  miner, each bounded by ``command_timeout_s``; failures are logged, never fatal), updates the
  energy counters and calls the listeners (the MQTT bridge, the demo's console);
- on stop (SIGTERM/SIGINT in ``edge-mining run``) every task is cancelled and awaited, the
  miners are left in ``control.shutdown_action``, read once more, and the counters are saved;
- the state files (``keeper``): the counters, published only as saved so that Home Assistant
  never sees them go back after a crash; the controller's protections (starts today, minimum
  on/off times, handover rest), so a restart cannot start a miner beyond
  ``max_starts_per_day`` or inside ``min_off_s``; the settings users changed over MQTT (mode,
  thresholds, a miner's manual control), so a restart keeps them.

Nothing blocks the event loop: the controller tick is pure computation (well under a
millisecond) and file writes go through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import time
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

from edge_mining.cancel import cancel_and_wait
from edge_mining.clock import Clock, WallClock
from edge_mining.config import ControlConfig, PlannerConfig, SimulatedSourceConfig, SiteConfig
from edge_mining.control import Controller
from edge_mining.counters import CounterIntegrator
from edge_mining.devices.base import DeviceError, EnergySource, ForecastSource, MinerDriver
from edge_mining.devices.failures import FailureReporter
from edge_mining.highs_banner import silence_highs_banner
from edge_mining.log_limit import LogLimiter
from edge_mining.model import (
    Command,
    Decision,
    EnergyReading,
    Forecast,
    MinerState,
    MinerStatus,
    Mode,
    Snapshot,
)
from edge_mining.service.actuation import leave_for_shutdown, send_in_order
from edge_mining.service.commands import (
    check_control_changes,
    check_miner_command,
    check_miner_name,
    parse_mode,
    power_limits,
)
from edge_mining.service.keeper import StateKeeper
from edge_mining.service.state import Listener, SiteState

log = logging.getLogger(__name__)

# The forecast sources cache (forecast.solar for refresh_s plus jitter, with back-off and the
# API's rate limit); asking them often costs nothing and picks up a fresh forecast promptly.
FORECAST_POLL_S = 60.0
# Room temperatures change slowly; older than TEMPERATURE_STALE_S they are not passed on.
TEMPERATURE_POLL_S = 30.0
TEMPERATURE_STALE_S = 900.0
# The hashprice reader caches for its own refresh_s; this only bounds how late we notice.
HASHPRICE_POLL_S = 300.0
# Shutdown: a task that ignored a cancellation is cancelled again this often, until this long.
CANCEL_DEADLINE_S = 10.0
LISTENER_TIMEOUT_S = 5.0
# The read after the shutdown command: short, the Supervisor does not wait long for a stop.
SHUTDOWN_READ_TIMEOUT_S = 3.0
# What the controller's and each miner's "reason" say after a stop, per shutdown_action.
SHUTDOWN_REASONS = {
    "pause": ("edge-mining stopped: miners paused", "edge-mining stopped: paused"),
    "min_power": (
        "edge-mining stopped: miners at minimum power",
        "edge-mining stopped: minimum power",
    ),
    "leave": ("edge-mining stopped: miners left as they were", "edge-mining stopped"),
}


class RoomTemperatureReader(Protocol):
    """Reads every heating zone's thermometer (``edge_mining.devices.temperature``)."""

    async def read_all(self) -> Mapping[str, float]: ...

    async def close(self) -> None: ...


class HashpriceReader(Protocol):
    """The hashprice to use now (``edge_mining.devices.hashprice.HashpriceFetcher``)."""

    async def current(self, fallback: float) -> float: ...

    async def close(self) -> None: ...


def site_planner(site: SiteConfig) -> PlannerConfig:
    """The site's planner settings; a simulated plant lends its battery where they leave it
    open (a real inverter does not report its capacity: then there is no plan)."""
    source = site.energy_source
    if isinstance(source, SimulatedSourceConfig):
        return site.planner.for_plant(source.plant)
    return site.planner


class Daemon:
    """Polls, decides, commands. See the module doc."""

    def __init__(
        self,
        site: SiteConfig,
        *,
        energy: EnergySource,
        miners: Mapping[str, MinerDriver],
        forecast: ForecastSource | None = None,
        clock: Clock | None = None,
        controller: Controller | None = None,
        device_timeout_s: float = 15.0,
        command_timeout_s: float = 15.0,
        persist_interval_s: float | None = None,
        temperatures: RoomTemperatureReader | None = None,
        hashprice: HashpriceReader | None = None,
    ) -> None:
        unknown = set(miners) - {m.name for m in site.miners}
        missing = {m.name for m in site.miners} - set(miners)
        if unknown or missing:
            raise ValueError(
                f"drivers and configured miners differ (unknown {sorted(unknown)}, "
                f"missing {sorted(missing)})"
            )
        self.site = site
        self.energy = energy
        self.miners = dict(miners)
        self.forecast_source = forecast
        self.temperatures = temperatures
        self.hashprice = hashprice
        self.clock: Clock = clock or WallClock()
        self.controller = controller or Controller(
            site.control,
            site.miners,
            heating=site.heating,
            economics=site.economics,
            planner=site_planner(site),
            utc_offset_s=float(time.localtime().tm_gmtoff),
        )
        self.device_timeout_s = device_timeout_s
        self.command_timeout_s = command_timeout_s
        heating_miners = (
            [name for zone in site.heating.zones for name in zone.miners]
            if site.heating.enabled
            else []
        )
        self.integrator = CounterIntegrator(
            max_gap_s=max(site.control.stale_after_s, 2 * site.control.tick_s),
            hashprice_per_th_day=site.economics.hashprice_per_th_day,
            heating_miners=heating_miners,
        )
        self.files = StateKeeper(
            site.state_dir,
            self.controller,
            self.integrator,
            site.control,
            save_interval_s=(
                site.state_save_interval_s if persist_interval_s is None else persist_interval_s
            ),
        )
        # Each counts every failed read and logs once per kind, and once on recovery.
        self.energy_failures = FailureReporter("energy source", log)
        self.forecast_failures = FailureReporter("forecast", log)
        self.miner_failures = {name: FailureReporter(f"miner {name}", log) for name in miners}
        self._listeners: list[Listener] = []
        self._reading: EnergyReading | None = None
        self._reading_error: str | None = None
        self._miner_states: dict[str, MinerState] = {
            m.name: MinerState(name=m.name, timestamp=0.0, status=MinerStatus.UNREACHABLE)
            for m in site.miners
        }
        self._forecast: Forecast | None = None
        # Zone -> (°C, clock time read).
        self._room_temperatures: dict[str, tuple[float, float]] = {}
        self._decision: Decision | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._tick_wake = asyncio.Event()
        self._miner_wake = {name: asyncio.Event() for name in self.miners}
        # Users' commands may come in floods (an automation gone wrong): limited per kind.
        self.command_log = LogLimiter(log)
        self.ticks = 0
        self.running = False

    # ---------------------------------------------------------------------------- state

    @property
    def mode(self) -> Mode:
        return self.controller.mode

    @property
    def control(self) -> ControlConfig:
        return self.controller.control

    def _fresh_energy(self, now: float) -> EnergyReading | None:
        reading = self._reading
        if reading is None or now - reading.timestamp > self.control.stale_after_s:
            return None
        return reading

    @property
    def state(self) -> SiteState:
        now = self.clock.now()
        age = None if self._reading is None else max(0.0, now - self._reading.timestamp)
        return SiteState(
            time=now,
            mode=self.mode,
            control=self.control,
            energy=self._reading,
            energy_age_s=age,
            energy_stale=age is None or age > self.control.stale_after_s,
            energy_error=self._reading_error,
            miners=dict(self._miner_states),
            forecast=self._forecast,
            decision=self._decision,
            # As saved, not as counted: what Home Assistant sees never goes back (keeper).
            counters=self.files.saved,
            manual_miners=self._manual_miners(),
            room_temperatures_c=self._fresh_temperatures(now),
            plan=self.controller.plan_document(now),
        )

    def _manual_miners(self) -> frozenset[str]:
        return frozenset(name for name in self.miners if self.controller.is_manual(name))

    def add_listener(self, callback: Listener) -> None:
        """``callback(state)`` after every control tick; may be a coroutine function."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        self._listeners.remove(callback)

    # -------------------------------------------------------------------------- commands

    def _wake(self) -> None:
        self._tick_wake.set()

    def set_mode(self, mode: Mode | str) -> Mode:
        new = parse_mode(mode)
        self.controller.set_mode(new)
        self.files.settings_changed()
        self.command_log.log(logging.INFO, "mode changes", "mode set to %s", new.value)
        self._wake()
        return new

    def miner_limits(self, name: str) -> tuple[float, float]:
        """The power-target range of a miner: its own report, else the configuration."""
        return power_limits(self.site.miner(name), self._miner_states.get(name))

    def command_miner(
        self, name: str, *, running: bool | None = None, power_w: float | None = None
    ) -> None:
        """A user's command: the miner goes to manual until released (the controller's rule)."""
        name = check_miner_name(name, self.miners)
        running, power_w = check_miner_command(
            self.site.miner(name), self.miner_limits(name), running=running, power_w=power_w
        )
        self.controller.manual(name, running=running, power_w=power_w)
        self.files.settings_changed()
        self.command_log.log(
            logging.INFO,
            f"manual commands for {name}",
            "manual command for %s: running=%s power_w=%s",
            name,
            running,
            power_w,
        )
        self._wake()

    def release_miner(self, name: str) -> None:
        name = check_miner_name(name, self.miners)
        self.controller.release(name)
        self.files.settings_changed()
        self.command_log.log(
            logging.INFO,
            f"manual commands for {name}",
            "miner %s released to the controller",
            name,
        )
        self._wake()

    def update_control(self, **changes: Any) -> ControlConfig:
        """Change control settings at run time; validated exactly like the configuration."""
        check_control_changes(self.control, changes)
        self.controller.update_control(**changes)
        self.files.settings_changed()
        self.command_log.log(logging.INFO, "control changes", "control updated: %s", changes)
        self._wake()
        return self.control

    # ---------------------------------------------------------------------------- running

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then cancel every task, apply the shutdown action and
        save the counters. Raises RuntimeError if a task died unexpectedly."""
        if self.running:
            raise RuntimeError("this daemon is already running")
        self.running = True
        failure: BaseException | None = None
        silence_highs_banner()  # the planner's solver would print one on stdout
        try:
            await self.files.restore(self.clock.now())
            await self._poll_all_once()
            self._spawn(self._control_loop(), "control")
            self._spawn(self.files.settings_loop(), "save settings")
            self._spawn(self._energy_loop(), f"poll {self.energy.name}")
            for name in self.miners:
                self._spawn(self._miner_loop(name), f"poll miner {name}")
            if self.forecast_source is not None:
                self._spawn(self._forecast_loop(), "poll forecast")
            if self.temperatures is not None:
                self._spawn(self._temperature_loop(), "poll room temperatures")
            if self.hashprice is not None:
                self._spawn(self._hashprice_loop(), "refresh hashprice")
            log.info(
                "edge-mining running: %s, %d miner(s), mode %s, tick %g s",
                self.energy.name,
                len(self.miners),
                self.mode.value,
                self.control.tick_s,
            )
            stop_waiter = asyncio.ensure_future(stop.wait())
            try:
                done, _ = await asyncio.wait(
                    {stop_waiter, *self._tasks}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                stop_waiter.cancel()
            for task in done:
                if task is not stop_waiter and not task.cancelled():
                    failure = task.exception() or RuntimeError(f"{task.get_name()} ended")
                    log.error(
                        "task %s failed: %r: stopping edge-mining",
                        task.get_name(),
                        failure,
                        exc_info=task.exception(),
                    )
        finally:
            await self._cancel_tasks()
            await self._shutdown_miners()
            await self.files.save(final=True)
            await self.files.save_settings()
            self.running = False
            log.debug("daemon stopped")
        if failure is not None:
            raise RuntimeError(f"daemon task failed: {failure!r}") from failure

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)

    async def _cancel_tasks(self) -> None:
        """Cancel every task and wait until each has ended.

        One cancellation is not always enough: Python 3.11's ``asyncio.wait_for`` returns its
        inner result when that completed in the same loop turn as the cancellation (CPython
        gh-86296, fixed in 3.12), and pyasic reads its sockets through it. The cancellation is
        then lost, the poll loop runs on, and the shutdown used to hang there, the miners never
        paused. So a task still running is cancelled again (:func:`~edge_mining.cancel.
        cancel_and_wait`), until CANCEL_DEADLINE_S; one that outlives that is logged and left
        behind, and the shutdown goes on (a failure was already reported by run()).
        """
        await cancel_and_wait(
            self._tasks,
            logger=log,
            deadline_s=CANCEL_DEADLINE_S,
            left_behind="shutdown: %s did not stop; going on without",
        )
        self._tasks.clear()

    async def _sleep_or_wake(self, seconds: float, wake: asyncio.Event) -> None:
        """Sleep ``seconds`` of clock time, or less if ``wake`` is set meanwhile."""
        if not wake.is_set():
            sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
            waiter = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waiter.cancel()
                await asyncio.gather(sleeper, waiter, return_exceptions=True)
        wake.clear()

    # ----------------------------------------------------------------------------- polling

    async def _poll_all_once(self) -> None:
        jobs = [self._poll_energy(), *(self._poll_miner(n) for n in self.miners)]
        if self.forecast_source is not None:
            jobs.append(self._poll_forecast())
        if self.temperatures is not None:
            jobs.append(self._poll_temperatures())
        await asyncio.gather(*jobs)

    async def _poll_energy(self) -> None:
        try:
            async with asyncio.timeout(self.device_timeout_s):
                reading = await self.energy.read()
        except TimeoutError:
            self._reading_error = (
                f"{self.energy.name}: no reading within {self.device_timeout_s:g} s"
            )
            self.energy_failures.report("timeout", self._reading_error)
        except DeviceError as error:
            self._reading_error = str(error)
            self.energy_failures.report(type(error).__name__, self._reading_error)
        except Exception as error:  # a driver bug must not stop the daemon
            self._reading_error = f"{self.energy.name}: {error!r}"
            self.energy_failures.report(
                f"bug {type(error).__name__}", f"{self.energy.name} failed", exc_info=True
            )
        else:
            # Stamp with our clock: freshness is judged in the daemon's time.
            self._reading = dataclasses.replace(reading, timestamp=self.clock.now())
            self._reading_error = None
            self.energy_failures.recovered()

    async def _poll_miner(self, name: str, timeout_s: float | None = None) -> None:
        driver = self.miners[name]
        failures = self.miner_failures[name]
        try:
            async with asyncio.timeout(timeout_s or self.device_timeout_s):
                state = await driver.read()
        except (TimeoutError, DeviceError) as error:
            failures.report(type(error).__name__, str(error) or "read timed out")
            state = self._unreachable(name, "no answer" if isinstance(error, TimeoutError) else "")
        except Exception as error:
            failures.report(f"bug {type(error).__name__}", "read failed", exc_info=True)
            state = self._unreachable(name, "driver error")
        else:
            state = dataclasses.replace(state, name=name, timestamp=self.clock.now())
            failures.recovered()
        self._miner_states[name] = state

    def _unreachable(self, name: str, why: str) -> MinerState:
        previous = self._miner_states.get(name)
        return MinerState(
            name=name,
            timestamp=self.clock.now(),
            status=MinerStatus.UNREACHABLE,
            errors=(why,) if why else (),
            target_min_w=previous.target_min_w if previous else None,
            target_max_w=previous.target_max_w if previous else None,
        )

    async def _poll_forecast(self) -> None:
        assert self.forecast_source is not None
        try:
            async with asyncio.timeout(self.device_timeout_s):
                self._forecast = await self.forecast_source.read()
        except (TimeoutError, DeviceError) as error:
            self.forecast_failures.report(type(error).__name__, str(error) or "read timed out")
        except Exception as error:
            self.forecast_failures.report(
                f"bug {type(error).__name__}", "forecast source failed", exc_info=True
            )
        else:
            self.forecast_failures.recovered()

    async def _poll_temperatures(self) -> None:
        assert self.temperatures is not None
        try:
            async with asyncio.timeout(self.device_timeout_s):
                found = await self.temperatures.read_all()
        except TimeoutError:
            log.warning("room temperatures: no reading within %g s", self.device_timeout_s)
            return
        except Exception:  # the reader reports device failures itself; this is a bug
            log.exception("room temperatures failed")
            return
        now = self.clock.now()
        for zone, celsius in found.items():
            self._room_temperatures[zone] = (celsius, now)

    def _fresh_temperatures(self, now: float) -> dict[str, float]:
        return {
            zone: celsius
            for zone, (celsius, at) in self._room_temperatures.items()
            if now - at <= TEMPERATURE_STALE_S
        }

    async def _refresh_hashprice(self) -> None:
        assert self.hashprice is not None
        fallback = self.site.economics.hashprice_per_th_day
        try:
            async with asyncio.timeout(self.device_timeout_s):
                value = await self.hashprice.current(fallback)
        except TimeoutError:
            return
        except Exception:  # the reader reports source failures itself; this is a bug
            log.exception("hashprice refresh failed")
            return
        economics = getattr(self.controller, "economics", None)
        if economics is not None and economics.hashprice_per_th_day != value:
            self.controller.economics = economics.model_copy(update={"hashprice_per_th_day": value})
            log.info("hashprice now %g %s per TH/s per day", value, economics.currency)
        self.integrator.hashprice_per_th_day = value

    async def _hashprice_loop(self) -> None:
        while True:
            await self._refresh_hashprice()
            await self.clock.sleep(HASHPRICE_POLL_S)

    async def _temperature_loop(self) -> None:
        while True:
            await self.clock.sleep(TEMPERATURE_POLL_S)
            await self._poll_temperatures()

    def _energy_interval(self) -> float:
        interval = getattr(self.site.energy_source, "poll_interval_s", None)
        return float(interval) if interval else self.control.tick_s

    async def _energy_loop(self) -> None:
        while True:
            await self.clock.sleep(self._energy_interval())
            await self._poll_energy()

    async def _miner_loop(self, name: str) -> None:
        wake = self._miner_wake[name]
        while True:
            await self._sleep_or_wake(self.control.tick_s, wake)
            await self._poll_miner(name)

    async def _forecast_loop(self) -> None:
        while True:
            await self.clock.sleep(FORECAST_POLL_S)
            await self._poll_forecast()

    # ----------------------------------------------------------------------------- control

    async def _control_loop(self) -> None:
        while True:
            await self.tick()
            await self._sleep_or_wake(self.control.tick_s, self._tick_wake)

    async def tick(self) -> Decision | None:
        """One control step: decide, command, count, notify. Public for tests and tools."""
        now = self.clock.now()
        energy = self._fresh_energy(now)
        snapshot = Snapshot(
            time=now,
            # Stale data is passed on with its age: the controller applies the safe action.
            energy=self._reading,
            miners=dict(self._miner_states),
            forecast=self._forecast,
            room_temperatures_c=self._fresh_temperatures(now),
        )
        decision: Decision | None = None
        try:
            decision = self.controller.tick(snapshot)
        except Exception:  # a controller bug is logged loudly; the daemon keeps polling
            log.exception("controller tick failed")
        self.ticks += 1
        if decision is not None:
            self._decision = decision
            if decision.commands:
                await self._apply(decision.commands)
        self.integrator.update(now, energy, self._miner_states)
        if self.files.due():
            await self.files.save()  # before notifying: publish what was just saved
        await self._notify()
        return decision

    async def _apply(self, commands: tuple[Command, ...]) -> None:
        per_miner: dict[str, list[Command]] = {}
        for command in commands:
            per_miner.setdefault(command.miner, []).append(command)
        await asyncio.gather(*(self._apply_to(name, cmds) for name, cmds in per_miner.items()))

    async def _apply_to(self, name: str, commands: list[Command]) -> None:
        driver = self.miners.get(name)
        if driver is None:
            log.error("controller commanded unknown miner %r: ignored", name)
            return
        await send_in_order(driver, commands, self.command_timeout_s)
        self._miner_wake[name].set()  # confirm by telemetry soon

    async def _notify(self) -> None:
        if not self._listeners:
            return
        state = self.state
        for listener in list(self._listeners):
            try:
                result = listener(state)
                if inspect.isawaitable(result):
                    async with asyncio.timeout(LISTENER_TIMEOUT_S):
                        await result
            except Exception:
                log.exception("listener %r failed", listener)

    # ---------------------------------------------------------------------------- shutdown

    async def _shutdown_miners(self) -> None:
        """Apply ``shutdown_action``, then read every miner once more, so that the last state
        published (and retained by the broker) is the shutdown's, not the last tick's."""
        action = self.control.shutdown_action
        if action == "leave":
            log.info("shutdown: miners left as they are")
        await asyncio.gather(*(self._shutdown_miner(name, action) for name in self.miners))
        if self._decision is not None:
            site_reason, miner_reason = SHUTDOWN_REASONS[action]
            self._decision = dataclasses.replace(
                self._decision,
                reason=site_reason,
                miner_reasons=dict.fromkeys(self.miners, miner_reason),
            )

    async def _shutdown_miner(self, name: str, action: str) -> None:
        acknowledged = False
        if action != "leave":
            acknowledged = await leave_for_shutdown(
                name,
                self.miners[name],
                action,
                min_power_w=(
                    self.miner_limits(name)[0] if self.site.miner(name).power_target else None
                ),
                timeout_s=self.command_timeout_s,
            )
        await self._poll_miner(name, timeout_s=min(self.device_timeout_s, SHUTDOWN_READ_TIMEOUT_S))
        state = self._miner_states[name]
        if action == "pause" and acknowledged and state.status.is_running:
            # The miner took the pause; BraiinsOS reports "mining" until its hashrate has
            # wound down, which outlasts us. What it does now is stopping.
            self._miner_states[name] = dataclasses.replace(state, status=MinerStatus.STOPPING)
