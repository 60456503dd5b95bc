"""SunSpec and SolarEdge register maps: pure decoding and encoding, no I/O.

What a SolarEdge inverter serves over Modbus TCP (zero-based protocol addresses):

- 40000: the marker "SunS", then a chain of SunSpec models, each ``ID, L`` followed by ``L``
  data registers: the common model (ID 1) at 40002, the inverter model (101 single phase,
  102 split phase, 103 three phase) at 40069, and per installed meter a common model plus a
  meter model (201-204) at 40121, 40295 and 40469. The chain ends with ID 0xFFFF.
- 0xE100 and 0xE200 (57600, 57856): SolarEdge's proprietary battery blocks, whose 32-bit
  values are word-little-endian (low word first) IEEE floats and integers.

SunSpec values are integers with a separate scale-factor register (value * 10**sf), and a
value the device does not implement reads as a sentinel: 0x8000 (int16 and sunssf), 0xFFFF
(uint16 and enum16), 0x80000000 (int32), 0xFFFFFFFF (uint32) and 0 (acc32). Every decoder
here returns ``None`` for those, never a number that looks real.

The offsets below count from a model's ID register, so ``model_address + offset`` is the
absolute address. The same tables drive the driver and the emulator; the tests also pin a few
absolute addresses to SolarEdge's documentation so a shared mistake cannot hide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from pymodbus.client import AsyncModbusTcpClient

# The conversion helpers are classmethods of the client; no connection is involved.
_convert = AsyncModbusTcpClient
DATATYPE = AsyncModbusTcpClient.DATATYPE

SUNSPEC_BASE = 40000
SUNS_MARKER = (0x5375, 0x6E53)  # "SunS"
FIRST_MODEL_ADDRESS = SUNSPEC_BASE + 2
END_MODEL_ID = 0xFFFF
MAX_READ = 125  # registers per Modbus read request

COMMON_MODEL_ID = 1
COMMON_LENGTH = 65
INVERTER_MODEL_IDS = (101, 102, 103)
INVERTER_LENGTH = 50
METER_MODEL_IDS = (201, 202, 203, 204)
METER_LENGTH = 105

# SolarEdge's fixed layout (what the model chain resolves to on a real inverter).
SOLAREDGE_INVERTER_ADDRESS = 40069
SOLAREDGE_METER_COMMON_ADDRESSES = (40121, 40295, 40469)
BATTERY_ADDRESSES = (0xE100, 0xE200)

INT16_NOT_IMPLEMENTED = 0x8000
UINT16_NOT_IMPLEMENTED = 0xFFFF
SUNSSF_NOT_IMPLEMENTED = 0x8000
INT32_NOT_IMPLEMENTED = 0x80000000
UINT32_NOT_IMPLEMENTED = 0xFFFFFFFF
ACC32_NOT_IMPLEMENTED = 0


class SunSpecError(ValueError):
    """Registers that do not decode as the SunSpec map says they should."""


class CommonOffset(IntEnum):
    """Common model (ID 1), from its ID register."""

    ID = 0
    LENGTH = 1
    MANUFACTURER = 2  # string, 16 registers
    MODEL = 18  # string, 16
    OPTIONS = 34  # string, 8 (SolarEdge meters: "Export+Import", "Consumption", ...)
    VERSION = 42  # string, 8
    SERIAL = 50  # string, 16
    DEVICE_ADDRESS = 66


class InverterOffset(IntEnum):
    """Inverter models 101/102/103 (integer + scale factor variant), from the ID register."""

    ID = 0
    LENGTH = 1
    AC_CURRENT = 2  # uint16, A
    AC_CURRENT_A = 3
    AC_CURRENT_B = 4
    AC_CURRENT_C = 5
    AC_CURRENT_SF = 6
    AC_VOLTAGE_AB = 7  # uint16, V
    AC_VOLTAGE_BC = 8
    AC_VOLTAGE_CA = 9
    AC_VOLTAGE_AN = 10
    AC_VOLTAGE_BN = 11
    AC_VOLTAGE_CN = 12
    AC_VOLTAGE_SF = 13
    AC_POWER = 14  # int16, W
    AC_POWER_SF = 15
    AC_FREQUENCY = 16  # uint16, Hz
    AC_FREQUENCY_SF = 17
    AC_VA = 18  # int16
    AC_VA_SF = 19
    AC_VAR = 20  # int16
    AC_VAR_SF = 21
    AC_PF = 22  # int16, %
    AC_PF_SF = 23
    AC_ENERGY = 24  # acc32, Wh (2 registers, high word first)
    AC_ENERGY_SF = 26
    DC_CURRENT = 27  # uint16, A
    DC_CURRENT_SF = 28
    DC_VOLTAGE = 29  # uint16, V
    DC_VOLTAGE_SF = 30
    DC_POWER = 31  # int16, W
    DC_POWER_SF = 32
    TEMP_CABINET = 33  # int16, °C
    TEMP_SINK = 34
    TEMP_TRANSFORMER = 35
    TEMP_OTHER = 36
    TEMP_SF = 37
    STATUS = 38  # enum16
    STATUS_VENDOR = 39  # enum16


class MeterOffset(IntEnum):
    """Meter models 201-204 (integer + scale factor variant), from the ID register."""

    ID = 0
    LENGTH = 1
    AC_CURRENT = 2  # int16, A
    AC_CURRENT_SF = 6
    VOLTAGE_LN = 7  # int16, V
    VOLTAGE_SF = 15
    FREQUENCY = 16  # int16, Hz
    FREQUENCY_SF = 17
    POWER = 18  # int16, W; positive: energy leaving the site through the meter (export)
    POWER_A = 19
    POWER_B = 20
    POWER_C = 21
    POWER_SF = 22
    EXPORTED = 38  # acc32, Wh
    IMPORTED = 46  # acc32, Wh
    ENERGY_SF = 54


class BatteryOffset(IntEnum):
    """SolarEdge battery block (0xE100 / 0xE200); 32-bit values are word-little-endian."""

    MANUFACTURER = 0x00  # string, 16 registers
    MODEL = 0x10  # string, 16
    FIRMWARE = 0x20  # string, 16
    SERIAL = 0x30  # string, 16
    DEVICE_ID = 0x40  # uint16
    RATED_ENERGY = 0x42  # float32, Wh
    MAX_CHARGE_POWER = 0x44  # float32, W (continuous)
    MAX_DISCHARGE_POWER = 0x46  # float32, W (continuous)
    AVERAGE_TEMPERATURE = 0x6C  # float32, °C
    MAX_TEMPERATURE = 0x6E
    VOLTAGE = 0x70  # float32, V
    CURRENT = 0x72  # float32, A
    POWER = 0x74  # float32, W; positive: charging
    MAX_ENERGY = 0x7E  # float32, Wh
    AVAILABLE_ENERGY = 0x80  # float32, Wh
    STATE_OF_HEALTH = 0x82  # float32, %
    STATE_OF_ENERGY = 0x84  # float32, %
    STATUS = 0x86  # uint32


BATTERY_IDENTITY_SPAN = (0x00, 0x4C)  # [start, end) offsets read once at discovery
BATTERY_LIVE_SPAN = (0x6C, 0x88)  # [start, end) offsets read every poll


class InverterStatus(IntEnum):
    OFF = 1
    SLEEPING = 2
    STARTING = 3
    MPPT = 4
    THROTTLED = 5
    SHUTTING_DOWN = 6
    FAULT = 7
    STANDBY = 8


class BatteryStatus(IntEnum):
    OFF = 0
    STANDBY = 1
    INIT = 2
    CHARGE = 3
    DISCHARGE = 4
    FAULT = 5
    IDLE = 7


# ------------------------------------------------------------------------ primitive decoders


def _check(registers: Sequence[int], offset: int, count: int) -> None:
    if offset < 0 or offset + count > len(registers):
        raise SunSpecError(
            f"register offset {offset}+{count} is outside the {len(registers)} registers read"
        )


def uint16(registers: Sequence[int], offset: int) -> int | None:
    _check(registers, offset, 1)
    value = registers[offset]
    return None if value == UINT16_NOT_IMPLEMENTED else value


def int16(registers: Sequence[int], offset: int) -> int | None:
    _check(registers, offset, 1)
    raw = registers[offset]
    if raw == INT16_NOT_IMPLEMENTED:
        return None
    return int(_convert.convert_from_registers([raw], DATATYPE.INT16))


def sunssf(registers: Sequence[int], offset: int) -> int | None:
    """A scale factor: int16 in -10..10 by the SunSpec rules; anything else is unusable."""
    value = int16(registers, offset)
    if value is None or not -10 <= value <= 10:
        return None
    return value


def acc32(registers: Sequence[int], offset: int) -> int | None:
    """An accumulator (high word first); 0 means not accumulated."""
    _check(registers, offset, 2)
    value = int(_convert.convert_from_registers(registers[offset : offset + 2], DATATYPE.UINT32))
    return None if value == ACC32_NOT_IMPLEMENTED else value


def uint32(
    registers: Sequence[int], offset: int, word_order: Literal["big", "little"] = "big"
) -> int | None:
    _check(registers, offset, 2)
    value = int(
        _convert.convert_from_registers(
            registers[offset : offset + 2], DATATYPE.UINT32, word_order=word_order
        )
    )
    return None if value == UINT32_NOT_IMPLEMENTED else value


def float32_le(registers: Sequence[int], offset: int) -> float | None:
    """SolarEdge's battery floats: low word first. NaN (e.g. 0xFFFF 0xFFFF) means absent."""
    _check(registers, offset, 2)
    value = float(
        _convert.convert_from_registers(
            registers[offset : offset + 2], DATATYPE.FLOAT32, word_order="little"
        )
    )
    return None if math.isnan(value) or math.isinf(value) else value


