"""BraiinsMiner beyond a power target, against the emulator: quick ramping set at detection
(API 1.7), hashboards shed below the power-target floor, DPS read and not fought."""

from __future__ import annotations

import logging

import pytest
from braiins_support import FAST, fresh_host, miner_config, wait_for_state

from edge_mining.devices.braiins.api import boards_for, dps_scaled_limit
from edge_mining.devices.braiins.driver import BraiinsMiner
from edge_mining.devices.braiins.emulator import EmulatedMiner
from edge_mining.devices.braiins.emulator.machine import DpsSettings
from edge_mining.model import MinerStatus


def test_boards_for_a_target() -> None:
    # S19j Pro: floor 1200 W over 3 boards, 400 W each.
    assert [boards_for(w, 1200, 3) for w in (300, 400, 799, 800, 1199, 1200, 3000)] == [
        1, 1, 1, 2, 2, 3, 3,
    ]  # fmt: skip
    assert boards_for(100, 1200, 1) == 1


def test_dps_state_from_tunerstatus() -> None:
    assert dps_scaled_limit({"DynamicPowerScaling": "Disabled"}) is None
    assert dps_scaled_limit({"DynamicPowerScaling": "InitialPowerLimit"}) is None
    assert dps_scaled_limit({"DynamicPowerScaling": {"ScaledPowerLimit": 2468}}) == 2468.0
    assert dps_scaled_limit({}) is None


async def test_quick_ramping_is_set_at_detection_and_clamped(caplog) -> None:
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, quick_ramping_s=30))
        assert (await driver.read()).status == MinerStatus.MINING
        assert emulated.machine.quick_ramping == (30, 30)
        assert driver.quick_ramping == (30, 30)
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, quick_ramping_s=1))
        await driver.read()
        assert emulated.machine.quick_ramping == (5, 5)  # the miner's shortest
    host = fresh_host()
    async with EmulatedMiner(host, api_version=(1, 6, 0), **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, quick_ramping_s=30))
        with caplog.at_level(logging.INFO, logger="edge_mining.devices.braiins"):
            assert (await driver.read()).status == MinerStatus.MINING  # detection still works
        assert driver.quick_ramping is None and emulated.machine.quick_ramping is None
        assert "no quick ramping (BraiinsOS API before 1.7)" in caplog.text


async def test_quick_ramping_makes_a_resume_quicker() -> None:
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, quick_ramping_s=8))
        await driver.read()
        await driver.stop()
        await wait_for_state(driver, lambda s: s.status == MinerStatus.PAUSED)
        await driver.start()
        clock = emulated.machine.clock
        started = clock.now()
        await wait_for_state(driver, lambda s: s.hashrate_ths >= 0.99 * 104.0)
        assert clock.now() - started < 8 + 4  # not 10 s warm-up + 30 s ramp


async def test_hashboards_are_shed_below_the_floor_and_come_back() -> None:
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        config = miner_config(host, min_power_w=300, hashboard_shedding=True)
        driver = BraiinsMiner(config)
        state = await driver.read()
        assert (state.target_min_w, state.target_max_w) == (400, 3600)  # one board's floor
        assert driver.board_ids == ["1", "2", "3"] and driver.boards_enabled == 3
        machine = emulated.machine
        for watts, boards in ((600, 1), (900, 2), (2000, 3), (300, 1)):
            applied = await driver.set_power_target(watts)
            assert applied == max(watts, 400), watts
            assert machine.enabled_boards == boards, watts
            assert machine.active_target_w == applied
        state, _ = await wait_for_state(driver, lambda s: abs(s.power_w - 400) < 20)
        assert state.hashrate_ths == pytest.approx(machine.hashrate_at(400), rel=0.05)
        # A restart of the daemon with a board running still knows the whole machine.
        again = BraiinsMiner(config)
        state = await again.read()
        assert (state.target_min_w, state.target_max_w) == (400, 3600)
        assert again.boards_enabled == 1


async def test_without_shedding_the_floor_holds() -> None:
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        driver = BraiinsMiner(miner_config(host, min_power_w=300))
        assert (await driver.read()).target_min_w == 1200
        assert await driver.set_power_target(600) == 1200
        assert emulated.machine.enabled_boards == 3


async def test_dps_is_shown_and_not_fought() -> None:
    host = fresh_host()
    async with EmulatedMiner(host, speed=600.0) as emulated:
        machine = emulated.machine
        machine.set_dps(DpsSettings(enabled=True, power_step_w=300, min_power_target_w=1500))
        machine.extra_heat_c = 25.0
        driver = BraiinsMiner(miner_config(host))
        state, _ = await wait_for_state(
            driver, lambda s: any("Dynamic Performance Scaling" in e for e in s.errors)
        )
        assert state.status == MinerStatus.MINING
        scaled = machine.dps.scaled_w
        assert scaled is not None and scaled < 3068
        changes = machine.counters.target_changes
        applied = await driver.set_power_target(3600)
        assert applied <= 3068 and machine.counters.target_changes == changes  # no write
        assert machine.active_target_w == 3068
        assert await driver.set_power_target(1400) == 1400  # lower than DPS: fine
        assert machine.counters.target_changes == changes + 1
