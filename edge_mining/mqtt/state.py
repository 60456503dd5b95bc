"""JSON state documents, one per device, built from the daemon's ``SiteState`` (pure).

The field names are the entity keys of ``entities.py``; every key is always present (``null``
when unknown, which Home Assistant's templates render as ``None``, i.e. "unknown"). Powers are
W, energies kWh (rounded), temperatures °C.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_mining.config import SiteConfig
from edge_mining.model import EnergyReading, MinerState, MinerStatus
from edge_mining.mqtt.entities import CONTROL_NUMBERS
from edge_mining.mqtt.topics import CONTROLLER, ENERGY, miner_device


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First present attribute (or mapping key) of ``names``."""
    if obj is None:
        return default
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default


def _round(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    return round(float(value), digits)


def miner_states(state: Any) -> Mapping[str, MinerState | None]:
    miners = _get(state, "miners", default=None)
    return miners if isinstance(miners, Mapping) else {}


def is_running(state: Any, miner: str) -> bool:
    current = miner_states(state).get(miner)
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
            (miner.name, s.model, s.firmware, s.serial, s.target_min_w, s.target_max_w)
            if s
            else (miner.name,)
        )
    return tuple(key)


def energy_fresh(site: SiteConfig, state: Any) -> bool:
    reading: EnergyReading | None = _get(state, "energy", "reading")
    if reading is None:
        return False
    stale = _get(state, "energy_stale", "stale")
    if stale is not None:
        return not stale
    age = _get(state, "energy_age_s", "age_s")
    return age is None or age <= site.control.stale_after_s


def availability(site: SiteConfig, state: Any) -> dict[str, bool]:
    """Per-device availability: energy data fresh, miner reachable."""
    result = {ENERGY: energy_fresh(site, state)}
    miners = miner_states(state)
    for miner in site.miners:
        current = miners.get(miner.name)
        result[miner_device(miner.name)] = bool(
            current is not None and current.status is not MinerStatus.UNREACHABLE
        )
    return result


def _counter(state: Any, name: str) -> float | None:
    """A persisted counter (``edge_mining.counters.EnergyCounters``, kWh or currency)."""
    value = _get(_get(state, "counters"), name)
    return None if value is None else round(float(value), 3)


def energy_document(state: Any) -> dict[str, Any]:
    r: EnergyReading | None = _get(state, "energy", "reading")
    age = _get(state, "energy_age_s", "age_s")
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
        "reading_age": _round(age, 1),
        "pv_energy": _counter(state, "pv_kwh"),
        "load_energy": _counter(state, "load_kwh"),
        "battery_charge_energy": _counter(state, "battery_charge_kwh"),
        "battery_discharge_energy": _counter(state, "battery_discharge_kwh"),
        "grid_import_energy": _counter(state, "grid_import_kwh"),
        "grid_export_energy": _counter(state, "grid_export_kwh"),
    }


def _manual_miners(state: Any) -> set[str]:
    manual = _get(state, "manual_miners", "manual")
    if isinstance(manual, Mapping):
        return {name for name, on in manual.items() if on}
    if manual is None:
        return set()
    return set(manual)


def miner_document(state: Any, name: str, *, manual: bool) -> dict[str, Any]:
    s = miner_states(state).get(name)
    decision = _get(state, "decision")
    reasons = _get(decision, "miner_reasons", default={}) or {}
    energies = _get(_get(state, "counters"), "miner_kwh", default={}) or {}
    efficiency = s.efficiency_j_per_th if s else None
    return {
        "mining": bool(s and s.status.is_running),
        "control": "manual" if manual else "auto",
        "power_target": _round(s.power_target_w, 0) if s else None,
        "status": s.status.value if s else None,
        "hashrate": _round(s.hashrate_ths, 3) if s else None,
        "power": _round(s.power_w, 1) if s else None,
        "efficiency": _round(efficiency, 2),
        "temperature": _round(s.temperature_c, 1) if s else None,
        "fan_speed": _round(s.fan_rpm, 0) if s else None,
        "energy": _round(energies.get(name), 3) if isinstance(energies, Mapping) else None,
        "reason": reasons.get(name),
        "errors": (", ".join(s.errors) or "none") if s else None,
    }


def controller_document(site: SiteConfig, state: Any) -> dict[str, Any]:
    decision = _get(state, "decision")
    control = _get(state, "control", default=site.control)
    mode = _get(state, "mode", default=None) or site.control.mode
    document: dict[str, Any] = {
        "mode": getattr(mode, "value", mode),
        "decision": _get(decision, "reason"),
        "surplus_power": _round(_get(decision, "surplus_w"), 0),
        "available_power": _round(_get(decision, "available_power_w"), 0),
        "effective_stop_soc": _round(_get(decision, "stop_soc_pct"), 1),
        "mined_energy_today": _counter(state, "mined_today_kwh"),
        "mined_energy_total": _counter(state, "mined_kwh"),
        "earnings": _counter(state, "earnings"),
        "heat_delivered": _counter(state, "heat_kwh"),
    }
    for number in CONTROL_NUMBERS:
        document[number.field] = _get(control, number.field)
    return document


def documents(site: SiteConfig, state: Any) -> dict[str, dict[str, Any]]:
    """Device path -> state document, for every device of the site."""
    manual = _manual_miners(state)
    result = {
        CONTROLLER: controller_document(site, state),
        ENERGY: energy_document(state),
    }
    for miner in site.miners:
        result[miner_device(miner.name)] = miner_document(
            state, miner.name, manual=miner.name in manual
        )
    return result
