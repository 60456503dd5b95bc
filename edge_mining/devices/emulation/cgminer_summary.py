"""The ``SUMMARY`` item cgminer 4.x itself writes (hashrates in MH/s), as BOSminer and Canaan's
cgminer keep it; Bitmain's firmwares lead theirs with GH/s figures (:mod:`.bitmain`) and follow
with the same work counters (:func:`work_counters`)."""

from __future__ import annotations

import time
from typing import Any

from edge_mining.devices.emulation.machine import MinerMachine


def mhs(ths: float) -> float:
    """TH/s as cgminer's MH/s figure."""
    return round(ths * 1e6, 2)


def summary_item(machine: MinerMachine, *, share_difficulty: int) -> dict[str, Any]:
    """The ``SUMMARY`` item at the machine's current state; ``share_difficulty`` is the pool's
    (what each accepted share adds to "Difficulty Accepted")."""
    m = machine
    elapsed = int(m.bosminer_uptime_s)
    return {
        "Elapsed": elapsed,
        "MHS av": round(m.counters.total_mh / elapsed, 2) if elapsed else 0.0,
        "MHS 5s": mhs(m.hashrate_5s_ths),
        "MHS 1m": mhs(m.hashrate_1m_ths),
        "MHS 5m": mhs(m.hashrate_5m_ths),
        "MHS 15m": mhs(m.hashrate_15m_ths),
        **work_counters(m, share_difficulty=share_difficulty),
    }


def work_counters(machine: MinerMachine, *, share_difficulty: int) -> dict[str, Any]:
    """The ``SUMMARY`` fields after the hashrates: shares, work, difficulty."""
    m = machine
    accepted = m.counters.accepted
    return {
        "Found Blocks": 0,
        "Getworks": accepted // 4,
        "Accepted": accepted,
        "Rejected": m.counters.rejected,
        "Hardware Errors": m.counters.hardware_errors,
        "Utility": 0.0,
        "Discarded": 0,
        "Stale": 0,
        "Get Failures": 0,
        "Local Work": accepted * 8,
        "Remote Failures": 0,
        "Network Blocks": 0,
        "Total MH": round(m.counters.total_mh, 0),
        "Work Utility": 0.0,
        "Difficulty Accepted": float(accepted * share_difficulty),
        "Difficulty Rejected": 0.0,
        "Difficulty Stale": 0.0,
        "Best Share": 0,
        "Device Hardware%": 0.0,
        "Device Rejected%": 0.0,
        "Pool Rejected%": 0.0,
        "Pool Stale%": 0.0,
        "Last getwork": int(time.time()),
    }
