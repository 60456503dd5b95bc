"""BraiinsMiner end to end: unmodified pyasic drives the emulator on loopback."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from braiins_support import FAST, fresh_host, miner_config, wait_for_state

from edge_mining.clock import ManualClock
from edge_mining.config import SiteConfig
from edge_mining.devices.base import CommandRejected, DeviceAuthError, MinerDriver
from edge_mining.devices.braiins.driver import BraiinsMiner, firmware_name
from edge_mining.devices.braiins.emulator import EmulatedMiner
from edge_mining.devices.factory import build_miners
from edge_mining.model import Action, Command, MinerStatus
from edge_mining.service.actuation import send_in_order

M = MinerStatus


async def test_telemetry_of_a_mining_boser_miner():
    host = fresh_host()
    async with EmulatedMiner(host, password="s3cret!", **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, password="s3cret!"))
        assert isinstance(driver, MinerDriver)
        state = await driver.read()
        assert state.status == M.MINING
        assert state.hashrate_ths == pytest.approx(104.0, rel=0.02)
        assert state.power_w == pytest.approx(3068, abs=2)
        assert state.power_target_w == 3068
        assert (state.target_min_w, state.target_max_w) == (1200, 3600)
        assert state.temperature_c and 40 < state.temperature_c < 110
        assert state.fan_rpm and state.fan_rpm > 1000
        assert state.errors == ()
        assert state.model == "S19j Pro (BOS+)"
        assert state.firmware == "BraiinsOS+ 23.10"
        assert state.serial == emulated.machine.serial
        assert driver.backend == "boser"
        assert "s3cret" not in repr(driver)


async def test_pause_is_stopping_until_the_5s_hashrate_is_zero_then_resume_ramps():
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host))
        assert (await driver.read()).status == M.MINING
        await driver.stop()
        assert emulated.machine.mining_enabled is False
        assert emulated.machine.running is True  # paused, not stopped nor power-cut
        state, seen = await wait_for_state(driver, lambda s: s.status == M.PAUSED)
        assert seen[0].status == M.STOPPING and seen[0].hashrate_ths > 0
        assert state.hashrate_ths == 0.0
        assert state.power_w == pytest.approx(emulated.spec.idle_w, abs=1)

        await driver.start()
        state, seen = await wait_for_state(driver, lambda s: s.status == M.MINING)
        assert seen[0].status == M.STARTING and seen[0].hashrate_ths == 0.0
        assert all(s.status in (M.STARTING, M.MINING) for s in seen)
        assert 0 < state.hashrate_ths < 104.0  # still ramping when first confirmed
        assert emulated.machine.counters.restarts == 0


async def test_power_target_is_clamped_applied_without_restart_and_read_back():
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, max_power_w=5000))
        await driver.read()
        assert await driver.set_power_target(2500) == 2500.0
        assert emulated.machine.active_target_w == 2500
        assert emulated.machine.saved_target_w == 2500
        # Above the miner's own maximum (3600) though inside the configured 5000: clamped.
        assert await driver.set_power_target(4800) == 3600.0
        # Below the configured minimum (500) and the miner's (1200): clamped to 1200.
        assert await driver.set_power_target(100) == 1200.0
        assert emulated.machine.counters.restarts == 0
        assert emulated.machine.mining_enabled
        state, _ = await wait_for_state(
            driver, lambda s: s.power_w == pytest.approx(1200, rel=0.05), timeout_s=10
        )
        assert state.status == M.MINING and state.power_target_w == 1200
        changes = emulated.machine.counters.target_changes
        assert await driver.set_power_target(1200) == 1200.0  # already there: no write
        assert emulated.machine.counters.target_changes == changes


async def test_start_that_never_hashes_times_out_into_error_and_recovers():
    host = fresh_host()
    # A warm-up far longer than the driver's start timeout: hashing never starts in time.
    async with EmulatedMiner(host, mining=False, warmup_s=3600.0, speed=1.0) as emulated:
        driver = BraiinsMiner(miner_config(host), start_timeout_s=0.6, stop_timeout_s=0.6)
        assert (await driver.read()).status == M.PAUSED
        await driver.start()
        state, seen = await wait_for_state(driver, lambda s: s.status == M.ERROR)
        assert seen[0].status == M.STARTING
        assert "did not start mining within 0.6 s" in state.errors
        assert not state.status.is_available
        # The miner starts hashing later: telemetry confirms, the error clears.
        emulated.machine.warmup_s = 0.0
        emulated.machine.pause()
        emulated.machine.resume()
        state, _ = await wait_for_state(driver, lambda s: s.status == M.MINING)
        assert state.errors == ()


async def test_a_factory_built_miner_times_out_a_start_on_the_injected_clock(tmp_path):
    """The demo's ScaledClock (here a ManualClock) must drive the STARTING timeout, not the
    wall clock: the factory hands the site's clock to the driver."""
    host = fresh_host()
    site = SiteConfig.model_validate(
        {
            "energy_source": {"type": "simulated"},
            "miners": [miner_config(host)],
            "mqtt": {"enabled": False},
            "state_dir": str(tmp_path),
        }
    )
    clock = ManualClock(1_700_000_000.0)
    async with EmulatedMiner(host, mining=False, warmup_s=3600.0, speed=1.0):
        driver = build_miners(site, clock=clock, plant=object())["bos"]
        assert isinstance(driver, BraiinsMiner)
        assert (await driver.read()).status == M.PAUSED
        await driver.start()
        clock.advance(179.0)  # under the default 180 s start timeout: still starting
        assert (await driver.read()).status == M.STARTING
        clock.advance(2.0)  # past it, in the injected clock's time only
        state = await driver.read()
        assert state.status == M.ERROR
        assert "did not start mining within 180 s" in state.errors


