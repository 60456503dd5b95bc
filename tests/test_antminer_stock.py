"""Antminers on stock firmware: unmodified pyasic against the emulator, and our driver."""

from __future__ import annotations

import json

import httpx
import pytest
from braiins_support import FAST, fresh_host, miner_config, wait_for_state
from pyasic.miners.antminer.bmminer.X19.S19 import BMMinerS19jPro
from pyasic.miners.antminer.bmminer.X21.S21 import BMMinerS21
from pyasic.miners.factory import miner_factory

from edge_mining.config import MinerConfig
from edge_mining.devices.antminer.driver import AntminerDriver
from edge_mining.devices.antminer.emulator import EmulatedAntminer
from edge_mining.devices.base import CommandRejected, DeviceAuthError, MinerDriver
from edge_mining.devices.miner_probe import probe
from edge_mining.model import MinerStatus

M = MinerStatus


def stock_config(host: str, password: str = "root") -> MinerConfig:
    return miner_config(host, name="s19", driver="antminer", password=password, min_power_w=0)


@pytest.mark.parametrize(
    ("model", "cls", "ths"),
    [
        ("Antminer S19j Pro (stock)", BMMinerS19jPro, 104.0),
        ("Antminer S21 (stock)", BMMinerS21, 200.0),
    ],
)
async def test_unmodified_pyasic_identifies_stock_firmware_and_reads_it(model, cls, ths):
    host = fresh_host()
    async with EmulatedAntminer(host, model, **FAST) as emulated:
        miner = await miner_factory.get_miner(host)
        assert type(miner) is cls
        data = await miner.get_data()
        assert float(data.hashrate) == pytest.approx(ths, rel=0.01)
        assert data.is_mining is True
        assert data.serial_number == emulated.machine.serial
        # Stock S19/S21 firmware measures no power, and pyasic reads none: the driver
        # reports the work mode's rated draw instead.
        assert data.wattage is None
        assert [round(float(b.hashrate), 2) for b in data.hashboards] == [round(ths / 3, 2)] * 3


async def test_driver_sleeps_wakes_and_switches_work_modes():
    host = fresh_host()
    async with EmulatedAntminer(host, **FAST) as emulated:
        driver = AntminerDriver(stock_config(host))
        assert isinstance(driver, MinerDriver)
        state = await driver.read()
        assert state.status == M.MINING and state.level == "normal"
        assert state.power_w == pytest.approx(3068, abs=5)  # the rated draw of the mode
        assert [lv.name for lv in state.levels] == ["low", "normal"]

        assert await driver.set_level("low") == "low"
        assert emulated.work_mode == 3 and emulated.machine.counters.restarts == 1
        assert await driver.set_power_target(5000) == 3068  # normal fits
        assert emulated.work_mode == 0

        await driver.stop()
        state, _ = await wait_for_state(driver, lambda s: s.status == M.PAUSED)
        assert emulated.work_mode == 1 and state.power_w == emulated.model.sleep_w
        await driver.start()
        state, _ = await wait_for_state(driver, lambda s: s.status == M.MINING, timeout_s=15)
        assert emulated.work_mode == 0 and state.level == "normal"
        await driver.close()


async def test_a_resume_returns_to_the_level_it_ran_at():
    host = fresh_host()
    async with EmulatedAntminer(host, **FAST) as emulated:
        driver = AntminerDriver(stock_config(host))
        await driver.read()
        await driver.set_level("low")
        await driver.stop()
        await wait_for_state(driver, lambda s: s.status == M.PAUSED)
        await driver.start()
        assert emulated.work_mode == 3  # not pyasic's resume_mining, which always goes normal
        await driver.close()


async def test_a_wrong_web_password_is_an_authentication_error():
    host = fresh_host()
    async with EmulatedAntminer(host, password="s3cret", **FAST):
        driver = AntminerDriver(stock_config(host, password="wrong"))
        state = await driver.read()
        assert state.status == M.ERROR
        assert "refused the credentials" in state.errors[0] and "wrong" not in state.errors[0]
        with pytest.raises(DeviceAuthError):
            await driver.stop()
        await driver.close()


async def test_web_pages_need_digest_auth_and_refuse_unknown_modes():
    host = fresh_host()
    async with EmulatedAntminer(host, **FAST):
        async with httpx.AsyncClient() as client:
            bare = await client.get(f"http://{host}/cgi-bin/get_miner_conf.cgi")
            assert bare.status_code == 401
            assert 'realm="antMiner Configuration"' in bare.headers["www-authenticate"]
            auth = httpx.DigestAuth("root", "root")
            conf = (await client.get(f"http://{host}/cgi-bin/get_miner_conf.cgi", auth=auth)).json()
            assert conf["bitmain-work-mode"] == "0"
            bad = await client.post(
                f"http://{host}/cgi-bin/set_miner_conf.cgi", auth=auth, json={"miner-mode": 7}
            )
            assert bad.json()["stats"] == "error"


async def test_a_refused_mode_change_is_reported():
    host = fresh_host()
    async with EmulatedAntminer(host, **FAST) as emulated:
        driver = AntminerDriver(stock_config(host))
        await driver.read()
        emulated.faults.refuse_target = True
        with pytest.raises(CommandRejected, match="asked for work mode 3"):
            await driver.set_level("low")
        await driver.close()


async def test_probe_json_for_a_stock_antminer():
    host = fresh_host()
    async with EmulatedAntminer(host, **FAST):
        result = await probe(host)
        assert result["family"] == "antminer" and result["level"] == "normal"
        assert result["model"] == "Antminer S19j Pro (stock)"
        json.dumps(result)
