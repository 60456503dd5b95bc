"""The cgminer API replies of Bitmain hardware (Antminer S19, S21...), whatever its firmware.

Stock Bitmain firmware (bmminer/cgminer) and LuxOS keep the same reply layout on 4028:
``stats`` is two items, the first naming the miner (``Type``: "Antminer S19j Pro") and the
second holding the chains (``chain_rate1``, ``chain_acn1``, ``temp_chip1`` as
``"in-in-out-out"``, ``fan1``...) and ``total_rateideal``; ``summary`` reports ``GHS 5s`` and
``GHS av``. pyasic reads hashboards, fans and expected hashrate from there for both firmwares.
The firmware-specific commands (LuxOS's profiles and curtail, stock's web CGI) live in the
family's emulator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from edge_mining.devices.emulation.cgminer import Reply
from edge_mining.devices.emulation.cgminer_summary import work_counters
from edge_mining.devices.emulation.machine import MinerMachine


@dataclass(frozen=True, slots=True)
class BitmainHardware:
    """An Antminer model as its controller describes it."""

    type: str  # "Antminer S19j Pro"
    chains: int
    chips_per_chain: int
    fans: int
    nominal_ths: float
    nominal_w: float
    frequency_mhz: float  # stock chip frequency


def stats(
    machine: MinerMachine,
    hardware: BitmainHardware,
    *,
    miner_key: str,
    miner_version: str,
    compile_time: str,
    frequency_mhz: float,
) -> Reply:
    """The ``stats`` reply: two items (controller, chains) at the machine's current state;
    ``frequency_mhz`` is the chips' while they hash (0 is reported while they do not)."""
    m = machine
    if not m.hashing_enabled:
        frequency_mhz = 0
    ghs_5s = m.hashrate_5s_ths * 1000
    ghs_av = m.hashrate_1m_ths * 1000
    hashing = m.hashing_enabled
    chains = hardware.chains
    first = {
        miner_key: miner_version,
        "Miner": miner_version,
        "CompileTime": compile_time,
        "Type": hardware.type,
    }
    ideal = m.hashrate_at(m.active_target_w) * 1000
    second: dict[str, Any] = {
        "STATS": 0,
        "ID": "BC50",
        "Elapsed": int(m.bosminer_uptime_s),
        "Calls": 0,
        "Wait": 0.0,
        "Max": 0.0,
        "Min": 99999999.0,
        "GHS 5s": f"{ghs_5s:.2f}",
        "GHS av": round(ghs_av, 2),
        "rate_30m": round(m.hashrate_15m_ths * 1000, 2),
        "Mode": 2,
        "miner_count": chains,
        "frequency": f"{frequency_mhz:.0f}",
        "fan_num": hardware.fans,
    }
    for fan in range(hardware.fans):
        second[f"fan{fan + 1}"] = m.fan_rpm(fan) if hashing else 0
    second["temp_num"] = chains
    for chain in range(chains):
        board = round(m.board_temperature_c(chain)) if hashing else 25
        chip = round(m.chip_temperature_c(chain)) if hashing else 25
        second[f"temp{chain + 1}"] = board
        second[f"temp2_{chain + 1}"] = chip
        second[f"temp_pcb{chain + 1}"] = f"{board - 4}-{board - 4}-{board}-{board}"
        second[f"temp_chip{chain + 1}"] = f"{chip - 6}-{chip - 6}-{chip}-{chip}"
    second.update(
        {
            "total_rateideal": round(ideal, 2),
            "rate_unit": "GH",
            "total_freqavg": round(frequency_mhz, 2),
            "total_acn": chains * hardware.chips_per_chain,
            "total_rate": round(ghs_5s, 2),
        }
    )
    for chain in range(chains):
        n = chain + 1
        second[f"chain_rate_ideal{n}"] = round(ideal / chains, 2)
        second[f"chain_acn{n}"] = hardware.chips_per_chain
        second[f"chain_acs{n}"] = " ".join(["oooooooo"] * (hardware.chips_per_chain // 8))
        second[f"chain_hw{n}"] = 0
        second[f"chain_rate{n}"] = f"{ghs_5s / chains:.2f}"
        second[f"freq{n}"] = round(frequency_mhz)
    return Reply(70, f"{miner_key} stats", {"STATS": [first, second]})


def summary(machine: MinerMachine) -> Reply:
    """The ``summary`` reply: GH/s figures, then cgminer's work counters."""
    m = machine
    item = {
        "Elapsed": int(m.bosminer_uptime_s),
        "GHS 5s": f"{m.hashrate_5s_ths * 1000:.2f}",
        "GHS av": round(m.hashrate_1m_ths * 1000, 2),
        "GHS 30m": round(m.hashrate_15m_ths * 1000, 2),
        **work_counters(m, share_difficulty=65536),
    }
    return Reply(11, "Summary", {"SUMMARY": [item]})


def pools_item(machine: MinerMachine, user: str, url: str) -> dict[str, Any]:
    m = machine
    return {
        "POOL": 0,
        "URL": url,
        "Status": "Alive",
        "Priority": 0,
        "Quota": 1,
        "Long Poll": "N",
        "Getworks": m.counters.accepted // 4,
        "Accepted": m.counters.accepted,
        "Rejected": 0,
        "Discarded": 0,
        "Stale": 0,
        "Get Failures": 0,
        "Remote Failures": 0,
        "User": user,
        "Last Share Time": int(time.time()),
        "Diff": "65.5K",
        "Diff1 Shares": 0,
        "Proxy Type": "",
        "Proxy": "",
        "Difficulty Accepted": float(m.counters.accepted * 65536),
        "Difficulty Rejected": 0.0,
        "Difficulty Stale": 0.0,
        "Last Share Difficulty": 65536.0,
        "Has Stratum": True,
        "Stratum Active": True,
        "Stratum URL": url.split("://")[-1].split(":")[0],
        "Has GBT": False,
        "Best Share": 0,
        "Pool Rejected%": 0.0,
        "Pool Stale%": 0.0,
    }


def devs(machine: MinerMachine, hardware: BitmainHardware) -> Reply:
    """The ``devs`` reply: one item per hashboard."""
    items = _devs_items(machine, hardware)
    return Reply(9, f"{len(items)} ASC(s)", {"DEVS": items})


def _devs_items(machine: MinerMachine, hardware: BitmainHardware) -> list[dict[str, Any]]:
    m = machine
    chains = hardware.chains
    return [
        {
            "ASC": chain,
            "Name": "BTM_SOC0",
            "ID": chain,
            "Enabled": "Y",
            "Status": "Alive",
            "Temperature": m.board_temperature_c(chain),
            "MHS av": round(m.hashrate_1m_ths * 1e6 / chains, 2),
            "MHS 5s": round(m.hashrate_5s_ths * 1e6 / chains, 2),
            "Accepted": m.counters.accepted // chains,
            "Rejected": 0,
            "Hardware Errors": 0,
            "Utility": 0.0,
            "Last Share Pool": 0,
            "Last Share Time": int(time.time()),
            "Total MH": round(m.counters.total_mh / chains, 0),
            "Device Hardware%": 0.0,
            "Device Rejected%": 0.0,
            "Device Elapsed": int(m.bosminer_uptime_s),
        }
        for chain in range(chains)
    ]
