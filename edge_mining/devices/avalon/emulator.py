"""An emulated Canaan Avalon home miner (Nano 3, Nano 3S, Mini 3, Q) on a loopback address.

It speaks what Canaan's cgminer 4.11.1 speaks on TCP 4028, in both request forms (JSON and
``command|parameter`` text): ``version`` with the model's identity (what pyasic's factory
reads to pick ``CGMinerAvalonNano3``, ``CGMinerAvalonNano3s``, ``CGMinerAvalonMini3`` or
``CGMinerAvalonQHome``), ``summary``, ``devs``, ``pools``, ``stats`` and ``estats`` with the
``MM ID0`` bracket string, and ``ascset`` with the options of the model's firmware:
``workmode``/``worklevel``/``work_mode_lvl`` get and set, ``softoff``/``softon`` with their
``1:<unix time>`` trigger (Mini 3 and Q only), ``reboot``, ``lcd``, ``help``. Replies use
cgminer's codes: 119 "ASC 0 set OK", 118 "ASC 0 set info: ...", 120 "ASC 0 set failed: ...".

The web interface on port 80 (optional: it needs privileges) serves a page naming the Avalon
and ``get_minerinfo.cgi`` behind the ``auth`` cookie (salt + sha256(password)[:24]).

The machine behind it is the shared :class:`~edge_mining.devices.emulation.machine.
MinerMachine`: a new level is applied live and settles, soft off drops to standby draw at the
requested time on the miner's clock, soft on warms up and ramps.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Unpack

from edge_mining.devices.avalon.models import MODELS, AvalonLevel, AvalonModel, find_model
from edge_mining.devices.emulation import http
from edge_mining.devices.emulation.cgminer import CgminerApi, Reply
from edge_mining.devices.emulation.cgminer_summary import mhs, summary_item
from edge_mining.devices.emulation.machine import TargetRefused
from edge_mining.devices.emulation.server import EmulatedDevice, EmulatorOptions, Listener

RPC_PORT = 4028
WEB_PORT = 80
CGMINER_VERSION = "4.11.1"
DESCRIPTION = f"cgminer {CGMINER_VERSION}"
POOL_URL = "stratum+tcp://stratum.braiins.com:3333"

ASC_OK, ASC_INFO, ASC_FAILED = 119, 118, 120


class EmulatedAvalon(EmulatedDevice):
    """One Avalon on one loopback address."""

    def __init__(
        self,
        host: str,
        model: str = "Avalon Q",
        *,
        password: str = "admin",
        level: str | None = None,
        rpc_port: int = RPC_PORT,
        web_port: int | None = WEB_PORT,
        **options: Unpack[EmulatorOptions],
    ) -> None:
        super().__init__(host, **options)
        self.model: AvalonModel = find_model(model)
        self.password = password
        self.rpc_port = rpc_port
        self.web_port = web_port
        self.level: AvalonLevel = self.model.level(level or self.model.default_level)
        self.machine = self.level_machine(
            [(lv.power_w, lv.hashrate_ths) for lv in self.model.levels],
            default_w=self.level.power_w,
            idle_w=self.model.standby_w,
            fans=self.model.fans,
        )
        # Mini 3 only: what the heat is for (0 heating, 1 mining, 2 night); no effect on power.
        self.purpose = 0
        self.lcd_on = True
        self.dna = f"0201{self.seed:012x}"[-16:]
        self.api = CgminerApi(
            DESCRIPTION,
            {
                "version": self._version,
                "summary": self._summary,
                "devs": self._devs,
                "pools": self._pools,
                "stats": partial(self._stats, extended=False),
                "estats": partial(self._stats, extended=True),
                "ascset": self._ascset,
            },
            when=self.clock.now,  # the miner's own clock, as its replies' "When" says
        )
        self._web_salt = f"{self.seed:08x}"[-8:]

    # ------------------------------------------------------------------- listeners

    def listeners(self) -> Sequence[Listener]:
        listeners = [self.cgminer_listener(self.rpc_port, self.api.respond)]
        if self.web_port is not None:
            listeners.append(self.web_listener(self.web_port, self._web, required=False))
        return listeners

    # ------------------------------------------------------------------- identity

    @property
    def mac_hex(self) -> str:
        return self.machine.mac.replace(":", "").lower()

    @property
    def mining(self) -> bool:
        """Hashing or about to (not in soft off)."""
        return self.machine.hashing_enabled

    def _version(self, _parameter: str | None) -> Reply:
        model = self.model
        item: dict[str, Any] = {
            "CGMiner": CGMINER_VERSION,
            "API": "3.7",
            "PROD": model.prod,
            "MODEL": model.model,
            "HWTYPE": model.hwtype,
            "SWTYPE": model.swtype,
        }
        if model.swtype.startswith("MM318"):
            # The original Nano 3's older firmware reports fewer fields.
            item["VERSION"] = model.firmware
            item["HVERSION"] = f"{model.firmware.split('_')[0]}_b906c52_6223725"
        else:
            for key in ("LVERSION", "BVERSION", "CGVERSION"):
                item[key] = model.firmware
            item["DNA"] = self.dna
            item["MAC"] = self.mac_hex
        item["UPAPI"] = "2"
        return Reply(22, "CGMiner versions", {"VERSION": [item]})

    # ------------------------------------------------------------------- telemetry

    def _summary(self, _parameter: str | None) -> Reply:
        item = summary_item(self.machine, share_difficulty=8192)
        return Reply(11, "Summary", {"SUMMARY": [item]})

    def _devs(self, _parameter: str | None) -> Reply:
        m = self.machine
        item = {
            "ASC": 0,
            "Name": "AVALON",
            "ID": 0,
            "Enabled": "Y",
            "Status": "Alive",
            "Temperature": -273.0,
            "MHS av": mhs(m.hashrate_1m_ths),
            "MHS 30s": mhs(m.hashrate_5s_ths),
            "MHS 1m": mhs(m.hashrate_1m_ths),
            "MHS 5m": mhs(m.hashrate_5m_ths),
            "MHS 15m": mhs(m.hashrate_15m_ths),
            "Accepted": m.counters.accepted,
            "Rejected": 0,
            "Hardware Errors": 0,
            "Utility": 0.0,
            "Last Share Pool": 0,
            "Last Share Time": int(time.time()),
            "Total MH": round(m.counters.total_mh, 0),
            "Diff1 Work": 0,
            "Difficulty Accepted": 0.0,
            "Difficulty Rejected": 0.0,
            "Last Share Difficulty": 0.0,
            "Last Valid Work": int(time.time()),
            "Device Hardware%": 0.0,
            "Device Rejected%": 0.0,
            "Device Elapsed": int(m.bosminer_uptime_s),
        }
        return Reply(9, "1 ASC(s)", {"DEVS": [item]})

    def _pools(self, _parameter: str | None) -> Reply:
        m = self.machine
        item = {
            "POOL": 0,
            "URL": POOL_URL,
            "Status": "Alive",
            "Priority": 0,
            "Quota": 1,
            "Long Poll": "N",
            "Getworks": m.counters.accepted // 4,
            "Accepted": m.counters.accepted,
            "Rejected": 0,
            "Works": m.counters.accepted * 8,
            "Discarded": 0,
            "Stale": 0,
            "Get Failures": 0,
            "Remote Failures": 0,
            "User": f"edgemining.avalon{self.seed % 1000}",
            "Last Share Time": int(time.time()),
            "Diff1 Shares": 0,
            "Proxy Type": "",
            "Proxy": "",
            "Difficulty Accepted": 0.0,
            "Difficulty Rejected": 0.0,
            "Difficulty Stale": 0.0,
            "Last Share Difficulty": 8192.0,
            "Work Difficulty": 8192.0,
            "Has Stratum": True,
            "Stratum Active": True,
            "Stratum URL": "stratum.braiins.com",
            "Stratum Difficulty": 8192.0,
            "Has Vmask": True,
            "Has GBT": False,
            "Best Share": 0,
            "Pool Rejected%": 0.0,
            "Pool Stale%": 0.0,
            "Bad Work": 0,
            "Current Block Height": 0,
            "Current Block Version": 536870912,
        }
        return Reply(7, "1 Pool(s)", {"POOLS": [item]})

    def mm_fields(self, *, extended: bool) -> list[tuple[str, str]]:
        """The ``MM ID0`` key/value pairs, in the firmware's order."""
        m = self.machine
        model = self.model
        power = round(m.power_w)
        ghs = m.hashrate_5s_ths * 1000
        ghs_avg = m.hashrate_1m_ths * 1000
        hashing = m.hashing_enabled
        tmax = round(m.chip_temperature_c(0)) if hashing else 0
        tavg = round(m.board_temperature_c(0)) if hashing else 0
        fans = [m.fan_rpm(i) if hashing else 0 for i in range(model.fans)]
        fan_pct = round(min(100, 100 * m.power_w / model.nominal.power_w)) if hashing else 0
        work = "In Work" if hashing else "In Idle"
        level = self.level
        mode = level.value if model.level_field == "WORKMODE" else self.purpose
        worklevel = level.value if model.level_field == "WORKLEVEL" else 0
        if model.power_index == 5:
            ps = f"0 0 0 4 2756 {power} 330"
        elif model.chips >= 60:
            ps = f"0 1217 2396 54 1305 2397 {power}"
        else:
            ps = f"0 0 27541 4 0 3756 {power}"
        fields: list[tuple[str, str]] = [
            ("Ver", f"{model.ver_prefix}-{model.firmware}"),
            ("LVer", model.firmware),
            ("BVer", model.firmware),
        ]
        if model.key == "Avalon Q":
            fields += [("HashMcu0Ver", "Q_hb_v1.1"), ("FanMcuVer", "Q_fb_v1.2"), ("CPU", "K230")]
        fields += [
            ("FW", "Release"),
            ("DNA", self.dna),
            ("STATE", "1" if hashing else "2"),
            ("MEMFREE", "63728"),
            ("NETFAIL", "0 0 0 0 0 0 0 0"),
            ("SYSTEMSTATU", f"Work: {work}, Hash Board: 1"),
            ("Elapsed", str(int(m.uptime_s))),
            ("BOOTBY", "0x01.00000000"),
            ("LW", str(m.counters.accepted * 64)),
            ("MH", "0"),
            ("DHW", "0"),
            ("HW", "0"),
            ("DH", "1.200%"),
            ("ITemp", "-273" if model.chips < 60 else "26"),
            ("OTemp", str(max(tavg - 20, 0))),
            ("TMax", str(tmax)),
            ("TAvg", str(tavg)),
            ("TarT", "90" if model.chips < 60 else "65"),
        ]
        fields += [(f"Fan{i + 1}", str(rpm)) for i, rpm in enumerate(fans)]
        fields += [
            ("FanR", f"{fan_pct}%"),
            ("PS", ps),
            ("GHSspd", f"{ghs:.2f}"),
            ("DHspd", "1.200%"),
            ("GHSmm", f"{m.hashrate_at(level.power_w) * 1000:.2f}"),
            ("GHSavg", f"{ghs_avg:.2f}"),
            ("WU", f"{ghs_avg * 14:.2f}"),
            ("Freq", f"{400 * level.power_w / model.nominal.power_w + 100:.2f}"),
            ("MGHS", f"{ghs_avg:.2f}"),
            ("MTmax", str(tmax)),
            ("MTavg", str(tavg)),
            ("TA", str(model.chips)),
            ("Core", "A3197S"),
            ("BIN", "36"),
            ("PING", "42"),
            ("SoftOFF", "0" if hashing else ("4" if model.soft_off else "0")),
            ("ECHU", "0"),
            ("ECMM", "0"),
            ("PLL0", "499 254 423 648"),
            ("SF0", "432 450 471 492"),
        ]
        if extended and model.key != "Avalon Q":
            temps = " ".join(str(tmax - (i % 3)) for i in range(model.chips))
            volts = " ".join(str(300 + i % 5) for i in range(model.chips))
            fields += [("PVT_T0", temps), ("PVT_V0", volts)]
        fields += [
            ("CRC", "0"),
            ("COMCRC", "0"),
            ("WORKMODE", str(mode)),
            ("WORKLEVEL", str(worklevel)),
        ]
        if model.key != "Avalon Nano 3":
            fields.append(("MPO", str(round(level.power_w))))
        fields += [("CALIALL", "7"), ("ADJ", "1")]
        return fields

    def mm_string(self, *, extended: bool) -> str:
        text = " ".join(f"{key}[{value}]" for key, value in self.mm_fields(extended=extended))
        if self.model.stats_key != "MM ID0":
            return "'STATS':{" + text + " Nonce Mask[25]}"
        return text + " Nonce Mask[25]"

    def _stats(self, _parameter: str | None, *, extended: bool) -> Reply:
        m = self.machine
        item: dict[str, object] = {
            "STATS": 0,
            "ID": "AVANANO0" if self.model.key == "Avalon Nano 3" else "AVA100",
            "Elapsed": int(m.uptime_s),
            "Calls": 0,
            "Wait": 0.0,
            "Max": 0.0,
            "Min": 99999999.0,
            self.model.stats_key: self.mm_string(extended=extended),
        }
        if extended and self.model.key == "Avalon Q":
            tmax = round(m.chip_temperature_c(0)) if m.hashing_enabled else 0
            temps = " ".join(str(tmax - (i % 4)) for i in range(self.model.chips))
            item["HBinfo"] = "'HB0':{PVT_T0[" + temps + "]}"
        item.update(
            {
                "MM Count": 1,
                "Smart Speed": 1,
                "Connection Overloaded": False,
                "Voltage Level Offset": 0,
                "Nonce Mask": 25,
            }
        )
        pool = {
            "STATS": 1,
            "ID": "POOL0",
            "Elapsed": int(m.uptime_s),
            "Calls": 0,
            "Wait": 0.0,
            "Max": 0.0,
            "Min": 99999999.0,
            "Pool Calls": 0,
            "Pool Attempts": 0,
            "Pool Wait": 0.0,
            "Pool Max": 0.0,
            "Pool Min": 99999999.0,
            "Pool Av": 0.0,
            "Work Had Roll Time": False,
            "Work Can Roll": False,
            "Work Had Expire": False,
            "Work Roll Time": 0,
            "Work Diff": 8192.0,
            "Min Diff": 8192.0,
            "Max Diff": 8192.0,
            "Min Diff Count": 1,
            "Max Diff Count": 1,
            "Times Sent": m.counters.accepted,
            "Bytes Sent": m.counters.accepted * 150,
            "Times Recv": m.counters.accepted,
            "Bytes Recv": m.counters.accepted * 100,
            "Net Bytes Sent": m.counters.accepted * 150,
            "Net Bytes Recv": m.counters.accepted * 100,
        }
        return Reply(70, "CGMiner stats", {"STATS": [item, pool]})

    # ------------------------------------------------------------------- ascset

    def options(self) -> list[str]:
        """The ``ascset`` options this model's firmware knows, in its help order."""
        opts = ["help", "voltage", "fan-spd", "lcd", "hash-sn-read"]
        if self.model.key != "Avalon Nano 3":
            opts += ["workmode"]
        opts += ["worklevel", "work_mode_lvl", "reboot"]
        if self.model.soft_off:
            opts += ["softon", "softoff"]
        opts += ["filter-clean", "facopts", "faclock", "frequency", "loop", "password", "qr_auth"]
        return opts

    def _ascset(self, parameter: str | None) -> Reply:
        if not parameter:
            return Reply.error(17, "Missing device id parameter")
        asc, _, rest = parameter.partition(",")
        if not rest:
            return Reply.error(58, "Missing option after ASC number")
        if asc.strip() != "0":
            return Reply.error(107, f"Invalid ASC id {asc.strip()} - range is 0 - 0")
        option, _, setting = rest.partition(",")
        option = option.strip().lower()
        if option not in self.options():
            return self._failed(f"Unknown option: {option}")
        if option == "help":
            return self._info("|".join(self.options()) + "|")
        if not setting and option not in ("loop", "voltage"):
            return self._failed(f"missing {option} setting")
        handler = {
            "workmode": self._workmode,
            "worklevel": self._worklevel,
            "work_mode_lvl": self._work_mode_lvl,
            "softoff": partial(self._soft, False),
            "softon": partial(self._soft, True),
            "reboot": self._reboot,
            "lcd": self._lcd,
        }.get(option)
        if handler is None:
            return self._ok()  # accepted and ignored: nothing the emulation models
        return handler(setting)

    def _ok(self) -> Reply:
        return Reply(ASC_OK, "ASC 0 set OK")

    def _info(self, text: str) -> Reply:
        return Reply(ASC_INFO, f"ASC 0 set info: {text}", status="I")

    def _failed(self, why: str) -> Reply:
        return Reply.error(ASC_FAILED, f"ASC 0 set failed: {why}")

    def _apply_level(self, level: AvalonLevel) -> Reply:
        if self.faults.refuse_target:
            # The firmware's own refusal while it calibrates after a boot.
            mode = self.level.value
            return self._failed(f"current mode {mode} is caling Don't permit switch mode")
        if level != self.level:
            try:
                self.machine.set_power_target(int(level.power_w), apply=True, force=False)
            except TargetRefused as exc:
                return self._failed(str(exc))
            self.level = level
        return self._ok()

    def _workmode(self, setting: str) -> Reply:
        verb, _, value = setting.partition(",")
        if verb == "get":
            mode = self.level.value if self.model.level_field == "WORKMODE" else self.purpose
            return self._info(f"workmode {mode}")
        if verb != "set" or not _is_int(value):
            return self._failed("error:2 parameter error")
        mode = int(value)
        if self.model.level_field != "WORKMODE":
            if mode not in (0, 1, 2):
                return self._failed("error:1 not support set workmode max_mode[2]")
            self.purpose = mode  # Mini 3: heating / mining / night
            return self._ok()
        level = self.model.level_of(mode)
        if level is None:
            top = self.model.levels[-1].value
            return self._failed(f"error:1 not support set workmode max_mode[{top}]")
        return self._apply_level(level)

    def _worklevel(self, setting: str) -> Reply:
        verb, _, value = setting.partition(",")
        current = self.level.value if self.model.level_field == "WORKLEVEL" else 0
        if verb == "get":
            return self._info(f"worklevel {current}")
        if verb != "set" or not _is_int(value):
            return self._failed("worklevel unknown argument")
        wanted = int(value)
        if self.model.level_field != "WORKLEVEL":
            return self._ok() if wanted == 0 else self._failed("worklevel unknown argument")
        level = self.model.level_of(wanted)
        if level is None:
            return self._failed("worklevel unknown argument")
        return self._apply_level(level)

    def _work_mode_lvl(self, setting: str) -> Reply:
        parts = setting.split(",")
        if parts[0] == "get":
            mode = self.level.value if self.model.level_field == "WORKMODE" else self.purpose
            worklevel = self.level.value if self.model.level_field == "WORKLEVEL" else 0
            return self._info(f"workmode {mode} worklevel {worklevel}")
        if len(parts) != 3 or parts[0] != "set" or not all(map(_is_int, parts[1:])):
            return self._failed("error:2 parameter error")
        reply = self._workmode(f"set,{parts[1]}")
        if reply.code != ASC_OK:
            return reply
        return self._worklevel(f"set,{parts[2]}")

    def _soft(self, on: bool, setting: str) -> Reply:
        """``softoff``/``softon`` with ``1:<unix time>``: happens when the miner's clock
        reaches that time (at once when it is already past)."""
        index, sep, stamp = setting.partition(":")
        if not sep or not _is_int(stamp):
            return self._failed(f"{'softon' if on else 'softoff'} unknown argument")
        del index
        self.machine.schedule_mining(on, max(float(stamp), self.clock.now()))
        return self._info(f"success {'softon' if on else 'softoff'}:{stamp}")

    def _reboot(self, _setting: str) -> Reply:
        self.machine.restart()
        return self._ok()

    def _lcd(self, setting: str) -> Reply:
        _, _, value = setting.partition(":")
        self.lcd_on = value.strip() != "0"
        return self._ok()

    # ------------------------------------------------------------------- web

    def _authorised(self, request: http.Request) -> bool:
        cookie = request.cookies.get("auth", "")
        digest = hashlib.sha256(self.password.encode()).hexdigest()[:24]
        return cookie.endswith(digest)

    def _web(self, request: http.Request) -> http.Response:
        path = request.path
        if path in ("/", "/index.html", "/login.cgi"):
            return http.Response.html(
                "<!DOCTYPE html><html><head><meta charset='utf-8'>"
                f"<title>{self.model.key}</title></head><body>"
                f"<div id='login'>Avalon Device Login</div></body></html>"
            )
        if path == "/get_auth.cgi":
            return http.Response.text(
                'getAuthCallback({"auth":"'
                + self._web_salt
                + '","code":"'
                + hashlib.sha256(self.dna.encode()).hexdigest()[:24]
                + '"});'
            )
        if path in ("/get_minerinfo.cgi", "/get_miner_info.cgi"):
            if not self._authorised(request):
                return http.Response.html("<html><title>Avalon Device Login</title></html>")
            info = (
                '{"mac":"'
                + self.machine.mac.lower()
                + '","hwtype":"'
                + self.model.key
                + '","version":"'
                + self.model.firmware
                + '","dna":"'
                + self.dna
                + '"}'
            )
            return http.Response.text(f"minerinfoCallback({info});")
        return http.NOT_FOUND


def _is_int(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


def emulated_models() -> dict[str, Any]:
    """``edge-mining emulate miner --model`` names of Avalon miners, and how to make one."""
    return {model.key: partial(EmulatedAvalon, model=model.key) for model in MODELS.values()}
