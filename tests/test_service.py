"""The daemon: stale data, shutdown on SIGTERM, task ownership, persisted counters, commands."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import JUNE_21, MINER_3KW, make_site, site_data, write_yaml

from edge_mining.clock import ManualClock, ScaledClock
from edge_mining.config import SiteConfig
from edge_mining.counters import CounterStore, EnergyCounters
from edge_mining.devices.factory import build_devices
from edge_mining.model import Forecast, MinerStatus, Mode
from edge_mining.service import Daemon, SiteState, serve

ROOT = Path(__file__).resolve().parents[1]
NOON = JUNE_21 + 11 * 3600

# Quick to start and stop, so a few simulated minutes show the whole cycle.
FAST_CONTROL = {
    "start_delay_s": 10,
    "stop_delay_s": 10,
    "min_on_s": 30,
    "min_off_s": 30,
    "start_soc_pct": 50,
    "stop_soc_pct": 20,
    "stop_soc_sunny_pct": 20,
    "stop_soc_cloudy_pct": 30,
}


def fast_site(tmp_path: Path, **control: object) -> SiteConfig:
    return make_site(
        tmp_path / "state",
        energy_source={"type": "simulated", "plant": {"battery_initial_soc_pct": 80}},
        control={**FAST_CONTROL, **control},
    )


def make_daemon(site: SiteConfig, clock: ManualClock, **kwargs: object) -> Daemon:
    devices = build_devices(site, clock=clock)
    return Daemon(
        site,
        energy=devices.energy,
        miners=devices.miners,
        forecast=devices.forecast,
        clock=clock,
        **kwargs,
    )


async def run_until(
    daemon: Daemon, done: Callable[[SiteState], bool], max_ticks: int = 2000
) -> SiteState:
    """Run the daemon until ``done(state)`` after a tick (bounded by ``max_ticks``)."""
    stop = asyncio.Event()
    seen: list[SiteState] = []

    def watch(state: SiteState) -> None:
        seen.append(state)
        if done(state) or daemon.ticks >= max_ticks:
            stop.set()

    daemon.add_listener(watch)
    await asyncio.wait_for(daemon.run(stop), timeout=30)
    daemon.remove_listener(watch)
    assert done(seen[-1]), f"condition not reached in {daemon.ticks} ticks: {seen[-1]}"
    return seen[-1]


def mining(state: SiteState) -> bool:
    return state.miners["m3k"].status is MinerStatus.MINING


async def test_miner_starts_on_surplus_and_shutdown_pauses_it(tmp_path):
    clock = ManualClock(NOON)
    daemon = make_daemon(fast_site(tmp_path), clock)
    state = await run_until(daemon, mining)
    assert state.decision is not None and state.decision.reason
    miner = daemon.miners["m3k"]
    # Shutdown action "pause": the last command the miner received is a stop.
    assert miner.commands[-1][1] == "stop"
    assert miner.status in (MinerStatus.STOPPING, MinerStatus.PAUSED)
    # Every task the daemon started is gone.
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert not daemon.running


async def test_shutdown_action_min_power(tmp_path):
    clock = ManualClock(NOON)
    daemon = make_daemon(fast_site(tmp_path, shutdown_action="min_power"), clock)
    await run_until(daemon, mining)
    miner = daemon.miners["m3k"]
    assert miner.commands[-1][1:] == ("set_power", 1000.0)
    assert miner.status is MinerStatus.MINING


async def test_stale_energy_data_leads_to_the_safe_action(tmp_path):
    clock = ManualClock(NOON)
    daemon = make_daemon(fast_site(tmp_path, stale_after_s=60), clock)
    failing_since: list[float] = []

    def script(state: SiteState) -> bool:
        if not failing_since:
            if mining(state):
                daemon.energy.fail_reads = True  # the inverter stops answering
                failing_since.append(state.time)
            return False
        return state.energy_stale and not state.miners["m3k"].status.is_running

    state = await run_until(daemon, script)
    assert state.energy_error and "no answer" in state.energy_error
    assert state.energy_age_s > 60
    assert "safe action pause" in state.decision.reason
    stop_time, action, _ = daemon.miners["m3k"].commands[-2]  # then the shutdown's own stop
    assert action == "stop"
    # Stopped within a few ticks of the data turning stale, not left mining blind.
    assert failing_since[0] + 60 <= stop_time <= failing_since[0] + 60 + 4 * 5 * 3


async def test_slow_and_failing_devices_are_not_fatal(tmp_path, caplog):
    clock = ManualClock(NOON)
    daemon = make_daemon(fast_site(tmp_path), clock, device_timeout_s=0.05, command_timeout_s=0.05)
    miner = daemon.miners["m3k"]
    miner.response_delay_s = 0.2  # slower than the timeout: reads and commands time out
    state = await run_until(daemon, lambda s: daemon.ticks >= 5)
    assert state.miners["m3k"].status is MinerStatus.UNREACHABLE
    miner.response_delay_s = 0.0
    miner.unreachable = True  # now it refuses outright
    await run_until(daemon, lambda s: daemon.ticks >= 10)
    assert "no answer" in caplog.text or "timed out" in caplog.text
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_sigterm_stops_serve_and_leaves_miners_paused(tmp_path):
    clock = ManualClock(NOON)
    site = fast_site(tmp_path)
    daemons: list[Daemon] = []

    def on_daemon(daemon: Daemon) -> None:
        daemons.append(daemon)

        def signal_once_mining(state: SiteState) -> None:
            if mining(state) and not getattr(daemon, "_signalled", False):
                daemon._signalled = True  # type: ignore[attr-defined]
                os.kill(os.getpid(), signal.SIGTERM)

        daemon.add_listener(signal_once_mining)

    await asyncio.wait_for(serve(site, clock=clock, on_daemon=on_daemon), timeout=30)
    (daemon,) = daemons
    miner = daemon.miners["m3k"]
    assert miner.commands[-1][1] == "stop"
    assert miner.status in (MinerStatus.STOPPING, MinerStatus.PAUSED)
    assert (site.state_dir / "counters.json").exists()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # The handlers are removed again: SIGTERM's default disposition is back in the loop.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler)


def test_run_process_exits_cleanly_on_sigterm(tmp_path):
    data = site_data(tmp_path / "state", control={"tick_s": 0.2})
    path = write_yaml(tmp_path / "site.yaml", data)
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_mining.cli", "run", "--config", str(path)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            lines.append(line)
            if "edge-mining running" in line or not line:
                break
        assert "edge-mining running" in lines[-1], "".join(lines)
        time.sleep(0.5)  # a few ticks
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=30)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "shutdown: m3k paused" in rest
    assert "Traceback" not in rest
    saved = json.loads((tmp_path / "state" / "counters.json").read_text())
    assert saved["version"] == 1


async def test_counters_persist_across_a_restart(tmp_path):
    site = fast_site(tmp_path)
    clock = ManualClock(NOON)
    # Saved often: the published counters (the saved ones) follow the fast manual clock.
    first = make_daemon(site, clock, persist_interval_s=0.05)
    state = await run_until(first, lambda s: s.counters.mined_kwh > 0.05)
    saved = CounterStore(site.state_dir).load()
    assert saved.mined_kwh >= state.counters.mined_kwh > 0.05
    assert saved.pv_kwh > 0 and saved.earnings > 0
    # A new process (new daemon, new devices) continues from the saved values.
    second = make_daemon(site, clock)
    again = await run_until(second, lambda s: True, max_ticks=1)
    assert again.counters.mined_kwh >= saved.mined_kwh
    assert again.counters.pv_kwh >= saved.pv_kwh
    assert again.counters.miner_kwh["m3k"] >= saved.miner_kwh["m3k"]


def test_counter_file_is_written_atomically_and_survives_corruption(tmp_path):
    store = CounterStore(tmp_path)
    store.save(EnergyCounters(pv_kwh=1.5, miner_kwh={"a": 0.5}))
    assert store.load().pv_kwh == 1.5
    assert [p.name for p in tmp_path.iterdir()] == ["counters.json"]  # no temp file left over
    store.path.write_text("{garbage")
    assert store.load() == EnergyCounters()
    assert any(p.name.startswith("counters.json.corrupt-") for p in tmp_path.iterdir())
    store.path.write_text('{"pv_kwh": -3}')
    assert store.load().pv_kwh == 0.0


async def test_command_methods_validate_input(tmp_path):
    site = make_site(
        tmp_path / "state",
        miners=[
            {
                "name": "big",
                "min_power_w": 1000,
                "max_power_w": 3000,
                "nominal_hashrate_ths": 100,
                "nominal_power_w": 3000,
            },
            {
                "name": "plug",
                "min_power_w": 100,
                "max_power_w": 100,
                "nominal_hashrate_ths": 3,
                "nominal_power_w": 100,
                "power_target": False,
            },
        ],
    )
    daemon = make_daemon(site, ManualClock(NOON))
    bad_calls = [
        (lambda: daemon.set_mode("turbo"), "unknown mode 'turbo'"),
        (lambda: daemon.command_miner("ghost", running=True), "unknown miner 'ghost'"),
        (lambda: daemon.command_miner("big"), "nothing to do"),
        (lambda: daemon.command_miner("big", running="yes"), "running must be true or false"),
        (lambda: daemon.command_miner("big", power_w=5000), "outside big's limits [1000, 3000]"),
        (lambda: daemon.command_miner("big", power_w=float("nan")), "finite"),
        (lambda: daemon.command_miner("big", power_w="2000"), "must be a number"),
        (lambda: daemon.command_miner("plug", power_w=100), "no power target"),
        (lambda: daemon.release_miner("ghost"), "unknown miner"),
        (lambda: daemon.update_control(), "no control setting"),
        (lambda: daemon.update_control(bogus=1), "unknown control setting(s): bogus"),
        (lambda: daemon.update_control(tick_s=-1), "tick_s"),
        (lambda: daemon.update_control(stop_soc_pct=95), "must be below start_soc_pct"),
    ]
    for call, fragment in bad_calls:
        with pytest.raises(ValueError) as caught:
            call()
        message = str(caught.value)
        assert fragment in message
        assert "\n" not in message
    assert daemon.mode is Mode.AUTO  # nothing changed
    assert daemon.control.tick_s == site.control.tick_s

    assert daemon.set_mode("manual") is Mode.MANUAL
    assert daemon.state.mode is Mode.MANUAL
    daemon.command_miner("big", running=True, power_w=2000)
    assert daemon.state.manual_miners == frozenset({"big"})
    daemon.release_miner("big")
    assert daemon.state.manual_miners == frozenset()
    assert daemon.update_control(start_soc_pct=70).start_soc_pct == 70


async def test_manual_command_reaches_the_miner(tmp_path):
    clock = ManualClock(JUNE_21 + 2 * 3600)  # night: auto would never start it
    daemon = make_daemon(fast_site(tmp_path), clock)
    stop = asyncio.Event()
    seen: list[SiteState] = []

    def command_then_watch(state: SiteState) -> None:
        if daemon.ticks == 2:
            daemon.command_miner("m3k", running=True, power_w=1500)
        seen.append(state)
        if mining(state) and state.miners["m3k"].power_target_w == 1500 or daemon.ticks > 500:
            stop.set()

    daemon.add_listener(command_then_watch)
    await asyncio.wait_for(daemon.run(stop), timeout=30)
    state = seen[-1]  # the last tick's (daemon.state is the shutdown's now)
    assert state.miners["m3k"].status is MinerStatus.MINING
    assert state.miners["m3k"].power_target_w == 1500
    assert "manual" in state.decision.miner_reasons["m3k"]


async def test_listener_errors_and_async_listeners(tmp_path, caplog):
    daemon = make_daemon(fast_site(tmp_path), ManualClock(NOON))
    calls: list[float] = []

    def broken(state: SiteState) -> None:
        raise RuntimeError("listener bug")

    async def slow_ok(state: SiteState) -> None:
        await asyncio.sleep(0)
        calls.append(state.time)

    daemon.add_listener(broken)
    daemon.add_listener(slow_ok)
    await run_until(daemon, lambda s: daemon.ticks >= 3)
    assert len(calls) >= 3
    assert "listener bug" in caplog.text


async def test_daemon_rejects_drivers_that_do_not_match_the_config(tmp_path, sim_site):
    devices = build_devices(sim_site, clock=ManualClock(NOON))
    with pytest.raises(ValueError, match="drivers and configured miners differ"):
        Daemon(sim_site, energy=devices.energy, miners={})


async def test_secrets_never_reach_the_log(tmp_path, caplog):
    secret = "hunter2-very-secret"
    site = make_site(
        tmp_path / "state",
        miners=[{**MINER_3KW, "password": secret}],
        homeassistant={"token": secret},
        control=FAST_CONTROL,
    )
    caplog.set_level("DEBUG")
    daemon = make_daemon(site, ManualClock(NOON))
    state = await run_until(daemon, lambda s: daemon.ticks >= 20)
    assert caplog.records  # something was logged
    assert secret not in caplog.text
    assert secret not in repr(state) and secret not in repr(daemon.site)


async def test_a_long_energy_outage_logs_once_per_kind_and_once_on_recovery(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="edge_mining.service")
    daemon = make_daemon(fast_site(tmp_path), ManualClock(NOON))
    failing_polls: list[int] = []

    def script(state: SiteState) -> bool:
        if daemon.ticks == 1:
            daemon.energy.fail_reads = True  # the inverter stops answering for a long while
        elif daemon.ticks == 300:
            failing_polls.append(daemon.energy_failures.counts["DeviceUnavailable"])
            daemon.energy.fail_reads = False
        return daemon.ticks > 300 and not state.energy_stale

    await run_until(daemon, script)
    assert failing_polls[0] >= 250  # every failed poll is counted ...
    assert daemon.energy_failures.counts == {"DeviceUnavailable": failing_polls[0]}
    lines = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.getMessage().startswith("energy source:") and r.levelno >= logging.INFO
    ]
    # ... but logged once, and once more when readings come back.
    assert lines == [
        ("WARNING", "energy source: simulated: no answer (simulated fault)"),
        ("INFO", "energy source: recovered (DeviceUnavailable)"),
    ]


class RecordingForecast:
    """A forecast source that notes when it is asked (it would answer from its cache)."""

    name = "recording forecast"

    def __init__(self, clock: ScaledClock) -> None:
        self.clock = clock
        self.asked_at: list[float] = []

    async def read(self) -> Forecast:
        self.asked_at.append(self.clock.now())
        return Forecast(timestamp=self.clock.now(), tomorrow_wh=20_000.0)

    async def close(self) -> None:
        return None


async def test_the_forecast_source_is_asked_every_minute_and_its_cache_decides(tmp_path):
    # 600x: one simulated minute is 0.1 wall seconds; refresh_s (>= 900 s) is far longer.
    clock = ScaledClock(start=NOON, speed=600.0)
    site = fast_site(tmp_path)
    devices = build_devices(site, clock=clock)
    forecast = RecordingForecast(clock)
    daemon = Daemon(
        site, energy=devices.energy, miners=devices.miners, forecast=forecast, clock=clock
    )
    await run_until(daemon, lambda s: s.time - NOON >= 10 * 60, max_ticks=100_000)
    gaps = [b - a for a, b in itertools.pairwise(forecast.asked_at)]
    assert len(gaps) >= 5, forecast.asked_at
    assert min(gaps) >= 59.0  # every minute, not every tick ...
    assert sorted(gaps)[len(gaps) // 2] < site.forecast.refresh_s / 5  # ... nor every refresh_s


async def test_counters_are_saved_at_start_up_then_each_interval_and_published_as_saved(
    tmp_path,
):
    # What listeners (the MQTT bridge) see is never ahead of the file: after a kill -9 the
    # restarted daemon publishes at least as much (test_daemon_faults has the real kill -9).
    site = make_site(
        tmp_path / "state",
        energy_source={"type": "simulated", "plant": {"battery_initial_soc_pct": 80}},
        control={**FAST_CONTROL, "tick_s": 1},
        state_save_interval_s=1,
    )
    daemon = make_daemon(site, ScaledClock(NOON, 10.0))  # a tick every 0.1 s
    store = CounterStore(site.state_dir)
    stop = asyncio.Event()
    checked: list[float] = []
    began = time.monotonic()

    def check(state: SiteState) -> None:
        if not checked:
            assert daemon.files.counter_writes == 1  # saved before the first tick
        on_disk = store.load()
        assert on_disk.load_kwh >= state.counters.load_kwh
        assert on_disk.mined_kwh >= state.counters.mined_kwh
        checked.append(state.counters.load_kwh)
        if time.monotonic() - began > 3.5:
            stop.set()

    daemon.add_listener(check)
    await asyncio.wait_for(daemon.run(stop), 30)
    elapsed = time.monotonic() - began
    assert len(checked) >= 10 and checked[-1] > checked[0]  # moved, in steps of a save
    writes = daemon.files.counter_writes
    # Start-up, one per interval, stop: 86,400 / 60 + 2 a day at the default 60 s.
    assert 3 <= writes <= elapsed / 1 + 2, writes
    assert store.load().load_kwh == daemon.integrator.counters.load_kwh  # all saved at stop