def string(registers: Sequence[int], offset: int, count: int) -> str:
    """A NUL-padded string; unset strings (0x0000 or 0xFFFF filled) read as ''."""
    _check(registers, offset, count)
    raw = bytearray()
    for register in registers[offset : offset + count]:
        raw.extend(register.to_bytes(2, "big"))
    text = raw.split(b"\x00", 1)[0].rstrip(b"\xff")
    return text.decode("utf-8", errors="replace").strip()


def scaled(value: int | None, scale_factor: int | None) -> float | None:
    """``value * 10**scale_factor``; None when either is not implemented."""
    if value is None or scale_factor is None:
        return None
    return value * 10.0**scale_factor


def scaled_at(
    registers: Sequence[int], offset: int, sf_offset: int, *, signed: bool
) -> float | None:
    value = int16(registers, offset) if signed else uint16(registers, offset)
    return scaled(value, sunssf(registers, sf_offset))


def acc32_scaled_at(registers: Sequence[int], offset: int, sf_offset: int) -> float | None:
    value = acc32(registers, offset)
    # Energy scale factors are sometimes left unimplemented: a counter is then in plain Wh.
    scale = sunssf(registers, sf_offset)
    return scaled(value, 0 if scale is None else scale)


# ------------------------------------------------------------------------ primitive encoders
# Used by the emulator (and tests) to lay out registers exactly as a device would.


