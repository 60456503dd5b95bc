"""What the log says first and what it says after: a start-up banner, then one line per change
that matters (a miner's state, energy data going stale and coming back).

The add-on's Log tab is what a user reads first when something is wrong, so the banner says in
one line which version runs on which site: the energy source, the miners, the MQTT broker and
where it came from, the planner. It never names a secret (passwords, tokens, API keys are not
read here at all). The change log is a daemon listener: it compares each SiteState with the
previous one and logs only transitions, never a steady state.
"""

from __future__ import annotations

import logging
from typing import Any

from edge_mining import __version__
from edge_mining.config import SiteConfig
from edge_mining.model import MinerStatus

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


def planner_text(site: SiteConfig) -> str | None:
    """"planner on/off" once the configuration has a planner section (None before)."""
    planner = getattr(site, "planner", None)
    if planner is None:
        return None
    return f"planner {'on' if getattr(planner, 'enabled', False) else 'off'}"


def banner(site: SiteConfig, *, broker_origin: str) -> str:
    """The start-up line: version, site, energy source, miners, broker, planner; no secret."""
    parts = [
        f"edge-mining {__version__} starting for {site.name!r}",
        f"energy from {energy_source_text(site)}",
        f"miners: {miner_text(site)}",
        broker_text(site, broker_origin),
        f"mode {site.control.mode.value}",
    ]
    planner = planner_text(site)
    if planner is not None:
        parts.append(planner)
    return "; ".join(parts)


class ChangeLog:
    """A daemon listener: one log line per change that matters, never one per tick."""

    def __init__(self) -> None:
        self._status: dict[str, MinerStatus] = {}
        self._stale: bool | None = None

    def __call__(self, state: Any) -> None:
        self._energy(state)
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
