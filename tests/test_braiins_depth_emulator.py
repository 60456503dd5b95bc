"""The BraiinsOS emulator beyond a power target: hashboards, quick ramping (API 1.7) and
Dynamic Performance Scaling, on the machine model and through pyasic's gRPC client."""

from __future__ import annotations

import asyncio

import pytest
from braiins_support import FAST, fresh_host
from grpclib import GRPCError, Status
from pyasic.errors import APIError
from pyasic.rpc.bosminer import BOSMinerRPCAPI
from pyasic.web.braiins_os.boser import BOSerWebAPI

from edge_mining.clock import ManualClock
from edge_mining.devices.braiins.api import read_quick_ramping, set_quick_ramping
from edge_mining.devices.braiins.emulator import EmulatedMiner
from edge_mining.devices.braiins.emulator.machine import (
    DPS_INTERVAL_S,
    DpsSettings,
    HashboardRefused,
    MinerMachine,
    TargetRefused,
    find_model,
)

GRPC_PORT = 50051
S19JPRO = find_model("S19j Pro")  # targets 1200..3600 W, 3 boards


def _machine(**options: object) -> tuple[MinerMachine, ManualClock]:
    clock = ManualClock(1_000_000.0)
    return MinerMachine(S19JPRO, clock, **options), clock  # type: ignore[arg-type]


def test_one_board_of_three_runs_at_a_third_of_the_floor() -> None:
    m, clock = _machine()
    m.set_power_target(1200, apply=True, force=False)
    clock.advance(120)
    full = m.power_w
    m.set_hashboards([1, 2], False, apply=True)
    assert m.enabled_boards == 1
    assert m.target_limits() == (400, 1200)
    assert m.power_w == pytest.approx(full / 3, rel=0.02)  # a target is the wall draw
    m.set_power_target(400, apply=True, force=False)
    clock.advance(120)
    assert m.power_w == pytest.approx(400, rel=0.02)
    # Each board hashes as in a full machine at its share of the power.
    assert m.hashrate_ths == pytest.approx(find_hashrate(1200) / 3, rel=0.02)
    with pytest.raises(TargetRefused):
        m.set_power_target(1500, apply=True, force=False)  # beyond one board's ceiling
    with pytest.raises(HashboardRefused):
        m.set_hashboards([0], False, apply=True)  # the last board stays
    m.set_hashboards([1, 2], True, apply=True)
    clock.advance(120)
    assert m.target_limits() == (1200, 3600)
    assert m.active_target_w == 1200  # the target moved into the new range


def find_hashrate(watts: float) -> float:
    m, _ = _machine()
    return m.hashrate_at(watts)


def test_quick_ramping_shortens_a_resume_and_ramps_a_pause_down() -> None:
    m, clock = _machine()
    m.pause()
    assert m.power_w == m.spec.idle_w  # the firmware's pause: at once
    m.resume()
    clock.advance(20)
    assert m.hashrate_ths < 0.9 * m.hashrate_at(m.active_target_w)  # 10 s warm-up + 30 s ramp
    m.set_quick_ramping(8, 20)
    m.pause()
    m.resume()
    clock.advance(8.1)
    assert m.hashrate_ths == pytest.approx(m.hashrate_at(m.active_target_w), rel=0.01)
    busy = m.power_w
    m.pause()
    clock.advance(10)
    assert m.power_w == pytest.approx(m.spec.idle_w + (busy - m.spec.idle_w) / 2, rel=0.02)
    clock.advance(10.1)
    assert m.power_w == m.spec.idle_w
    with pytest.raises(TargetRefused):
        m.set_quick_ramping(1, 20)
    m.set_quick_ramping(None, None)
    assert m.quick_ramping is None and m.curtail_up_s is None


