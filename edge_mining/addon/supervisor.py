"""What the Home Assistant Supervisor provides to the add-on: the MQTT broker.

When the options leave ``mqtt.host`` unset, the broker comes from the Supervisor's services
API (``GET http://supervisor/services/mqtt`` with the add-on's ``SUPERVISOR_TOKEN``), which
the Mosquitto add-on fills in. A broker set in the options always wins: EMQX and external
brokers do not register with the Supervisor. ``SUPERVISOR_URL`` overrides the address (tests).

Without a broker the add-on still controls the miners; it says once, clearly, why Home
Assistant will not see it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from edge_mining.config import MqttConfig, SiteConfig
from edge_mining.devices.redact import add_secret, one_line

log = logging.getLogger(__name__)

DEFAULT_SUPERVISOR_URL = "http://supervisor"
TIMEOUT_S = 10.0


class SupervisorError(Exception):
    """The Supervisor did not give us what we asked for (one line, no secrets)."""


def supervisor_url(environ: Mapping[str, str]) -> str:
    return environ.get("SUPERVISOR_URL", DEFAULT_SUPERVISOR_URL).rstrip("/")


def fetch_mqtt_service(environ: Mapping[str, str], timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    """The ``data`` of ``GET /services/mqtt``: host, port, ssl, protocol, username, password."""
    token = environ.get("SUPERVISOR_TOKEN")
    if not token:
        raise SupervisorError("SUPERVISOR_TOKEN is not set (not running as an add-on?)")
    add_secret(token)
    url = f"{supervisor_url(environ)}/services/mqtt"
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s)
    except httpx.HTTPError as error:
        raise SupervisorError(f"cannot reach the Supervisor at {url}: {error}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or body.get("result") != "ok":
        message = body.get("message") if isinstance(body, dict) else None
        message = one_line(str(message)) if message else None
        raise SupervisorError(
            f"the Supervisor has no MQTT service (HTTP {response.status_code}"
            + (f": {message}" if message else "")
            + "): install the Mosquitto broker add-on or set mqtt.host in the options"
        )
    data = body.get("data")
    if not isinstance(data, dict) or not data.get("host"):
        raise SupervisorError("the Supervisor's MQTT service has no host")
    return data


def mqtt_from_service(current: MqttConfig, service: Mapping[str, Any]) -> MqttConfig:
    """``current`` with the broker's address and credentials from the Supervisor."""
    protocol = str(service.get("protocol") or "3.1.1")
    settings = current.model_dump()
    settings.update(
        host=str(service["host"]),
        port=int(service.get("port") or 1883),
        username=service.get("username") or None,
        password=service.get("password") or None,
        tls=bool(service.get("ssl", False)),
        protocol="5" if protocol.startswith("5") else "3.1.1",
    )
    return MqttConfig.model_validate(settings)


def apply_supervisor_services(
    site: SiteConfig, environ: Mapping[str, str] | None = None
) -> SiteConfig:
    """The site with the Supervisor's MQTT broker filled in when the options name none."""
    env = os.environ if environ is None else environ
    if not site.mqtt.enabled:
        return site
    if site.mqtt.host:
        log.info("MQTT broker from the options: %s:%d", site.mqtt.host, site.mqtt.port)
        return site
    try:
        mqtt = mqtt_from_service(site.mqtt, fetch_mqtt_service(env))
    except SupervisorError as error:
        log.warning("MQTT broker not found: %s; running without MQTT", error)
        return site
    except ValidationError as error:
        # Field names only: the answer carries the broker's password.
        fields = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
        log.warning("MQTT broker not usable: the Supervisor's answer is malformed (%s)", fields)
        return site
    except (ValueError, KeyError, TypeError) as error:
        log.warning("MQTT broker not usable: the Supervisor's answer is malformed (%s)", error)
        return site
    log.info(
        "MQTT broker from the Supervisor: %s:%d (%s)",
        mqtt.host,
        mqtt.port,
        "TLS" if mqtt.tls else "plain",
    )
    return site.model_copy(update={"mqtt": mqtt})