async def test_detection_is_cached_and_redone_only_after_the_miner_was_unreachable():
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host), timeout_s=2.0)
        for _ in range(10):
            assert (await driver.read()).status == M.MINING
        await driver.stop()
        await driver.set_power_target(2000)
        assert driver.detections == 1
        await emulated.set_unreachable(True)
        state = await driver.read()
        assert state.status == M.UNREACHABLE and state.errors
        await emulated.set_unreachable(False)
        await wait_for_state(driver, lambda s: s.status.is_available)
        assert driver.detections == 2
        for _ in range(5):
            await driver.read()
        assert driver.detections == 2


async def test_read_stays_bounded_while_detection_carries_on_in_the_background():
    host = fresh_host()
    async with EmulatedMiner(host, **FAST):
        driver = BraiinsMiner(miner_config(host), timeout_s=2.0)
        # The daemon's own per-miner timeout, far too short for pyasic's detection:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(driver.read(), 0.005)
        state, _ = await wait_for_state(driver, lambda s: s.status == M.MINING)
        assert driver.detections == 1  # the first attempt was not started over
        await driver.close()


async def test_legacy_bosminer_pauses_and_resumes_and_refuses_a_power_target():
    host = fresh_host()
    async with EmulatedMiner(host, "S9", **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, min_power_w=300, max_power_w=1500))
        state = await driver.read()
        assert driver.backend == "bosminer"
        assert state.status == M.MINING
        assert state.hashrate_ths == pytest.approx(13.5, rel=0.02)
        assert state.power_target_w == 1323
        assert state.target_min_w is None  # legacy firmware publishes no constraints
        assert state.firmware == "BraiinsOS 22.08"  # pyasic shortens the LuCI version
        await driver.stop()
        assert not emulated.machine.mining_enabled
        await wait_for_state(driver, lambda s: s.status == M.PAUSED)
        await driver.start()
        await wait_for_state(driver, lambda s: s.status == M.MINING)
        with pytest.raises(CommandRejected, match="restart"):
            await driver.set_power_target(1000)
        assert emulated.machine.active_target_w == 1323


async def test_generic_pyasic_backend_reads_and_switches():
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, driver="pyasic"))
        state = await driver.read()
        assert driver.backend == "pyasic"
        assert state.status == M.MINING
        assert state.hashrate_ths == pytest.approx(104.0, rel=0.05)
        assert state.power_w == pytest.approx(3068, abs=2)
        await driver.stop()
        assert not emulated.machine.mining_enabled
        await wait_for_state(driver, lambda s: s.status == M.PAUSED)
        await driver.start()
        await wait_for_state(driver, lambda s: s.status == M.MINING)


async def test_wrong_password_is_an_auth_error_naming_the_miner(caplog):
    host = fresh_host()
    async with EmulatedMiner(host, password="right", **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, name="garage", password="wrong-pw"))
        with caplog.at_level(logging.DEBUG):
            state = await driver.read()
            assert state.status == M.ERROR
            assert any("garage" in e and "credentials" in e for e in state.errors)
            with pytest.raises(DeviceAuthError, match=rf"miner garage \({re.escape(host)}\)"):
                await driver.stop()
            with pytest.raises(DeviceAuthError, match="garage"):
                await driver.set_power_target(2000)
            for _ in range(3):
                assert (await driver.read()).status == M.ERROR
        assert emulated.machine.mining_enabled
        assert "wrong-pw" not in caplog.text
        # Logged once, as an error naming the miner and the user.
        refusals = [r for r in caplog.records if "refused the credentials" in r.getMessage()]
        assert len(refusals) == 1, caplog.text
        assert refusals[0].levelno == logging.ERROR
        assert f"miner garage ({host}) refused the credentials of user 'root'" in (
            refusals[0].getMessage()
        )


async def test_a_failed_power_target_is_logged_in_words_not_as_a_repr(caplog):
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, name="garage"))
        assert (await driver.read()).status == M.MINING
        await emulated.set_unreachable(True)  # connection refused from now on
        command = Command("garage", Action.SET_POWER, "test", power_w=2000)
        with caplog.at_level(logging.WARNING, logger="edge_mining"):
            await send_in_order(driver, [command], timeout_s=10.0)
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1, caplog.text
    line = failures[0]
    assert (
        f"garage: set_power 2000 W (test): failed: miner garage ({host}): set power target failed: "
        in line
    )
    assert "(ConnectionRefusedError)" in line
    assert "<" not in line and " at 0x" not in line and "bound method" not in line


def test_firmware_names():
    assert firmware_name("2023-11-09-0-c5cdc1c5-23.10-plus") == "BraiinsOS+ 23.10"
    assert firmware_name("22.08") == "BraiinsOS 22.08"
    assert firmware_name(None) is None
