"""GetMinerEfficiencyProfile (BraiinsOS public API 1.11): the wire shape, the emulator's
answer through grpclib with pyasic's login token, and the curve made from it."""

from __future__ import annotations

import logging

import pytest
from braiins_support import FAST, fresh_host, miner_config
from grpclib import GRPCError, Status
from pyasic.web.braiins_os.boser import BOSerWebAPI
from pyasic.web.braiins_os.proto.braiins.bos.v1 import Power, TeraHashrate

from edge_mining.config import ControlConfig, CurvePoint
from edge_mining.control import Controller
from edge_mining.devices.braiins.driver import BraiinsMiner
from edge_mining.devices.braiins.emulator import EmulatedMiner
from edge_mining.devices.braiins.profile import (
    MinerEfficiencyPoint,
    curve_from_profile,
    read_efficiency_profile,
)
from edge_mining.model import MinerStatus, Snapshot

GRPC_PORT = 50051


def test_point_encodes_with_the_field_numbers_of_the_proto() -> None:
    # performance.proto: quality = 1 (uint32), power_target = 2 (Power{watt = 1 uint64}),
    # hashrate = 7 (TeraHashrate{terahash_per_second = 1 double}).
    point = MinerEfficiencyPoint(
        quality=3, power_target=Power(watt=3000), hashrate=TeraHashrate(terahash_per_second=0.5)
    )
    assert bytes(point) == (
        b"\x08\x03"  # field 1, varint 3
        b"\x12\x03\x08\xb8\x17"  # field 2, 3 bytes: field 1 varint 3000
        b"\x3a\x09\x09\x00\x00\x00\x00\x00\x00\xe0\x3f"  # field 7: field 1 double 0.5
    )


def _point(quality: int, target: int, consumption: int, ths: float) -> MinerEfficiencyPoint:
    return MinerEfficiencyPoint(
        quality=quality,
        power_target=Power(watt=target),
        consumption=Power(watt=consumption),
        hashrate=TeraHashrate(terahash_per_second=ths),
    )


def test_curve_uses_consumption_and_skips_untuned_and_noisy_points() -> None:
    curve = curve_from_profile(
        [
            _point(2, 2000, 2050, 80.0),
            _point(0, 1000, 1000, 45.0),  # no tuned profile behind it: skipped
            _point(2, 1500, 1540, 65.0),
            _point(2, 2500, 2040, 90.0),  # consumption below the previous point: noise
            _point(2, 3000, 3020, 100.0),
        ]
    )
    assert curve is not None and curve.source == "braiins profile"
    assert curve.points == ((1540.0, 65.0), (2050.0, 80.0), (3020.0, 100.0))
    assert curve_from_profile([]) is None
    assert curve_from_profile([_point(0, 1000, 1000, 40.0)]) is None


async def test_emulator_answers_the_profile_to_a_logged_in_client() -> None:
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro", **FAST) as emulated:
        web = BOSerWebAPI(host)
        token = await web.auth()
        points = await read_efficiency_profile(host, GRPC_PORT, token, timeout_s=5.0)
        assert len(points) == 10
        targets = [p.power_target.watt for p in points]
        assert targets == sorted(targets) and targets[0] == 1200 and targets[-1] == 3600
        assert all(p.quality >= 1 and 0 < p.fan_speed <= 100 for p in points)
        assert all(p.outlet_temp.degree_c > p.ambient_temp.degree_c for p in points)
        curve = curve_from_profile(points)
        assert curve is not None
        machine = emulated.machine
        assert curve.hashrate_at(3068.0) == pytest.approx(machine.hashrate_at(3068.0), rel=0.01)
        slopes = [s for _, s in curve.segments()]
        assert slopes == sorted(slopes, reverse=True)  # tuned down is more efficient
        with pytest.raises(GRPCError) as refused:
            await read_efficiency_profile(host, GRPC_PORT, None, timeout_s=5.0)
        assert refused.value.status is Status.UNAUTHENTICATED


async def test_driver_reads_the_profile_at_detection_and_the_controller_adopts_it(caplog):
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro", **FAST) as emulated:
        config = miner_config(host)
        driver = BraiinsMiner(config)
        state = await driver.read()
        assert state.status == MinerStatus.MINING
        assert state.curve is not None and state.curve.source == "braiins profile"
        machine = emulated.machine
        assert state.curve.hashrate_at(2000.0) == pytest.approx(machine.hashrate_at(2000), rel=0.02)
        snapshot = Snapshot(time=state.timestamp, energy=None, miners={config.name: state})
        controller = Controller(ControlConfig(), [config])
        controller.tick(snapshot)
        assert controller._memory[config.name].curve is state.curve  # the miner's own curve
        configured = config.model_copy(
            update={"efficiency_curve": [CurvePoint(power_w=1200, hashrate_ths=50),
                                         CurvePoint(power_w=3600, hashrate_ths=110)]}
        )  # fmt: skip
        controller = Controller(ControlConfig(), [configured])
        controller.tick(snapshot)
        assert controller._memory[config.name].curve.source == "config"  # the config wins
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro", api_version=(1, 10, 0), **FAST):
        driver = BraiinsMiner(miner_config(host))
        with caplog.at_level(logging.INFO, logger="edge_mining.devices.braiins"):
            state = await driver.read()
        assert state.status == MinerStatus.MINING  # detection works without it
        assert state.curve is None
        assert "no efficiency profile (BraiinsOS API before 1.11)" in caplog.text
