"""The add-on's ``/data/options.json`` into the same :class:`SiteConfig` as the YAML file.

The Supervisor's option schema cannot express a union, so the add-on's form offers every
energy-source field at once (a serial device, a Modbus host, Home Assistant entities, MQTT
topics) and the user fills in those of the chosen ``type``. Before validation we keep only the
fields of that type, so a host left over from trying SolarEdge does not stop a Voltronic
site. Everything else (typos are impossible: the Supervisor drops unknown keys) goes to the
model unchanged, and its problems come back one line each.
"""

from __future__ import annotations

import logging
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edge_mining.config import (
    ADDON_OPTIONS_PATH,
    EnergySourceConfig,
    SiteConfig,
    parse_config,
    read_addon_options,
)

log = logging.getLogger(__name__)

# config.yaml's ingress_port (the Supervisor's default, so config.yaml leaves it out).
INGRESS_PORT = 8099
INGRESS_HOST = "0.0.0.0"  # the Supervisor reaches the container on its own network
# The only client of an ingress panel: the Supervisor's proxy.
SUPERVISOR_PROXY = "172.30.32.2"


def _source_models() -> dict[str, type[BaseModel]]:
    union = typing.get_args(EnergySourceConfig)[0]
    models: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(union):
        tag = typing.get_args(model.model_fields["type"].annotation)[0]
        models[tag] = model
    return models


def _nested_model(model: type[BaseModel], field: str) -> type[BaseModel] | None:
    annotation = model.model_fields[field].annotation
    for candidate in typing.get_args(annotation) or (annotation,):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_empty(value: Any) -> bool:
    return value is None or value == {} or value == ""


def _keep_fields(
    data: Mapping[str, Any], model: type[BaseModel], where: str, dropped: list[str]
) -> dict[str, Any]:
    """``data`` restricted to ``model``'s fields; empty optional sections removed."""
    kept: dict[str, Any] = {}
    for key, value in data.items():
        if key not in model.model_fields:
            if not _is_empty(value):
                dropped.append(f"{where}.{key}")
            continue
        nested = _nested_model(model, key)
        if nested is not None and isinstance(value, Mapping):
            value = _keep_fields(value, nested, f"{where}.{key}", dropped)
        if _is_empty(value):
            continue  # an untouched section of the form: the model's default applies
        kept[key] = value
    return kept


def normalize_options(raw: Any) -> Any:
    """Options as the Supervisor stores them -> the raw site mapping ``parse_config`` takes."""
    if not isinstance(raw, dict):
        return raw
    data = dict(raw)
    source = data.get("energy_source")
    if isinstance(source, Mapping):
        model = _source_models().get(str(source.get("type")))
        if model is not None:  # an unknown type is left for the model to report
            dropped: list[str] = []
            data["energy_source"] = _keep_fields(source, model, "energy_source", dropped)
            if dropped:
                log.info(
                    "ignoring options that do not apply to a %s energy source: %s",
                    source.get("type"),
                    ", ".join(dropped),
                )
    for section in ("economics", "forecast", "homeassistant", "mqtt", "heating", "control", "web"):
        value = data.get(section)
        if isinstance(value, Mapping):
            data[section] = {k: v for k, v in value.items() if not _is_empty(v)}
    return _ingress(data)


def _ingress(data: dict[str, Any]) -> dict[str, Any]:
    """The panel behind Home Assistant's ingress: on the ingress port of every interface of the
    container, only for the Supervisor's proxy unless the options name other clients (the
    proxy authenticates the user, so no token). ``EDGE_MINING_INGRESS_HOST`` narrows the
    listening address (tests)."""
    web = data.get("web")
    web = dict(web) if isinstance(web, Mapping) else {}
    web["host"] = os.environ.get("EDGE_MINING_INGRESS_HOST", INGRESS_HOST)
    web["port"] = INGRESS_PORT
    if not web.get("allowed_clients"):
        web["allowed_clients"] = [SUPERVISOR_PROXY]
    data["web"] = web
    return data


def load_addon_site(
    path: Path = ADDON_OPTIONS_PATH, environ: Mapping[str, str] | None = None
) -> SiteConfig:
    """Read ``options.json``, normalized; state (counters) persists next to it, in ``/data``."""
    return parse_config(normalize_options(read_addon_options(path)), environ)
