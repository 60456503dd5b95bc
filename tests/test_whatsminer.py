"""Whatsminers (API 2.0.5): unmodified pyasic against the emulator, and our driver on top."""

from __future__ import annotations

import json

import pytest
from braiins_support import FAST, fresh_host, miner_config, wait_for_state
from pyasic.miners.backends.btminer import BTMinerV2
from pyasic.miners.factory import miner_factory
from pyasic.miners.whatsminer.btminer.M3X.M30S_Plus import BTMinerM30SPlusVE40
from pyasic.miners.whatsminer.btminer.M5X.M50S import BTMinerM50SVH50

from edge_mining.config import MinerConfig
from edge_mining.devices.base import CommandRejected, DeviceAuthError, MinerDriver
from edge_mining.devices.miner_probe import probe
from edge_mining.devices.whatsminer.driver import WhatsminerDriver
from edge_mining.devices.whatsminer.emulator import (
    EmulatedWhatsminer,
    decrypt,
    derive_key,
    encrypt,
)
from edge_mining.model import MinerStatus

M = MinerStatus


def wm_config(host: str, password: str = "admin") -> MinerConfig:
    figures = {"nominal_hashrate_ths": 100, "nominal_power_w": 3400}
    return miner_config(
        host, name="wm", driver="whatsminer", password=password, min_power_w=0, **figures
    )


@pytest.mark.parametrize(
    ("model", "cls", "ths", "watts"),
    [
        ("Whatsminer M30S+", BTMinerM30SPlusVE40, 100.0, 3400),
        ("Whatsminer M50S", BTMinerM50SVH50, 126.0, 3276),
    ],
)
async def test_unmodified_pyasic_identifies_a_whatsminer_and_reads_it(model, cls, ths, watts):
    host = fresh_host()
    async with EmulatedWhatsminer(host, model, **FAST):
        miner = await miner_factory.get_miner(host)
        # pyasic builds the class at detection (API generation by firmware date): same name,
        # the model's bases, and the API 2 backend for this firmware.
        assert type(miner).__name__ == cls.__name__ and isinstance(miner, BTMinerV2)
        data = await miner.get_data()
        assert float(data.hashrate) == pytest.approx(ths, rel=0.01)
        assert data.wattage == watts and data.wattage_limit == watts
        assert data.is_mining is True and data.fw_ver == "20240328.16.Rel"


async def test_pyasics_encrypted_writes_work_against_the_emulator():
    host = fresh_host()
    async with EmulatedWhatsminer(host, password="s3cret", **FAST) as emulated:
        miner = await miner_factory.get_miner(host)
        miner.rpc.pwd = "s3cret"
        assert await miner.stop_mining() is True  # power_off through the token handshake
        assert not emulated.machine.mining_enabled
        assert await miner.resume_mining() is True
        assert emulated.machine.mining_enabled


async def test_driver_powers_off_and_on_and_switches_power_modes():
    host = fresh_host()
    async with EmulatedWhatsminer(host, **FAST) as emulated:
        driver = WhatsminerDriver(wm_config(host))
        assert isinstance(driver, MinerDriver)
        state = await driver.read()
        assert state.status == M.MINING and state.level == "normal"
        assert state.power_w == pytest.approx(3400, abs=2)
        assert [lv.name for lv in state.levels] == ["low", "normal", "high"]

        assert await driver.set_level("low") == "low"
        assert emulated.mode.name == "low" and emulated.machine.counters.restarts == 1
        assert await driver.set_power_target(3500) == 3400  # normal: the highest that fits

        await driver.stop()
        state, _ = await wait_for_state(driver, lambda s: s.status == M.PAUSED)
        assert state.power_w == pytest.approx(emulated.model.off_w, abs=1)
        await driver.start()
        state, _ = await wait_for_state(driver, lambda s: s.status == M.MINING, timeout_s=15)
        assert state.level == "normal"
        await driver.close()


async def test_a_wrong_admin_password_is_an_authentication_error():
    host = fresh_host()
    async with EmulatedWhatsminer(host, password="right", **FAST) as emulated:
        driver = WhatsminerDriver(wm_config(host, password="wrong"))
        assert (await driver.read()).status == M.MINING  # reading needs no password
        with pytest.raises(DeviceAuthError, match="refused the credentials"):
            await driver.stop()
        assert emulated.machine.mining_enabled
        await driver.close()


async def test_writes_disabled_in_the_whatsminer_tool_say_so():
    host = fresh_host()
    async with EmulatedWhatsminer(host, write_enabled=False, **FAST):
        driver = WhatsminerDriver(wm_config(host))
        await driver.read()
        with pytest.raises(CommandRejected, match="enable them in the Whatsminer tool"):
            await driver.set_level("low")
        await driver.close()


def test_the_cipher_round_trips_and_a_wrong_key_fails():
    key = derive_key("admin", "BQ5hoXV9")
    assert decrypt(key, encrypt(key, {"cmd": "power_on"})) == {"cmd": "power_on"}
    with pytest.raises(ValueError):
        decrypt(derive_key("other", "BQ5hoXV9"), encrypt(key, {"cmd": "power_on"}))


async def test_probe_json_for_a_whatsminer():
    host = fresh_host()
    async with EmulatedWhatsminer(host, **FAST):
        result = await probe(host)
        assert result["family"] == "whatsminer" and result["level"] == "normal"
        assert result["model"] == "Whatsminer M30S+"
        json.dumps(result)
