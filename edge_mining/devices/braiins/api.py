"""What BraiinsOS's public gRPC API offers beyond pyasic 0.79's generated messages.

pyasic ships the ``braiins.bos.v1`` messages of an API before 1.7, so it has no quick ramping:
``PerformanceService/SetQuickRamping`` and ``SetDefaultQuickRamping`` (public API 1.7), the
``quick_ramping_time_up_s``/``quick_ramping_time_down_s`` fields of
``HashboardPerformanceConfiguration`` (in ``GetMinerConfiguration``) and
``quick_ramping_time_s`` in ``HashboardConstraints`` (in ``GetConstraints``). They are
declared here with betterproto, as subclasses of pyasic's messages where they extend one, so
the emulator answers with them and the driver reads them; the shapes follow
``proto/bos/v1/performance.proto`` and ``configuration.proto`` of braiins/bos-plus-api 1.11.

Quick ramping sets how many seconds a resume takes to reach full power and a pause to power
off ("used in curtailments"): what a miner following the sun wants short. Firmware before API
1.7 answers UNIMPLEMENTED.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional  # noqa: F401, UP035 (pyasic's annotations, see below)

import betterproto
from grpclib.client import Channel, UnaryUnaryMethod
from pyasic.web.braiins_os.proto.braiins.bos import v1

# betterproto resolves every annotation of a message class, its parents' included, in the
# module of the class: the names pyasic's parent messages use must be importable here.
from pyasic.web.braiins_os.proto.braiins.bos.v1 import (  # noqa: F401
    BooleanConstraint,
    CoolingConfiguration,
    CoolingConstraints,
    DpsConfiguration,
    DpsConstraints,
    Frequency,
    FrequencyConstraints,
    HashboardConfig,
    PoolGroupConfiguration,
    TunerConfiguration,
    TunerConstraints,
    Voltage,
    VoltageConstraints,
)

SET_QUICK_RAMPING_PATH = "/braiins.bos.v1.PerformanceService/SetQuickRamping"
SET_DEFAULT_QUICK_RAMPING_PATH = "/braiins.bos.v1.PerformanceService/SetDefaultQuickRamping"
GET_CONFIGURATION_PATH = "/braiins.bos.v1.ConfigurationService/GetMinerConfiguration"
GET_CONSTRAINTS_PATH = "/braiins.bos.v1.ConfigurationService/GetConstraints"


@dataclass(eq=False, repr=False)
class SetQuickRampingRequest(betterproto.Message):
    save_action: v1.SaveAction = betterproto.enum_field(1)
    up_s: int = betterproto.uint32_field(2)  # seconds to full power on a resume
    down_s: int = betterproto.uint32_field(3)  # seconds to power off on a pause


@dataclass(eq=False, repr=False)
class QuickRampingResponse(betterproto.Message):
    up_s: int = betterproto.uint32_field(1)
    down_s: int = betterproto.uint32_field(2)


@dataclass(eq=False, repr=False)
class SetDefaultQuickRampingRequest(betterproto.Message):
    save_action: v1.SaveAction = betterproto.enum_field(1)


@dataclass(eq=False, repr=False)
class HashboardPerformanceConfiguration(v1.HashboardPerformanceConfiguration):
    quick_ramping_time_up_s: int | None = betterproto.uint32_field(4, optional=True)
    quick_ramping_time_down_s: int | None = betterproto.uint32_field(5, optional=True)


@dataclass(eq=False, repr=False)
class GetMinerConfigurationResponse(v1.GetMinerConfigurationResponse):
    hashboard_config: HashboardPerformanceConfiguration = betterproto.message_field(5)


@dataclass(eq=False, repr=False)
class HashboardConstraints(v1.HashboardConstraints):
    quick_ramping_time_s: v1.UInt32Constraints = betterproto.message_field(5)


@dataclass(eq=False, repr=False)
class GetConstraintsResponse(v1.GetConstraintsResponse):
    hashboards_constraints: HashboardConstraints = betterproto.message_field(4)


@dataclass(frozen=True, slots=True)
class QuickRamping:
    """The miner's quick ramping: its current times (None: never set) and accepted range."""

    up_s: int | None
    down_s: int | None
    min_s: int | None
    max_s: int | None

    def clamp(self, seconds: int) -> int:
        low = self.min_s if self.min_s else seconds
        high = self.max_s if self.max_s else seconds
        return min(max(seconds, low), max(low, high))


def _metadata(token: str | None) -> list[tuple[str, str]] | None:
    return [("authorization", token)] if token else None


async def read_quick_ramping(
    host: str, port: int, token: str | None, *, timeout_s: float
) -> QuickRamping:
    """The quick ramping times and constraints (grpclib errors propagate)."""
    async with Channel(host, port) as channel:
        config = await UnaryUnaryMethod(
            channel,
            GET_CONFIGURATION_PATH,
            v1.GetMinerConfigurationRequest,
            GetMinerConfigurationResponse,
        )(v1.GetMinerConfigurationRequest(), timeout=timeout_s, metadata=_metadata(token))
        constraints = await UnaryUnaryMethod(
            channel, GET_CONSTRAINTS_PATH, v1.GetConstraintsRequest, GetConstraintsResponse
        )(v1.GetConstraintsRequest(), timeout=timeout_s, metadata=_metadata(token))
    hb = config.hashboard_config
    limits = constraints.hashboards_constraints.quick_ramping_time_s
    return QuickRamping(
        up_s=hb.quick_ramping_time_up_s,
        down_s=hb.quick_ramping_time_down_s,
        min_s=limits.min or None,
        max_s=limits.max or None,
    )


async def set_quick_ramping(
    host: str, port: int, token: str | None, up_s: int, down_s: int, *, timeout_s: float
) -> tuple[int, int]:
    """``SetQuickRamping`` with SAVE_AND_APPLY; returns the (up, down) the miner applied.
    GRPCError UNIMPLEMENTED on firmware before API 1.7."""
    async with Channel(host, port) as channel:
        reply = await UnaryUnaryMethod(
            channel, SET_QUICK_RAMPING_PATH, SetQuickRampingRequest, QuickRampingResponse
        )(
            SetQuickRampingRequest(
                save_action=v1.SaveAction.SAVE_AND_APPLY, up_s=up_s, down_s=down_s
            ),
            timeout=timeout_s,
            metadata=_metadata(token),
        )
    return reply.up_s, reply.down_s


def boards_for(watts: float, floor_w: float, boards: int) -> int:
    """How many of ``boards`` hashboards to run for a target of ``watts``: all of them at or
    above the machine's floor ``floor_w``; below it as many as keep each board at or above its
    own floor (``floor_w / boards``: more boards at lower power hash more per watt), at least
    one."""
    if boards <= 1 or watts >= floor_w:
        return max(boards, 1)
    per_board = floor_w / boards
    return max(1, min(boards - 1, int(watts // per_board)))


def dps_scaled_limit(tuner: dict[str, object]) -> float | None:
    """The power limit Dynamic Performance Scaling holds the miner at, from a ``tunerstatus``
    entry: BOSminer says ``"Disabled"``, ``"InitialPowerLimit"`` (enabled, not scaling) or
    ``{"ScaledPowerLimit": W}`` while it scales the limit down (the chips run hot)."""
    dps = tuner.get("DynamicPowerScaling")
    if isinstance(dps, dict):
        scaled = dps.get("ScaledPowerLimit")
        if isinstance(scaled, int | float) and scaled > 0:
            return float(scaled)
    return None