def encode_int16(value: int) -> int:
    if not -0x8000 <= value <= 0x7FFF:
        raise SunSpecError(f"{value} does not fit in int16")
    return int(_convert.convert_to_registers(value, DATATYPE.INT16)[0])


def encode_uint32(value: int, word_order: Literal["big", "little"] = "big") -> list[int]:
    return list(_convert.convert_to_registers(value, DATATYPE.UINT32, word_order=word_order))


def encode_float32_le(value: float) -> list[int]:
    return list(_convert.convert_to_registers(float(value), DATATYPE.FLOAT32, word_order="little"))


def encode_string(text: str, count: int) -> list[int]:
    raw = text.encode("utf-8")[: count * 2]
    raw = raw + b"\x00" * (count * 2 - len(raw))
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def fit_scaled(value: float, *, signed: bool, min_sf: int = -2, max_sf: int = 4) -> tuple[int, int]:
    """(raw register, scale factor): the finest scale factor at which ``value`` fits.

    SolarEdge changes scale factors between reads as values grow, which is why a client must
    read a value and its scale factor in the same request.
    """
    low, high = (-0x7FFF, 0x7FFF) if signed else (0, 0xFFFE)
    for sf in range(min_sf, max_sf + 1):
        raw = round(value / 10.0**sf)
        if low <= raw <= high:
            return (encode_int16(raw) if signed else raw), encode_int16(sf)
    raise SunSpecError(f"{value} does not fit a 16-bit register with scale factor <= {max_sf}")


# ------------------------------------------------------------------------------ model blocks


