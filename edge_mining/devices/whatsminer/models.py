"""MicroBT Whatsminers (btminer, API 2.0.x): the models emulated and their power modes.

The API on TCP 4028 has three kinds of commands:

- cgminer-style reads (``summary``, ``devs``, ``devdetails``, ``pools``, ``edevs``,
  ``version``), replies with a ``STATUS`` list and a data section;
- ``get_*`` reads (``get_version``, ``get_token``, ``get_miner_info``, ``get_psu``,
  ``get_error_code``, ``status``), replies ``{"STATUS": "S", "Code": 131, "Msg": {...}}``;
- writes, which need the admin password: the client asks ``get_token`` for ``salt``,
  ``newsalt`` and ``time``, derives ``key = md5crypt(password, salt)`` and
  ``sign = md5crypt(key + time, newsalt)`` (the hash parts), and sends
  ``{"enc": 1, "data": base64(AES-256-ECB(sha256(key), json + NUL padding))}`` with the sign
  as ``token`` inside; the reply is ``{"enc": base64(...)}`` under the same key. Writes are
  refused ("can't access write cmd") until API writing is enabled in the Whatsminer tool.

``power_off`` (with ``respbefore``) powers the hashboards down and ``power_on`` brings them
back, the control board staying on the network; ``set_low_power``, ``set_normal_power`` and
``set_high_power`` switch the power mode, which the firmware applies by restarting btminer.
The modes' figures: normal is the model's rating, low and high are MicroBT's nominal -/+ ~15 %
power (hashrate ~ power^0.8), estimates where no published figure was found.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_mining.devices.model_table import by_key, find
from edge_mining.model import PowerLevel


@dataclass(frozen=True, slots=True)
class PowerMode:
    name: str  # "low", "normal", "high"
    summary: str  # SUMMARY "Power Mode": "Low", "Normal", "High"
    command: str  # the write that selects it
    power_w: float
    hashrate_ths: float

    @property
    def level(self) -> PowerLevel:
        return PowerLevel(self.name, self.power_w, self.hashrate_ths)


@dataclass(frozen=True, slots=True)
class WhatsminerModel:
    key: str  # --model name
    model: str  # devdetails Model, e.g. "M30S+_VE40"
    chips: int
    boards: int
    modes: tuple[PowerMode, ...]  # lowest power first
    off_w: float  # draw with the hashboards powered off
    firmware: str = "20240328.16.Rel"
    api_version: str = "2.0.5"

    def mode(self, name: str) -> PowerMode | None:
        for mode in self.modes:
            if mode.name == name.strip().lower() or mode.summary.lower() == name.strip().lower():
                return mode
        return None

    @property
    def normal(self) -> PowerMode:
        mode = self.mode("normal")
        assert mode is not None
        return mode


def _modes(ths: float, watts: float) -> tuple[PowerMode, ...]:
    low_w, high_w = round(watts * 0.85), round(watts * 1.12)
    return (
        PowerMode("low", "Low", "set_low_power", low_w, round(ths * (0.85**0.8), 1)),
        PowerMode("normal", "Normal", "set_normal_power", watts, ths),
        PowerMode("high", "High", "set_high_power", high_w, round(ths * (1.12**0.8), 1)),
    )


MODELS: dict[str, WhatsminerModel] = by_key(
    WhatsminerModel(
        key="Whatsminer M30S+",
        model="M30S+_VE40",
        chips=215,
        boards=3,
        modes=_modes(100.0, 3400.0),
        off_w=15.0,
    ),
    WhatsminerModel(
        key="Whatsminer M50S",
        model="M50S_VH50",
        chips=156,
        boards=3,
        modes=_modes(126.0, 3276.0),
        off_w=15.0,
    ),
)


def find_model(name: str) -> WhatsminerModel:
    return find(MODELS, name, what="Whatsminer model", prefix="WHATSMINER")
