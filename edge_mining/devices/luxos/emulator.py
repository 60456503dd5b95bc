"""An emulated Antminer running LuxOS on a loopback address.

The cgminer API on 4028 as LuxOS answers it: ``version`` (``LUXminer``, ``Type``: what pyasic's
factory reads to pick ``LUXMinerS19jPro``...), ``summary``, ``stats`` (Bitmain's layout),
``devs``, ``pools``, ``fans``, ``power``, ``config`` (the active ``Profile``), ``profiles``,
``atm``, ``tempctrl``, ``groups``, ``session``/``logon``/``logoff``, and the commands that
need the session id as their first parameter: ``curtail`` (``sleep``/``wakeup``),
``profileset``, ``atmset``. One session at a time, as LuxOS does: a second ``logon`` while one
is active is refused ("Another session is active"), a wrong session id too.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Unpack

from edge_mining.devices.emulation import bitmain
from edge_mining.devices.emulation.cgminer import CgminerApi, Reply
from edge_mining.devices.emulation.machine import TargetRefused
from edge_mining.devices.emulation.server import EmulatedDevice, EmulatorOptions, Listener
from edge_mining.devices.luxos.models import MODELS, LuxModel, LuxProfile, find_model

RPC_PORT = 4028
SESSION_TIMEOUT_S = 600.0
POOL_URL = "stratum+tcp://btc.global.luxor.tech:700"


class EmulatedLuxOS(EmulatedDevice):
    """One LuxOS Antminer on one loopback address."""

    def __init__(
        self,
        host: str,
        model: str = "Antminer S19j Pro (LuxOS)",
        *,
        password: str = "",
        rpc_port: int = RPC_PORT,
        **options: Unpack[EmulatorOptions],
    ) -> None:
        super().__init__(host, **options)
        del password  # LuxOS's API sessions need no password
        self.model: LuxModel = find_model(model)
        self.rpc_port = rpc_port
        profile = self.model.profile(self.model.default_profile)
        assert profile is not None
        self.profile: LuxProfile = profile
        hardware = self.model.hardware
        self.machine = self.level_machine(
            [(float(p.watts), p.hashrate_ths) for p in self.model.profiles],
            default_w=profile.watts,
            idle_w=self.model.sleep_w,
            nominal=(hardware.nominal_w, hardware.nominal_ths),
            hashboards=hardware.chains,
            fans=hardware.fans,
        )
        self.atm_enabled = False
        self.session_id = ""
        self._session_expiry = 0.0
        self.api = CgminerApi(
            "LUXminer",
            {
                "version": self._version,
                "summary": self._summary,
                "stats": self._stats,
                "devs": self._devs,
                "pools": self._pools,
                "fans": self._fans,
                "power": self._power,
                "config": self._config,
                "profiles": self._profiles,
                "atm": self._atm,
                "tempctrl": self._tempctrl,
                "groups": self._groups,
                "session": self._session,
                "logon": self._logon,
                "logoff": self._logoff,
                "curtail": self._curtail,
                "profileset": self._profileset,
                "atmset": self._atmset,
            },
        )

    def listeners(self) -> Sequence[Listener]:
        return [self.cgminer_listener(self.rpc_port, self.api.respond)]

    def on_reconnect(self) -> None:
        self.session_id = ""  # a reboot ends the session

    # ------------------------------------------------------------------- reads

    def _version(self, _p: str | None) -> Reply:
        model = self.model
        miner = model.firmware.split("-")[0]
        item = {
            "API": "3.7",
            "CompileTime": "Tue Jun 18 18:19:10 UTC 2024",
            "LUXminer": model.firmware,
            "Miner": miner,
            "Type": model.hardware.type,
        }
        return Reply(22, "LUXminer versions", {"VERSION": [item]})

    def _summary(self, _p: str | None) -> Reply:
        return bitmain.summary(self.machine)

    def _stats(self, _p: str | None) -> Reply:
        return bitmain.stats(
            self.machine,
            self.model.hardware,
            miner_key="LUXminer",
            miner_version=self.model.firmware,
            compile_time="Tue Jun 18 18:19:10 UTC 2024",
            frequency_mhz=self.profile.frequency_mhz,
        )

    def _devs(self, _p: str | None) -> Reply:
        return bitmain.devs(self.machine, self.model.hardware)

    def _pools(self, _p: str | None) -> Reply:
        item = bitmain.pools_item(self.machine, f"edgemining.lux{self.seed % 1000}", POOL_URL)
        item["GROUP"] = 0  # LuxOS puts every pool in a group
        return Reply(7, "1 Pool(s)", {"POOLS": [item]})

    def _fans(self, _p: str | None) -> Reply:
        m = self.machine
        fans = [
            {"FANS": i, "ID": i, "RPM": m.fan_rpm(i) if m.hashing_enabled else 0, "Speed": 70}
            for i in range(self.model.hardware.fans)
        ]
        return Reply(
            202,
            "Fan configuration",
            {"FANS": fans, "FANCTRL": [{"MinFans": 4, "Mode": "Auto"}]},
        )

    def _power(self, _p: str | None) -> Reply:
        watts = round(self.machine.power_w)
        return Reply(320, "Power", {"POWER": [{"PSU": True, "Watts": watts, "WattsLimit": 0}]})

    def _config(self, _p: str | None) -> Reply:
        item = {
            "ASC Count": self.model.hardware.chains,
            "Profile": self.profile.name,
            "RedLed": "off",
            "GreenLed": "auto",
            "MACAddr": self.machine.mac,
            "Hostname": f"luxos-{self.seed % 10000:04d}",
            "IsAtmEnabled": self.atm_enabled,
            "IsTuning": False,
            "SystemStatus": "Normal" if self.machine.hashing_enabled else "Curtailed",
            "Model": self.model.hardware.type,
        }
        return Reply(33, "LUXminer config", {"CONFIG": [item]})

    def _profiles(self, _p: str | None) -> Reply:
        items = [
            {
                "Profile Name": p.name,
                "Frequency": p.frequency_mhz,
                "Voltage": p.voltage_v,
                "Watts": p.watts,
                "Hashrate": p.hashrate_ths,
                "IsTuned": True,
                "IsDynamic": False,
                "Step": str(i - self.model.profiles.index(self.profile)),
            }
            for i, p in enumerate(self.model.profiles)
        ]
        return Reply(327, "Profiles", {"PROFILES": items})

    def _atm(self, _p: str | None) -> Reply:
        profiles = self.model.profiles
        item = {
            "Enabled": self.atm_enabled,
            "MaxProfile": profiles[-1].name,
            "MinProfile": profiles[0].name,
            "PostRampMinutes": 15,
            "StartupMinutes": 15,
            "TempWindow": 7,
        }
        return Reply(339, "ATM configuration values", {"ATM": [item]})

    def _tempctrl(self, _p: str | None) -> Reply:
        item = {"Cold": 5, "Dangerous": 95, "Hot": 85, "Mode": "Auto", "Target": 75}
        return Reply(321, "Temperature control", {"TEMPCTRL": [item]})

    def _groups(self, _p: str | None) -> Reply:
        group = {"GROUP": 0, "Name": "Default", "Quota": 1, "Pools": [{"POOL": 0}]}
        return Reply(342, "Groups", {"GROUPS": [group]})

    # ------------------------------------------------------------------- sessions

    def _active_session(self) -> str:
        if self.session_id and time.monotonic() > self._session_expiry:
            self.session_id = ""
        return self.session_id

    def _session(self, _p: str | None) -> Reply:
        return Reply(402, "Session", {"SESSION": [{"SessionID": self._active_session()}]})

    def _logon(self, _p: str | None) -> Reply:
        if self.faults.auth:
            return Reply.error(403, "Logon refused")
        if self._active_session():
            return Reply.error(402, "Another session is active")
        self.session_id = secrets.token_hex(4)
        self._session_expiry = time.monotonic() + SESSION_TIMEOUT_S
        return Reply(400, "Session created", {"SESSION": [{"SessionID": self.session_id}]})

    def _privileged(self, parameter: str | None) -> tuple[Reply | None, list[str]]:
        """Check the session id that leads ``parameter``; returns (refusal, the rest)."""
        sid, *rest = (parameter or "").split(",")
        if not sid or sid != self._active_session() or self.faults.auth:
            return Reply.error(401, "Invalid session id"), rest
        self._session_expiry = time.monotonic() + SESSION_TIMEOUT_S
        return None, rest

    def _logoff(self, parameter: str | None) -> Reply:
        refusal, _ = self._privileged(parameter)
        if refusal is not None:
            return refusal
        self.session_id = ""
        return Reply(401, "Session terminated")

    def _curtail(self, parameter: str | None) -> Reply:
        refusal, rest = self._privileged(parameter)
        if refusal is not None:
            return refusal
        action = rest[0].strip().lower() if rest else ""
        if action == "sleep":
            self.machine.pause()
        elif action == "wakeup":
            self.machine.resume()
        else:
            return Reply.error(14, f"Invalid curtail action: {action or 'none'}")
        return Reply(325, f"Curtail {action} started", {"CURTAIL": [{"Action": action}]})

    def _profileset(self, parameter: str | None) -> Reply:
        refusal, rest = self._privileged(parameter)
        if refusal is not None:
            return refusal
        profile = self.model.profile(rest[0]) if rest else None
        if profile is None:
            return Reply.error(14, f"Invalid profile: {rest[0] if rest else ''}")
        if self.faults.refuse_target or self.atm_enabled:
            return Reply.error(14, "Cannot change profile while ATM is enabled")
        try:
            self.machine.set_power_target(profile.watts, apply=True, force=False)
        except TargetRefused as exc:
            return Reply.error(14, str(exc))
        self.profile = profile
        return Reply(328, "Profile set", {"PROFILE": [{"Profile": profile.name, "Board": -1}]})

    def _atmset(self, parameter: str | None) -> Reply:
        refusal, rest = self._privileged(parameter)
        if refusal is not None:
            return refusal
        for item in rest:
            key, _, value = item.partition("=")
            if key.strip() == "enabled":
                self.atm_enabled = value.strip().lower() == "true"
        return Reply(340, "ATM configuration updated", {"ATM": [{"Enabled": self.atm_enabled}]})


def emulated_models() -> dict[str, Any]:
    """``edge-mining emulate miner --model`` names of LuxOS miners, and how to make one."""
    return {model.key: partial(EmulatedLuxOS, model=model.key) for model in MODELS.values()}
