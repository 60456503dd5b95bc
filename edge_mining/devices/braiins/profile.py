"""A BraiinsOS miner's efficiency curve: ``GetMinerEfficiencyProfile`` (public API 1.11).

``braiins.bos.v1.PerformanceService/GetMinerEfficiencyProfile`` answers with the tuner's
efficiency curve: points ordered by ascending power target, each with the estimated power
consumption, hashrate, fan speed, outlet and ambient temperatures, frequency and voltage, and
``quality`` (the number of tuned profiles the point is interpolated from). The message shapes
follow ``proto/bos/v1/performance.proto`` of braiins/bos-plus-api 1.11.0.

pyasic 0.79 does not expose this call, so the messages are declared here with betterproto
(pyasic's own unit messages: ``Power``, ``TeraHashrate``, ...) and the call goes through
grpclib on the same port and with the same login token pyasic uses. Firmware older than API
1.11 answers UNIMPLEMENTED: the caller then keeps its configured or nominal curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import betterproto
from grpclib.client import Channel, UnaryUnaryMethod
from pyasic.web.braiins_os.proto.braiins.bos.v1 import (
    Frequency,
    Power,
    Temperature,
    TeraHashrate,
    Voltage,
)

from edge_mining.model import HashrateCurve

PROFILE_PATH = "/braiins.bos.v1.PerformanceService/GetMinerEfficiencyProfile"
# Points built from fewer tuned profiles than this are the tuner's guesses: not used.
MIN_QUALITY = 1

__all__ = [
    "PROFILE_PATH",
    "GetMinerEfficiencyProfileRequest",
    "GetMinerEfficiencyProfileResponse",
    "MinerEfficiencyPoint",
    "curve_from_profile",
    "read_efficiency_profile",
]


@dataclass(eq=False, repr=False)
class MinerEfficiencyPoint(betterproto.Message):
    """Single point on the miner efficiency curve."""

    quality: int = betterproto.uint32_field(1)
    power_target: Power = betterproto.message_field(2)
    consumption: Power = betterproto.message_field(3)
    fan_speed: int = betterproto.uint32_field(4)
    outlet_temp: Temperature = betterproto.message_field(5)
    ambient_temp: Temperature = betterproto.message_field(6)
    hashrate: TeraHashrate = betterproto.message_field(7)
    frequency: Frequency = betterproto.message_field(8)
    voltage: Voltage = betterproto.message_field(9)


@dataclass(eq=False, repr=False)
class GetMinerEfficiencyProfileRequest(betterproto.Message):
    pass


@dataclass(eq=False, repr=False)
class GetMinerEfficiencyProfileResponse(betterproto.Message):
    points: list[MinerEfficiencyPoint] = betterproto.message_field(1)


def curve_from_profile(points: Sequence[MinerEfficiencyPoint]) -> HashrateCurve | None:
    """The curve of power consumption against hashrate, or None when the profile has no
    usable point (an untuned miner, or a reply that makes no sense).

    Consumption is the power the miner really draws at that target (what the site's energy
    balance sees), so it is the curve's power axis. Points with a lower consumption than an
    earlier one, or a lower hashrate, are tuner noise and are skipped."""
    usable: list[tuple[float, float]] = []
    for point in sorted(points, key=lambda p: p.power_target.watt):
        watts = float(point.consumption.watt or point.power_target.watt)
        ths = float(point.hashrate.terahash_per_second)
        if point.quality < MIN_QUALITY or watts <= 0 or not ths > 0:
            continue
        if usable and (watts <= usable[-1][0] or ths < usable[-1][1]):
            continue
        usable.append((watts, ths))
    if not usable:
        return None
    try:
        return HashrateCurve(tuple(usable), source="braiins profile")
    except ValueError:
        return None


async def read_efficiency_profile(
    host: str, port: int, token: str | None, *, timeout_s: float
) -> list[MinerEfficiencyPoint]:
    """Call ``GetMinerEfficiencyProfile`` once; grpclib errors propagate (GRPCError with
    UNIMPLEMENTED on firmware before API 1.11, UNAUTHENTICATED on a stale token)."""
    metadata = [("authorization", token)] if token else None
    async with Channel(host, port) as channel:
        call = UnaryUnaryMethod(
            channel,
            PROFILE_PATH,
            GetMinerEfficiencyProfileRequest,
            GetMinerEfficiencyProfileResponse,
        )
        reply = await call(GetMinerEfficiencyProfileRequest(), timeout=timeout_s, metadata=metadata)
    return list(reply.points)
