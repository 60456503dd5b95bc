"""Bitaxe (AxeOS) and NerdQAxe boards through pyasic.

pyasic's factory recognises a Bitaxe by its AxeOS page and picks the class by ASIC
(``BitAxeGamma`` for BM1370, ``BitAxeSupra``, ``BitAxeUltra``, ``BitAxeMax``); its web client
reads ``/api/system/info`` and ``/api/system/asic``. What pyasic 0.79 does not do, done here
beside it with the same HTTP library (httpx, pyasic's transport settings):

- **NerdQAxe**: its page has been "Nerd*axe Dashboard" since February 2025, so pyasic's
  factory finds nothing; the driver reads ``/api/system/info`` itself and, when it is an
  ESP-Miner (``ASICModel``, ``hashRate``), uses pyasic's class for that ASIC.
- **pause/resume**: pyasic has neither. AxeOS (ESP-Miner 2.14+) has ``POST /api/system/pause``
  and ``/resume``; NerdQAxe has ``POST /api/system/shutdown`` and comes back with a restart.
  Either way the ASICs are powered down and the board stays on the network.
- **levels**: a level is a frequency option at the default core voltage, set with
  ``PATCH /api/system`` and read back from ``frequency``. pyasic's ``update_settings`` sends
  the same PATCH but then fails to decode the firmware's empty 200 reply as JSON, so the
  request is made here.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pyasic import settings
from pyasic.errors import APIError
from pyasic.miners.backends.espminer import ESPMiner
from pyasic.miners.base import AnyMiner

from edge_mining.devices.base import CommandRejected, DeviceUnavailable
from edge_mining.devices.bitaxe.models import EspMinerBoard, identify, level_name, levels_for
from edge_mining.devices.pyasic_miner import PyasicMiner, Telemetry, number
from edge_mining.model import PowerLevel

log = logging.getLogger(__name__)


class BitaxeDriver(PyasicMiner):
    """A Bitaxe or NerdQAxe (ESP-Miner)."""

    family = "Bitaxe/NerdQAxe (ESP-Miner)"
    pyasic_classes = (ESPMiner,)
    default_password = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.board: EspMinerBoard | None = None
        self.nerdqaxe = False
        self.default_voltage: int | None = None

    # ------------------------------------------------------------------- detection

    @classmethod
    async def recognises(cls, host: str) -> bool:
        """True when ``host`` answers ``/api/system/info`` as an ESP-Miner does."""
        return await _system_info(host, 3.0) is not None

    async def detect_fallback(self) -> AnyMiner | None:
        info = await _system_info(self.host, self.timeout_s)
        if info is None:
            return None
        from pyasic.miners.factory import MINER_CLASSES, MinerTypes

        classes = MINER_CLASSES[MinerTypes.BITAXE]
        cls = classes.get(str(info.get("ASICModel", "")).upper(), classes[None])
        log.info(
            "%s: pyasic does not recognise its page; ESP-Miner %s found from its API",
            self.label,
            info.get("deviceModel") or info.get("ASICModel"),
        )
        return cls(self.host)  # type: ignore[no-any-return]

    async def describe(self, miner: AnyMiner) -> None:
        info = await self.guard(miner.web.system_info())
        try:
            asic = await self.guard(miner.web.asic_info())
        except CommandRejected:
            asic = {}  # older firmware without /api/system/asic
        self.nerdqaxe = "shutdown" in info or "deviceModel" in info
        self.board = identify({**info, **asic})
        device = asic.get("deviceModel") or info.get("deviceModel")
        self.model = (
            self.board.key if self.board else f"ESP-Miner {device or info.get('ASICModel')}"
        )
        self.firmware = info.get("version")
        self.serial = info.get("macAddr") or self.serial
        self.default_voltage = _int(asic.get("defaultVoltage")) or _int(info.get("coreVoltage"))
        options = tuple(f for f in (number(v) for v in asic.get("frequencyOptions", [])) if f)
        if self.board is not None:
            self.levels = levels_for(self.board, options or tuple(self.board.frequencies))
        else:
            self.levels = ()

    # ------------------------------------------------------------------- reading

    async def poll(self, miner: AnyMiner) -> Telemetry:
        info = await self.guard(miner.web.system_info())
        if not isinstance(info, dict) or "hashRate" not in info:
            raise DeviceUnavailable(f"{self.label}: malformed /api/system/info reply")
        return parse_info(info)

    # ------------------------------------------------------------------- commands

    async def pause(self, miner: AnyMiner) -> None:
        await self._post("/api/system/shutdown" if self.nerdqaxe else "/api/system/pause")

    async def resume(self, miner: AnyMiner) -> None:
        await self._post("/api/system/restart" if self.nerdqaxe else "/api/system/resume")

    async def apply_level(self, miner: AnyMiner, level: PowerLevel) -> None:
        frequency = number(level.name.removesuffix("MHz"))
        if frequency is None:
            raise CommandRejected(f"{self.label}: {level.name!r} is not a frequency")
        body: dict[str, Any] = {"frequency": int(frequency)}
        if self.default_voltage:
            body["coreVoltage"] = self.default_voltage
        await self._request("PATCH", "/api/system", json=body)

    async def _post(self, path: str) -> None:
        await self._request("POST", path)

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"http://{self.host}{path}"
        try:
            async with httpx.AsyncClient(transport=settings.transport()) as client:
                response = await client.request(method, url, timeout=self.timeout_s, **kwargs)
        except httpx.TimeoutException:
            self._mark_lost()
            raise self._no_answer() from None
        except httpx.HTTPError as exc:
            self._mark_lost()
            raise DeviceUnavailable(f"{self.label}: {exc}") from exc
        if response.status_code == 404 and path.endswith(("/pause", "/resume")):
            raise CommandRejected(
                f"{self.label}: this AxeOS cannot pause mining (ESP-Miner 2.14 or later can)"
            )
        if response.status_code >= 400:
            reason = response.text.strip()[:200] or response.reason_phrase
            raise CommandRejected(
                f"{self.label} refused {method} {path}: {response.status_code} {reason}"
            )
        return response


def parse_info(info: dict[str, Any]) -> Telemetry:
    """Telemetry from an ESP-Miner ``/api/system/info`` reply."""
    paused = bool(info.get("miningPaused")) or bool(info.get("shutdown"))
    hashrate = (number(info.get("hashRate")) or 0.0) / 1000.0
    frequency = number(info.get("frequency"))
    temps = [t for t in (number(info.get("temp")), number(info.get("vrTemp"))) if t]
    fans = [f for f in (number(info.get("fanrpm")), number(info.get("fanrpm2"))) if f]
    errors = tuple(
        f"{key}: {info[key]}" for key in ("power_fault", "hardware_fault") if info.get(key)
    )
    if info.get("overheat_mode"):
        errors = (*errors, "overheat mode (frequency lowered)")
    return Telemetry(
        hashrate_ths=0.0 if paused else hashrate,
        power_w=number(info.get("power")),
        mining_flag=not paused,
        power_target_w=None,
        temperature_c=max(temps) if temps else None,
        fan_rpm=sum(fans) / len(fans) if fans else None,
        errors=errors,
        level=level_name(frequency) if frequency else None,
    )


async def _system_info(host: str, timeout_s: float) -> dict[str, Any] | None:
    try:
        async with httpx.AsyncClient(transport=settings.transport()) as client:
            response = await client.get(f"http://{host}/api/system/info", timeout=timeout_s)
        info = response.json()
    except (httpx.HTTPError, ValueError, APIError):
        return None
    if isinstance(info, dict) and "ASICModel" in info and "hashRate" in info:
        return info
    return None


def _int(value: Any) -> int | None:
    result = number(value)
    return int(result) if result is not None else None