def test_dps_scales_the_limit_down_while_hot_and_back_up_when_cool() -> None:
    m, clock = _machine()
    m.set_dps(DpsSettings(enabled=True, power_step_w=200, min_power_target_w=1600))
    clock.advance(3 * DPS_INTERVAL_S)
    m.advance()
    assert m.dps.scaled_w is None  # not hot at the default target
    m.extra_heat_c = 20.0
    scaled = []
    for _ in range(12):
        clock.advance(DPS_INTERVAL_S)
        m.advance()
        scaled.append(m.dps.scaled_w)
    assert scaled[0] == 3068 - 200
    assert scaled == sorted(scaled, reverse=True)  # (None sorts nowhere: all scaled)
    assert 1600 <= scaled[-1] < 2600
    assert m.power_w < 2700
    m.extra_heat_c = 0.0
    clock.advance(12 * DPS_INTERVAL_S)
    m.advance()
    assert m.dps.scaled_w is None and m.effective_target_w() == 3068
    m.extra_heat_c = 20.0
    clock.advance(2 * DPS_INTERVAL_S)
    m.advance()
    assert m.dps.scaled_w is not None
    m.set_power_target(3000, apply=True, force=False)  # a new target: DPS starts over
    assert m.dps.scaled_w is None


async def test_pyasic_disables_boards_and_the_constraints_follow() -> None:
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro", **FAST) as emulated:
        web = BOSerWebAPI(host)
        await web.disable_hashboards(["2", "3"])
        boards = (await web.get_hashboards())["hashboards"]
        assert [b.get("enabled", False) for b in boards] == [True, False, False]
        constraints = await web.get_constraints()
        power = constraints["tunerConstraints"]["powerTarget"]
        assert (int(power["min"]["watt"]), int(power["max"]["watt"])) == (400, 1200)
        await web.set_power_target(500)
        assert emulated.machine.active_target_w == 500
        devs = (await BOSMinerRPCAPI(host).devs())["DEVS"]
        assert [d["Enabled"] for d in devs] == ["Y", "N", "N"]
        with pytest.raises(APIError) as refused:  # pyasic wraps the GRPCError
            await web.disable_hashboards(["1"])
        grpc_error = refused.value.__cause__ or refused.value.__context__
        assert isinstance(grpc_error, GRPCError)
        assert grpc_error.status is Status.FAILED_PRECONDITION
        assert "at least one hashboard" in str(grpc_error.message)
        await web.enable_hashboards(["2", "3"])
        assert emulated.machine.enabled_boards == 3


async def test_quick_ramping_over_grpc_with_pyasics_token() -> None:
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro", **FAST) as emulated:
        token = await BOSerWebAPI(host).auth()
        before = await read_quick_ramping(host, GRPC_PORT, token, timeout_s=5.0)
        assert (before.up_s, before.down_s) == (None, None)
        assert (before.min_s, before.max_s) == (5, 900)
        assert await set_quick_ramping(host, GRPC_PORT, token, 30, 15, timeout_s=5.0) == (30, 15)
        after = await read_quick_ramping(host, GRPC_PORT, token, timeout_s=5.0)
        assert (after.up_s, after.down_s) == (30, 15)
        assert emulated.machine.curtail_up_s == 30.0
        with pytest.raises(GRPCError) as refused:
            await set_quick_ramping(host, GRPC_PORT, token, 2, 15, timeout_s=5.0)
        assert refused.value.status is Status.INVALID_ARGUMENT
        with pytest.raises(GRPCError) as anonymous:
            await set_quick_ramping(host, GRPC_PORT, None, 30, 15, timeout_s=5.0)
        assert anonymous.value.status is Status.UNAUTHENTICATED


async def test_dps_over_pyasic_and_its_state_in_tunerstatus() -> None:
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro", speed=600.0) as emulated:
        web = BOSerWebAPI(host)
        await web.set_dps(enable=True, power_step=300, min_power_target=1500)
        config = await web.get_miner_configuration()
        assert config["dps"]["enabled"] is True
        assert int(config["dps"]["minPowerTarget"]["watt"]) == 1500
        rpc = BOSMinerRPCAPI(host)
        tuner = (await rpc.tunerstatus())["TUNERSTATUS"][0]
        assert tuner["DynamicPowerScaling"] == "InitialPowerLimit"
        emulated.machine.extra_heat_c = 25.0
        for _ in range(100):
            tuner = (await rpc.tunerstatus())["TUNERSTATUS"][0]
            if isinstance(tuner["DynamicPowerScaling"], dict):
                break
            await asyncio.sleep(0.05)
        scaled = tuner["DynamicPowerScaling"]["ScaledPowerLimit"]
        assert 1500 <= scaled < tuner["PowerLimit"] == 3068
        state = await web.get_tuner_state()
        assert int(state["powerTargetModeState"]["currentTarget"]["watt"]) <= scaled
