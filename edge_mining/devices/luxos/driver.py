"""Antminers running LuxOS, through pyasic.

pyasic's factory recognises LuxOS by ``LUXminer`` in its ``version`` reply and picks the model
class (``LUXMinerS19jPro``...); its RPC client logs on (it reuses an active session, else
``logon``) and sends the session id with every changing command. The driver uses it for
everything: one ``summary+power+config+stats`` request per poll, ``curtail sleep``/``wakeup``
for off and on (the hashboards power down, the control board stays on the network), and the
profiles (``profiles``, ``profileset``) as power levels, each with the watts and hashrate LuxOS
publishes for it.

Beside pyasic: its 0.79 ``_get_hashrate`` returns before parsing (get_data's hashrate comes
only from the hashboards), and its client keeps a session id after LuxOS ended the session
(another client's ``logoff``, a reboot); the driver forgets it and logs on again once when
LuxOS answers "Invalid session id". Advanced Thermal Management, when on, moves profiles by
itself: a profile set here switches ATM off for the change and back on after it, as pyasic's
``set_power_limit`` does, and the level read back is whatever LuxOS runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pyasic.errors import APIError
from pyasic.miners.backends.luxminer import LUXMiner
from pyasic.miners.base import AnyMiner

from edge_mining.devices.base import CommandRejected, DeviceUnavailable
from edge_mining.devices.pyasic_miner import PyasicMiner, Telemetry, number
from edge_mining.model import PowerLevel

log = logging.getLogger(__name__)
T = TypeVar("T")


class LuxOSDriver(PyasicMiner):
    """An Antminer with LuxOS."""

    family = "LuxOS"
    pyasic_classes = (LUXMiner,)
    default_password = ""

    async def describe(self, miner: AnyMiner) -> None:
        version = await self.guard(miner.rpc.version())
        profiles = await self.guard(miner.rpc.profiles())
        try:
            item = version["VERSION"][0]
            self.model = f"{item.get('Type') or miner.model} (LuxOS)"
            self.firmware = f"LuxOS {item.get('LUXminer') or item.get('Miner')}"
            levels = [
                PowerLevel(
                    str(p["Profile Name"]), float(p["Watts"]), round(float(p["Hashrate"]), 3)
                )
                for p in profiles["PROFILES"]
            ]
        except (LookupError, TypeError, ValueError) as exc:
            raise DeviceUnavailable(f"{self.label}: malformed LuxOS reply: {exc}") from exc
        self.levels = tuple(sorted(levels, key=lambda lv: lv.power_w))

    async def poll(self, miner: AnyMiner) -> Telemetry:
        data = await self.guard(miner.rpc.multicommand("summary", "power", "config", "stats"))
        try:
            summary = data["summary"][0]["SUMMARY"][0]
            watts = number(data["power"][0]["POWER"][0]["Watts"])
            profile = data["config"][0]["CONFIG"][0].get("Profile")
            chains = data["stats"][0]["STATS"][1]
        except (LookupError, TypeError) as exc:
            raise DeviceUnavailable(f"{self.label}: malformed LuxOS reply: {exc}") from exc
        hashrate = (number(summary.get("GHS 5s")) or 0.0) / 1000.0
        temps = [number(chains.get(f"temp2_{n}")) for n in range(1, 5)]
        fans = [number(chains.get(f"fan{n}")) for n in range(1, 9)]
        chip_temps = [t for t in temps if t]
        rpms = [f for f in fans if f]
        return Telemetry(
            hashrate_ths=hashrate,
            power_w=watts,
            mining_flag=None,  # LuxOS says nothing more than its hashrate
            temperature_c=max(chip_temps) if chip_temps else None,
            fan_rpm=sum(rpms) / len(rpms) if rpms else None,
            level=str(profile) if profile else None,
        )

    async def pause(self, miner: AnyMiner) -> None:
        await self._session_call(miner, lambda: miner.rpc.sleep())

    async def resume(self, miner: AnyMiner) -> None:
        await self._session_call(miner, lambda: miner.rpc.wakeup())

    async def apply_level(self, miner: AnyMiner, level: PowerLevel) -> None:
        atm = await self.guard(miner.rpc.atm())
        atm_on = bool(atm.get("ATM", [{}])[0].get("Enabled"))
        if atm_on:
            await self._session_call(miner, lambda: miner.rpc.atmset(enabled=False))
        try:
            reply = await self._session_call(miner, lambda: miner.rpc.profileset(level.name))
        finally:
            if atm_on:
                await self._session_call(miner, lambda: miner.rpc.atmset(enabled=True))
        try:
            applied = reply["PROFILE"][0]["Profile"]
        except (LookupError, TypeError):
            applied = None
        if applied != level.name:
            raise CommandRejected(f"{self.label} set profile {applied!r}, not {level.name!r}")

    async def _session_call(self, miner: AnyMiner, call: Callable[[], Awaitable[T]]) -> T:
        """A session command; logs on again once when LuxOS forgot the session."""
        for attempt in range(2):
            if miner.rpc.session_token is None and await self.guard(miner.rpc.auth()) is None:
                raise self.auth_failed("LuxOS refused to log on (is another session active?)")
            try:
                return await self.guard(call())
            except CommandRejected as exc:
                if "session" not in str(exc).lower() or attempt:
                    raise
                miner.rpc.session_token = None
                log.info("%s: LuxOS session ended, logging on again", self.label)
        raise AssertionError("unreachable")

    def api_error(self, exc: APIError) -> Any:
        text = str(exc)
        if "Another session is active" in text or "Logon refused" in text:
            return self.auth_failed(text)
        return super().api_error(exc)
