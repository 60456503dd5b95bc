"""LuxOS Antminers: unmodified pyasic against the emulator, and our driver on top of it."""

from __future__ import annotations

import json

import pytest
from braiins_support import FAST, fresh_host, miner_config, wait_for_state
from pyasic.miners.antminer.luxos.X19.S19 import LUXMinerS19jPro
from pyasic.miners.antminer.luxos.X21.S21 import LUXMinerS21
from pyasic.miners.factory import miner_factory

from edge_mining.config import MinerConfig
from edge_mining.devices.base import DeviceAuthError, MinerDriver
from edge_mining.devices.emulation.cgminer import Request
from edge_mining.devices.luxos.driver import LuxOSDriver
from edge_mining.devices.luxos.emulator import EmulatedLuxOS
from edge_mining.devices.miner_probe import probe
from edge_mining.model import MinerStatus

M = MinerStatus


def lux_config(host: str) -> MinerConfig:
    return miner_config(
        host, name="lux", driver="luxos", password="", min_power_w=0, max_power_w=5000
    )


@pytest.mark.parametrize(
    ("model", "cls", "ths", "watts"),
    [
        ("Antminer S19j Pro (LuxOS)", LUXMinerS19jPro, 104.0, 3068),
        ("Antminer S21 (LuxOS)", LUXMinerS21, 200.0, 3500),
    ],
)
async def test_unmodified_pyasic_identifies_luxos_and_reads_hashrate_and_power(
    model, cls, ths, watts
):
    host = fresh_host()
    async with EmulatedLuxOS(host, model, **FAST):
        miner = await miner_factory.get_miner(host)
        assert type(miner) is cls
        data = await miner.get_data()
        assert float(data.hashrate) == pytest.approx(ths, rel=0.01)
        assert data.wattage == watts
        assert data.wattage_limit == watts  # the active profile's watts
        assert data.config.mining_mode.active_preset.name == miner_profile(model)
        assert len(data.hashboards) == 3 and all(b.chip_temp for b in data.hashboards)


def miner_profile(model: str) -> str:
    return "415MHz" if "S19j" in model else "490MHz"


async def test_driver_curtails_and_wakes_and_follows_profiles():
    host = fresh_host()
    async with EmulatedLuxOS(host, **FAST) as emulated:
        driver = LuxOSDriver(lux_config(host))
        assert isinstance(driver, MinerDriver)
        state = await driver.read()
        assert state.status == M.MINING and state.level == "415MHz"
        assert state.model == "Antminer S19j Pro (LuxOS)"
        assert state.power_w == pytest.approx(3068, abs=2)
        assert [lv.name for lv in state.levels][0] == "190MHz"

        assert await driver.set_level("290MHz") == "290MHz"
        assert emulated.profile.name == "290MHz"
        assert await driver.set_power_target(3000) == 2817  # 390MHz: the highest that fits
        assert emulated.profile.name == "390MHz"

        await driver.stop()
        state, _ = await wait_for_state(driver, lambda s: s.status == M.PAUSED)
        assert state.power_w == pytest.approx(emulated.model.sleep_w, abs=1)
        await driver.start()
        state, seen = await wait_for_state(driver, lambda s: s.status == M.MINING)
        assert any(s.status == M.STARTING for s in seen)
        assert state.level == "390MHz"
        await driver.close()


async def test_a_forgotten_session_is_renewed_once():
    host = fresh_host()
    async with EmulatedLuxOS(host, **FAST) as emulated:
        driver = LuxOSDriver(lux_config(host))
        await driver.read()
        await driver.set_level("340MHz")
        first = emulated.session_id
        emulated.session_id = ""  # LuxOS ended it (a reboot, another client's logoff)
        await driver.set_level("390MHz")
        assert emulated.session_id and emulated.session_id != first
        await driver.close()


async def test_atm_is_paused_for_a_profile_change_and_restored():
    host = fresh_host()
    async with EmulatedLuxOS(host, **FAST) as emulated:
        emulated.atm_enabled = True
        driver = LuxOSDriver(lux_config(host))
        await driver.read()
        await driver.set_level("240MHz")
        assert emulated.profile.name == "240MHz" and emulated.atm_enabled
        await driver.close()


async def test_another_session_blocks_commands_with_a_clear_error():
    host = fresh_host()
    async with EmulatedLuxOS(host, **FAST) as emulated:
        driver = LuxOSDriver(lux_config(host))
        await driver.read()
        emulated.faults.auth = True
        with pytest.raises(DeviceAuthError, match="refused the credentials"):
            await driver.set_level("240MHz")
        await driver.close()


async def test_emulator_refuses_commands_without_the_session():
    emulated = EmulatedLuxOS(fresh_host(), **FAST)
    reply = json.loads(emulated.api.respond(Request("curtail", "bogus,sleep", True))[:-1])
    assert reply["STATUS"][0]["STATUS"] == "E" and "session" in reply["STATUS"][0]["Msg"]
    assert emulated.machine.mining_enabled
    logon = json.loads(emulated.api.respond(Request("logon", None, True))[:-1])
    sid = logon["SESSION"][0]["SessionID"]
    again = json.loads(emulated.api.respond(Request("logon", None, True))[:-1])
    assert again["STATUS"][0]["Msg"] == "Another session is active"
    emulated.api.respond(Request("curtail", f"{sid},sleep", True))
    assert not emulated.machine.mining_enabled


async def test_probe_json_for_luxos():
    host = fresh_host()
    async with EmulatedLuxOS(host, "Antminer S21 (LuxOS)", **FAST):
        result = await probe(host)
        assert result["family"] == "luxos" and result["level"] == "490MHz"
        assert result["power_w"] == pytest.approx(3500, abs=2)
        json.dumps(result)
