"""Bitaxe and NerdQAxe (ESP-Miner): unmodified pyasic against the emulator, and our driver."""

from __future__ import annotations

import json

import httpx
import pytest
from braiins_support import FAST, fresh_host, miner_config, wait_for_state
from pyasic.miners.bitaxe import BitAxeGamma, BitAxeSupra, BitAxeUltra
from pyasic.miners.factory import miner_factory

from edge_mining.config import MinerConfig
from edge_mining.devices.base import CommandRejected, MinerDriver
from edge_mining.devices.bitaxe.driver import BitaxeDriver
from edge_mining.devices.bitaxe.emulator import EmulatedEspMiner
from edge_mining.devices.bitaxe.models import BOARDS
from edge_mining.devices.miner_probe import probe
from edge_mining.model import MinerStatus

M = MinerStatus
PYASIC_CLASS = {
    "Bitaxe Gamma": BitAxeGamma,
    "Bitaxe Supra": BitAxeSupra,
    "Bitaxe Ultra": BitAxeUltra,
}


def bitaxe_config(host: str) -> MinerConfig:
    figures = {"max_power_w": 100, "nominal_hashrate_ths": 1.1, "nominal_power_w": 18}
    return miner_config(host, name="bitaxe", driver="bitaxe", password="", min_power_w=0, **figures)


@pytest.mark.parametrize("model", list(PYASIC_CLASS))
async def test_unmodified_pyasic_identifies_a_bitaxe_and_reads_hashrate_and_power(model):
    host = fresh_host()
    async with EmulatedEspMiner(host, model, **FAST) as emulated:
        miner = await miner_factory.get_miner(host)
        assert type(miner) is PYASIC_CLASS[model]
        data = await miner.get_data()
        board = emulated.board
        assert float(data.hashrate) == pytest.approx(
            board.hashrate_ths(board.default_frequency), rel=0.01
        )
        assert data.wattage == pytest.approx(board.nominal_w, abs=1)
        assert float(data.expected_hashrate) == pytest.approx(float(data.hashrate), rel=0.01)


async def test_pyasic_does_not_recognise_a_nerdqaxe_but_the_driver_does():
    host = fresh_host()
    async with EmulatedEspMiner(host, "NerdQAxe++", **FAST) as emulated:
        # Since February 2025 the NerdQAxe page is not titled AxeOS: pyasic 0.79 finds nothing.
        assert await miner_factory.get_miner(host) is None
        driver = BitaxeDriver(bitaxe_config(host))
        state = await driver.read()
        assert state.status == M.MINING and state.model == "NerdQAxe++"
        assert state.hashrate_ths == pytest.approx(4.896, rel=0.01)
        assert state.power_w == pytest.approx(emulated.board.nominal_w, abs=1)
        await driver.close()


@pytest.mark.parametrize("model", list(BOARDS.values()), ids=lambda b: b.key)
async def test_driver_pauses_resumes_and_sets_a_frequency_level(model):
    host = fresh_host()
    async with EmulatedEspMiner(host, model.key, **FAST) as emulated:
        driver = BitaxeDriver(bitaxe_config(host))
        assert isinstance(driver, MinerDriver)
        state = await driver.read()
        assert state.level == f"{model.default_frequency}MHz"
        assert [lv.name for lv in state.levels] == [f"{f}MHz" for f in sorted(model.frequencies)]
        assert state.power_target_w == pytest.approx(model.nominal_w, abs=0.5)

        low = state.levels[0]
        assert await driver.set_level(low.name) == low.name
        assert emulated.frequency == min(model.frequencies)
        assert emulated.core_voltage == model.default_voltage
        settled, _ = await wait_for_state(
            driver, lambda s: abs(s.power_w - low.power_w) < 0.5, timeout_s=10
        )
        assert settled.level == low.name

        await driver.stop()
        state, _ = await wait_for_state(driver, lambda s: s.status == M.PAUSED)
        assert state.power_w == pytest.approx(model.paused_w, abs=0.2)
        assert emulated.listening  # the ESP32 stays on the network
        await driver.start()
        state, seen = await wait_for_state(driver, lambda s: s.status == M.MINING)
        assert seen[0].status == M.STARTING
        assert state.level == low.name  # a restart keeps the frequency
        await driver.close()


async def test_a_power_target_picks_the_frequency_that_fits():
    host = fresh_host()
    async with EmulatedEspMiner(host, "Bitaxe Gamma", **FAST) as emulated:
        driver = BitaxeDriver(bitaxe_config(host))
        state = await driver.read()
        by_name = {lv.name: lv for lv in state.levels}
        applied = await driver.set_power_target(by_name["550MHz"].power_w + 0.3)
        assert applied == by_name["550MHz"].power_w and emulated.frequency == 550
        await driver.close()


async def test_emulator_api_rejects_bad_settings_as_the_firmware_does():
    host = fresh_host()
    async with EmulatedEspMiner(host, "Bitaxe Gamma", **FAST) as emulated:
        async with httpx.AsyncClient() as client:
            bad = await client.patch(f"http://{host}/api/system", content=b"{nope")
            assert (bad.status_code, bad.text) == (400, "Invalid JSON")
            wrong = await client.patch(f"http://{host}/api/system", json={"frequency": -5})
            assert wrong.status_code == 400
            ok = await client.patch(f"http://{host}/api/system", json={"frequency": 490})
            assert (ok.status_code, ok.content) == (200, b"")
            assert emulated.frequency == 490
            asic = (await client.get(f"http://{host}/api/system/asic")).json()
            assert asic["frequencyOptions"] == [400, 490, 525, 550, 600, 625]
            page = await client.get(f"http://{host}/")
            assert "<title>AxeOS</title>" in page.text


async def test_a_refused_frequency_is_reported():
    host = fresh_host()
    async with EmulatedEspMiner(host, "Bitaxe Gamma", **FAST) as emulated:
        driver = BitaxeDriver(bitaxe_config(host))
        await driver.read()
        emulated.faults.refuse_target = True
        with pytest.raises(CommandRejected, match="400 Wrong API input"):
            await driver.set_level("400MHz")
        assert any("Wrong API input" in e for e in (await driver.read()).errors)
        await driver.close()


async def test_probe_json_for_a_nerdqaxe():
    host = fresh_host()
    async with EmulatedEspMiner(host, "NerdQAxe++", **FAST):
        result = await probe(host)
        assert result["family"] == "bitaxe" and result["model"] == "NerdQAxe++"
        assert result["status"] == "mining" and result["level"] == "600MHz"
        json.dumps(result)
