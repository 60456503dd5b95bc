"""The cgminer-style JSON API of BOSminer/BOSer on TCP 4028.

One JSON request per connection (``{"command": "summary"}``, several joined with ``+``), one
JSON reply terminated by a NUL byte, then the miner closes the connection — exactly what
pyasic's RPC client and its miner factory expect. Reply shapes follow BOSminer's API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge_mining.devices.braiins.emulator.server import EmulatedMiner

log = logging.getLogger(__name__)

API_VERSION = "3.7"
MAX_REQUEST_BYTES = 65536
REQUEST_TIMEOUT_S = 5.0

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


def _status(miner: EmulatedMiner, command: str, n: int = 0, ok: bool = True) -> list[dict]:
    code, msg = _CODES.get(command, (14, "Invalid command"))
    return [
        {
            "STATUS": "S" if ok else "E",
            "When": int(time.time()),
            "Code": code if ok else 14,
            "Msg": msg.format(n=n, name=miner.rpc_name) if ok else "Invalid command",
            "Description": miner.rpc_description,
        }
    ]


def _mhs(ths: float) -> float:
    return round(ths * 1e6, 2)


def _summary(miner: EmulatedMiner) -> dict[str, Any]:
    m = miner.machine
    elapsed = int(m.bosminer_uptime_s)
    total_mh = m.counters.total_mh
    return {
        "SUMMARY": [
            {
                "Elapsed": elapsed,
                "MHS av": round(total_mh / elapsed, 2) if elapsed else 0.0,
                "MHS 5s": _mhs(m.hashrate_5s_ths),
                "MHS 1m": _mhs(m.hashrate_1m_ths),
                "MHS 5m": _mhs(m.hashrate_5m_ths),
                "MHS 15m": _mhs(m.hashrate_15m_ths),
                "Found Blocks": 0,
                "Getworks": m.counters.accepted // 4,
                "Accepted": m.counters.accepted,
                "Rejected": m.counters.rejected,
                "Hardware Errors": m.counters.hardware_errors,
                "Utility": 0.0,
                "Discarded": 0,
                "Stale": 0,
                "Get Failures": 0,
                "Local Work": m.counters.accepted * 8,
                "Remote Failures": 0,
                "Network Blocks": 0,
                "Total MH": round(total_mh, 0),
                "Work Utility": 0.0,
                "Difficulty Accepted": float(m.counters.accepted * 65536),
                "Difficulty Rejected": 0.0,
                "Difficulty Stale": 0.0,
                "Best Share": 0,
                "Device Hardware%": 0.0,
                "Device Rejected%": 0.0,
                "Pool Rejected%": 0.0,
                "Pool Stale%": 0.0,
                "Last getwork": int(time.time()),
            }
        ]
    }


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
                "MHS av": _mhs(share * share_1m),
                "MHS 5s": _mhs(share * share_5s),
                "MHS 1m": _mhs(share * share_1m),
                "MHS 5m": _mhs(share * m.hashrate_5m_ths / boards),
                "MHS 15m": _mhs(share * m.hashrate_15m_ths / boards),
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
                "Nominal MHS": _mhs(share * nominal),
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


def respond(miner: EmulatedMiner, request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one decoded request (single or ``+``-joined multi-command)."""
    command = str(request.get("command", ""))
    names = [name for name in command.split("+") if name]
    if len(names) > 1:
        reply: dict[str, Any] = {name: [_single(miner, name)] for name in names}
        reply["id"] = 1
        return reply
    return _single(miner, names[0] if names else "")


def _single(miner: EmulatedMiner, name: str) -> dict[str, Any]:
    handler = COMMANDS.get(name)
    if handler is None:
        return {"STATUS": _status(miner, name, ok=False), "id": 1}
    body = handler(miner)
    return {"STATUS": _status(miner, name, _count(body)), **body, "id": 1}


async def handle_connection(
    miner: EmulatedMiner, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Serve one request on one connection, then close it (as BOSminer does)."""
    try:
        request = await asyncio.wait_for(_read_request(reader), REQUEST_TIMEOUT_S)
        if request is None:
            return
        if miner.faults.slow_s:
            await asyncio.sleep(miner.faults.slow_s)
        reply = respond(miner, request)
        writer.write(json.dumps(reply).encode() + b"\x00")
        await writer.drain()
    except (TimeoutError, ConnectionError, OSError) as exc:
        log.debug("%s: cgminer API connection dropped: %s", miner.host, exc)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def _read_request(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """Read until a whole JSON object arrived (clients send no terminator)."""
    data = b""
    while len(data) < MAX_REQUEST_BYTES:
        chunk = await reader.read(4096)
        if not chunk:
            break
        data += chunk
        try:
            decoded = json.loads(data.rstrip(b"\x00").decode())
        except (ValueError, UnicodeDecodeError):
            continue
        return decoded if isinstance(decoded, dict) else {}
    if data:
        log.info("malformed cgminer API request (%d bytes)", len(data))
        return {}
    return None
