"""Open-source ESP-Miner boards: Bitaxe (AxeOS) and NerdQAxe, what each is and draws.

Both firmwares serve the same HTTP API on port 80: ``GET /api/system/info`` (telemetry and
settings), ``GET /api/system/asic`` (the ASIC's frequency and voltage options),
``PATCH /api/system`` (settings, applied live: a new frequency ramps the ASICs to it) and
``POST /api/system/restart``. They differ where it matters here:

- Bitaxe (bitaxeorg/ESP-Miner, 2.14 and later) pauses and resumes mining with
  ``POST /api/system/pause`` and ``/resume`` (the ASICs are powered down, the ESP32 stays on
  the network); ``miningPaused`` says which. Its page is titled "AxeOS", which is how pyasic
  recognises it.
- NerdQAxe (shufps/ESP-Miner-NerdQAxePlus) has ``POST /api/system/shutdown`` (ASIC power off,
  ``"shutdown": true``) and comes back with a restart; since February 2025 its page is titled
  "Nerd*axe Dashboard", which pyasic 0.79 does not recognise, so the driver recognises it
  from ``/api/system/info`` itself.

Power levels are the frequency options the firmware offers (``frequencyOptions``), at the
board's default core voltage: hashrate is what the firmware itself expects
(small cores x ASICs x MHz), power scales with frequency from the board's nominal draw above
its static part (ESP32, fan, regulator).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_mining.devices.model_table import by_key, find
from edge_mining.model import PowerLevel


@dataclass(frozen=True, slots=True)
class EspMinerBoard:
    key: str  # the emulator's --model name
    device_model: str  # deviceModel ("Gamma", "NerdQAxe++")
    board_version: str  # boardVersion
    asic_model: str  # ASICModel ("BM1370")
    asic_count: int
    small_cores: int  # smallCoreCount of the ASIC
    frequencies: tuple[int, ...]  # frequencyOptions, MHz
    default_frequency: int
    voltages: tuple[int, ...]  # voltageOptions, mV
    default_voltage: int
    nominal_w: float  # draw at the default frequency and voltage
    max_power_w: float  # maxPower the board reports
    # The defaults are a single-ASIC Bitaxe's on AxeOS 2.14.
    static_w: float = 3.0  # what does not scale with frequency (ESP32, fan, regulator losses)
    paused_w: float = 1.5  # draw with the ASICs powered down
    nerdqaxe: bool = False  # NerdQAxe firmware (shutdown) rather than AxeOS (pause)
    firmware: str = "v2.14.0"  # version
    fans: int = 1

    def hashrate_ths(self, frequency: float) -> float:
        return self.small_cores * self.asic_count * frequency / 1e6

    def power_w(self, frequency: float) -> float:
        return self.static_w + (self.nominal_w - self.static_w) * frequency / self.default_frequency

    @property
    def power_levels(self) -> tuple[PowerLevel, ...]:
        return levels_for(self, self.frequencies)


def level_name(frequency: float) -> str:
    return f"{frequency:g}MHz"


def levels_for(board: EspMinerBoard, frequencies: tuple[float, ...]) -> tuple[PowerLevel, ...]:
    return tuple(
        PowerLevel(level_name(f), round(board.power_w(f), 1), round(board.hashrate_ths(f), 3))
        for f in sorted(frequencies)
    )


BOARDS: dict[str, EspMinerBoard] = by_key(
    EspMinerBoard(
        key="Bitaxe Gamma",
        device_model="Gamma",
        board_version="601",
        asic_model="BM1370",
        asic_count=1,
        small_cores=2040,
        frequencies=(400, 490, 525, 550, 600, 625),
        default_frequency=525,
        voltages=(1000, 1060, 1100, 1150, 1200, 1250),
        default_voltage=1150,
        nominal_w=18.0,
        max_power_w=40,
    ),
    EspMinerBoard(
        key="Bitaxe Supra",
        device_model="Supra",
        board_version="401",
        asic_model="BM1368",
        asic_count=1,
        small_cores=1276,
        frequencies=(400, 425, 450, 475, 485, 490, 500, 525, 550, 575),
        default_frequency=490,
        voltages=(1100, 1150, 1166, 1200, 1250, 1300),
        default_voltage=1166,
        nominal_w=14.0,
        max_power_w=40,
    ),
    EspMinerBoard(
        key="Bitaxe Ultra",
        device_model="Ultra",
        board_version="204",
        asic_model="BM1366",
        asic_count=1,
        small_cores=894,
        frequencies=(400, 425, 450, 475, 485, 500, 525, 550, 575),
        default_frequency=485,
        voltages=(1100, 1150, 1200, 1250, 1300),
        default_voltage=1200,
        nominal_w=12.0,
        max_power_w=25,
    ),
    EspMinerBoard(
        key="NerdQAxe++",
        device_model="NerdQAxe++",
        board_version="3.1",
        asic_model="BM1370",
        asic_count=4,
        small_cores=2040,
        frequencies=(500, 515, 525, 550, 575, 590, 600),
        default_frequency=600,
        voltages=(1120, 1130, 1140, 1150, 1160, 1170, 1180, 1190, 1200),
        default_voltage=1150,
        nominal_w=76.0,
        static_w=8.0,
        paused_w=3.0,
        max_power_w=100,
        nerdqaxe=True,
        firmware="v1.0.36",
        fans=2,
    ),
)


def find_board(name: str) -> EspMinerBoard:
    return find(BOARDS, name, what="ESP-Miner board", prefix="BITAXE")


def identify(info: dict) -> EspMinerBoard | None:
    """The board a ``/api/system/info`` reply describes (None: not one we know)."""
    device = str(info.get("deviceModel") or "").lower()
    asic = str(info.get("ASICModel") or "")
    count = info.get("asicCount")
    for board in BOARDS.values():
        if device and device == board.device_model.lower():
            return board
    for board in BOARDS.values():
        if asic == board.asic_model and (count in (None, board.asic_count)):
            if not device or not board.nerdqaxe:
                return board
    return None
