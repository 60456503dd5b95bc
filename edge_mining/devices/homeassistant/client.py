"""Home Assistant over its REST API: entity states in, service calls out.

Inside the add-on the Supervisor proxies Core at ``http://supervisor/core/api`` and hands the
add-on a token in ``SUPERVISOR_TOKEN``; standalone, the user gives Home Assistant's URL and a
long-lived access token. Endpoints used: ``GET /api/states/<entity_id>`` and
``POST /api/services/<domain>/<service>``.

Built on the client (each in its module): the energy source (``source``), the forecast source
(``forecast``), smart plugs (``devices.smartplug``) and room thermometers
(``devices.temperature``). A failing entity is reported once per kind of failure by
:class:`EntityReader` and the reading goes on without it.
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
from edge_mining.config import (
    HomeAssistantConfig,
)
from edge_mining.devices.base import DeviceAuthError, DeviceError, DeviceUnavailable
from edge_mining.devices.failures import FailureReporter
from edge_mining.devices.payload import iso_epoch
from edge_mining.devices.redact import add_secret, one_line

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


class EntityReader:
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
