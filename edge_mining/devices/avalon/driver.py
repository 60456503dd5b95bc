"""Canaan Avalon home miners (Nano 3, Nano 3S, Mini 3, Q) through pyasic.

pyasic's factory detects the model (``CGMinerAvalonNano3``, ``...Nano3s``, ``...Mini3``,
``...QHome``); its RPC client carries every command and its ``parse_estats`` reads the
``MM ID0`` bracket string. What pyasic 0.79 does not do, done here beside it:

- **power**: pyasic reads ``WALLPOWER``, which these models do not send (only the Nano 3S
  class reads PS[6]); the watts are read from the PS field at the model's index.
- **levels**: pyasic's ``set_power_limit`` maps watts to ``worklevel`` 0-2 for every model
  and sends no value for level 0 (``ascset(0, "worklevel,set", 0)`` drops the falsy 0);
  the Nano 3S and Q set their power with ``workmode``, the Nano 3 and Mini 3 with
  ``worklevel``. The driver sends the model's own ``ascset|0,<field>,set,<n>`` and reads
  WORKMODE/WORKLEVEL back from ``estats``.
- **state**: the mining flag is ``SYSTEMSTATU`` (``Work: In Work`` / ``In Idle``), the 5 s
  hashrate ``GHSspd`` (pyasic's hashrate is the 1-minute average of ``devs``, which lags a
  pause by a minute).

On/off is ``softoff``/``softon`` with a trigger time (what pyasic's ``stop_mining`` and
``resume_mining`` send; the miner stays powered, in standby at ~17 W on a Q) on the Mini 3 and
the Q. The trigger is five seconds ahead on the *miner's* clock, which every reply carries
(``When``): pyasic takes the local clock, so a miner whose clock is off (no NTP on a home
network) would switch hours late, or never. The Nano 3 and 3S firmwares have no soft off:
stopping them needs a smart plug, and the driver says so instead of pretending.

One ``estats`` request per poll.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pyasic.miners.backends.avalonminer import AvalonMiner as PyasicAvalon
from pyasic.miners.base import AnyMiner

from edge_mining.devices.avalon.models import AvalonModel, identify
from edge_mining.devices.base import CommandRejected, DeviceUnavailable
from edge_mining.devices.pyasic_miner import PyasicMiner, Telemetry, number
from edge_mining.model import PowerLevel

log = logging.getLogger(__name__)

SOFT_SWITCH_DELAY_S = 5  # what Canaan's own tools and pyasic give as the trigger time


class AvalonDriver(PyasicMiner):
    """An Avalon home miner."""

    family = "Avalon"
    pyasic_classes = (PyasicAvalon,)
    default_password = "admin"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.avalon: AvalonModel | None = None
        # The miner's clock minus ours, from the "When" of its last reply (seconds).
        self.clock_offset_s = 0.0

    def configure(self, miner: AnyMiner) -> None:
        web = getattr(miner, "web", None)
        if web is not None:
            web.pwd = self.password

    async def describe(self, miner: AnyMiner) -> None:
        version = await self.guard(miner.rpc.version())
        try:
            item = version["VERSION"][0]
        except (LookupError, TypeError):
            raise DeviceUnavailable(f"{self.label}: malformed version reply") from None
        prod, model = item.get("PROD"), item.get("MODEL")
        self.avalon = identify(prod, model)
        self.model = self.avalon.key if self.avalon else str(prod or miner.model or "Avalon")
        self.firmware = item.get("LVERSION") or item.get("VERSION") or item.get("CGVERSION")
        self.serial = item.get("DNA") or self.serial
        self.levels = self.avalon.power_levels if self.avalon else ()
        if self.avalon is None:
            log.warning(
                "%s: Avalon %s (%s) is not a model this driver knows; telemetry only",
                self.label,
                prod,
                model,
            )

    async def poll(self, miner: AnyMiner) -> Telemetry:
        reply = await self.guard(miner.rpc.estats())
        if not reply:
            raise DeviceUnavailable(f"{self.label}: no answer on the cgminer API (4028)")
        when = number(_status(reply).get("When"))
        if when:
            self.clock_offset_s = when - time.time()
        try:
            mm = PyasicAvalon.parse_estats(reply)["STATS"][0]["MM ID0"]
        except (LookupError, TypeError, ValueError) as exc:
            raise DeviceUnavailable(f"{self.label}: malformed estats reply: {exc}") from exc
        return parse_mm(mm, self.avalon)

    async def pause(self, miner: AnyMiner) -> None:
        await self._soft_switch(miner, on=False)

    async def resume(self, miner: AnyMiner) -> None:
        await self._soft_switch(miner, on=True)

    async def _soft_switch(self, miner: AnyMiner, *, on: bool) -> None:
        if self.avalon is not None and not self.avalon.soft_off:
            raise CommandRejected(
                f"{self.label}: the {self.avalon.key} firmware has no soft off, so it cannot "
                "be paused without cutting its power; put it on a smart plug "
                "(driver: smartplug) to switch it"
            )
        # pyasic's stop_mining/resume_mining send exactly this; called directly so that a
        # refusal comes back with the miner's reason instead of a bare False.
        what = "softon" if on else "softoff"
        stamp = int(time.time() + self.clock_offset_s) + SOFT_SWITCH_DELAY_S
        reply = await self.guard(miner.rpc.ascset(0, what, f"1:{stamp}"))
        message = _message(reply)
        if "success" not in message:
            raise CommandRejected(f"{self.label} refused {what}: {message}")

    async def apply_level(self, miner: AnyMiner, level: PowerLevel) -> None:
        model = self.avalon
        if model is None:
            raise CommandRejected(f"{self.label}: unknown Avalon model, no levels")
        wanted = model.level(level.name)
        field = model.level_field.lower()
        reply = await self.guard(
            miner.rpc.send_command(
                "ascset", parameters=f"0,{field},set,{wanted.value}", ignore_errors=True
            )
        )
        message = _message(reply)
        if "set OK" not in message:
            raise CommandRejected(f"{self.label} refused {field} {wanted.value}: {message}")


def _status(reply: dict[str, Any]) -> dict[str, Any]:
    try:
        status = reply["STATUS"][0]
    except (LookupError, TypeError):
        return {}
    return status if isinstance(status, dict) else {}


def _message(reply: dict[str, Any]) -> str:
    return str(_status(reply).get("Msg", reply))


def parse_mm(mm: dict[str, Any], model: AvalonModel | None) -> Telemetry:
    """Telemetry from a parsed ``MM ID0`` (pyasic's ``parse_estats``) of ``model``."""
    status = str(mm.get("SYSTEMSTATU", ""))
    if "In Work" in status:
        flag: bool | None = True
    elif "Idle" in status or "Off" in status:
        flag = False
    else:
        flag = None
    hashrate = (number(mm.get("GHSspd")) or 0.0) / 1000.0
    power = _power(mm, model)
    fans = [number(mm.get(f"Fan{i}")) for i in range(1, 5)]
    rpms = [rpm for rpm in fans if rpm]
    tmax = number(mm.get("TMax"))
    level = None
    if model is not None:
        found = model.level_of(int(number(mm.get(model.level_field)) or 0))
        level = found.name if found else None
    limit = number(mm.get("MPO"))
    if limit is None and model is not None and level is not None:
        limit = model.level(level).power_w
    errors = []
    for code in ("ECHU", "ECMM"):
        value = mm.get(code)
        values = value if isinstance(value, list) else [value]
        if any(number(v) for v in values):
            errors.append(f"{code} {' '.join(str(v) for v in values)}")
    return Telemetry(
        hashrate_ths=hashrate if flag is not False else 0.0,
        power_w=power,
        mining_flag=flag,
        power_target_w=limit,
        temperature_c=tmax if tmax else None,
        fan_rpm=sum(rpms) / len(rpms) if rpms else None,
        errors=tuple(errors),
        level=level,
    )


def _power(mm: dict[str, Any], model: AvalonModel | None) -> float | None:
    wall = number(mm.get("WALLPOWER"))
    if wall is not None:
        return wall
    ps = mm.get("PS")
    if isinstance(ps, list) and ps:
        index = model.power_index if model is not None else len(ps) - 1
        if index < len(ps):
            return number(ps[index])
    return None
