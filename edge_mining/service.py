"""The daemon: one asyncio process that polls the devices, ticks the controller and applies its
commands.

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
  miners are left in ``control.shutdown_action`` and the counters are saved.

Nothing blocks the event loop: the controller tick is pure computation (well under a
millisecond) and file writes go through ``asyncio.to_thread``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import inspect
import logging
import math
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from edge_mining.clock import Clock, WallClock
from edge_mining.config import (
    ADDON_OPTIONS_PATH,
    ConfigError,
    ControlConfig,
    SiteConfig,
    describe_validation_error,
    load_config,
)
from edge_mining.control import Controller
from edge_mining.counters import CounterIntegrator, CounterStore, EnergyCounters
from edge_mining.devices.base import DeviceError, EnergySource, ForecastSource, MinerDriver
from edge_mining.devices.failures import FailureReporter
from edge_mining.model import (
    Action,
    Command,
    Decision,
    EnergyReading,
    Forecast,
    MinerState,
    MinerStatus,
    Mode,
    Snapshot,
)

log = logging.getLogger(__name__)

# The forecast sources cache (forecast.solar for refresh_s plus jitter, with back-off and the
# API's rate limit); asking them often costs nothing and picks up a fresh forecast promptly.
FORECAST_POLL_S = 60.0
# Room temperatures change slowly; older than TEMPERATURE_STALE_S they are not passed on.
TEMPERATURE_POLL_S = 30.0
TEMPERATURE_STALE_S = 900.0
# The hashprice reader caches for its own refresh_s; this only bounds how late we notice.
HASHPRICE_POLL_S = 300.0
LISTENER_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class SiteState:
    """What the daemon knows, as of ``time`` (clock time)."""

    time: float
    mode: Mode
    control: ControlConfig
    energy: EnergyReading | None
    # Clock seconds since the latest reading was received; None before the first one.
    energy_age_s: float | None
    energy_stale: bool
    energy_error: str | None
    miners: Mapping[str, MinerState]
    forecast: Forecast | None
    decision: Decision | None
    counters: EnergyCounters
    # Miners under a user's manual command (until released).
    manual_miners: frozenset[str] = frozenset()
    # Room temperature per heating zone (°C), fresh ones only.
    room_temperatures_c: Mapping[str, float] = dataclasses.field(default_factory=dict)


Listener = Callable[[SiteState], Awaitable[None] | None]


class RoomTemperatureReader(Protocol):
    """Reads every heating zone's thermometer (``edge_mining.devices.temperature``)."""

    async def read_all(self) -> Mapping[str, float]: ...

    async def close(self) -> None: ...