@dataclass(frozen=True, slots=True)
class ModelHeader:
    address: int  # of the ID register
    model_id: int
    length: int

    @property
    def end(self) -> int:
        """Address of the next model's ID register."""
        return self.address + 2 + self.length


@dataclass(frozen=True, slots=True)
class CommonBlock:
    manufacturer: str
    model: str
    options: str
    version: str
    serial: str
    device_address: int | None


@dataclass(frozen=True, slots=True)
class InverterBlock:
    model_id: int
    ac_power_w: float | None
    ac_current_a: float | None
    ac_voltage_v: float | None
    ac_frequency_hz: float | None
    ac_energy_wh: float | None
    dc_current_a: float | None
    dc_voltage_v: float | None
    dc_power_w: float | None
    temperature_c: float | None
    status: InverterStatus | None
    status_vendor: int | None

    @property
    def status_name(self) -> str | None:
        return None if self.status is None else self.status.name.lower()


@dataclass(frozen=True, slots=True)
class MeterBlock:
    model_id: int
    option: str
    # SolarEdge's sign: positive means power leaving the site (export) at a grid meter.
    power_w: float | None
    voltage_v: float | None
    frequency_hz: float | None
    exported_wh: float | None
    imported_wh: float | None

    @property
    def is_grid_meter(self) -> bool:
        """SolarEdge names a meter's position in its options string."""
        option = self.option.lower()
        return "export" in option or "import" in option


@dataclass(frozen=True, slots=True)
class BatteryIdentity:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    rated_energy_wh: float | None
    max_charge_power_w: float | None
    max_discharge_power_w: float | None


@dataclass(frozen=True, slots=True)
class BatteryBlock:
    temperature_c: float | None
    voltage_v: float | None
    current_a: float | None
    power_w: float | None  # positive: charging
    max_energy_wh: float | None
    available_energy_wh: float | None
    state_of_health_pct: float | None
    state_of_energy_pct: float | None
    status: BatteryStatus | int | None

    @property
    def status_name(self) -> str | None:
        if self.status is None:
            return None
        if isinstance(self.status, BatteryStatus):
            return self.status.name.lower()
        return f"status {self.status}"


def is_sunspec_marker(registers: Sequence[int]) -> bool:
    return len(registers) >= 2 and (registers[0], registers[1]) == SUNS_MARKER


def decode_header(registers: Sequence[int], address: int) -> ModelHeader:
    _check(registers, 0, 2)
    return ModelHeader(address=address, model_id=registers[0], length=registers[1])


def decode_common(registers: Sequence[int]) -> CommonBlock:
    """``registers`` start at the common model's ID register (40002 on the inverter)."""
    model_id = registers[CommonOffset.ID] if registers else None
    if model_id != COMMON_MODEL_ID:
        raise SunSpecError(f"expected the common model (ID 1), found ID {model_id}")
    return CommonBlock(
        manufacturer=string(registers, CommonOffset.MANUFACTURER, 16),
        model=string(registers, CommonOffset.MODEL, 16),
        options=string(registers, CommonOffset.OPTIONS, 8),
        version=string(registers, CommonOffset.VERSION, 8),
        serial=string(registers, CommonOffset.SERIAL, 16),
        device_address=uint16(registers, CommonOffset.DEVICE_ADDRESS),
    )


def _status(value: int | None) -> InverterStatus | None:
    if value is None:
        return None
    try:
        return InverterStatus(value)
    except ValueError:
        return None


