"""Unmodified pyasic against the BraiinsOS emulator: detection, data, actions, auth, shapes."""

from __future__ import annotations

import argparse
import asyncio
import json

import httpx
import pytest
from braiins_support import FAST, fresh_host
from cli_process import emulate_miners
from pyasic.errors import APIError
from pyasic.miners.backends import BOSer, BOSMiner
from pyasic.miners.factory import miner_factory
from pyasic.rpc.bosminer import BOSMinerRPCAPI
from pyasic.web.braiins_os.boser import BOSerWebAPI
from pyasic.web.braiins_os.proto.braiins.bos.v1 import SaveAction

from edge_mining.devices.braiins.emulator import EmulatedMiner, Faults, find_model, loopback_hosts
from edge_mining.devices.braiins.emulator.machine import MinerMachine
from edge_mining.devices.emulation import cli as emulate_miner


async def test_pyasic_detects_a_boser_miner_and_reads_its_data():
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro", **FAST) as emulated:
        miner = await miner_factory.get_miner(host)
        assert isinstance(miner, BOSer)
        assert miner.raw_model == "S19j Pro"
        data = await miner.get_data()
        assert data.is_mining is True
        assert float(data.hashrate) == pytest.approx(104.0, rel=0.02)
        assert data.wattage == 3068
        assert data.wattage_limit == 3068
        assert data.fw_ver == "23.10"
        assert data.serial_number == emulated.machine.serial
        assert len(data.fans) == 4 and all(fan.speed > 1000 for fan in data.fans)
        assert [board.chips for board in data.hashboards] == [126, 126, 126]
        assert all(board.temp and board.chip_temp for board in data.hashboards)
        assert data.errors == []
        assert data.pools and data.pools[0].user.startswith("edgemining.")


async def test_pyasic_detects_a_legacy_bosminer_and_reads_its_data():
    host = fresh_host()
    async with EmulatedMiner(host, "S9") as emulated:
        miner = await miner_factory.get_miner(host)
        assert isinstance(miner, BOSMiner) and not isinstance(miner, BOSer)
        data = await miner.get_data(
            include=["hashrate", "wattage", "wattage_limit", "fans", "is_mining", "fw_ver"]
        )
        assert float(data.hashrate) == pytest.approx(13.5, rel=0.02)
        assert data.wattage == 1323 and data.wattage_limit == 1323
        assert data.fw_ver == "22.08"  # from LuCI's bos/info on port 80
        assert await miner.stop_mining() is True
        assert emulated.machine.mining_enabled is False
        assert await miner.resume_mining() is True
        assert emulated.machine.mining_enabled is True


async def test_the_web_page_identifies_braiins_os():
    host = fresh_host()
    async with EmulatedMiner(host):
        async with httpx.AsyncClient() as client:
            page = await client.get(f"http://{host}/")
        assert page.status_code == 200
        assert "Braiins OS" in page.text
        assert await miner_factory._get_miner_web(host) is not None


async def test_pause_resume_and_power_target_through_pyasic_grpc():
    host = fresh_host()
    async with EmulatedMiner(host, **FAST) as emulated:
        miner = await miner_factory.get_miner(host)
        machine = emulated.machine
        assert await miner.stop_mining() is True
        assert machine.mining_enabled is False
        assert machine.hashrate_ths == 0.0
        assert await miner.resume_mining() is True
        assert machine.mining_enabled is True
        # Hashrate ramps after the warm-up rather than jumping back.
        assert machine.hashrate_5s_ths == 0.0
        await asyncio.sleep(0.8)
        assert 0.0 < machine.hashrate_5s_ths < 104.0

        reply = await miner.web.set_power_target(2000, save_action=SaveAction.SAVE_AND_APPLY)
        assert reply == {"powerTarget": {"watt": 2000}}
        mode = await miner.web.get_active_performance_mode()
        assert mode["tunerMode"]["powerTarget"]["powerTarget"]["watt"] == 2000
        assert machine.counters.restarts == 0
        # pyasic's own set_power_limit force-applies: the emulator restarts bosminer for it.
        assert await miner.set_power_limit(2500) is True
        assert machine.counters.restarts == 1
        # SAVE only stores the value; the active target stays.
        await miner.web.set_power_target(1500, save_action=SaveAction.SAVE)
        assert machine.active_target_w == 2500 and machine.saved_target_w == 1500
        constraints = await miner.web.get_constraints()
        power = constraints["tunerConstraints"]["powerTarget"]
        assert (power["min"]["watt"], power["max"]["watt"]) == (1200, 3600)
        with pytest.raises(APIError):
            await miner.web.set_power_target(9000)  # outside the constraints
        assert machine.active_target_w == 2500


