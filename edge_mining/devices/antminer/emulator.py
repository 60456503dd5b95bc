"""An emulated Antminer on Bitmain's stock firmware, on a loopback address.

Two listeners, as on the real controller: bmminer's cgminer API on 4028 (``version`` with
``BMMiner`` and ``Type``, ``summary``, ``stats`` in Bitmain's layout, ``pools``, ``devs``) and
the web interface on 80, every page behind HTTP Digest authentication (realm "antMiner
Configuration"; a request without it gets the 401 challenge pyasic's factory recognises). The
CGI scripts: ``get_system_info``, ``get_miner_conf``, ``set_miner_conf`` (JSON body; a new
``miner-mode`` restarts the mining process: 1 sleeps, 0 and 3 warm up and ramp at their
power), ``summary``, ``stats``, ``get_blink_status``, ``blink``, ``reboot``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Unpack

from edge_mining.devices.antminer.models import MODELS, SLEEP_MODE, StockModel, find_model
from edge_mining.devices.emulation import bitmain, http
from edge_mining.devices.emulation.cgminer import CgminerApi, Reply
from edge_mining.devices.emulation.server import EmulatedDevice, EmulatorOptions, Listener, Timing

RPC_PORT = 4028
WEB_PORT = 80
REALM = "antMiner Configuration"
BMMINER_VERSION = "2.0.0"
POOL_URL = "stratum+tcp://btc.f2pool.com:1314"


class EmulatedAntminer(EmulatedDevice):
    """One stock-firmware Antminer on one loopback address."""

    default_timing = Timing(warmup_s=30.0, ramp_s=60.0, settle_s=20.0)

    def __init__(
        self,
        host: str,
        model: str = "Antminer S19j Pro (stock)",
        *,
        password: str = "root",
        rpc_port: int = RPC_PORT,
        web_port: int = WEB_PORT,
        **options: Unpack[EmulatorOptions],
    ) -> None:
        super().__init__(host, **options)
        self.model: StockModel = find_model(model)
        self.rpc_port = rpc_port
        self.web_port = web_port
        self.auth = http.DigestAuth(REALM, "root", password)
        hardware = self.model.hardware
        self.work_mode = 0 if self.mining_at_start else SLEEP_MODE
        self.hashing_mode = 0  # the mode it hashes in when not asleep
        self.machine = self.level_machine(
            [(m.power_w, m.hashrate_ths) for m in self.model.modes],
            default_w=self.model.normal.power_w,
            idle_w=self.model.sleep_w,
            nominal=(hardware.nominal_w, hardware.nominal_ths),
            hashboards=hardware.chains,
            fans=hardware.fans,
        )
        self.blinking = False
        self.pools = [{"url": POOL_URL, "user": f"edgemining.{self.seed % 1000}", "pass": "x"}]
        self.api = CgminerApi(
            f"bmminer {BMMINER_VERSION}",
            {
                "version": self._version,
                "summary": self._summary,
                "stats": self._stats,
                "pools": self._pools,
                "devs": self._devs,
            },
        )

    def listeners(self) -> Sequence[Listener]:
        return [
            self.cgminer_listener(self.rpc_port, self.api.respond),
            self.web_listener(self.web_port, self._web),
        ]

    # ------------------------------------------------------------------- cgminer API

    def _version(self, _p: str | None) -> Reply:
        item = {
            "BMMiner": BMMINER_VERSION,
            "API": "3.1",
            "Miner": "uart_trans.1.3",
            "CompileTime": self.model.firmware,
            "Type": self.model.hardware.type,
        }
        return Reply(22, "BMMiner versions", {"VERSION": [item]})

    def _summary(self, _p: str | None) -> Reply:
        return bitmain.summary(self.machine)

    def _stats(self, _p: str | None) -> Reply:
        return bitmain.stats(
            self.machine,
            self.model.hardware,
            miner_key="BMMiner",
            miner_version=BMMINER_VERSION,
            compile_time=self.model.firmware,
            frequency_mhz=self.model.hardware.frequency_mhz,
        )

    def _pools(self, _p: str | None) -> Reply:
        item = bitmain.pools_item(self.machine, self.pools[0]["user"], self.pools[0]["url"])
        return Reply(7, "1 Pool(s)", {"POOLS": [item]})

    def _devs(self, _p: str | None) -> Reply:
        return bitmain.devs(self.machine, self.model.hardware)

    # ------------------------------------------------------------------- web

    def miner_conf(self) -> dict[str, Any]:
        return {
            "pools": self.pools,
            "api-listen": True,
            "api-network": True,
            "api-groups": "A:stats:pools:devs:summary:version",
            "api-allow": "A:0/0,W:*",
            "bitmain-fan-ctrl": False,
            "bitmain-fan-pwm": "100",
            "bitmain-use-vil": True,
            "bitmain-freq": str(round(self.model.hardware.frequency_mhz)),
            "bitmain-voltage": "1360",
            "bitmain-ccdelay": "0",
            "bitmain-pwth": "0",
            "bitmain-work-mode": str(self.work_mode),
            "bitmain-freq-level": "100",
        }

    def set_work_mode(self, mode: int) -> bool:
        """Apply ``miner-mode`` as the firmware does: by restarting the mining process."""
        if mode == SLEEP_MODE:
            self.work_mode = SLEEP_MODE
            self.machine.pause()
            return True
        target = self.model.mode(mode)
        if target is None or self.faults.refuse_target:
            return False
        self.work_mode = self.hashing_mode = mode
        self.machine.set_power_target(int(target.power_w), apply=False, force=False)
        self.machine.resume()
        self.machine.restart()
        return True

    def _set_conf(self, request: http.Request) -> http.Response:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return http.Response.json({"stats": "error", "code": "M001", "msg": "Bad request!"})
        if "pools" in body and isinstance(body["pools"], list) and body["pools"]:
            self.pools = [
                {"url": p.get("url", ""), "user": p.get("user", ""), "pass": p.get("pass", "")}
                for p in body["pools"]
                if isinstance(p, dict)
            ] or self.pools
        mode = body.get("miner-mode", body.get("bitmain-work-mode"))
        if mode is not None:
            try:
                ok = self.set_work_mode(int(mode))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                return http.Response.json(
                    {"stats": "error", "code": "M002", "msg": "Unsupported work mode!"}
                )
        return http.Response.json({"stats": "success", "code": "M000", "msg": "OK!"})

    def _web_head(self, msg: str) -> dict[str, Any]:
        """The STATUS and INFO blocks every CGI JSON reply starts with."""
        return {
            "STATUS": {"STATUS": "S", "when": int(time.time()), "Msg": msg, "api_version": "1.0.0"},
            "INFO": {
                "miner_version": "uart_trans.1.3",
                "CompileTime": self.model.firmware,
                "type": self.model.hardware.type,
            },
        }

    def _web_rates(self) -> dict[str, Any]:
        """The hashrates every CGI reply's item starts with, GH/s."""
        m = self.machine
        return {
            "elapsed": int(m.bosminer_uptime_s),
            "rate_5s": round(m.hashrate_5s_ths * 1000, 2),
            "rate_30m": round(m.hashrate_15m_ths * 1000, 2),
            "rate_avg": round(m.hashrate_1m_ths * 1000, 2),
            "rate_ideal": round(m.hashrate_at(m.active_target_w) * 1000, 2),
            "rate_unit": "GH/s",
        }

    def _web_summary(self) -> dict[str, Any]:
        m = self.machine
        hashing = m.hashing_enabled
        status = [
            {"type": "rate", "status": "s" if hashing else "w", "code": 0, "msg": ""},
            {"type": "network", "status": "s", "code": 0, "msg": ""},
            {"type": "fans", "status": "s", "code": 0, "msg": ""},
            {"type": "temp", "status": "s", "code": 0, "msg": ""},
        ]
        return {
            **self._web_head("summary"),
            "SUMMARY": [
                {
                    **self._web_rates(),
                    "hw_all": 0,
                    "bestshare": 0,
                    "status": status,
                }
            ],
        }

    def _web_stats(self) -> dict[str, Any]:
        m = self.machine
        hardware = self.model.hardware
        hashing = m.hashing_enabled
        chains = []
        for index in range(hardware.chains):
            board = round(m.board_temperature_c(index)) if hashing else 25
            chip = round(m.chip_temperature_c(index)) if hashing else 25
            chains.append(
                {
                    "index": index,
                    "freq_avg": round(hardware.frequency_mhz) if hashing else 0,
                    "rate_ideal": round(
                        m.hashrate_at(m.active_target_w) * 1000 / hardware.chains, 2
                    ),
                    "rate_real": round(m.hashrate_5s_ths * 1000 / hardware.chains, 2),
                    "asic_num": hardware.chips_per_chain,
                    "asic": "o" * hardware.chips_per_chain,
                    "temp_pic": [board - 4, board - 4, board, board],
                    "temp_pcb": [board - 4, board - 4, board, board],
                    "temp_chip": [chip - 6, chip - 6, chip, chip],
                    "hw": 0,
                    "eeprom_loaded": True,
                    "sn": f"{m.serial}{index}",
                    "hwp": 0,
                }
            )
        return {
            **self._web_head("stats"),
            "STATS": [
                {
                    **self._web_rates(),
                    "chain_num": hardware.chains,
                    "fan_num": hardware.fans,
                    "fan": [m.fan_rpm(i) if hashing else 0 for i in range(hardware.fans)],
                    "hwp_total": 0,
                    "miner-mode": self.work_mode,
                    "freq-level": 100,
                    "chain": chains,
                }
            ],
        }

    def _web(self, request: http.Request) -> http.Response:
        if not self.auth.verify(request) or self.faults.auth:
            return self.auth.challenge()
        path = request.path
        if path in ("/", "/index.html"):
            return http.Response.html("<html><head><title>Antminer</title></head></html>")
        if path == "/cgi-bin/get_system_info.cgi":
            return http.Response.json(
                {
                    "minertype": self.model.hardware.type,
                    "nettype": "DHCP",
                    "netdevice": "eth0",
                    "macaddr": self.machine.mac,
                    "hostname": "Antminer",
                    "ipaddress": self.host,
                    "netmask": "255.255.255.0",
                    "system_mode": "GNU/Linux",
                    "system_kernel_version": "Linux 4.9.38 #1 SMP PREEMPT",
                    "system_filesystem_version": self.model.firmware,
                    "firmware_type": "Release",
                    "serinum": self.machine.serial,
                }
            )
        if path == "/cgi-bin/get_miner_conf.cgi":
            return http.Response.json(self.miner_conf())
        if path == "/cgi-bin/set_miner_conf.cgi" and request.method == "POST":
            return self._set_conf(request)
        if path == "/cgi-bin/summary.cgi":
            return http.Response.json(self._web_summary())
        if path == "/cgi-bin/stats.cgi":
            return http.Response.json(self._web_stats())
        if path == "/cgi-bin/get_blink_status.cgi":
            return http.Response.json({"blink": self.blinking})
        if path == "/cgi-bin/blink.cgi" and request.method == "POST":
            try:
                self.blinking = str(request.json().get("blink", "false")).lower() == "true"
            except (ValueError, AttributeError):
                pass
            return http.Response.json({"code": "B000"})
        if path == "/cgi-bin/reboot.cgi":
            self.machine.restart()
            return http.Response.json({"code": "R000"})
        return http.NOT_FOUND


def emulated_models() -> dict[str, Any]:
    """``edge-mining emulate miner --model`` names of stock Antminers, and how to make one."""
    return {model.key: partial(EmulatedAntminer, model=model.key) for model in MODELS.values()}