def decode_inverter(registers: Sequence[int]) -> InverterBlock:
    """``registers`` start at the inverter model's ID register (40069 on a SolarEdge)."""
    model_id = registers[InverterOffset.ID] if registers else None
    if model_id not in INVERTER_MODEL_IDS:
        raise SunSpecError(f"expected an inverter model (101-103), found ID {model_id}")
    _check(registers, 0, InverterOffset.STATUS_VENDOR + 1)
    o = InverterOffset
    temperature = scaled_at(registers, o.TEMP_SINK, o.TEMP_SF, signed=True)
    return InverterBlock(
        model_id=model_id,
        ac_power_w=scaled_at(registers, o.AC_POWER, o.AC_POWER_SF, signed=True),
        ac_current_a=scaled_at(registers, o.AC_CURRENT, o.AC_CURRENT_SF, signed=False),
        ac_voltage_v=scaled_at(registers, o.AC_VOLTAGE_AN, o.AC_VOLTAGE_SF, signed=False),
        ac_frequency_hz=scaled_at(registers, o.AC_FREQUENCY, o.AC_FREQUENCY_SF, signed=False),
        ac_energy_wh=acc32_scaled_at(registers, o.AC_ENERGY, o.AC_ENERGY_SF),
        dc_current_a=scaled_at(registers, o.DC_CURRENT, o.DC_CURRENT_SF, signed=False),
        dc_voltage_v=scaled_at(registers, o.DC_VOLTAGE, o.DC_VOLTAGE_SF, signed=False),
        dc_power_w=scaled_at(registers, o.DC_POWER, o.DC_POWER_SF, signed=True),
        temperature_c=temperature,
        status=_status(uint16(registers, o.STATUS)),
        status_vendor=uint16(registers, o.STATUS_VENDOR),
    )


def decode_meter(registers: Sequence[int], option: str = "") -> MeterBlock:
    """``registers`` start at the meter model's ID register (40188 for SolarEdge meter 1)."""
    model_id = registers[MeterOffset.ID] if registers else None
    if model_id not in METER_MODEL_IDS:
        raise SunSpecError(f"expected a meter model (201-204), found ID {model_id}")
    _check(registers, 0, MeterOffset.ENERGY_SF + 1)
    o = MeterOffset
    return MeterBlock(
        model_id=model_id,
        option=option,
        power_w=scaled_at(registers, o.POWER, o.POWER_SF, signed=True),
        voltage_v=scaled_at(registers, o.VOLTAGE_LN, o.VOLTAGE_SF, signed=True),
        frequency_hz=scaled_at(registers, o.FREQUENCY, o.FREQUENCY_SF, signed=True),
        exported_wh=acc32_scaled_at(registers, o.EXPORTED, o.ENERGY_SF),
        imported_wh=acc32_scaled_at(registers, o.IMPORTED, o.ENERGY_SF),
    )


def decode_battery_identity(registers: Sequence[int]) -> BatteryIdentity | None:
    """Registers from the block's start; None when no battery is installed there."""
    _check(registers, 0, BATTERY_IDENTITY_SPAN[1])
    o = BatteryOffset
    rated = float32_le(registers, o.RATED_ENERGY)
    manufacturer = string(registers, o.MANUFACTURER, 16)
    if rated is None or rated <= 0:
        return None
    return BatteryIdentity(
        manufacturer=manufacturer,
        model=string(registers, o.MODEL, 16),
        firmware=string(registers, o.FIRMWARE, 16),
        serial=string(registers, o.SERIAL, 16),
        rated_energy_wh=rated,
        max_charge_power_w=float32_le(registers, o.MAX_CHARGE_POWER),
        max_discharge_power_w=float32_le(registers, o.MAX_DISCHARGE_POWER),
    )


def decode_battery(registers: Sequence[int]) -> BatteryBlock:
    """Registers from offset ``BATTERY_LIVE_SPAN[0]`` (0x6C) of a battery block."""
    base = BATTERY_LIVE_SPAN[0]
    _check(registers, 0, BATTERY_LIVE_SPAN[1] - base)
    o = BatteryOffset

    def f(offset: int) -> float | None:
        return float32_le(registers, offset - base)

    raw_status = uint32(registers, o.STATUS - base, word_order="little")
    status: BatteryStatus | int | None
    try:
        status = None if raw_status is None else BatteryStatus(raw_status)
    except ValueError:
        status = raw_status
    soe = f(o.STATE_OF_ENERGY)
    return BatteryBlock(
        temperature_c=f(o.AVERAGE_TEMPERATURE),
        voltage_v=f(o.VOLTAGE),
        current_a=f(o.CURRENT),
        power_w=f(o.POWER),
        max_energy_wh=f(o.MAX_ENERGY),
        available_energy_wh=f(o.AVAILABLE_ENERGY),
        state_of_health_pct=f(o.STATE_OF_HEALTH),
        # A state of energy outside 0-100 % is a decoding or device fault, not a reading.
        state_of_energy_pct=soe if soe is not None and 0.0 <= soe <= 100.0 else None,
        status=status,
    )
