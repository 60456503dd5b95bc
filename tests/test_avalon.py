"""Avalon home miners: unmodified pyasic against the emulator, and our driver on top of it."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from braiins_support import FAST, fresh_host, miner_config, wait_for_state
from pyasic.miners.avalonminer import (
    CGMinerAvalonMini3,
    CGMinerAvalonNano3,
    CGMinerAvalonNano3s,
    CGMinerAvalonQHome,
)
from pyasic.miners.factory import miner_factory

from edge_mining.clock import ManualClock
from edge_mining.config import MinerConfig
from edge_mining.devices.avalon.driver import AvalonDriver
from edge_mining.devices.avalon.emulator import EmulatedAvalon
from edge_mining.devices.avalon.models import MODELS, find_model
from edge_mining.devices.base import CommandRejected, MinerDriver
from edge_mining.devices.braiins.emulator import EmulatedMiner
from edge_mining.devices.miner_probe import probe
from edge_mining.model import MinerStatus

M = MinerStatus
PYASIC_CLASS = {
    "Avalon Nano 3": CGMinerAvalonNano3,
    "Avalon Nano 3S": CGMinerAvalonNano3s,
    "Avalon Mini 3": CGMinerAvalonMini3,
    "Avalon Q": CGMinerAvalonQHome,
}


def avalon_config(host: str) -> MinerConfig:
    figures = {"max_power_w": 2000, "nominal_hashrate_ths": 90, "nominal_power_w": 1674}
    return miner_config(host, name="avalon", driver="avalon", password="", min_power_w=0, **figures)


@pytest.mark.parametrize("model", list(PYASIC_CLASS))
async def test_unmodified_pyasic_identifies_each_model_and_reads_it(model):
    host = fresh_host()
    async with EmulatedAvalon(host, model, **FAST) as emulated:
        miner = await miner_factory.get_miner(host)
        assert type(miner) is PYASIC_CLASS[model]
        data = await miner.get_data()
        level = emulated.level
        assert float(data.hashrate) == pytest.approx(level.hashrate_ths, rel=0.01)
        if model == "Avalon Nano 3S":
            # pyasic's Nano 3S class reads the watts where the firmware puts them (PS[6]).
            assert data.wattage == pytest.approx(level.power_w, abs=1)
        else:
            # pyasic reads WALLPOWER, which only A-series Avalons send: no wattage here,
            # which is why the driver reads the PS field itself.
            assert data.wattage is None
        if model != "Avalon Nano 3":
            assert data.wattage_limit == level.power_w  # MPO, the mode's power
        assert len(data.fans) >= 1 and data.fans[0].speed > 1000


@pytest.mark.parametrize("model", list(PYASIC_CLASS))
async def test_driver_reads_power_hashrate_and_level(model):
    host = fresh_host()
    async with EmulatedAvalon(host, model, **FAST) as emulated:
        driver = AvalonDriver(avalon_config(host))
        assert isinstance(driver, MinerDriver)
        state = await driver.read()
        assert state.status == M.MINING
        assert state.model == model
        assert state.power_w == pytest.approx(emulated.machine.power_w, abs=1)
        assert state.hashrate_ths == pytest.approx(emulated.level.hashrate_ths, rel=0.01)
        assert state.level == emulated.level.name
        assert [lv.name for lv in state.levels] == [lv.name for lv in find_model(model).levels]
        assert state.temperature_c and state.fan_rpm
        await driver.close()


async def test_q_soft_off_and_on_without_cutting_power():
    host = fresh_host()
    async with EmulatedAvalon(host, "Avalon Q", **FAST) as emulated:
        driver = AvalonDriver(avalon_config(host))
        assert (await driver.read()).status == M.MINING
        await driver.stop()
        state, seen = await wait_for_state(driver, lambda s: s.status == M.PAUSED)
        assert seen[0].status in (M.STOPPING, M.PAUSED)
        assert state.hashrate_ths == 0.0
        assert state.power_w == pytest.approx(emulated.model.standby_w, abs=1)  # standby
        assert emulated.machine.counters.pauses == 1 and emulated.listening  # still on the LAN

        await driver.start()
        state, seen = await wait_for_state(driver, lambda s: s.status == M.MINING)
        assert seen[0].status == M.STARTING
        assert emulated.machine.counters.resumes == 1
        await driver.close()


async def test_q_levels_are_set_and_read_back():
    host = fresh_host()
    async with EmulatedAvalon(host, "Avalon Q", **FAST) as emulated:
        driver = AvalonDriver(avalon_config(host))
        await driver.read()
        assert await driver.set_level("eco") == "eco"
        assert emulated.level.name == "eco" and emulated.machine.active_target_w == 800
        # A power target picks the highest level that fits, never more than asked.
        assert await driver.set_power_target(1500) == 1391
        assert emulated.level.name == "standard"
        assert await driver.set_power_target(5000) == 1674
        assert await driver.set_power_target(300) == 800  # nothing fits: the lowest level
        state, _ = await wait_for_state(
            driver, lambda s: abs(s.power_w - 800) < 20, timeout_s=15
        )  # the boards settle to the new level: the draw follows
        assert state.level == "eco" and state.power_target_w == 800
        with pytest.raises(CommandRejected, match="no level 'turbo'"):
            await driver.set_level("turbo")
        await driver.close()


async def test_a_refused_level_is_reported_in_the_errors():
    host = fresh_host()
    async with EmulatedAvalon(host, "Avalon Q", **FAST) as emulated:
        driver = AvalonDriver(avalon_config(host))
        await driver.read()
        emulated.faults.refuse_target = True
        with pytest.raises(CommandRejected, match="caling"):
            await driver.set_level("super")
        state = await driver.read()
        assert any("caling" in error for error in state.errors)
        emulated.faults.refuse_target = False
        await driver.set_level("super")
        assert not any("caling" in error for error in (await driver.read()).errors)
        await driver.close()


async def test_nano_levels_use_the_models_own_field():
    for model, level, field in (
        ("Avalon Nano 3S", "low", "WORKMODE[0]"),
        ("Avalon Nano 3", "medium", "WORKLEVEL[1]"),
        ("Avalon Mini 3", "eco", "WORKLEVEL[-1]"),
    ):
        host = fresh_host()
        async with EmulatedAvalon(host, model, **FAST) as emulated:
            driver = AvalonDriver(avalon_config(host))
            await driver.read()
            assert await driver.set_level(level) == level
            assert field in emulated.mm_string(extended=False)
            assert (await driver.read()).level == level
            await driver.close()


async def test_nano_3s_cannot_be_paused_and_says_why():
    host = fresh_host()
    async with EmulatedAvalon(host, "Avalon Nano 3S", **FAST) as emulated:
        driver = AvalonDriver(avalon_config(host))
        await driver.read()
        with pytest.raises(CommandRejected, match="smart plug"):
            await driver.stop()
        assert emulated.machine.mining_enabled  # nothing happened
        await driver.close()


async def test_a_miner_of_another_family_is_a_clear_error():
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro", web_port=None):
        driver = AvalonDriver(avalon_config(host))
        state = await driver.read()
        assert state.status == M.ERROR
        assert "not a Avalon miner" in state.errors[0]
        await driver.close()


def _cgminer(host: str, request: bytes) -> bytes:
    with socket.create_connection((host, 4028), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


async def test_emulator_speaks_both_request_forms_and_cgminer_codes():
    host = fresh_host()
    async with EmulatedAvalon(host, "Avalon Q", **FAST):
        text = await asyncio.to_thread(_cgminer, host, b"ascset|0,help")
        assert text.endswith(b"|\x00")
        assert text.startswith(b"STATUS=I,") and b"softoff" in text and b"Code=118" in text
        reply = json.loads(
            (await asyncio.to_thread(_cgminer, host, b'{"command":"ascset","parameter":"0,melt"}'))
            .rstrip(b"\x00")
            .decode()
        )
        assert reply["STATUS"][0]["STATUS"] == "E"
        assert reply["STATUS"][0]["Msg"] == "ASC 0 set failed: Unknown option: melt"
        joined = json.loads(
            (await asyncio.to_thread(_cgminer, host, b'{"command":"summary+version"}'))
            .rstrip(b"\x00")
            .decode()
        )
        assert joined["version"][0]["VERSION"][0]["PROD"] == "Avalon Q"
        assert joined["summary"][0]["STATUS"][0]["Code"] == 11


async def test_soft_off_waits_for_its_trigger_time_on_the_miners_clock():
    clock = ManualClock(1_000_000.0)
    emulated = EmulatedAvalon(fresh_host(), "Avalon Mini 3", clock=clock)
    api = emulated.api
    from edge_mining.devices.emulation.cgminer import Request

    reply = api.respond(Request("ascset", f"0,softoff,1:{1_000_030}", True))
    assert b"success softoff:1000030" in reply
    clock.advance(29)
    assert emulated.machine.power_w > 100  # still mining until the trigger time
    clock.advance(2)
    assert emulated.machine.power_w == emulated.model.standby_w
    assert b"In Idle" in api.respond(Request("estats", None, True))


async def test_probe_json_for_an_avalon():
    host = fresh_host()
    async with EmulatedAvalon(host, "Avalon Mini 3", **FAST):
        result = await probe(host)
        assert result["family"] == "avalon" and result["model"] == "Avalon Mini 3"
        assert result["status"] == "mining" and result["level"] == "super"
        assert [lv["name"] for lv in result["levels"]] == ["eco", "super"]
        assert result["power_w"] == pytest.approx(800, abs=2)
        json.dumps(result)


def test_every_model_has_levels_lowest_first():
    for model in MODELS.values():
        powers = [level.power_w for level in model.levels]
        assert powers == sorted(powers) and len(set(powers)) == len(powers)
        assert model.level(model.default_level) in model.levels


def test_the_factory_builds_the_avalon_driver_and_config_needs_a_host(tmp_path):
    from conftest import MINER_3KW, make_site

    from edge_mining.config import ConfigError
    from edge_mining.devices.factory import build_miners

    site = make_site(tmp_path, miners=[{**MINER_3KW, "driver": "avalon", "host": "192.168.1.60"}])
    (driver,) = build_miners(site, clock=ManualClock()).values()
    assert isinstance(driver, AvalonDriver) and driver.host == "192.168.1.60"
    with pytest.raises(ConfigError, match="host is required for driver avalon"):
        make_site(tmp_path, miners=[{**MINER_3KW, "driver": "avalon"}])
