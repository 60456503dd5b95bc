"""The cgminer-style JSON API of BOSminer/BOSer on TCP 4028: what its commands answer.

The framing (one JSON request per connection, several commands joined with ``+``, a reply
terminated by a NUL byte, then the connection closed: exactly what pyasic's RPC client and its
miner factory expect) is the one every firmware's API shares,
:class:`~edge_mining.devices.emulation.cgminer.CgminerApi`. Reply shapes follow BOSminer's API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edge_mining.devices.emulation.cgminer import CgminerApi, Handler, Reply
from edge_mining.devices.emulation.cgminer_summary import mhs, summary_item

if TYPE_CHECKING:
    from edge_mining.devices.braiins.emulator.server import EmulatedMiner

API_VERSION = "3.7"

# cgminer status codes for each command's success message.
_CODES = {
    "summary": (11, "Summary"),
    "devs": (9, "{n} ASC(s)"),
    "pools": (7, "{n} Pool(s)"),
    "version": (22, "{name} versions"),
    "devdetails": (69, "Device Details"),
    "tunerstatus": (0, "Tuner Status"),
    "fans": (0, "Fans"),
    "temps": (0, "Temperatures"),
    "pause": (0, "Pause"),
    "resume": (0, "Resume"),
    "config": (33, "{name} config"),
    "stats": (70, "{name} stats"),
}


def _summary(miner: EmulatedMiner) -> dict[str, Any]:
    return {"SUMMARY": [summary_item(miner.machine, share_difficulty=65536)]}


def _board_ids(miner: EmulatedMiner) -> range:
    # BOSminer numbers hashchains from 1 on X19 (6..8 on S9): pyasic handles both.
    first = 6 if miner.spec.legacy else 1
    return range(first, first + miner.spec.hashboards)


def _devs(miner: EmulatedMiner) -> dict[str, Any]:
    m = miner.machine
    boards = m.enabled_boards  # a disabled board hashes nothing
    share_5s = m.hashrate_5s_ths / boards
    share_1m = m.hashrate_1m_ths / boards
    nominal = m.hashrate_at(m.active_target_w) / boards
    devs = []
    for index, chain in enumerate(_board_ids(miner)):
        on = m.boards_enabled[index]
        share = 1.0 if on else 0.0
        devs.append(
            {
                "ASC": index,
                "Name": "",
                "ID": chain,
                "Enabled": "Y" if on else "N",
                "Status": "Alive" if on else "Disabled",
                "Temperature": m.board_temperature_c(index),
                "MHS av": mhs(share * share_1m),
                "MHS 5s": mhs(share * share_5s),
                "MHS 1m": mhs(share * share_1m),
                "MHS 5m": mhs(share * m.hashrate_5m_ths / boards),
                "MHS 15m": mhs(share * m.hashrate_15m_ths / boards),
                "Accepted": int(share * m.counters.accepted // boards),
                "Rejected": 0,
                "Hardware Errors": 0,
                "Utility": 0.0,
                "Last Share Pool": 0,
                "Last Share Time": int(time.time()),
                "Total MH": round(share * m.counters.total_mh / boards, 0),
                "Diff1 Work": 0,
                "Difficulty Accepted": 0.0,
                "Difficulty Rejected": 0.0,
                "Last Share Difficulty": 0.0,
                "Last Valid Work": int(time.time()),
                "Device Hardware%": 0.0,
                "Device Rejected%": 0.0,
                "Device Elapsed": int(m.bosminer_uptime_s),
                "Nominal MHS": mhs(share * nominal),
            }
        )
    return {"DEVS": devs}


def _pools(miner: EmulatedMiner) -> dict[str, Any]:
    m = miner.machine
    alive = m.running
    return {
        "POOLS": [
            {
                "POOL": 0,
                "URL": "stratum+tcp://stratum.braiins.com:3333",
                "Status": "Alive" if alive else "Dead",
                "Priority": 0,
                "Quota": 1,
                "Long Poll": "N",
                "Getworks": m.counters.accepted // 4,
                "Accepted": m.counters.accepted,
                "Rejected": m.counters.rejected,
                "Works": m.counters.accepted * 8,
                "Discarded": 0,
                "Stale": 0,
                "Get Failures": 0,
                "Remote Failures": 0,
                "User": f"edgemining.{miner.hostname}",
                "Last Share Time": int(time.time()),
                "Diff1 Shares": 0,
                "Proxy Type": "",
                "Proxy": "",
                "Difficulty Accepted": float(m.counters.accepted * 65536),
                "Difficulty Rejected": 0.0,
                "Difficulty Stale": 0.0,
                "Last Share Difficulty": 65536.0,
                "Work Difficulty": 65536.0,
                "Has Stratum": True,
                "Stratum Active": alive,
                "Stratum URL": "stratum.braiins.com",
                "Stratum Difficulty": 65536.0,
                "Has GBT": False,
                "Best Share": 0,
                "Pool Rejected%": 0.0,
                "Pool Stale%": 0.0,
                "Bad Work": 0,
                "Current Block Height": 0,
                "Current Block Version": 536870912,
                "AsicBoost": True,
            }
        ]
    }


def _version(miner: EmulatedMiner) -> dict[str, Any]:
    return {"VERSION": [{miner.rpc_name: miner.rpc_version, "API": API_VERSION}]}


def _devdetails(miner: EmulatedMiner) -> dict[str, Any]:
    spec = miner.spec
    return {
        "DEVDETAILS": [
            {
                "DEVDETAILS": index,
                "Name": "",
                "ID": chain,
                "Driver": "",
                "Kernel": "",
                "Model": f"Bitmain {spec.model}",
                "Device Path": "",
                "Chips": spec.chips_per_board,
                "Voltage": 13.6,
                "Frequency": 525.0,
            }
            for index, chain in enumerate(_board_ids(miner))
        ]
    }


def dynamic_power_scaling(miner: EmulatedMiner) -> str | dict[str, int]:
    """BOSminer's ``DynamicPowerScaling`` field: "Disabled", "InitialPowerLimit" (enabled, not
    scaling) or ``{"ScaledPowerLimit": W}`` while it holds the power limit below the target."""
    miner.machine.advance()
    dps = miner.machine.dps
    if not dps.enabled:
        return "Disabled"
    if dps.scaled_w is None:
        return "InitialPowerLimit"
    return {"ScaledPowerLimit": dps.scaled_w}


def _tunerstatus(miner: EmulatedMiner) -> dict[str, Any]:
    m = miner.machine
    boards = m.enabled_boards
    power = round(m.power_w)
    status = "Stable" if m.tuner_stable or not m.hashing_enabled else "Tuning individual chips"
    chains = [
        {
            "HashchainIndex": chain,
            "Iteration": 0,
            "LoadedProfile": True,
            "PowerLimitWatt": round(m.effective_target_w()) // boards,
            "ApproximatePowerConsumptionWatt": round(max(power - m.spec.idle_w, 0) / boards),
            "Status": status,
        }
        for index, chain in enumerate(_board_ids(miner))
        if m.boards_enabled[index]
    ]
    return {
        "TUNERSTATUS": [
            {
                "PowerLimit": m.active_target_w,
                "DynamicPowerScaling": dynamic_power_scaling(miner),
                "ApproximateChainPowerConsumption": round(max(power - m.spec.idle_w, 0)),
                "ApproximateMinerPowerConsumption": power,
                "TunerChainStatus": chains,
            }
        ]
    }


def _fans(miner: EmulatedMiner) -> dict[str, Any]:
    m = miner.machine
    return {
        "FANS": [
            {"FANS": index, "ID": index, "RPM": m.fan_rpm(index), "Speed": 100}
            for index in range(miner.spec.fans)
        ]
    }


def _temps(miner: EmulatedMiner) -> dict[str, Any]:
    m = miner.machine
    return {
        "TEMPS": [
            {
                "TEMPS": index,
                "ID": chain,
                "Board": m.board_temperature_c(index),
                "Chip": m.chip_temperature_c(index),
            }
            for index, chain in enumerate(_board_ids(miner))
        ]
    }


def _pause(miner: EmulatedMiner) -> dict[str, Any]:
    already = miner.machine.pause()
    return {"PAUSE": [{"PAUSE": "Already paused" if already else "Paused"}]}


def _resume(miner: EmulatedMiner) -> dict[str, Any]:
    already = miner.machine.resume()
    return {"RESUME": [{"RESUME": "Already mining" if already else "Resumed"}]}


def _count(body: dict[str, Any]) -> int:
    for value in body.values():
        if isinstance(value, list):
            return len(value)
    return 0


COMMANDS: dict[str, Callable[[EmulatedMiner], dict[str, Any]]] = {
    "summary": _summary,
    "devs": _devs,
    "pools": _pools,
    "version": _version,
    "devdetails": _devdetails,
    "tunerstatus": _tunerstatus,
    "fans": _fans,
    "temps": _temps,
    "pause": _pause,
    "resume": _resume,
}


def build_api(miner: EmulatedMiner) -> CgminerApi:
    """``miner``'s API: each command's data with its status code and message."""

    def handler(name: str, body_of: Callable[[EmulatedMiner], dict[str, Any]]) -> Handler:
        code, msg = _CODES[name]

        def answer(_parameter: str | None) -> Reply:
            body = body_of(miner)
            return Reply(code, msg.format(n=_count(body), name=miner.rpc_name), body)

        return answer

    handlers = {name: handler(name, body_of) for name, body_of in COMMANDS.items()}
    return CgminerApi(miner.rpc_description, handlers, plain_text=False)
