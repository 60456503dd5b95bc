"""What the log says first and what it says after: a start-up banner, then one line per change
that matters.

The add-on's Log tab is what a user reads first when something is wrong, so the banner says in
one line which version runs on which site: the energy source, the miners, the MQTT broker and
where it came from, whether the planner is on (and if not, what it lacks). It never names a
secret (passwords, tokens, API keys are not read here at all). The change log is a daemon
listener: it compares each SiteState with the previous one and logs only transitions, never a
steady state: a miner's state, energy data going stale and back, the planner starting to plan
or falling back to the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from edge_mining import __version__
from edge_mining.config import SiteConfig
from edge_mining.model import MinerStatus
from edge_mining.service.daemon import site_planner

log = logging.getLogger("edge_mining")

# Statuses worth a line when a miner reaches them (STARTING/STOPPING are on the way).
SETTLED = {
    MinerStatus.MINING,
    MinerStatus.PAUSED,
    MinerStatus.ERROR,
    MinerStatus.UNREACHABLE,
}


def energy_source_text(site: SiteConfig) -> str:
    source = site.energy_source
    match source.type:
        case "voltronic":
            return f"Voltronic PI30 on {source.device}"  # type: ignore[union-attr]
        case "solaredge":
            return f"SolarEdge at {source.host}:{source.port}"  # type: ignore[union-attr]
        case "homeassistant":
            return "Home Assistant entities"
        case "mqtt":
            return "MQTT topics"
        case _:
            return "simulated plant"


def miner_text(site: SiteConfig) -> str:
    parts = []
    for m in site.miners:
        where = f" {m.host}" if m.host else ""
        span = (
            f"{m.min_power_w:g}-{m.max_power_w:g} W"
            if m.power_target
            else f"{m.nominal_power_w:g} W on/off"
        )
        parts.append(f"{m.name} ({m.driver}{where}, {span})")
    return ", ".join(parts)


def broker_text(site: SiteConfig, origin: str) -> str:
    if not site.mqtt.enabled:
        return "MQTT off (mqtt.enabled: false)"
    if not site.mqtt.host:
        return "MQTT off (no broker set)"
    tls = ", TLS" if site.mqtt.tls else ""
    return f"MQTT broker {site.mqtt.host}:{site.mqtt.port} ({origin}{tls})"


def planner_text(site: SiteConfig, *, load_history: bool | None = None) -> str:
    """ "planner on (what it plans with)", or "planner off (why)": what it lacks of a battery
    capacity and a forecast; ``load_history`` False (``state_dir`` holds none): the rules
    decide until the house load has been learned."""
    planner = site_planner(site)
    if not planner.enabled:
        return "planner off (planner.enabled: false)"
    missing = []
    if not (planner.battery_kwh or 0.0) > 0.0:
        missing.append("no battery capacity: set planner.battery_kwh")
    if site.forecast.type == "none":
        missing.append("no forecast: set forecast")
    if missing:
        return f"planner off ({'; '.join(missing)})"
    text = f"planner on ({planner.battery_kwh:g} kWh battery, {site.forecast.type} forecast"
    if load_history is False:
        text += "; no house-load history yet: the rules decide until it is learned"
    return text + ")"


def banner(site: SiteConfig, *, broker_origin: str, load_history: bool | None = None) -> str:
    """The start-up line: version, site, energy source, miners, broker, planner; no secret."""
    return "; ".join(
        [
            f"edge-mining {__version__} starting for {site.name!r}",
            f"energy from {energy_source_text(site)}",
            f"miners: {miner_text(site)}",
            broker_text(site, broker_origin),
            f"mode {site.control.mode.value}",
            planner_text(site, load_history=load_history),
        ]
    )


class PlannerWatch:
    """Tells when the planner starts planning or falls back to the rules, from the plan
    document of each state (``Controller.plan_document``): once per change, never per plan."""

    # Statuses that are no news: no planner, or none asked yet.
    QUIET = frozenset({"planner off", "no plan yet"})

    def __init__(self) -> None:
        self.status: str | None = None
        self.planned = False

    def change(self, plan: object) -> tuple[int, str] | None:
        """(log level, message) when the planner's status changed, else None."""
        status = plan.get("status") if isinstance(plan, Mapping) else None
        if not isinstance(status, str) or status in self.QUIET or status == self.status:
            return None
        self.status = status
        if status == "planned":
            self.planned = True
            summary = plan.get("summary") if isinstance(plan, Mapping) else None
            return logging.INFO, "planner: planning" + (f" ({summary})" if summary else "")
        level = logging.WARNING if self.planned else logging.INFO
        self.planned = False
        return level, f"planner: the rules decide ({status})"


class ChangeLog:
    """A daemon listener: one log line per change that matters, never one per tick."""

    def __init__(self) -> None:
        self._status: dict[str, MinerStatus] = {}
        self._stale: bool | None = None
        self._planner = PlannerWatch()

    def __call__(self, state: Any) -> None:
        self._energy(state)
        planner = self._planner.change(getattr(state, "plan", None))
        if planner is not None:
            log.log(*planner)
        reasons = state.decision.miner_reasons if state.decision is not None else {}
        for name, miner in state.miners.items():
            status = miner.status
            before = self._status.get(name)
            if status not in SETTLED or status == before:
                continue
            self._status[name] = status
            if before is None and status is MinerStatus.PAUSED:
                continue  # the usual state at start: not news
            was = before.value if before is not None else "unknown"
            why = reasons.get(name)
            trouble = status in (MinerStatus.ERROR, MinerStatus.UNREACHABLE)
            level = logging.WARNING if trouble else logging.INFO
            detail = f": {'; '.join(miner.errors)}" if trouble and miner.errors else ""
            log.log(
                level,
                "miner %s: %s -> %s%s%s",
                name,
                was,
                status.value,
                detail,
                f" ({why})" if why and level == logging.INFO else "",
            )

    def _energy(self, state: Any) -> None:
        stale = bool(state.energy_stale)
        if self._stale is None:
            self._stale = stale
            if not stale:
                return
        elif stale == self._stale:
            return
        self._stale = stale
        if stale:
            age = state.energy_age_s
            since = f"{age:.0f} s old" if age is not None else "none yet"
            error = f": {state.energy_error}" if state.energy_error else ""
            log.warning("energy data stale (%s)%s: miners to the safe action", since, error)
        else:
            log.info("energy data fresh again")