class HashpriceReader(Protocol):
    """The hashprice to use now (``edge_mining.devices.hashprice.HashpriceFetcher``)."""

    async def current(self, fallback: float) -> float: ...

    async def close(self) -> None: ...


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
        persist_interval_s: float = 30.0,
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
            site.control, site.miners, heating=site.heating, economics=site.economics
        )
        self.device_timeout_s = device_timeout_s
        self.command_timeout_s = command_timeout_s
        self.persist_interval_s = persist_interval_s
        self.store = CounterStore(site.state_dir)
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
        self._last_save = time.monotonic()
        self.ticks = 0
        self.running = False

    # ---------------------------------------------------------------------------- state

    @property
    def mode(self) -> Mode:
        return getattr(self.controller, "mode", self.site.control.mode)

    @property
    def control(self) -> ControlConfig:
        return getattr(self.controller, "control", self.site.control)

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
            counters=self.integrator.counters.copy(),
            manual_miners=self._manual_miners(),
            room_temperatures_c=self._fresh_temperatures(now),
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
        try:
            new = Mode(str(mode).strip().lower())
        except ValueError:
            options = ", ".join(m.value for m in Mode)
            raise ValueError(f"unknown mode {mode!r} (expected one of {options})") from None
        self.controller.set_mode(new)
        log.info("mode set to %s", new.value)
        self._wake()
        return new

    def miner_limits(self, name: str) -> tuple[float, float]:
        """The power-target range of a miner: its own report, else the configuration."""
        config = self.site.miner(name)
        state = self._miner_states.get(name)
        low = state.target_min_w if state and state.target_min_w is not None else None
        high = state.target_max_w if state and state.target_max_w is not None else None
        return (
            config.min_power_w if low is None else max(low, config.min_power_w),
            config.max_power_w if high is None else min(high, config.max_power_w),
        )

    def _check_miner(self, name: object) -> str:
        if not isinstance(name, str) or name not in self.miners:
            raise ValueError(f"unknown miner {name!r}")
        return name

    def command_miner(
        self, name: str, *, running: bool | None = None, power_w: float | None = None
    ) -> None:
        """A user's command: the miner goes to manual until released (the controller's rule)."""
        name = self._check_miner(name)
        if running is None and power_w is None:
            raise ValueError("nothing to do: give running and/or power_w")
        if running is not None and not isinstance(running, bool):
            raise ValueError(f"running must be true or false, got {running!r}")
        if power_w is not None:
            if isinstance(power_w, bool) or not isinstance(power_w, int | float):
                raise ValueError(f"power_w must be a number, got {power_w!r}")
            if not math.isfinite(power_w):
                raise ValueError(f"power_w must be a finite number, got {power_w!r}")
            if not self.site.miner(name).power_target:
                raise ValueError(f"miner {name!r} takes no power target (on/off only)")
            low, high = self.miner_limits(name)
            if not low <= power_w <= high:
                raise ValueError(
                    f"power target {power_w:g} W is outside {name}'s limits [{low:g}, {high:g}] W"
                )
            power_w = float(power_w)
        self.controller.manual(name, running=running, power_w=power_w)
        log.info("manual command for %s: running=%s power_w=%s", name, running, power_w)
        self._wake()

    def release_miner(self, name: str) -> None:
        name = self._check_miner(name)
        self.controller.release(name)
        log.info("miner %s released to the controller", name)
        self._wake()

    def update_control(self, **changes: Any) -> ControlConfig:
        """Change control settings at run time; validated exactly like the configuration."""
        if not changes:
            raise ValueError("no control setting given")
        allowed = set(ControlConfig.model_fields) - {"mode"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"unknown control setting(s): {', '.join(unknown)}")
        try:
            ControlConfig.model_validate({**self.control.model_dump(), **changes})
        except ValueError as error:
            from pydantic import ValidationError

            if isinstance(error, ValidationError):
                lines = describe_validation_error(error, changes)
                raise ValueError("; ".join(lines)) from None
            raise ValueError(str(error)) from None
        self.controller.update_control(**changes)
        log.info("control updated: %s", changes)
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
        try:
            self.integrator.counters = await asyncio.to_thread(self.store.load)
            await self._poll_all_once()
            self._spawn(self._control_loop(), "control")
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
                    log.error("task %s ended unexpectedly: %r", task.get_name(), failure)
        finally:
            await self._cancel_tasks()
            await self._shutdown_miners()
            await self._save()
            self.running = False
            log.info("edge-mining stopped")
        if failure is not None:
            raise RuntimeError(f"daemon task failed: {failure!r}") from failure

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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

    async def _poll_miner(self, name: str) -> None:
        driver = self.miners[name]
        failures = self.miner_failures[name]
        try:
            async with asyncio.timeout(self.device_timeout_s):
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
        await self._notify()
        if time.monotonic() - self._last_save >= self.persist_interval_s:
            await self._save()
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
        for command in commands:
            try:
                async with asyncio.timeout(self.command_timeout_s):
                    await self._send(driver, command)
            except TimeoutError:
                log.warning("%s: not acknowledged within %g s", command, self.command_timeout_s)
                break
            except DeviceError as error:
                log.warning("%s: failed: %s", command, error)
                break
            except Exception:
                log.exception("%s: driver error", command)
                break
            else:
                log.info("%s", command)
        self._miner_wake[name].set()  # confirm by telemetry soon

    @staticmethod
    async def _send(driver: MinerDriver, command: Command) -> None:
        match command.action:
            case Action.START:
                await driver.start()
            case Action.STOP:
                await driver.stop()
            case Action.SET_POWER:
                if command.power_w is None:
                    raise DeviceError(f"{driver.name}: set_power without a target")
                await driver.set_power_target(command.power_w)

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

    async def _save(self) -> None:
        self._last_save = time.monotonic()
        try:
            await asyncio.to_thread(self.store.save, self.integrator.counters.copy())
        except OSError as error:
            log.warning("could not save counters to %s: %s", self.store.path, error)

    # ---------------------------------------------------------------------------- shutdown

    async def _shutdown_miners(self) -> None:
        action = self.control.shutdown_action
        if action == "leave":
            log.info("shutdown: miners left as they are")
            return

        async def one(name: str, driver: MinerDriver) -> None:
            config = self.site.miner(name)
            try:
                async with asyncio.timeout(self.command_timeout_s):
                    if action == "pause":
                        await driver.stop()
                        log.info("shutdown: %s paused", name)
                    elif config.power_target:
                        low, _ = self.miner_limits(name)
                        await driver.set_power_target(low)
                        log.info("shutdown: %s set to its minimum power %g W", name, low)
                    else:
                        log.info("shutdown: %s has no power target: left as it is", name)
            except (TimeoutError, DeviceError) as error:
                log.warning("shutdown: %s: %s", name, str(error) or "timed out")
            except Exception:
                log.exception("shutdown: %s: driver error", name)

        await asyncio.gather(*(one(n, d) for n, d in self.miners.items()))


