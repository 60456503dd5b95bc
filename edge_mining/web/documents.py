"""What the panel shows, as JSON built from the daemon's ``SiteState`` (pure).

The values are those the MQTT state documents carry (``edge_mining.mqtt.state``), grouped as
the pages use them, plus what only the panel needs: each miner's command limits, the control
numbers' ranges (the same ranges MQTT commands are checked against) and the plan. No secret is
ever part of a document: nothing here reads a ``SecretStr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from edge_mining.config import SiteConfig
from edge_mining.model import Mode
from edge_mining.mqtt import state as docs
from edge_mining.mqtt.entities import CONTROL_NUMBERS, power_target_range
from edge_mining.mqtt.topics import CONTROLLER, miner_device
from edge_mining.service.daemon import site_planner
from edge_mining.service.state import SiteState


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def site_document(site: SiteConfig) -> dict[str, Any]:
    """What does not change while the daemon runs (sent once per page load)."""
    planner = site_planner(site)
    return {
        "name": site.name,
        "currency": site.economics.currency,
        "btc_price": site.economics.btc_price,
        "modes": [mode.value for mode in Mode],
        "controller_device": CONTROLLER,
        "energy_source": site.energy_source.type,
        "planner": {
            "enabled": planner.enabled,
            "battery_kwh": planner.battery_kwh,
            "forecast": site.forecast.type,
            "interval_s": planner.interval_s,
        },
        "control_numbers": [
            {
                "field": n.field,
                "name": n.name,
                "unit": n.unit,
                "min": n.minimum,
                "max": n.maximum,
                "step": n.step,
            }
            for n in CONTROL_NUMBERS
        ],
        "miners": [
            {
                "name": m.name,
                "device": miner_device(m.name),
                "driver": m.driver,
                "power_target": m.power_target,
                "nominal_hashrate_ths": m.nominal_hashrate_ths,
                "nominal_power_w": m.nominal_power_w,
            }
            for m in site.miners
        ],
    }


def _miner(site: SiteConfig, state: SiteState, name: str) -> dict[str, Any]:
    document = docs.miner_document(state, name)
    current = state.miners.get(name)
    low, high = power_target_range(
        site.miner(name),
        current.target_min_w if current else None,
        current.target_max_w if current else None,
    )
    return {
        "name": name,
        "device": miner_device(name),
        **document,
        "model": current.model if current else None,
        "target_min": low,
        "target_max": high,
        "errors": list(current.errors) if current else [],
    }


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def plan_document(plan: object) -> dict[str, Any] | None:
    """The Plan page's data from the planner's document (``Controller.plan_document``: status,
    summary, when it was made, the reserve, the mining planned now, and per step of the next
    24 h its start and end, planned mining, battery power, SoC at its end, forecast PV and
    house load), with the step totals in kWh. None without a planner. Without a plan (the
    rules decide) ``steps`` is empty and ``status`` says why."""
    if not isinstance(plan, Mapping):
        return None
    steps = []
    for step in plan.get("steps") or ():
        if not isinstance(step, Mapping):
            continue
        start, end = _number(step.get("start")), _number(step.get("end"))
        if start is None or end is None or end <= start:
            continue
        steps.append(
            {
                "t": start,
                "end": end,
                "mining_w": _number(step.get("mining_w")),
                "battery_w": _number(step.get("battery_w")),
                "soc": _number(step.get("soc_pct")),
                "pv_w": _number(step.get("pv_w")),
                "load_w": _number(step.get("load_w")),
            }
        )

    def kwh(key: str) -> float:
        return round(sum((s[key] or 0.0) * (s["end"] - s["t"]) for s in steps) / 3.6e6, 2)

    status = plan.get("status")
    summary = plan.get("summary")
    return {
        "status": status if isinstance(status, str) else None,
        "planning": bool(steps) and status == "planned",
        "summary": summary if isinstance(summary, str) else None,
        "created": _number(plan.get("created")),
        "reserve_soc": _number(plan.get("reserve_soc_pct")),
        "mining_w": _number(plan.get("mining_w")),
        "steps": steps,
        "totals": {"mining_kwh": kwh("mining_w"), "pv_kwh": kwh("pv_w"), "load_kwh": kwh("load_w")},
    }


def live_document(
    site: SiteConfig, state: SiteState, totals: Mapping[str, Mapping[str, float]]
) -> dict[str, Any]:
    """Everything that changes with each control tick."""
    energy = docs.energy_document(state)
    controller = docs.controller_document(state)
    decision = state.decision
    counters = state.counters
    return {
        "time": state.time,
        "date": datetime.fromtimestamp(state.time).date().isoformat(),
        "mode": state.mode.value,
        "energy": {
            "pv": energy["pv_power"],
            "load": energy["load_power"],
            "battery": energy["battery_power"],
            "soc": energy["battery_soc"],
            "grid": energy["grid_power"],
            "age_s": energy["reading_age"],
            "stale": state.energy_stale,
            "error": state.energy_error,
            "inverter_mode": energy["inverter_mode"],
        },
        "decision": None
        if decision is None
        else {
            "time": decision.time,
            "reason": decision.reason,
            "surplus": _round(decision.surplus_w, 0),
            "available": _round(decision.available_power_w, 0),
            "stop_soc": _round(decision.stop_soc_pct, 1),
            "commands": [str(command) for command in decision.commands],
        },
        "miners": [_miner(site, state, m.name) for m in site.miners],
        "control": {n.field: controller[n.field] for n in CONTROL_NUMBERS},
        "earnings": {
            "today": dict(totals.get("today", {})),
            "month": dict(totals.get("month", {})),
            "total": {
                "mined_kwh": round(counters.mined_kwh, 3),
                "earnings": round(counters.earnings, 4),
                "heat_kwh": round(counters.heat_kwh, 3),
                "pv_kwh": round(counters.pv_kwh, 3),
            },
            "mined_today_kwh": round(counters.mined_today_kwh, 3),
            "earnings_today": round(counters.earnings_today, 4),
        },
        "rooms": {zone: round(c, 1) for zone, c in state.room_temperatures_c.items()},
        "plan": plan_document(state.plan),
    }
