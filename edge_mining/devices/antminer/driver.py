"""Antminers on Bitmain's stock firmware, through pyasic.

pyasic's factory recognises the stock firmware (the web interface's Digest realm
"antMiner", or ``Type`` in bmminer's ``version``) and picks the model class
(``BMMinerS19jPro``...); its web client speaks the CGI scripts with Digest authentication
and its RPC client the read-only cgminer API. The driver reads ``summary`` (5 s hashrate) and
``stats`` (fans, chip temperatures) on 4028 and the configuration on the web side, and uses
pyasic's own configuration round trip for the work mode: ``get_config``, a new
``mining_mode`` (sleep, normal, low), ``send_config``. Sleep is the firmware's off without
cutting power (the hashboards power down, the controller stays on the network); normal and
low power are its levels. Every mode change restarts the mining process, which is how the
firmware applies a configuration.

Beside pyasic: stock S19-generation firmware reports no power, so the driver reports the
mode's rated draw while hashing and the sleep draw otherwise, marked as an estimate; and
pyasic's ``resume_mining`` always returns to normal mode, so a resume here goes back to the
level it was running at.
"""

from __future__ import annotations

import logging
from typing import Any

from pyasic.config.mining import MiningModeConfig
from pyasic.miners.backends.antminer import AntminerModern
from pyasic.miners.base import AnyMiner

from edge_mining.devices.antminer.models import SLEEP_MODE, StockModel, model_for_type
from edge_mining.devices.base import CommandRejected, DeviceUnavailable
from edge_mining.devices.pyasic_miner import PyasicMiner, Telemetry, number
from edge_mining.model import PowerLevel

log = logging.getLogger(__name__)

MODE_CONFIG = {0: MiningModeConfig.normal, 1: MiningModeConfig.sleep, 3: MiningModeConfig.low}


class AntminerDriver(PyasicMiner):
    """An Antminer with stock firmware."""

    family = "stock Antminer"
    pyasic_classes = (AntminerModern,)
    default_password = "root"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stock: StockModel | None = None
        self.hashing_mode = 0  # the mode to come back to from sleep

    def configure(self, miner: AnyMiner) -> None:
        miner.web.username = self.username
        miner.web.pwd = self.password

    async def describe(self, miner: AnyMiner) -> None:
        info = await self.guard(miner.web.get_system_info())
        if info.get("success") is False or "minertype" not in info:
            message = str(info.get("message", "no reply"))
            if "401" in message or "Unknown error" in message:
                raise self.auth_failed("the web interface refused the login")
            raise DeviceUnavailable(f"{self.label}: web interface: {message}")
        self.stock = model_for_type(info.get("minertype"))
        self.model = f"{info.get('minertype') or miner.model} (stock)"
        self.firmware = f"Bitmain {info.get('system_filesystem_version', '')}".strip()
        self.serial = info.get("serinum") or self.serial
        self.levels = tuple(m.level for m in self.stock.modes) if self.stock else ()

    async def poll(self, miner: AnyMiner) -> Telemetry:
        data = await self.guard(miner.rpc.multicommand("summary", "stats"))
        conf = await self._conf(miner)
        try:
            summary = data["summary"][0]["SUMMARY"][0]
            chains = data["stats"][0]["STATS"][1]
        except (LookupError, TypeError) as exc:
            raise DeviceUnavailable(f"{self.label}: malformed bmminer reply: {exc}") from exc
        mode = number(conf.get("bitmain-work-mode"))
        if mode is None:
            raise DeviceUnavailable(f"{self.label}: no work mode in the configuration")
        asleep = int(mode) == SLEEP_MODE
        hashrate = (number(summary.get("GHS 5s")) or 0.0) / 1000.0
        temps = [number(chains.get(f"temp2_{n}")) for n in range(1, 5)]
        fans = [number(chains.get(f"fan{n}")) for n in range(1, 9)]
        chip_temps = [t for t in temps if t]
        rpms = [f for f in fans if f]
        level = None
        power = None
        if self.stock is not None:
            current = self.stock.mode(self.hashing_mode if asleep else int(mode))
            level = current.name if current else None
            if asleep:
                power = self.stock.sleep_w
            elif current is not None:
                # No measurement on stock firmware: the mode's rated draw, as far as it hashes.
                share = min(1.0, hashrate / current.hashrate_ths) if current.hashrate_ths else 1
                power = self.stock.sleep_w + (current.power_w - self.stock.sleep_w) * share
            if not asleep:
                self.hashing_mode = int(mode)
        return Telemetry(
            hashrate_ths=0.0 if asleep else hashrate,
            power_w=power,
            mining_flag=not asleep,
            temperature_c=max(chip_temps) if chip_temps else None,
            fan_rpm=sum(rpms) / len(rpms) if rpms else None,
            level=level,
        )

    async def pause(self, miner: AnyMiner) -> None:
        await self._set_mode(miner, SLEEP_MODE)

    async def resume(self, miner: AnyMiner) -> None:
        await self._set_mode(miner, self.hashing_mode)

    async def apply_level(self, miner: AnyMiner, level: PowerLevel) -> None:
        mode = self.stock.mode_named(level.name) if self.stock else None
        if mode is None:
            raise CommandRejected(f"{self.label}: no work mode {level.name!r}")
        await self._set_mode(miner, mode.value)
        self.hashing_mode = mode.value

    async def _conf(self, miner: AnyMiner) -> dict[str, Any]:
        """The miner's configuration (pyasic's web client says ``success: False`` for a 401)."""
        conf = await self.guard(miner.web.get_miner_conf())
        if conf.get("success") is False:
            raise self.auth_failed(str(conf.get("message", "the web interface refused")))
        return conf

    async def _set_mode(self, miner: AnyMiner, mode: int) -> None:
        await self._conf(miner)  # pyasic's get_config hides a refused login
        config = await self.guard(miner.get_config())
        config.mining_mode = MODE_CONFIG[mode]()
        await self.guard(miner.send_config(config))
        conf = await self._conf(miner)
        if number(conf.get("bitmain-work-mode")) != mode:
            raise CommandRejected(
                f"{self.label}: asked for work mode {mode}, it runs "
                f"{conf.get('bitmain-work-mode', 'unknown')}"
            )
