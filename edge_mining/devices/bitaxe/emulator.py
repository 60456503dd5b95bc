"""An emulated ESP-Miner board (Bitaxe on AxeOS, or NerdQAxe) on a loopback address.

The HTTP API on port 80, as the firmwares serve it: ``/`` (the AxeOS page, or NerdQAxe's
"Nerd*axe Dashboard"), ``GET /api/system/info`` with the firmware's fields (power in W,
``hashRate`` in GH/s, ``frequency``, ``coreVoltage``, ``miningPaused``/``shutdown``...),
``GET /api/system/asic`` with the frequency and voltage options, ``PATCH /api/system``
(JSON settings; an empty 200 reply, "Invalid JSON" 400 on a bad body), ``POST
/api/system/restart``, and ``POST /api/system/pause``/``resume`` (AxeOS) or
``POST /api/system/shutdown`` (NerdQAxe). Port 80 is the only way in, so it is required: the
emulator needs the privilege to bind it (root, or CAP_NET_BIND_SERVICE).

A new frequency is applied live (the ASICs ramp to it, the draw settles), a pause powers the
ASICs down (the ESP32 stays on the network), a restart warms up and ramps.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Unpack

from edge_mining.devices.bitaxe.models import BOARDS, EspMinerBoard, find_board
from edge_mining.devices.emulation import http
from edge_mining.devices.emulation.machine import HardwareSpec, PowerCurve, TargetRefused
from edge_mining.devices.emulation.server import EmulatedDevice, EmulatorOptions, Listener, Timing

WEB_PORT = 80
AXEOS_PAGE = (
    '<!doctype html>\n<html lang="en" class="dark-mode">\n<head>\n  <meta charset="utf-8">\n'
    '  <title>AxeOS</title>\n  <base href="/">\n</head>\n<body>\n  <app-root></app-root>\n'
    "</body>\n</html>\n"
)
NERDQAXE_PAGE = (
    '<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
    '  <title>Nerd*axe Dashboard</title>\n  <base href="/">\n</head>\n<body>\n'
    "  <app-root></app-root>\n</body>\n</html>\n"
)


class EmulatedEspMiner(EmulatedDevice):
    """One Bitaxe or NerdQAxe on one loopback address."""

    default_timing = Timing(warmup_s=8.0, ramp_s=10.0, settle_s=5.0)

    def __init__(
        self,
        host: str,
        model: str = "Bitaxe Gamma",
        *,
        password: str = "",
        web_port: int = WEB_PORT,
        **options: Unpack[EmulatorOptions],
    ) -> None:
        super().__init__(host, **options)
        del password  # ESP-Miner's API has no login: it trusts the local network
        self.board: EspMinerBoard = find_board(model)
        board = self.board
        self.web_port = web_port
        self.frequency = float(board.default_frequency)
        self.core_voltage = board.default_voltage
        low, high = min(board.frequencies), max(board.frequencies)
        spec = HardwareSpec(
            nominal_ths=board.hashrate_ths(board.default_frequency),
            nominal_w=board.nominal_w,
            min_target_w=int(board.power_w(low * 0.5)),
            max_target_w=int(board.power_w(high * 1.5)) + 1,
            default_target_w=round(board.power_w(board.default_frequency)),
            idle_w=board.paused_w,
            fans=board.fans,
        )
        # Hashrate is linear in frequency, and so in the part of the power above static.
        top = board.power_w(high * 1.5)
        curve = PowerCurve(
            (
                (board.static_w, 0.0),
                (top, board.hashrate_ths(high * 1.5)),
            )
        )
        self.machine = self.new_machine(spec, curve)
        self.hostname = ("nerdqaxe-" if board.nerdqaxe else "bitaxe-") + f"{self.seed % 10000:04d}"
        self.settings: dict[str, Any] = {
            "stratumURL": "public-pool.io",
            "stratumPort": 21496,
            "stratumUser": "bc1qedgemining.bitaxe",
            "fanspeed": 100,
            "autofanspeed": 1,
            "temptarget": 60,
        }
        self.shutdown = False  # NerdQAxe: ASICs off until a restart
        self.started_wall = time.time()

    def listeners(self) -> Sequence[Listener]:
        return [self.web_listener(self.web_port, self._web)]

    # ------------------------------------------------------------------- telemetry

    @property
    def paused(self) -> bool:
        return not self.machine.hashing_enabled

    def system_info(self) -> dict[str, Any]:
        m = self.machine
        board = self.board
        power = m.power_w
        hashing = m.hashing_enabled
        ghs = m.hashrate_5s_ths * 1000
        chip = round(m.chip_temperature_c(0) * 0.8, 1) if hashing else 30.0
        info: dict[str, Any] = {
            "power": round(power, 2),
            "voltage": 5000.0 if not board.nerdqaxe else 12000.0,
            "current": round(power / (5.0 if not board.nerdqaxe else 12.0) * 1000, 1),
            "temp": chip,
            "vrTemp": round(chip + 5, 1),
            "hashRate": round(ghs, 2),
            "hashRate_1m": round(m.hashrate_1m_ths * 1000, 2),
            "hashRate_10m": round(m.hashrate_5m_ths * 1000, 2),
            "hashRate_1h": round(m.hashrate_15m_ths * 1000, 2),
            "expectedHashrate": round(board.hashrate_ths(self.frequency) * 1000, 2),
            "bestDiff": 0,
            "bestSessionDiff": 0,
            "coreVoltage": self.core_voltage,
            "coreVoltageActual": self.core_voltage - 8 if hashing else 0,
            "frequency": self.frequency,
            "actualFrequency": self.frequency if hashing else 0,
            "hostname": self.hostname,
            "macAddr": m.mac.upper(),
            "wifiStatus": "Connected!",
            "wifiRSSI": -55,
            "sharesAccepted": m.counters.accepted,
            "sharesRejected": 0,
            "uptimeSeconds": int(m.uptime_s),
            "smallCoreCount": board.small_cores,
            "ASICModel": board.asic_model,
            "asicCount": board.asic_count,
            "fanspeed": self.settings["fanspeed"] if hashing else 20,
            "fanrpm": m.fan_rpm(0) if hashing else 1500,
            "version": board.firmware,
            "boardVersion": board.board_version,
            "maxPower": board.max_power_w,
            **{k: v for k, v in self.settings.items() if k not in ("fanspeed",)},
        }
        if board.nerdqaxe:
            info.update(
                {
                    "deviceModel": board.device_model,
                    "shutdown": self.shutdown,
                    "fanrpm2": m.fan_rpm(1) if hashing else 1400,
                    "fanCount": board.fans,
                    "defaultFrequency": board.default_frequency,
                    "defaultCoreVoltage": board.default_voltage,
                    "minPower": 30.0,
                }
            )
        else:
            info.update(
                {
                    "miningPaused": not m.mining_enabled,
                    "nominalVoltage": 5,
                    "axeOSVersion": board.firmware,
                    "idfVersion": "v5.5.1",
                    "overheat_mode": 0,
                    "isUsingFallbackStratum": 0,
                    "runningPartition": "ota_0",
                    "resetReason": "Software reset via esp_restart",
                }
            )
        return info

    def asic_info(self) -> dict[str, Any]:
        board = self.board
        info: dict[str, Any] = {
            "ASICModel": board.asic_model,
            "deviceModel": board.device_model,
            "swarmColor": "green" if board.asic_model == "BM1370" else "blue",
            "asicCount": board.asic_count,
            "defaultFrequency": board.default_frequency,
            "frequencyOptions": list(board.frequencies),
            "defaultVoltage": board.default_voltage,
            "voltageOptions": list(board.voltages),
        }
        if board.nerdqaxe:
            info.update({"absMaxFrequency": 800, "absMaxVoltage": 1400})
        return info

    # ------------------------------------------------------------------- commands

    def set_frequency(self, frequency: float) -> None:
        if self.faults.refuse_target:
            raise TargetRefused("frequency changes are refused")
        watts = round(self.board.power_w(frequency))
        self.machine.set_power_target(watts, apply=True, force=False)
        self.frequency = float(frequency)

    def _patch(self, request: http.Request) -> http.Response:
        try:
            body = request.json()
        except ValueError:
            return http.Response(400, b"Invalid JSON")
        if not isinstance(body, dict):
            return http.Response(400, b"Invalid JSON")
        frequency = body.get("frequency")
        voltage = body.get("coreVoltage")
        try:
            if voltage is not None:
                if not isinstance(voltage, int | float) or not 500 <= voltage <= 1500:
                    return http.Response(400, b"Wrong API input")
                self.core_voltage = int(voltage)
            if frequency is not None:
                if not isinstance(frequency, int | float) or not 1 <= frequency <= 65535:
                    return http.Response(400, b"Wrong API input")
                self.set_frequency(float(frequency))
        except TargetRefused:
            return http.Response(400, b"Wrong API input")
        for key, value in body.items():
            if key not in ("frequency", "coreVoltage"):
                self.settings[key] = value
        return http.Response(200, b"", "application/json")

    def _web(self, request: http.Request) -> http.Response:
        method, path = request.method, request.path
        board = self.board
        if method in ("GET", "HEAD") and path in ("/", "/index.html"):
            return http.Response.html(NERDQAXE_PAGE if board.nerdqaxe else AXEOS_PAGE)
        if method == "GET" and path == "/api/system/info":
            return http.Response.json(self.system_info())
        if method == "GET" and path == "/api/system/asic":
            return http.Response.json(self.asic_info())
        if method == "PATCH" and path == "/api/system":
            return self._patch(request)
        if method == "POST" and path == "/api/system/restart":
            self.shutdown = False
            self.machine.resume()
            self.machine.restart()
            if board.nerdqaxe:
                return http.Response.text("System will restart shortly.")
            return http.Response.json({"message": "System will restart shortly."})
        if not board.nerdqaxe and method == "POST" and path == "/api/system/pause":
            self.machine.pause()
            return http.Response.json({"message": "Mining paused"})
        if not board.nerdqaxe and method == "POST" and path == "/api/system/resume":
            self.machine.resume()
            return http.Response.json({"message": "Mining resumed"})
        if board.nerdqaxe and method == "POST" and path == "/api/system/shutdown":
            self.shutdown = True
            self.machine.pause()
            return http.Response.text("System will shutdown shortly.")
        if path.startswith("/api/"):
            return http.Response(404, b"Nothing matches the given URI")
        return http.Response.html(NERDQAXE_PAGE if board.nerdqaxe else AXEOS_PAGE)


def emulated_models() -> dict[str, Any]:
    """``edge-mining emulate miner --model`` names of ESP-Miner boards, and how to make one."""
    return {board.key: partial(EmulatedEspMiner, model=board.key) for board in BOARDS.values()}
