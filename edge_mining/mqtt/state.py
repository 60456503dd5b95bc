"""JSON state documents, one per device, built from the daemon's ``SiteState`` (pure).

The field names are the entity keys of ``entities.py``; every key is always present (``null``
when unknown, which Home Assistant's templates render as ``None``, i.e. "unknown"). Powers are
W, energies kWh (rounded), temperatures °C.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from edge_mining.config import SiteConfig
from edge_mining.model import MinerState, MinerStatus
from edge_mining.mqtt.entities import CONTROL_NUMBERS
from edge_mining.mqtt.topics import CONTROLLER, ENERGY, miner_device
from edge_mining.service.state import SiteState


def _round(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    return round(float(value), digits)


def is_running(state: SiteState, miner: str) -> bool:
    current = state.miners.get(miner)
    return bool(current and current.status.is_running)


def is_known_device(site: SiteConfig, device: str) -> bool:
    return device in (CONTROLLER, ENERGY) or any(
        device == miner_device(m.name) for m in site.miners
    )


def discovery_key(site: SiteConfig, miners: Mapping[str, MinerState | None]) -> object:
    """What discovery depends on besides the config: the miners' identity and constraints."""
    key = []
    for miner in site.miners:
        s = miners.get(miner.name)
        key.append(
            (
                miner.name,
                s.model,
                s.firmware,
                s.serial,
                s.target_min_w,
                s.target_max_w,
                tuple(level.name for level in s.levels),
            )
            if s
            else (miner.name,)
        )
    return tuple(key)


def energy_fresh(state: SiteState) -> bool:
    return state.energy is not None and not state.energy_stale


def availability(site: SiteConfig, state: SiteState) -> dict[str, bool]:
    """Per-device availability: energy data fresh, miner reachable."""
    result = {ENERGY: energy_fresh(state)}
    for miner in site.miners:
        current = state.miners.get(miner.name)
        result[miner_device(miner.name)] = bool(
            current is not None and current.status is not MinerStatus.UNREACHABLE
        )
    return result


def _kwh(value: float) -> float:
    """A persisted counter (``edge_mining.counters.EnergyCounters``, kWh or currency)."""
    return round(float(value), 3)


def energy_document(state: SiteState) -> dict[str, Any]:
    r = state.energy
    c = state.counters
    return {
        "pv_power": _round(r.pv_power_w, 1) if r else None,
        "pv2_power": _round(r.pv2_power_w, 1) if r else None,
        "load_power": _round(r.load_power_w, 1) if r else None,
        "battery_soc": _round(r.battery_soc_pct, 1) if r else None,
        "battery_voltage": _round(r.battery_voltage_v, 2) if r else None,
        "battery_power": _round(r.battery_power_w, 1) if r else None,
        "grid_power": _round(r.grid_power_w, 1) if r else None,
        "grid_voltage": _round(r.grid_voltage_v, 1) if r else None,
        "grid_frequency": _round(r.grid_frequency_hz, 2) if r else None,
        "inverter_mode": r.inverter_mode if r else None,
        "warnings": (", ".join(r.warnings) or "none") if r else None,
        "heatsink_temperature": _round(r.heatsink_temperature_c, 1) if r else None,
        "reading_age": _round(state.energy_age_s, 1),
        "pv_energy": _kwh(c.pv_kwh),
        "load_energy": _kwh(c.load_kwh),
        "battery_charge_energy": _kwh(c.battery_charge_kwh),
        "battery_discharge_energy": _kwh(c.battery_discharge_kwh),
        "grid_import_energy": _kwh(c.grid_import_kwh),
        "grid_export_energy": _kwh(c.grid_export_kwh),
    }


def miner_document(state: SiteState, name: str) -> dict[str, Any]:
    s = state.miners.get(name)
    reasons = state.decision.miner_reasons if state.decision else {}
    energy = state.counters.miner_kwh.get(name)
    efficiency = s.efficiency_j_per_th if s else None
    return {
        "mining": bool(s and s.status.is_running),
        "control": "manual" if name in state.manual_miners else "auto",
        "power_target": _round(s.power_target_w, 0) if s else None,
        "level": s.level if s else None,
        "status": s.status.value if s else None,
        "hashrate": _round(s.hashrate_ths, 3) if s else None,
        "power": _round(s.power_w, 1) if s else None,
        "efficiency": _round(efficiency, 2),
        "temperature": _round(s.temperature_c, 1) if s else None,
        "fan_speed": _round(s.fan_rpm, 0) if s else None,
        "energy": _round(energy, 3),
        "reason": reasons.get(name),
        "errors": (", ".join(s.errors) or "none") if s else None,
    }


def _iso(epoch: object) -> str | None:
    if not isinstance(epoch, int | float):
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="minutes")


def plan_attributes(plan: Mapping[str, Any] | None) -> dict[str, Any]:
    """The plan sensor's attributes: why (status, summary), the house reserve, and the next
    24 h of planned mining power and SoC, one entry per plan step (ISO 8601, UTC)."""
    if not plan:
        return {"status": "planner off", "summary": None, "next_24h": []}
    return {
        "status": plan.get("status"),
        "summary": plan.get("summary"),
        "planned_at": _iso(plan.get("created")),
        "reserve_soc": plan.get("reserve_soc_pct"),
        "next_24h": [
            {
                "start": _iso(step.get("start")),
                "mining_w": step.get("mining_w"),
                "soc": step.get("soc_pct"),
            }
            for step in plan.get("steps", [])
        ],  # fmt: skip
    }


def controller_document(state: SiteState) -> dict[str, Any]:
    decision = state.decision
    plan = state.plan
    c = state.counters
    document: dict[str, Any] = {
        "mode": state.mode.value,
        "decision": decision.reason if decision else None,
        "surplus_power": _round(decision.surplus_w, 0) if decision else None,
        "available_power": _round(decision.available_power_w, 0) if decision else None,
        "effective_stop_soc": _round(decision.stop_soc_pct, 1) if decision else None,
        "planned_mining_power": plan.get("mining_w") if plan else None,
        "plan": plan_attributes(plan),
        "mined_energy_today": _kwh(c.mined_today_kwh),
        "mined_energy_total": _kwh(c.mined_kwh),
        "earnings": _kwh(c.earnings),
        "heat_delivered": _kwh(c.heat_kwh),
    }
    for number in CONTROL_NUMBERS:
        document[number.field] = getattr(state.control, number.field)
    return document


def documents(site: SiteConfig, state: SiteState) -> dict[str, dict[str, Any]]:
    """Device path -> state document, for every device of the site."""
    result = {CONTROLLER: controller_document(state), ENERGY: energy_document(state)}
    for miner in site.miners:
        result[miner_device(miner.name)] = miner_document(state, miner.name)
    return result
