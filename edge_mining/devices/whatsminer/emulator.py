"""An emulated Whatsminer (btminer, API 2.0.5) on a loopback address.

Its cgminer-style API on 4028 with the three kinds of command Whatsminers have (see
:mod:`edge_mining.devices.whatsminer.models`): cgminer reads (``summary`` with ``Power``,
``Power Limit``, ``Power Mode``, ``Factory GHS``; ``devs``; ``devdetails`` naming the model,
which pyasic's factory reads to pick ``BTMinerM30SPlusVE40``...), ``get_*`` reads, and the
encrypted writes: the server derives the key and sign from its admin password exactly as the
client does, decrypts the AES-256-ECB request, checks the token and the time it was issued
for (30 minutes), runs the command and encrypts the reply. ``power_off``/``power_on`` switch
the hashboards, the power modes restart btminer at their power.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Unpack

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from passlib.hash import md5_crypt

from edge_mining.devices.emulation import cgminer
from edge_mining.devices.emulation.cgminer import CgminerApi, Reply
from edge_mining.devices.emulation.server import EmulatedDevice, EmulatorOptions, Listener, Timing
from edge_mining.devices.whatsminer.models import MODELS, PowerMode, WhatsminerModel, find_model

RPC_PORT = 4028
TOKEN_LIFETIME_S = 1800.0
SALT_ALPHABET = string.ascii_letters + string.digits


def derive_key(password: str, salt: str) -> str:
    """The hash part of ``md5crypt(password, salt)``: what both ends key AES with."""
    return md5_crypt.using(salt=salt).hash(password).split("$")[3]


def derive_sign(key: str, stamp: str, newsalt: str) -> str:
    return md5_crypt.using(salt=newsalt).hash(key + stamp).split("$")[3]


def _aes(key: str) -> Cipher[modes.ECB]:
    return Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.ECB())


def encrypt(key: str, payload: dict[str, Any]) -> str:
    text = json.dumps(payload).encode()
    text += b"\x00" * (-len(text) % 16)
    encryptor = _aes(key).encryptor()
    return base64.b64encode(encryptor.update(text) + encryptor.finalize()).decode()


def decrypt(key: str, data: str) -> dict[str, Any]:
    decryptor = _aes(key).decryptor()
    plain = decryptor.update(base64.b64decode(data)) + decryptor.finalize()
    decoded = json.loads(plain.rstrip(b"\x00").decode())
    if not isinstance(decoded, dict):
        raise ValueError("not an object")
    return decoded


class EmulatedWhatsminer(EmulatedDevice):
    """One Whatsminer on one loopback address."""

    default_timing = Timing(warmup_s=20.0, ramp_s=40.0, settle_s=20.0)

    def __init__(
        self,
        host: str,
        model: str = "Whatsminer M30S+",
        *,
        password: str = "admin",
        write_enabled: bool = True,
        rpc_port: int = RPC_PORT,
        **options: Unpack[EmulatorOptions],
    ) -> None:
        super().__init__(host, **options)
        self.model: WhatsminerModel = find_model(model)
        self.password = password
        self.write_enabled = write_enabled
        self.rpc_port = rpc_port
        self.mode: PowerMode = self.model.normal
        m = self.model
        self.machine = self.level_machine(
            [(p.power_w, p.hashrate_ths) for p in m.modes],
            default_w=m.normal.power_w,
            idle_w=m.off_w,
            nominal=(m.normal.power_w, m.normal.hashrate_ths),
            hashboards=m.boards,
            fans=2,
        )
        self._salt = "".join(secrets.choice(SALT_ALPHABET) for _ in range(8))
        # Tokens issued: time string -> issue time (monotonic).
        self._issued: dict[str, float] = {}
        self.api = CgminerApi(
            "btminer",
            {
                "version": self._version,
                "summary": self._summary,
                "devs": self._devs,
                "edevs": self._devs,
                "devdetails": self._devdetails,
                "pools": self._pools,
            },
        )
        self._gets = {
            "get_version": self._get_version,
            "get_token": self._get_token,
            "get_miner_info": self._get_miner_info,
            "get_psu": self._get_psu,
            "get_error_code": self._get_error_code,
            "status": self._status,
        }

    def listeners(self) -> Sequence[Listener]:
        return [
            self.cgminer_listener(
                self.rpc_port, self.api.respond, name="btminer API", raw=self.raw_request
            )
        ]

    # ------------------------------------------------------------------- reads

    def _version(self, _p: str | None) -> Reply:
        item = {
            "BTMiner": "2.0.0",
            "API": self.model.api_version,
            "Miner": self.model.firmware,
            "CompileTime": "Thu Mar 28 16:36:08 CST 2024",
            "Type": f"Whatsminer {self.model.model.split('_')[0]}",
        }
        return Reply(22, "BTMiner versions", {"VERSION": [item]})

    def _summary(self, _p: str | None) -> Reply:
        m = self.machine
        hashing = m.hashing_enabled
        chip_avg = round(m.chip_temperature_c(0), 2) if hashing else 30.0
        item = {
            "Elapsed": int(m.bosminer_uptime_s),
            "MHS av": round(m.hashrate_1m_ths * 1e6, 2),
            "MHS 5s": round(m.hashrate_5s_ths * 1e6, 2),
            "MHS 1m": round(m.hashrate_1m_ths * 1e6, 2),
            "MHS 5m": round(m.hashrate_5m_ths * 1e6, 2),
            "MHS 15m": round(m.hashrate_15m_ths * 1e6, 2),
            "HS RT": round(m.hashrate_5s_ths * 1e6, 2),
            "Accepted": m.counters.accepted,
            "Rejected": 0,
            "Total MH": round(m.counters.total_mh, 4),
            "Temperature": round(m.board_temperature_c(0), 2) if hashing else 30.0,
            "freq_avg": 646 if hashing else 0,
            "Fan Speed In": m.fan_rpm(0) if hashing else 0,
            "Fan Speed Out": m.fan_rpm(1) if hashing else 0,
            "Power": round(m.power_w),
            "Power Rate": round(m.power_w / max(m.hashrate_ths, 1e-9), 2) if hashing else 0,
            "Pool Rejected%": 0.0,
            "Pool Stale%": 0.0,
            "Last getwork": 0,
            "Uptime": int(m.uptime_s),
            "Security Mode": 0,
            "Hash Stable": m.tuner_stable,
            "Hash Stable Cost Seconds": 0,
            "Hash Deviation%": 0.1,
            "Target Freq": 574,
            "Target MHS": round(m.hashrate_at(self.mode.power_w) * 1e6),
            "Env Temp": 28.0,
            "Power Mode": self.mode.summary,
            "Factory GHS": round(self.model.normal.hashrate_ths * 1000),
            "Power Limit": round(self.mode.power_w),
            "Chip Temp Min": chip_avg - 8,
            "Chip Temp Max": chip_avg + 6,
            "Chip Temp Avg": chip_avg,
            "Debug": "-0.0_100.0_354",
            "Btminer Fast Boot": "disable",
            "MAC": self.machine.mac,
            "Firmware Version": f"'{self.model.firmware}'",
            "Power Fanspeed": 6000,
            "Error Code Count": 0,
        }
        return Reply(11, "Summary", {"SUMMARY": [item]})

    def _devs(self, _p: str | None) -> Reply:
        m = self.machine
        boards = self.model.boards
        items = [
            {
                "ASC": i,
                "Slot": i,
                "Enabled": "Y",
                "Status": "Alive",
                "Temperature": round(m.board_temperature_c(i), 2),
                "Chip Frequency": 646,
                "MHS av": round(m.hashrate_1m_ths * 1e6 / boards, 2),
                "MHS 5s": round(m.hashrate_5s_ths * 1e6 / boards, 2),
                "MHS 1m": round(m.hashrate_1m_ths * 1e6 / boards, 2),
                "MHS 5m": round(m.hashrate_5m_ths * 1e6 / boards, 2),
                "MHS 15m": round(m.hashrate_15m_ths * 1e6 / boards, 2),
                "Factory GHS": round(self.model.normal.hashrate_ths * 1000 / boards),
                "Upfreq Complete": 1,
                "Effective Chips": self.model.chips,
                "PCB SN": f"{m.serial}B{i}",
                "Chip Data": "K88Z001-2040 BINV01-195001D",
                "Chip Temp Min": round(m.chip_temperature_c(i) - 8, 2),
                "Chip Temp Max": round(m.chip_temperature_c(i) + 6, 2),
                "Chip Temp Avg": round(m.chip_temperature_c(i), 2),
                "chip_vol_diff": 7,
            }
            for i in range(boards)
        ]
        return Reply(9, f"{boards} ASC(s)", {"DEVS": items})

    def _devdetails(self, _p: str | None) -> Reply:
        items = [
            {
                "DEVDETAILS": i,
                "Name": "SM",
                "ID": i,
                "Driver": "bitmicro",
                "Kernel": "",
                "Model": self.model.model,
            }
            for i in range(self.model.boards)
        ]
        return Reply(69, "Device Details", {"DEVDETAILS": items})

    def _pools(self, _p: str | None) -> Reply:
        item = {
            "POOL": 1,
            "URL": "stratum+tcp://btc.viabtc.io:3333",
            "Status": "Alive",
            "Priority": 0,
            "Quota": 1,
            "Getworks": self.machine.counters.accepted // 4,
            "Accepted": self.machine.counters.accepted,
            "Rejected": 0,
            "Works": 0,
            "Discarded": 0,
            "Stale": 0,
            "Get Failures": 0,
            "Remote Failures": 0,
            "User": f"edgemining.wm{self.seed % 1000}",
            "Last Share Time": int(time.time()),
            "Stratum Active": True,
            "Stratum Difficulty": 65536.0,
        }
        return Reply(7, "1 Pool(s)", {"POOLS": [item]})

    def _msg(self, msg: Any, code: int = 131) -> dict[str, Any]:
        when = int(time.time())
        return {"STATUS": "S", "When": when, "Code": code, "Msg": msg, "Description": ""}

    def _get_version(self) -> dict[str, Any]:
        return self._msg(
            {
                "api_ver": self.model.api_version,
                "fw_ver": self.model.firmware,
                "platform": "H616",
                "chip": "K88Z001",
            }
        )

    def _get_token(self) -> dict[str, Any]:
        stamp = str(int(time.time()) % 10000).zfill(4)
        newsalt = "".join(secrets.choice(SALT_ALPHABET) for _ in range(8))
        self._issued[f"{stamp}:{newsalt}"] = time.monotonic()
        return self._msg({"time": stamp, "salt": self._salt, "newsalt": newsalt}, code=134)

    def _get_miner_info(self) -> dict[str, Any]:
        return self._msg(
            {
                "ip": self.host,
                "proto": "dhcp",
                "netmask": "255.255.255.0",
                "dns": "192.168.1.1",
                "mac": self.machine.mac,
                "ledstat": "auto",
                "gateway": "192.168.1.1",
                "hostname": f"WhatsMiner-{self.seed % 10000:04d}",
                "minersn": self.machine.serial,
            }
        )

    def _get_psu(self) -> dict[str, Any]:
        return self._msg(
            {
                "name": "P221B",
                "hw_version": "V01.00",
                "sw_version": "V01.00.V01.03",
                "model": "P221B",
                "iin": "14.6",
                "vin": "23200",
                "fan_speed": "6000",
                "power": str(round(self.machine.power_w)),
            }
        )

    def _get_error_code(self) -> dict[str, Any]:
        return self._msg({"error_code": []})

    def _status(self) -> dict[str, Any]:
        off = not self.machine.hashing_enabled
        firmware = f"'{self.model.firmware}'"
        return self._msg({"mineroff": "true" if off else "false", "FirmwareVersion": firmware})

    # ------------------------------------------------------------------- requests

    def raw_request(self, data: bytes) -> bytes | None:
        """Answer ``get_*`` reads and encrypted writes; None: a cgminer read."""
        request = cgminer.parse_request(data)
        if request is None or not request.json:
            return None
        raw = request.raw
        if "enc" in raw:
            return (json.dumps(self._privileged(raw)) + "\x00").encode()
        get = self._gets.get(str(raw.get("command", raw.get("cmd", ""))))
        if get is not None:
            return (json.dumps(get()) + "\x00").encode()
        return None

    def _error(self, code: int, msg: str) -> dict[str, Any]:
        when = int(time.time())
        return {"STATUS": "E", "When": when, "Code": code, "Msg": msg, "Description": ""}

    def _privileged(self, raw: dict[str, Any]) -> dict[str, Any]:
        if not self.write_enabled:
            return self._error(45, "can't access write cmd")
        key = derive_key(self.password, self._salt)
        try:
            command = decrypt(key, str(raw.get("data", "")))
        except (ValueError, TypeError):
            return self._error(23, "invalid api command or data")  # wrong password: no JSON
        token = str(command.get("token", ""))
        now = time.monotonic()
        valid = False
        for issued, at in list(self._issued.items()):
            if now - at > TOKEN_LIFETIME_S:
                del self._issued[issued]
                continue
            stamp, newsalt = issued.split(":")
            if secrets.compare_digest(derive_sign(key, stamp, newsalt), token):
                valid = True
        if not valid or self.faults.auth:
            return self._error(23, "token is invalid")
        reply = self._write(str(command.get("cmd", "")), command)
        return {"enc": encrypt(key, reply)}

    def _write(self, cmd: str, command: dict[str, Any]) -> dict[str, Any]:
        ok = self._msg("API command OK")
        if cmd == "power_off":
            self.machine.pause()
            return ok
        if cmd == "power_on":
            self.machine.resume()
            return ok
        for mode in self.model.modes:
            if cmd == mode.command:
                if self.faults.refuse_target:
                    return self._error(14, "invalid power mode")
                if mode != self.mode:
                    self.mode = mode
                    self.machine.set_power_target(int(mode.power_w), apply=True, force=True)
                return ok
        if cmd in ("restart_btminer", "reboot"):
            self.machine.restart()
            return ok
        return self._error(14, "invalid cmd")


def emulated_models() -> dict[str, Any]:
    """``edge-mining emulate miner --model`` names of Whatsminers, and how to make one."""
    return {model.key: partial(EmulatedWhatsminer, model=model.key) for model in MODELS.values()}
