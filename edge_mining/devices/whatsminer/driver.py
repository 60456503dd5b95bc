"""MicroBT Whatsminers (btminer API 2.0.x) through pyasic.

pyasic's factory recognises btminer (``BTMINER`` or ``bitmicro`` in its replies), reads the
model from ``devdetails`` and the firmware date from ``get_version``, and picks the API
generation: firmware up to 2024-11 speaks API 2.x on 4028 (``BTMinerV2``), later firmware API
3.x on 4433. Its RPC client does the token handshake and the AES encryption of the writes.
The driver reads ``summary`` (5 s hashrate, the PSU's power, the power mode) and switches
with pyasic's own calls: ``power_off``/``power_on`` (the hashboards power down, the control
board stays on the network) and the power modes (``set_low_power``, ``set_normal_power``,
``set_high_power``) as the levels, read back from ``Power Mode``. Writes need the admin
password and the API's write access enabled once in the Whatsminer tool; a refusal says so.

Not done: API 3.x (firmware after 2024-11, port 4433) is detected by pyasic but not driven
here yet; such a miner is reported as an error naming the firmware.
"""

from __future__ import annotations

import logging
from typing import Any

from pyasic.miners.backends.btminer import BTMinerV2, BTMinerV3
from pyasic.miners.base import AnyMiner

from edge_mining.devices.base import CommandRejected, DeviceError, DeviceUnavailable
from edge_mining.devices.pyasic_miner import PyasicMiner, Telemetry, number
from edge_mining.devices.whatsminer.models import MODELS, WhatsminerModel
from edge_mining.model import PowerLevel

log = logging.getLogger(__name__)


class WhatsminerDriver(PyasicMiner):
    """A Whatsminer on API 2.x."""

    family = "Whatsminer"
    pyasic_classes = (BTMinerV2, BTMinerV3)
    default_password = "admin"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.whatsminer: WhatsminerModel | None = None

    def configure(self, miner: AnyMiner) -> None:
        miner.rpc.pwd = self.password

    async def describe(self, miner: AnyMiner) -> None:
        if isinstance(miner, BTMinerV3):
            raise DeviceError(
                f"{self.label}: Whatsminer firmware {miner.fw_ver or 'after 2024-11'} speaks "
                "API 3.x, which this driver does not drive yet"
            )
        details = await self.guard(miner.rpc.devdetails())
        version = await self.guard(miner.rpc.get_version())
        try:
            raw_model = str(details["DEVDETAILS"][0]["Model"])
        except (LookupError, TypeError):
            raw_model = str(miner.model or "Whatsminer")
        self.whatsminer = next((m for m in MODELS.values() if m.model == raw_model), None)
        self.model = self.whatsminer.key if self.whatsminer else f"Whatsminer {raw_model}"
        msg = version.get("Msg") if isinstance(version, dict) else None
        if isinstance(msg, dict):
            self.firmware = f"{msg.get('fw_ver')} (API {msg.get('api_ver')})"
        self.levels = tuple(m.level for m in self.whatsminer.modes) if self.whatsminer else ()

    async def poll(self, miner: AnyMiner) -> Telemetry:
        reply = await self.guard(miner.rpc.summary())
        try:
            summary = reply["SUMMARY"][0]
        except (LookupError, TypeError) as exc:
            raise DeviceUnavailable(f"{self.label}: malformed summary: {exc}") from exc
        hashrate = (number(summary.get("MHS 5s")) or 0.0) / 1e6
        power = number(summary.get("Power"))
        fans = [number(summary.get(k)) for k in ("Fan Speed In", "Fan Speed Out")]
        rpms = [f for f in fans if f]
        mode = str(summary.get("Power Mode") or "")
        level = None
        if self.whatsminer is not None:
            found = self.whatsminer.mode(mode)
            level = found.name if found else None
        errors = tuple(
            f"error code {summary.get(f'Error Code {i}')}"
            for i in range(int(number(summary.get("Error Code Count")) or 0))
            if summary.get(f"Error Code {i}")
        )
        return Telemetry(
            hashrate_ths=hashrate,
            power_w=power if power is not None and power >= 0 else None,
            mining_flag=None,
            power_target_w=number(summary.get("Power Limit")),
            temperature_c=number(summary.get("Chip Temp Max")),
            fan_rpm=sum(rpms) / len(rpms) if rpms else None,
            errors=errors,
            level=level,
        )

    async def pause(self, miner: AnyMiner) -> None:
        await self._write(miner.rpc.power_off(respbefore=True), "power_off")

    async def resume(self, miner: AnyMiner) -> None:
        await self._write(miner.rpc.power_on(), "power_on")

    async def apply_level(self, miner: AnyMiner, level: PowerLevel) -> None:
        mode = self.whatsminer.mode(level.name) if self.whatsminer else None
        if mode is None:
            raise CommandRejected(f"{self.label}: no power mode {level.name!r}")
        await self._write(getattr(miner.rpc, mode.command)(), mode.command)

    async def _write(self, call: Any, what: str) -> None:
        try:
            reply = await self.guard(call)
        except CommandRejected as exc:
            text = str(exc)
            if "write cmd" in text:
                raise CommandRejected(
                    f"{self.label} refused {what}: API writes are off; enable them in the "
                    "Whatsminer tool"
                ) from exc
            if "token" in text or "invalid api command" in text:
                raise self.auth_failed(f"{what}: {text}") from exc
            raise
        message = reply.get("Msg") if isinstance(reply, dict) else None
        if message != "API command OK":
            raise CommandRejected(f"{self.label} refused {what}: {message or reply}")