# ------------------------------------------------------------------------------- hooks


BridgeRunner = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def mqtt_bridge_hook(daemon: Daemon, site: SiteConfig) -> BridgeRunner | None:
    """The MQTT bridge to run alongside the daemon, when MQTT is enabled and has a host.

    Contract with ``edge_mining.mqtt.bridge``: ``run_bridge(site, daemon, stop)`` is a
    coroutine that runs until ``stop`` is set, then publishes the final state and ``offline``
    and returns. ``stop`` is set only after the daemon has shut down, so the miners'
    shutdown state is what the broker sees last.
    """
    if not (site.mqtt.enabled and site.mqtt.host):
        return None
    try:
        module = importlib.import_module("edge_mining.mqtt.bridge")
        run_bridge = module.run_bridge
    except (ImportError, AttributeError) as error:
        log.error("MQTT is configured but the bridge is not available: %s", error)
        return None

    def runner(stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        return run_bridge(site, daemon, stop)

    return runner


def addon_site_hook(site: SiteConfig) -> SiteConfig:
    """Inside the Home Assistant add-on: fill in what the Supervisor provides (the MQTT
    broker's address and credentials when ``mqtt.host`` is unset).

    Contract with helper "addon": ``edge_mining.addon.supervisor.apply_supervisor_services
    (site) -> SiteConfig`` (async is not needed at start-up; it may block briefly). Until it
    exists, the site runs as configured.
    """
    try:
        module = importlib.import_module("edge_mining.addon.supervisor")
        apply = module.apply_supervisor_services
    except (ImportError, AttributeError):
        log.info("Supervisor service discovery not available in this build")
        return site
    return apply(site)


# --------------------------------------------------------------------------------- serve


async def serve(
    site: SiteConfig,
    *,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    plant: Any | None = None,
    install_signals: bool = True,
    on_daemon: Callable[[Daemon], None] | None = None,
) -> None:
    """Build the drivers, run the daemon (and the MQTT bridge) until stopped, close all.

    Raises ConfigError when a configured driver is not available.
    """
    from edge_mining.devices.factory import build_devices

    clock = clock or WallClock()
    stop = stop or asyncio.Event()
    from edge_mining.devices.temperature import room_temperatures

    devices = build_devices(site, clock=clock, plant=plant)
    try:
        temperatures = room_temperatures(site, clock=clock)
    except ValueError as error:
        await devices.close()
        raise ConfigError([f"heating.zones: cannot read room temperatures: {error}"]) from None
    hashprice = None
    if site.economics.hashprice_source is not None:
        from edge_mining.devices.hashprice import HashpriceFetcher

        hashprice = HashpriceFetcher(site.economics.hashprice_source, clock=clock)
    loop = asyncio.get_running_loop()
    signals: list[signal.Signals] = []
    bridge_task: asyncio.Task[None] | None = None
    bridge_stop = asyncio.Event()
    try:
        daemon = Daemon(
            site,
            energy=devices.energy,
            miners=devices.miners,
            forecast=devices.forecast,
            clock=clock,
            temperatures=temperatures,
            hashprice=hashprice,
        )
        if on_daemon is not None:
            on_daemon(daemon)
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
                signals.append(sig)
        bridge = mqtt_bridge_hook(daemon, site)
        if bridge is not None:
            bridge_task = asyncio.create_task(bridge(bridge_stop), name="mqtt bridge")
        await daemon.run(stop)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if bridge_task is not None:
            bridge_stop.set()
            try:
                async with asyncio.timeout(10.0):
                    await bridge_task
            except TimeoutError:
                bridge_task.cancel()
                await asyncio.gather(bridge_task, return_exceptions=True)
            except Exception:
                log.exception("MQTT bridge failed")
        if temperatures is not None:
            await temperatures.close()
        if hashprice is not None:
            await hashprice.close()
        await devices.close()


def run_command(args: argparse.Namespace) -> int:
    """``edge-mining run --config FILE`` or ``edge-mining run --addon``."""
    from edge_mining.cli import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, print_config_problems

    try:
        if getattr(args, "addon", False):
            # The add-on's form offers every energy source's fields; keep the chosen type's.
            from edge_mining.addon.options import load_addon_site

            site = addon_site_hook(load_addon_site(args.options or ADDON_OPTIONS_PATH))
        else:
            site = load_config(args.config)
    except ConfigError as error:
        print_config_problems(error.problems)
        return EXIT_CONFIG
    if getattr(args, "log_level", None) is None:
        logging.getLogger().setLevel(site.log_level.upper())
    try:
        asyncio.run(serve(site))
    except ConfigError as error:
        print_config_problems(error.problems)
        return EXIT_CONFIG
    except RuntimeError as error:
        log.error("%s", error)
        return EXIT_FAILURE
    return EXIT_OK
