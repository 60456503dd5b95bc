"""Parsing and validation of commands received on ``.../set`` topics (pure: no I/O).

Every payload is untrusted: arbitrary bytes of arbitrary length. ``parse_command`` either
returns one typed request or raises ``CommandError`` with a one-line reason; it never raises
anything else.

Manual commands in auto mode (the documented rule): switching a miner or setting its power
target puts that miner into *manual*: the controller leaves it as the user set it until the
user releases it (the miner's ``Control`` select back to ``auto``). Selecting ``manual`` holds
the miner in its current state. In mode ``off`` the controller keeps every miner stopped, so
the daemon may refuse to start one; the refusal is logged and the real state republished.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from edge_mining.config import SiteConfig
from edge_mining.model import MinerState, Mode
from edge_mining.mqtt.entities import (
    CONTROL_FIELDS,
    MINER_CONTROL_OPTIONS,
    miner_levels,
    power_target_range,
)
from edge_mining.mqtt.topics import CONTROLLER, miner_name

MAX_PAYLOAD_BYTES = 64
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

_TRUE = frozenset({"on", "true", "1", "yes"})
_FALSE = frozenset({"off", "false", "0", "no"})


class CommandError(ValueError):
    """A command that is not applied. The message is one line, safe to log."""


@dataclass(frozen=True, slots=True)
class SetMode:
    mode: Mode


@dataclass(frozen=True, slots=True)
class SetControl:
    field: str
    value: float


@dataclass(frozen=True, slots=True)
class SetMinerRunning:
    miner: str
    running: bool


@dataclass(frozen=True, slots=True)
class SetMinerPower:
    miner: str
    watts: float


@dataclass(frozen=True, slots=True)
class HoldMiner:
    """Put the miner into manual, holding its current state."""

    miner: str


@dataclass(frozen=True, slots=True)
class ReleaseMiner:
    miner: str


Request = SetMode | SetControl | SetMinerRunning | SetMinerPower | HoldMiner | ReleaseMiner


def _text(payload: bytes | bytearray | str) -> str:
    if isinstance(payload, str):
        raw = payload.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(payload)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise CommandError(f"payload too long ({len(raw)} bytes)")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError("payload is not UTF-8 text") from None
    if not text:
        raise CommandError("empty payload")
    return text


def _shown(text: str) -> str:
    """The payload as it may appear in a log line: printable, quoted, short."""
    return repr(text[:32])


def _number(text: str, low: float, high: float) -> float:
    # ASCII decimal notation only: float() also takes other scripts' digits ("１２"),
    # underscores ("1_0") and words ("inf", "nan"), none of which a Home Assistant number
    # entity sends.
    if not _DECIMAL.fullmatch(text):
        if text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
            raise CommandError(f"{_shown(text)} is not a finite number")
        raise CommandError(f"{_shown(text)} is not a number")
    value = float(text) + 0.0  # -0 is 0 ("stop SoC -0 %" was shown)
    if not math.isfinite(value):
        raise CommandError(f"{_shown(text)} is not a finite number")
    if not low <= value <= high:
        raise CommandError(f"{value:g} is outside {low:g}..{high:g}")
    return value


def _switch(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CommandError(f"{_shown(text)} is not ON or OFF")


def _option(text: str, options: tuple[str, ...]) -> str:
    lowered = text.lower()
    if lowered not in options:
        raise CommandError(f"{_shown(text)} is not one of {', '.join(options)}")
    return lowered


def parse_command(
    device: str,
    key: str,
    payload: bytes | bytearray | str,
    *,
    site: SiteConfig,
    miner_states: Mapping[str, MinerState | None],
) -> Request:
    """Validate one command. ``device``/``key`` come from ``Topics.parse_command``."""
    if device == CONTROLLER:
        if key == "mode":
            return SetMode(Mode(_option(_text(payload), tuple(m.value for m in Mode))))
        number = CONTROL_FIELDS.get(key)
        if number is None:
            raise CommandError(f"unknown controller command {key!r}")
        return SetControl(key, _number(_text(payload), number.minimum, number.maximum))

    name = miner_name(device)
    if name is None:
        raise CommandError(f"unknown device {device!r}")
    try:
        miner = site.miner(name)
    except KeyError:
        raise CommandError(f"unknown miner {name!r}") from None
    if key == "mining":
        return SetMinerRunning(name, _switch(_text(payload)))
    if key == "control":
        option = _option(_text(payload), MINER_CONTROL_OPTIONS)
        return ReleaseMiner(name) if option == "auto" else HoldMiner(name)
    if key == "level" and miner.power_target:
        levels = miner_levels(miner, miner_states.get(name))
        wanted = _text(payload).strip()
        for level in levels:
            if level.name == wanted:
                return SetMinerPower(name, level.power_w)
        names = ", ".join(level.name for level in levels) or "none"
        raise CommandError(f"{_shown(wanted)} is not one of {name}'s levels ({names})")
    if key == "power_target" and miner.power_target:
        state = miner_states.get(name)
        low, high = power_target_range(
            miner,
            state.target_min_w if state else None,
            state.target_max_w if state else None,
        )
        return SetMinerPower(name, _number(_text(payload), low, high))
    raise CommandError(f"unknown command {key!r} for miner {name!r}")
