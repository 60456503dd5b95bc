"""Home Assistant over its REST API: entity states in, service calls out.

Inside the add-on the Supervisor proxies Core at ``http://supervisor/core/api`` and hands the
add-on a token in ``SUPERVISOR_TOKEN``; standalone, the user gives Home Assistant's URL and a
long-lived access token. Endpoints used: ``GET /api/states/<entity_id>`` and
``POST /api/services/<domain>/<service>``.

Built on the client:
- :class:`HomeAssistantEnergySource`: PV, load, battery SoC, battery power and grid power from
  any entities (so any inverter Home Assistant knows can drive Edge Mining), converted from
  the entity's ``unit_of_measurement`` and sign-flipped where configured;
- :class:`HomeAssistantForecastSource`: tomorrow's and today's remaining energy from the
  Forecast.Solar or Solcast integrations' sensors (plus Solcast's hourly detail when present).

A failing entity is reported once per kind of failure and the reading goes on without it;
only when nothing can be read does ``read()`` raise, and the caller falls back to defaults.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from edge_mining import __version__
from edge_mining.clock import Clock, WallClock
from edge_mining.config import (
    EntityQuantity,
    ForecastConfig,
    HomeAssistantConfig,
    HomeAssistantSourceConfig,
)
from edge_mining.devices.base import DeviceAuthError, DeviceError, DeviceUnavailable
from edge_mining.devices.failures import FailureReporter
from edge_mining.devices.payload import iso_epoch
from edge_mining.devices.redact import add_secret, one_line
from edge_mining.model import EnergyReading, Forecast

# Named for the package (the module's name before it became one): log lines are unchanged.
log = logging.getLogger("edge_mining.devices.homeassistant")

SUPERVISOR_API = "http://supervisor/core/api"
# States Home Assistant uses for "no value" (the entity exists but its device does not answer).
NO_VALUE_STATES = frozenset({"unavailable", "unknown", "none", ""})

POWER_UNITS = {None: 1.0, "W": 1.0, "kW": 1000.0, "MW": 1_000_000.0}
ENERGY_UNITS = {"Wh": 1.0, "kWh": 1000.0, "MWh": 1_000_000.0}
PERCENT_UNITS = {None: 1.0, "%": 1.0}


# --------------------------------------------------------------------------------- errors


class EntityNotFound(DeviceError):
    """Home Assistant has no entity with this id (404)."""


class MalformedReply(DeviceError):
    """The answer (or the entity's state) is not what it should be."""


class EntityUnavailable(DeviceUnavailable):
    """The entity exists but has no value ("unavailable", "unknown")."""


class UnitError(DeviceError):
    """The entity's unit_of_measurement is not one we can convert."""


class RequestTimeout(DeviceUnavailable):
    """Home Assistant did not answer in time."""


def failure_kind(error: DeviceError) -> str:
    """A short, stable name for the kind of failure (one log line per kind)."""
    kinds: tuple[tuple[type[DeviceError], str], ...] = (
        (RequestTimeout, "timeout"),
        (EntityUnavailable, "unavailable"),
        (DeviceAuthError, "auth"),
        (EntityNotFound, "unknown_entity"),
        (MalformedReply, "malformed"),
        (UnitError, "unit"),
        (DeviceUnavailable, "unreachable"),
    )
    for cls, kind in kinds:
        if isinstance(error, cls):
            return kind
    return "error"


# Failures of the request itself, not of one entity: reported once, not once per entity.
REQUEST_KINDS = frozenset({"timeout", "unreachable", "auth"})


# --------------------------------------------------------------------------------- client


@dataclass(frozen=True, slots=True)
class EntityState:
    entity_id: str
    state: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    last_updated: float | None = None

    @property
    def unit(self) -> str | None:
        unit = self.attributes.get("unit_of_measurement")
        return unit if isinstance(unit, str) and unit else None

    @property
    def has_value(self) -> bool:
        return self.state.strip().lower() not in NO_VALUE_STATES

    def number(self) -> float:
        """The state as a number; EntityUnavailable or MalformedReply otherwise."""
        if not self.has_value:
            raise EntityUnavailable(f"{self.entity_id} is {self.state or 'empty'}")
        try:
            value = float(self.state)
        except ValueError:
            raise MalformedReply(
                f"{self.entity_id} state {self.state[:40]!r} is not a number"
            ) from None
        if not math.isfinite(value):
            raise MalformedReply(f"{self.entity_id} state is not a finite number")
        return value

    def converted(self, units: Mapping[str | None, float], what: str) -> float:
        """The state in SI units using the entity's unit_of_measurement."""
        value = self.number()
        if self.unit not in units:
            raise UnitError(f"{self.entity_id} unit {self.unit!r} is not a {what} unit")
        return value * units[self.unit]


def resolve_endpoint(
    config: HomeAssistantConfig, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(API base URL, token): the configured URL and token, or the Supervisor's proxy."""
    environ = os.environ if environ is None else environ
    if config.url:
        base = config.url.rstrip("/")
        if not base.endswith("/api"):
            base += "/api"
        if config.token is None or not config.token.get_secret_value():
            raise ValueError("homeassistant.token (a long-lived access token) is required")
        return base, config.token.get_secret_value()
    token = environ.get("SUPERVISOR_TOKEN")
    if not token:
        raise ValueError(
            "homeassistant.url is not set and SUPERVISOR_TOKEN is missing "
            "(outside the add-on, give url and token)"
        )
    return SUPERVISOR_API, token


class HomeAssistantClient:
    """The REST endpoints we use, with errors mapped to the devices' error types."""

    def __init__(
        self,
        config: HomeAssistantConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
        base_url: str | None = None,
    ) -> None:
        base, token = resolve_endpoint(config, environ)
        add_secret(token)  # a server that echoes our headers must not put it in the log
        # base_url overrides where the (resolved) API lives: tests, unusual proxies.
        self.base_url = base_url or base
        base = self.base_url
        self._client = httpx.AsyncClient(
            base_url=base,
            transport=transport,
            timeout=config.timeout_s,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "User-Agent": f"edge-mining/{__version__}",
            },
        )

    def __repr__(self) -> str:
        return f"HomeAssistantClient({self.base_url!r})"

    async def _request(self, method: str, path: str, payload: Any = None) -> Any:
        try:
            response = await self._client.request(method, path, json=payload)
        except httpx.TimeoutException:
            raise RequestTimeout(f"Home Assistant did not answer {path} in time") from None
        except httpx.TransportError as error:
            raise DeviceUnavailable(f"cannot reach Home Assistant: {error}") from None
        status = response.status_code
        if status in (401, 403):
            raise DeviceAuthError(f"Home Assistant refused the token (HTTP {status})")
        if status == 404:
            raise EntityNotFound(f"{path.rsplit('/', 1)[-1]} not found in Home Assistant")
        if status >= 400:
            # One line of the body, never the token (some proxies echo the request headers).
            text = one_line(response.text)
            raise DeviceError(f"Home Assistant answered HTTP {status} to {path}: {text}")
        try:
            return json.loads(response.content) if response.content else None
        except (ValueError, UnicodeDecodeError):
            raise MalformedReply(f"Home Assistant answered {path} with invalid JSON") from None

    async def get_state(self, entity_id: str) -> EntityState:
        data = await self._request("GET", f"/states/{entity_id}")
        if not isinstance(data, Mapping) or not isinstance(data.get("state"), str):
            raise MalformedReply(f"unexpected state object for {entity_id}")
        attributes = data.get("attributes")
        return EntityState(
            entity_id=str(data.get("entity_id", entity_id)),
            state=data["state"],
            attributes=attributes if isinstance(attributes, Mapping) else {},
            last_updated=iso_epoch(data.get("last_updated")),
        )

    async def call_service(
        self, domain: str, service: str, data: Mapping[str, Any] | None = None
    ) -> Any:
        """Call a service; returns Home Assistant's answer (the states it changed)."""
        return await self._request("POST", f"/services/{domain}/{service}", dict(data or {}))

    async def close(self) -> None:
        await self._client.aclose()


class _EntityReader:
    """Reads a set of entities concurrently; reports failures once per kind (per entity)."""

    def __init__(self, client: HomeAssistantClient, reporter: FailureReporter) -> None:
        self.client = client
        self.failures = reporter

    async def states(self, entity_ids: list[str]) -> dict[str, EntityState | DeviceError]:
        results = await asyncio.gather(
            *(self.client.get_state(e) for e in entity_ids), return_exceptions=True
        )
        out: dict[str, EntityState | DeviceError] = {}
        for entity_id, result in zip(entity_ids, results, strict=True):
            if isinstance(result, DeviceError):
                out[entity_id] = result
            elif isinstance(result, BaseException):
                raise result
            else:
                out[entity_id] = result
        if any(isinstance(r, EntityState) for r in out.values()):
            for kind in REQUEST_KINDS:
                self.failures.recovered(kind)
        return out

    def failed(self, entity_id: str, error: DeviceError) -> None:
        kind = failure_kind(error)
        if kind in REQUEST_KINDS:
            self.failures.report(kind, str(error))
        else:
            self.failures.report(f"{kind} {entity_id}", str(error))

    def succeeded(self, entity_id: str) -> None:
        for kind in self.failures.failing:
            if kind.endswith(f" {entity_id}"):
                self.failures.recovered(kind)


# -------------------------------------------------------------------------- energy source

_QUANTITIES: tuple[tuple[str, Mapping[str | None, float], str], ...] = (
    ("pv_power", POWER_UNITS, "power"),
    ("load_power", POWER_UNITS, "power"),
    ("battery_soc", PERCENT_UNITS, "percentage"),
    ("battery_power", POWER_UNITS, "power"),
    ("grid_power", POWER_UNITS, "power"),
)
_READING_FIELD = {
    "pv_power": "pv_power_w",
    "load_power": "load_power_w",
    "battery_soc": "battery_soc_pct",
    "battery_power": "battery_power_w",
    "grid_power": "grid_power_w",
}


class HomeAssistantEnergySource:
    """EnergySource from Home Assistant entities (``energy_source.type: homeassistant``).

    Signs follow our conventions (battery > 0 charging, grid > 0 importing); an entity with
    the opposite convention is configured with ``invert: true``.
    """

    def __init__(
        self,
        config: HomeAssistantSourceConfig,
        ha: HomeAssistantConfig,
        *,
        client: HomeAssistantClient | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = "homeassistant"
        self._quantities: dict[str, tuple[EntityQuantity, Mapping[str | None, float], str]] = {}
        for name, units, what in _QUANTITIES:
            quantity = getattr(config, name)
            if quantity is not None:
                self._quantities[name] = (quantity, units, what)
        if not self._quantities:
            raise ValueError("the homeassistant energy source names no entity")
        self._clock = clock or WallClock()
        # A client passed in is shared (and closed by its owner); our own we close.
        self._owns_client = client is None
        self.client = client or HomeAssistantClient(ha)
        self.failures = FailureReporter("Home Assistant energy source", log)
        self._reader = _EntityReader(self.client, self.failures)

    async def read(self) -> EnergyReading:
        entity_ids = [q.entity_id for q, _, _ in self._quantities.values()]
        states = await self._reader.states(sorted(set(entity_ids)))
        values: dict[str, float] = {}
        first_error: DeviceError | None = None
        for name, (quantity, units, what) in self._quantities.items():
            state = states[quantity.entity_id]
            try:
                if isinstance(state, DeviceError):
                    raise state
                value = state.converted(units, what)
            except DeviceError as error:
                self._reader.failed(quantity.entity_id, error)
                first_error = first_error or error
                continue
            self._reader.succeeded(quantity.entity_id)
            values[_READING_FIELD[name]] = -value if quantity.invert else value
        if not values:
            assert first_error is not None
            raise first_error
        return EnergyReading(timestamp=self._clock.now(), **values)

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()


# ------------------------------------------------------------------------ forecast source


def solcast_hourly(state: EntityState, now: float) -> list[tuple[float, float]]:
    """Solcast's ``detailedHourly`` attribute as (hour start, W), from the current hour on."""
    detail = state.attributes.get("detailedHourly", state.attributes.get("detailed_hourly"))
    hours: list[tuple[float, float]] = []
    if not isinstance(detail, list):
        return hours
    for item in detail:
        if not isinstance(item, Mapping):
            continue
        start = iso_epoch(item.get("period_start"))
        kw = item.get("pv_estimate")
        if start is None or not isinstance(kw, int | float) or start + 3600 <= now:
            continue
        hours.append((start, float(kw) * 1000.0))
    return hours


class HomeAssistantForecastSource:
    """ForecastSource from the Forecast.Solar or Solcast integrations' energy sensors.

    ``tomorrow_entity`` (e.g. ``sensor.energy_production_tomorrow`` or
    ``sensor.solcast_pv_forecast_forecast_tomorrow``) is required,
    ``today_remaining_entity`` (``sensor.energy_production_today_remaining``,
    ``sensor.solcast_pv_forecast_forecast_remaining_today``) optional. Both integrations
    report kWh; a sensor without a unit is taken as kWh.
    """

    def __init__(
        self,
        config: ForecastConfig,
        ha: HomeAssistantConfig,
        *,
        client: HomeAssistantClient | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not config.tomorrow_entity:
            raise ValueError("a homeassistant forecast needs tomorrow_entity")
        self.name = "homeassistant forecast"
        self._tomorrow = config.tomorrow_entity
        self._today = config.today_remaining_entity
        self._clock = clock or WallClock()
        # A client passed in is shared (and closed by its owner); our own we close.
        self._owns_client = client is None
        self.client = client or HomeAssistantClient(ha)
        self.failures = FailureReporter("Home Assistant forecast", log)
        self._reader = _EntityReader(self.client, self.failures)

    def _energy(self, entity_id: str, state: EntityState | DeviceError) -> float | None:
        try:
            if isinstance(state, DeviceError):
                raise state
            value = state.converted({None: 1000.0, **ENERGY_UNITS}, "energy")
        except DeviceError as error:
            self._reader.failed(entity_id, error)
            return None
        self._reader.succeeded(entity_id)
        return value

    async def read(self) -> Forecast:
        now = self._clock.now()
        wanted = ([self._today] if self._today else []) + [self._tomorrow]
        states = await self._reader.states(wanted)
        tomorrow = self._energy(self._tomorrow, states[self._tomorrow])
        today = self._energy(self._today, states[self._today]) if self._today else None
        if tomorrow is None and today is None:
            raise next(r for r in states.values() if isinstance(r, DeviceError))
        merged: dict[float, float] = {}
        for result in states.values():  # today's sensor first, tomorrow's continues it
            if isinstance(result, EntityState):
                for start, watts in solcast_hourly(result, now):
                    merged.setdefault(start, watts)
        return Forecast(
            timestamp=now,
            today_remaining_wh=today,
            tomorrow_wh=tomorrow,
            next_hours_w=tuple(sorted(merged.items())),
        )

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()