async def test_privileged_grpc_calls_need_the_login_token():
    host = fresh_host()
    async with EmulatedMiner(host, password="hunter2") as emulated:
        web = BOSerWebAPI(host)
        web.pwd = "hunter2"
        # Public: no token needed.
        assert (await web.get_api_version())["major"] == 1
        # A forged token is refused, pyasic logs in again and the call succeeds.
        web.token = "forged"
        web._auth_time = __import__("datetime").datetime.now()
        stats = await web.get_miner_stats()
        assert stats["powerStats"]["approximatedConsumption"]["watt"] > 0
        assert web.token in emulated.credentials.tokens
        wrong = BOSerWebAPI(host)  # default password "root"
        with pytest.raises(Exception) as caught:
            await wrong.get_miner_stats()
        assert "UNAUTHENTICATED" in repr(caught.value) or "UNAUTHENTICATED" in repr(
            caught.value.__cause__
        )


async def test_cgminer_api_shapes_and_malformed_requests():
    host = fresh_host()
    async with EmulatedMiner(host) as emulated:
        rpc = BOSMinerRPCAPI(host)
        version = await rpc.version()
        assert "BOSer" in version["VERSION"][0] and version["STATUS"][0]["STATUS"] == "S"
        multi = await rpc.multicommand("summary", "devs", "pools", "tunerstatus", "temps", "fans")
        for name in ("summary", "devs", "pools", "tunerstatus", "temps", "fans"):
            assert multi[name][0]["STATUS"][0]["STATUS"] == "S", name
        assert multi["summary"][0]["SUMMARY"][0]["MHS 5s"] == pytest.approx(104e6, rel=0.02)
        assert len(multi["devs"][0]["DEVS"]) == 3
        tuner = multi["tunerstatus"][0]["TUNERSTATUS"][0]
        assert tuner["PowerLimit"] == 3068 and len(tuner["TunerChainStatus"]) == 3
        details = await rpc.devdetails()
        assert details["DEVDETAILS"][0]["Model"] == "Bitmain Antminer S19j Pro"
        assert (await rpc.pause())["PAUSE"] and not emulated.machine.mining_enabled
        assert (await rpc.resume())["RESUME"] and emulated.machine.mining_enabled
        with pytest.raises(APIError):
            await rpc.send_command("no-such-command")
        # Garbage is answered with an error and the server keeps serving.
        reader, writer = await asyncio.open_connection(host, 4028)
        writer.write(b"\xff\xfenot json")
        writer.write_eof()
        reply = await reader.read()
        writer.close()
        assert json.loads(reply.rstrip(b"\x00"))["STATUS"][0]["STATUS"] == "E"
        assert (await rpc.summary())["SUMMARY"]


def test_dynamics_settle_towards_a_new_target_without_stopping():
    class Clock:
        t = 0.0

        def now(self):
            return self.t

        async def sleep(self, seconds):
            self.t += seconds

    clock = Clock()
    machine = MinerMachine(find_model("S19j Pro"), clock, settle_s=20.0)
    machine.set_power_target(2000, apply=True, force=False)
    clock.t = 5.0
    midway = machine.power_w
    assert 2000 < midway < 3068
    assert machine.hashrate_5s_ths > 0
    clock.t = 20.0
    assert machine.power_w == pytest.approx(2000, rel=0.06)
    clock.t = 60.0
    assert machine.power_w == pytest.approx(2000, rel=0.01)
    assert machine.hashrate_ths < 104.0  # less power, less hash
    assert machine.power_w / machine.hashrate_ths < 3068 / 104  # but better J/TH
    machine.pause()
    assert machine.power_w == machine.spec.idle_w
    clock.t = 62.5
    assert 0 < machine.hashrate_5s_ths < machine.hashrate_at(2000)  # the 5 s window lags
    clock.t = 65.1
    assert machine.hashrate_5s_ths == 0.0


def test_faults_and_hosts_parse():
    faults = Faults.parse("unreachable, slow=1.5,auth,refuse_target")
    assert faults == Faults(unreachable=True, slow_s=1.5, auth=True, refuse_target=True)
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.parse("explode")
    assert loopback_hosts("127.0.1.255", 2) == ["127.0.1.255", "127.0.2.0"]
    with pytest.raises(ValueError, match="loopback"):
        loopback_hosts("10.0.0.1", 1)
    with pytest.raises(ValueError, match="unknown miner model"):
        find_model("S99")


def test_cli_prints_one_line_per_miner_and_exits_0_on_sigterm():
    host = fresh_host()
    lines, code = emulate_miners("--host", host, "--count", "3", "--password", "pw", count=3)
    first, _, third = loopback_hosts(host, 3)
    assert lines == [f"MINER {first}", f"MINER {loopback_hosts(host, 2)[1]}", f"MINER {third}"]
    assert code == 0


def test_cli_rejects_a_non_loopback_host(capsys):
    args = argparse.Namespace(
        host="192.168.1.5",
        count=1,
        model="S19j Pro",
        password="root",
        speed=1.0,
        faults="",
        list_models=False,
    )
    assert emulate_miner.main(args) == 2
    assert "loopback" in capsys.readouterr().err
    args.host, args.faults = "127.0.0.1", "melt"
    assert emulate_miner.main(args) == 2
    assert "unknown fault" in capsys.readouterr().err
