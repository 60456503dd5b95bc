"""Numbers out of device payloads: a plain number, or a dot path into a JSON document.

``1234.5``; ``ENERGY.Power`` (Tasmota), ``total.power`` (OpenDTU), ``value`` (Victron
dbus-mqtt), ``inverters.0.power`` or ``inverters[0].power`` (into lists). Also ISO 8601
times as epoch seconds (Home Assistant's ``last_updated``, forecast.solar's rate limits).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

_INDEX = re.compile(r"\[(\d+)\]")


class PayloadError(ValueError):
    """The payload does not hold a number where configured."""


def extract_value(payload: bytes, json_path: str | None) -> Any:
    """The payload's value at ``json_path`` (the whole payload when None)."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8 text") from None
    if json_path is None:
        try:
            return json.loads(text)
        except ValueError:
            return text
    try:
        node: Any = json.loads(text)
    except ValueError:
        raise PayloadError(f"payload is not JSON (looking for {json_path})") from None
    for key in _INDEX.sub(r".\1", json_path).split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise PayloadError(f"no {json_path} in the payload (missing {key!r})")
    return node


def extract_number(payload: bytes, json_path: str | None) -> float:
    """A finite number from the payload (plain text number or JSON path)."""
    value = extract_value(payload, json_path)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(f"{json_path or 'payload'} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise PayloadError(
            f"{json_path or 'payload'} {str(value)[:40]!r} is not a number"
        ) from None
    if not math.isfinite(number):
        raise PayloadError(f"{json_path or 'payload'} is not a finite number")
    return number


def iso_epoch(value: Any) -> float | None:
    """An ISO 8601 time as epoch seconds (UTC when it names no zone); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
