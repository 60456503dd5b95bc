"""What users change at run time (over MQTT: the mode, thresholds and delays, a miner's manual
control) kept in ``user_settings.json`` in ``state_dir``, so that a restart keeps it.

Which wins when the configuration file changes: per field, the value set at run time wins
until the file's own value for that field changes. Each entry records the file's value at the
time (``"config"``); at start-up an entry whose recorded value no longer matches the file is
dropped (and logged): the file was edited since, so its new value is what the user wants now.
A miner's manual control has no counterpart in the file: it holds until released, unless the
miner is no longer configured or its command no longer fits the miner's limits.

Written atomically (``state_files``). A file that cannot be read is moved aside and logged
once; the daemon then starts from the configuration. Pure apart from the file class: the
document is built from, and applied to, the controller.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge_mining.config import ControlConfig
from edge_mining.control import Controller
from edge_mining.model import Mode
from edge_mining.state_files import move_aside, write_json_atomic

log = logging.getLogger(__name__)

SETTINGS_FILE = "user_settings.json"
FORMAT_VERSION = 1


def settings_document(controller: Controller, configured: ControlConfig) -> dict[str, Any]:
    """What differs from the configuration now, with the configuration's values."""
    document: dict[str, Any] = {"version": FORMAT_VERSION}
    if controller.mode is not configured.mode:
        document["mode"] = {"value": controller.mode.value, "config": configured.mode.value}
    now = controller.control.model_dump(mode="json", exclude={"mode"})
    config = configured.model_dump(mode="json", exclude={"mode"})
    control = {
        field: {"value": value, "config": config[field]}
        for field, value in sorted(now.items())
        if value != config[field]
    }
    if control:
        document["control"] = control
    miners = {}
    for miner in controller.miners:
        override = controller.manual_override(miner.name)
        if override is not None:
            miners[miner.name] = {"running": override.running, "power_w": override.power_w}
    if miners:
        document["miners"] = miners
    return document


def restore_settings(
    controller: Controller, configured: ControlConfig, document: dict[str, Any]
) -> None:
    """Apply a saved document to a controller built from the configuration ``configured``.

    Raises ValueError (one line) if the document is malformed; then nothing was changed."""
    mode, control, miners = _parse(document)
    if mode is not None:
        value, then = mode
        if then != configured.mode.value:
            log.info(
                "mode: the configuration changed (%s -> %s) since %s was set over MQTT: "
                "the configuration wins",
                then,
                configured.mode.value,
                value,
            )
        else:
            controller.set_mode(Mode(value))
            log.info("mode %s (set over MQTT) restored", value)
    kept: dict[str, Any] = {}
    for field, (value, then) in control.items():
        current = configured.model_dump(mode="json").get(field)
        if then != current:
            log.info(
                "control.%s: the configuration changed (%s -> %s) since %s was set over MQTT: "
                "the configuration wins",
                field,
                then,
                current,
                value,
            )
        else:
            kept[field] = value
    if kept:
        try:
            ControlConfig.model_validate({**controller.control.model_dump(), **kept})
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]["msg"]
            log.warning(
                "settings set over MQTT (%s) no longer fit the configuration (%s): "
                "the configuration's values are used",
                ", ".join(f"{k}={v}" for k, v in kept.items()),
                first.removeprefix("Value error, "),
            )
        else:
            controller.update_control(**kept)
            log.info(
                "control set over MQTT restored: %s", ", ".join(f"{k}={v}" for k, v in kept.items())
            )
    names = {m.name for m in controller.miners}
    for name, (running, power_w) in miners.items():
        if name not in names:
            log.info("manual control of %s dropped: the miner is no longer configured", name)
            continue
        try:
            controller.manual(name, running=running, power_w=power_w)
        except ValueError as error:
            log.warning("manual control of %s not restored: %s", name, error)
        else:
            log.info("manual control of %s restored: running=%s power_w=%s", name, running, power_w)


def _parse(
    document: dict[str, Any],
) -> tuple[
    tuple[str, str] | None,
    dict[str, tuple[Any, Any]],
    dict[str, tuple[bool | None, float | None]],
]:
    if document.get("version") != FORMAT_VERSION:
        raise ValueError(f"unknown version {document.get('version')!r}")
    mode = None
    if "mode" in document:
        value, then = _entry(document["mode"], "mode")
        modes = {m.value for m in Mode}
        if value not in modes or then not in modes:
            raise ValueError("mode: not a mode")
        mode = (value, then)
    control: dict[str, tuple[Any, Any]] = {}
    fields = set(ControlConfig.model_fields) - {"mode"}
    for field, entry in _mapping(document.get("control", {}), "control").items():
        if field not in fields:
            raise ValueError(f"control.{field}: unknown setting")
        control[field] = _entry(entry, f"control.{field}")
    miners: dict[str, tuple[bool | None, float | None]] = {}
    for name, entry in _mapping(document.get("miners", {}), "miners").items():
        entry = _mapping(entry, f"miners.{name}")
        running, power_w = entry.get("running"), entry.get("power_w")
        if running is not None and not isinstance(running, bool):
            raise ValueError(f"miners.{name}.running: not true, false or null")
        if power_w is not None and (
            isinstance(power_w, bool) or not isinstance(power_w, int | float)
        ):
            raise ValueError(f"miners.{name}.power_w: not a number or null")
        if running is None and power_w is None:
            raise ValueError(f"miners.{name}: neither running nor power_w")
        miners[name] = (running, None if power_w is None else float(power_w))
    return mode, control, miners


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: not a mapping")
    return value


def _entry(value: object, where: str) -> tuple[Any, Any]:
    entry = _mapping(value, where)
    if set(entry) != {"value", "config"}:
        raise ValueError(f"{where}: needs value and config")
    return entry["value"], entry["config"]


class UserSettingsFile:
    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / SETTINGS_FILE
        self.writes = 0

    def read(self) -> dict[str, Any] | None:
        """The document, or None if there is none; an unreadable file is moved aside (and
        logged) and None returned."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            self.set_aside(str(error))
            return None
        try:
            data = json.loads(text)
        except ValueError as error:
            self.set_aside(str(error))
            return None
        if not isinstance(data, dict):
            self.set_aside("not a JSON object")
            return None
        return data

    def save(self, document: dict[str, Any]) -> None:
        write_json_atomic(self.path, document)
        self.writes += 1

    def set_aside(self, why: str) -> None:
        try:
            aside = move_aside(self.path)
        except OSError as error:
            log.warning(
                "settings file %s is unreadable (%s) and could not be moved aside (%s): "
                "starting from the configuration",
                self.path,
                why,
                error,
            )
            return
        log.warning(
            "settings file %s is unreadable (%s): moved to %s, starting from the configuration",
            self.path,
            why,
            aside,
        )
