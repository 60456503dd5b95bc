"""The PI30 protocol of Voltronic / Axpert / MPP Solar inverters, as a pure codec (no I/O).

Wire format (RS232 at 2400 8N1, or USB HID reports carrying the same bytes)::

    request:  COMMAND CRC_HI CRC_LO CR          e.g. b"QPIGS\\xb7\\xa9\\r"
    response: ( PAYLOAD CRC_HI CRC_LO CR        e.g. b"(PI30\\x9a\\x0b\\r"
    refusal:  (NAK CRC CR  or, on some firmware, (NAK CR

The CRC is CRC-16/XMODEM (polynomial 0x1021, initial value 0) over everything before it, the
leading ``(`` included. Quirk: a CRC byte that would read as ``(`` (0x28), CR (0x0D) or LF
(0x0A) is sent incremented by one, so the frame stays parseable; some firmware also
increments 0x00. Responses are framed on CR only: the length varies between firmware.

Every function here turns any byte string into either a parsed value or a ``Pi30Error``
(``FrameError``, ``CrcError``, ``NakError`` or ``ParseError``), nothing else. The ``kind`` of
each error names the fault counter the transport bumps.

Field meanings follow the public PI30 protocol documents ("Axpert RS232 communication
protocol", the PI30 / PI30MAX tables published with the mpp-solar project).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

T = TypeVar("T")

CR = 0x0D
START = 0x28  # "("
# CRC bytes the firmware never sends as-is (they would break framing): sent as value + 1.
_CRC_ESCAPED = frozenset({0x28, 0x0D, 0x0A})
# Received CRC bytes may also be incremented when the true value is 0x00 (some firmware).
_CRC_ESCAPED_LENIENT = _CRC_ESCAPED | {0x00}
# A frame longer than this is not PI30 (QPIRI, the longest we read, is about 110 bytes).
MAX_FRAME_BYTES = 512


# ------------------------------------------------------------------------------ errors


class Pi30Error(Exception):
    """Anything malformed or refused, as seen by the codec. ``kind`` names the fault.

    ``skipped`` holds the bytes decode_frame passed over before the frame that failed (noise,
    or the head of an earlier truncated frame), so that they can be accounted for too.
    """

    kind: ClassVar[str] = "malformed"
    skipped: bytes = b""


class FrameError(Pi30Error):
    """No frame start, too short, or too long: not a PI30 frame."""

    kind = "frame"


class CrcError(Pi30Error):
    """The frame's CRC does not match its content (line noise, truncated frame)."""

    kind = "crc"


class NakError(Pi30Error):
    """The inverter refused the command (unknown, garbled in transit or not allowed)."""

    kind = "nak"


class ParseError(Pi30Error):
    """A well-framed payload whose content does not fit the command's format."""

    kind = "parse"


# ------------------------------------------------------------------------------- framing


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM (CCITT polynomial, initial value 0), as PI30 uses it."""
    return binascii.crc_hqx(data, 0)


def crc_bytes(data: bytes) -> bytes:
    """The two CRC bytes sent after ``data``, with the protocol's increment quirk."""
    value = crc16_xmodem(data)
    return bytes(b + 1 if b in _CRC_ESCAPED else b for b in (value >> 8, value & 0xFF))


def _crc_matches(data: bytes, received: bytes) -> bool:
    value = crc16_xmodem(data)
    for expected, got in zip((value >> 8, value & 0xFF), received, strict=True):
        if got == expected and expected != CR:
            continue
        if expected in _CRC_ESCAPED_LENIENT and got == expected + 1:
            continue
        return False
    return True


_COMMAND_RE = re.compile(r"^[A-Z0-9.:+\-]{2,32}$")


def encode_command(command: str) -> bytes:
    """``command`` framed for the wire: ASCII + CRC + CR. ValueError for a bad command."""
    if not _COMMAND_RE.match(command):
        raise ValueError(f"not a PI30 command: {command!r}")
    body = command.encode("ascii")
    return body + crc_bytes(body) + b"\r"


def encode_response(payload: bytes) -> bytes:
    """A response frame as the inverter sends it (used by the emulator)."""
    body = b"(" + payload
    return body + crc_bytes(body) + b"\r"


@dataclass(frozen=True, slots=True)
class Frame:
    """A verified response: ``payload`` between ``(`` and the CRC; ``skipped`` came before."""

    payload: bytes
    skipped: bytes = b""


def decode_frame(line: bytes) -> Frame:
    """Verify one CR-terminated line (CR stripped) and return its payload.

    Resynchronisation: bytes before the frame's ``(`` (line noise, the rest of a truncated
    frame, USB padding) are skipped and returned in ``skipped``. When several ``(`` appear,
    the first one that starts a frame with a valid CRC wins; when none does, the error is the
    one of the last frame-sized candidate (the most recent frame on the line).
    Raises NakError for ``(NAK`` (with or without CRC), FrameError or CrcError otherwise.
    """
    if len(line) > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {len(line)} bytes is longer than {MAX_FRAME_BYTES}")
    starts = [i for i, byte in enumerate(line) if byte == START]
    if not starts:
        raise FrameError(f"no frame start in {len(line)} bytes")
    failures: list[tuple[int, Pi30Error]] = []
    for start in starts:
        body = line[start:]
        failure: Pi30Error
        if body == b"(NAK":
            failure = NakError("NAK (without CRC)")
        elif len(body) < 3:
            failure = FrameError(f"frame too short: {body!r}")
        elif not _crc_matches(body[:-2], body[-2:]):
            failure = CrcError(
                f"CRC mismatch: got {body[-2:].hex()}, expected {crc_bytes(body[:-2]).hex()}"
            )
        elif body[1:-2] == b"NAK":
            failure = NakError("NAK")
        else:
            return Frame(payload=body[1:-2], skipped=line[:start])
        failures.append((start, failure))
    frame_sized = [(start, error) for start, error in failures if len(line) - start >= 4]
    start, error = (frame_sized or failures)[-1]
    error.skipped = line[:start]
    raise error


class FrameBuffer:
    """Accumulates received bytes and cuts them into CR-terminated lines.

    A run of bytes longer than MAX_FRAME_BYTES without CR is dropped (reported by
    ``take_overflow``) so that a babbling line cannot grow memory without bound.
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        self._overflow = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._pending += data
        lines = []
        while (end := self._pending.find(b"\r")) >= 0:
            lines.append(bytes(self._pending[:end]))
            del self._pending[: end + 1]
        if len(self._pending) > MAX_FRAME_BYTES:
            self._overflow += len(self._pending)
            self._pending.clear()
        return lines

    @property
    def pending(self) -> bytes:
        """Bytes received after the last CR."""
        return bytes(self._pending)

    def clear(self) -> bytes:
        """Drop and return the bytes after the last CR."""
        dropped = bytes(self._pending)
        self._pending.clear()
        return dropped

    def take_overflow(self) -> int:
        """Bytes dropped for overflow since the last call."""
        dropped, self._overflow = self._overflow, 0
        return dropped


# ------------------------------------------------------------------------------ parsing


_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_BITS_RE = re.compile(r"^[01]+$")


def _text(payload: bytes) -> str:
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError as error:
        raise ParseError(f"non-ASCII payload: {payload[:40]!r}") from error
    if not text.isprintable():
        raise ParseError(f"unprintable payload: {payload[:40]!r}")
    return text


def _fields(payload: bytes, command: str, minimum: int) -> list[str]:
    fields = _text(payload).split()
    if len(fields) < minimum:
        raise ParseError(f"{command}: {len(fields)} fields, expected at least {minimum}")
    return fields


def _number(fields: list[str], index: int, name: str) -> float:
    text = fields[index]
    if not _NUMBER_RE.match(text):
        raise ParseError(f"{name}: not a number: {text!r}")
    return float(text)


def _optional_number(fields: list[str], index: int, name: str) -> float | None:
    return _number(fields, index, name) if index < len(fields) else None


def _bits(text: str, width: int, name: str) -> str:
    if len(text) != width or not _BITS_RE.match(text):
        raise ParseError(f"{name}: expected {width} bits, got {text!r}")
    return text


# -- QPIGS --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """QPIGS status bits b7..b0 (b7 first on the wire)."""

    sbu_priority_version: bool
    configuration_changed: bool
    scc_firmware_updated: bool
    load_on: bool
    battery_voltage_steady_while_charging: bool
    charging: bool
    scc_charging: bool
    ac_charging: bool

    @classmethod
    def from_bits(cls, bits: str) -> DeviceStatus:
        return cls(*(bit == "1" for bit in _bits(bits, 8, "device status b7..b0")))


@dataclass(frozen=True, slots=True)
class DeviceStatus2:
    """QPIGS status bits b10..b8 (newer firmware)."""

    charging_to_float: bool
    switched_on: bool
    dustproof_installed: bool

    @classmethod
    def from_bits(cls, bits: str) -> DeviceStatus2:
        return cls(*(bit == "1" for bit in _bits(bits, 3, "device status b10..b8")))


@dataclass(frozen=True, slots=True)
class GeneralStatus:
    """QPIGS: device general status parameters. Units as named (V, Hz, VA, W, A, %, °C)."""

    grid_voltage_v: float
    grid_frequency_hz: float
    output_voltage_v: float
    output_frequency_hz: float
    output_apparent_power_va: float
    output_active_power_w: float
    output_load_pct: float
    bus_voltage_v: float
    battery_voltage_v: float
    battery_charging_current_a: float
    battery_capacity_pct: float
    heatsink_temperature_c: float
    pv_input_current_a: float
    pv_input_voltage_v: float
    battery_voltage_scc_v: float
    battery_discharge_current_a: float
    # Fields below are absent on some (older) firmware.
    status: DeviceStatus | None = None
    battery_voltage_offset_10mv: float | None = None
    eeprom_version: str | None = None
    pv_charging_power_w: float | None = None
    status2: DeviceStatus2 | None = None
    # Fields after the documented ones (newer firmware), kept verbatim.
    extra_fields: tuple[str, ...] = ()

    @property
    def pv_power_w(self) -> float:
        """The reported PV charging power when present, else PV current x PV voltage."""
        if self.pv_charging_power_w is not None:
            return self.pv_charging_power_w
        return self.pv_input_current_a * self.pv_input_voltage_v

    @property
    def battery_power_w(self) -> float:
        """Positive while charging: (charging current - discharge current) x voltage."""
        current = self.battery_charging_current_a - self.battery_discharge_current_a
        return current * self.battery_voltage_v


_QPIGS_NUMBERS = (
    "grid_voltage_v",
    "grid_frequency_hz",
    "output_voltage_v",
    "output_frequency_hz",
    "output_apparent_power_va",
    "output_active_power_w",
    "output_load_pct",
    "bus_voltage_v",
    "battery_voltage_v",
    "battery_charging_current_a",
    "battery_capacity_pct",
    "heatsink_temperature_c",
    "pv_input_current_a",
    "pv_input_voltage_v",
    "battery_voltage_scc_v",
    "battery_discharge_current_a",
)
_QPIGS_DOCUMENTED = len(_QPIGS_NUMBERS) + 5


def parse_qpigs(payload: bytes) -> GeneralStatus:
    fields = _fields(payload, "QPIGS", len(_QPIGS_NUMBERS))
    values = {name: _number(fields, i, name) for i, name in enumerate(_QPIGS_NUMBERS)}
    n = len(_QPIGS_NUMBERS)
    status = DeviceStatus.from_bits(fields[n]) if len(fields) > n else None
    offset = _optional_number(fields, n + 1, "battery voltage offset")
    eeprom = fields[n + 2] if len(fields) > n + 2 else None
    pv_power = _optional_number(fields, n + 3, "PV charging power")
    status2 = DeviceStatus2.from_bits(fields[n + 4]) if len(fields) > n + 4 else None
    return GeneralStatus(
        **values,
        status=status,
        battery_voltage_offset_10mv=offset,
        eeprom_version=eeprom,
        pv_charging_power_w=pv_power,
        status2=status2,
        extra_fields=tuple(fields[_QPIGS_DOCUMENTED:]),
    )


# -- QPIGS2 -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pv2Status:
    """QPIGS2 on dual-MPPT models: the second PV input."""

    pv2_input_current_a: float
    pv2_input_voltage_v: float
    pv2_charging_power_w: float | None = None
    extra_fields: tuple[str, ...] = ()

    @property
    def pv2_power_w(self) -> float:
        if self.pv2_charging_power_w is not None:
            return self.pv2_charging_power_w
        return self.pv2_input_current_a * self.pv2_input_voltage_v


def parse_qpigs2(payload: bytes) -> Pv2Status:
    fields = _fields(payload, "QPIGS2", 2)
    return Pv2Status(
        pv2_input_current_a=_number(fields, 0, "PV2 input current"),
        pv2_input_voltage_v=_number(fields, 1, "PV2 input voltage"),
        pv2_charging_power_w=_optional_number(fields, 2, "PV2 charging power"),
        extra_fields=tuple(fields[3:]),
    )


# -- QMOD ---------------------------------------------------------------------------------

MODES: dict[str, str] = {
    "P": "power_on",
    "S": "standby",
    "L": "line",
    "B": "battery",
    "F": "fault",
    "H": "power_saving",
    "D": "shutdown",
}


def parse_qmod(payload: bytes) -> str:
    """The device mode letter, as a name (``line``, ``battery``, ...)."""
    text = _text(payload).strip()
    try:
        return MODES[text]
    except KeyError:
        raise ParseError(f"QMOD: unknown mode {text[:8]!r}") from None


# -- QPIWS --------------------------------------------------------------------------------

# (name, severity) per bit a0..a31; severity "fault", "warning", or "depends": a fault while
# the inverter-fault bit (a1) is set, a warning otherwise (per the PI30 QPIWS table notes).
_WARNING_BITS: tuple[tuple[str | None, str], ...] = (
    (None, "reserved"),
    ("inverter_fault", "fault"),
    ("bus_over", "fault"),
    ("bus_under", "fault"),
    ("bus_soft_fail", "fault"),
    ("line_fail", "warning"),
    ("opv_short", "warning"),
    ("inverter_voltage_too_low", "fault"),
    ("inverter_voltage_too_high", "fault"),
    ("over_temperature", "depends"),
    ("fan_locked", "depends"),
    ("battery_voltage_high", "depends"),
    ("battery_low_alarm", "warning"),
    (None, "reserved"),
    ("battery_under_shutdown", "warning"),
    (None, "reserved"),
    ("overload", "depends"),
    ("eeprom_fault", "warning"),
    ("inverter_over_current", "fault"),
    ("inverter_soft_fail", "fault"),
    ("self_test_fail", "fault"),
    ("op_dc_voltage_over", "fault"),
    ("battery_open", "fault"),
    ("current_sensor_fail", "fault"),
    ("battery_short", "fault"),
    ("power_limit", "warning"),
    ("pv_voltage_high", "warning"),
    ("mppt_overload_fault", "warning"),
    ("mppt_overload_warning", "warning"),
    ("battery_too_low_to_charge", "warning"),
    (None, "reserved"),
    (None, "reserved"),
)


@dataclass(frozen=True, slots=True)
class WarningStatus:
    """QPIWS decoded: active faults and warnings by name, plus the raw bits."""

    bits: str
    faults: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def active(self) -> tuple[str, ...]:
        return self.faults + self.warnings


def parse_qpiws(payload: bytes) -> WarningStatus:
    """32 bits a0..a31 (some firmware sends more; extra set bits are named ``bit_N``)."""
    bits = _text(payload).strip()
    if len(bits) < 32 or len(bits) > 64 or not _BITS_RE.match(bits):
        raise ParseError(f"QPIWS: expected 32 to 64 bits, got {bits[:70]!r}")
    inverter_fault = bits[1] == "1"
    faults: list[str] = []
    warnings: list[str] = []
    for index, bit in enumerate(bits):
        if bit != "1":
            continue
        name, severity = _WARNING_BITS[index] if index < 32 else (None, "unknown")
        if name is None:
            # A reserved or undocumented bit that is set is still worth showing.
            warnings.append(f"bit_{index}")
        elif severity == "fault" or (severity == "depends" and inverter_fault):
            faults.append(name)
        else:
            warnings.append(name)
    return WarningStatus(bits=bits, faults=tuple(faults), warnings=tuple(warnings))


# -- QPIRI --------------------------------------------------------------------------------

BATTERY_TYPES = ("agm", "flooded", "user", "tbd", "pylontech", "weco", "soltaro", "lib", "lic")
INPUT_VOLTAGE_RANGES = ("appliance", "ups")
OUTPUT_SOURCE_PRIORITIES = ("utility_first", "solar_first", "sbu_first")
CHARGER_SOURCE_PRIORITIES = ("utility_first", "solar_first", "solar_and_utility", "solar_only")
MACHINE_TYPES = {"00": "grid_tie", "01": "off_grid", "10": "hybrid"}
TOPOLOGIES = ("transformerless", "transformer")
OUTPUT_MODES = (
    "single",
    "parallel",
    "phase_1_of_3",
    "phase_2_of_3",
    "phase_3_of_3",
    "phase_1_of_2",
    "phase_2_of_2",
)


@dataclass(frozen=True, slots=True)
class RatedInformation:
    """QPIRI: rated values and current settings."""

    grid_rating_voltage_v: float
    grid_rating_current_a: float
    output_rating_voltage_v: float
    output_rating_frequency_hz: float
    output_rating_current_a: float
    output_rating_apparent_power_va: float
    output_rating_active_power_w: float
    battery_rating_voltage_v: float
    battery_recharge_voltage_v: float
    battery_under_voltage_v: float
    battery_bulk_voltage_v: float
    battery_float_voltage_v: float
    battery_type: str
    max_ac_charging_current_a: float
    max_charging_current_a: float
    input_voltage_range: str
    output_source_priority: str
    charger_source_priority: str
    parallel_max_units: int | None = None
    machine_type: str | None = None
    topology: str | None = None
    output_mode: str | None = None
    battery_redischarge_voltage_v: float | None = None
    pv_ok_condition: int | None = None
    pv_power_balance: int | None = None
    extra_fields: tuple[str, ...] = ()


_QPIRI_NUMBERS = (
    "grid_rating_voltage_v",
    "grid_rating_current_a",
    "output_rating_voltage_v",
    "output_rating_frequency_hz",
    "output_rating_current_a",
    "output_rating_apparent_power_va",
    "output_rating_active_power_w",
    "battery_rating_voltage_v",
    "battery_recharge_voltage_v",
    "battery_under_voltage_v",
    "battery_bulk_voltage_v",
    "battery_float_voltage_v",
)
_QPIRI_DOCUMENTED = 25


def _code(fields: list[str], index: int, name: str) -> int:
    text = fields[index]
    if not text.isdigit() or len(text) > 3:
        raise ParseError(f"{name}: not a code: {text!r}")
    return int(text)


def _named(names: tuple[str, ...], code: int) -> str:
    # Newer firmware adds codes; an unknown code is information, not a malformed frame.
    return names[code] if code < len(names) else f"code_{code}"


def parse_qpiri(payload: bytes) -> RatedInformation:
    fields = _fields(payload, "QPIRI", 18)
    values: dict[str, object] = {
        name: _number(fields, i, name) for i, name in enumerate(_QPIRI_NUMBERS)
    }
    values["battery_type"] = _named(BATTERY_TYPES, _code(fields, 12, "battery type"))
    values["max_ac_charging_current_a"] = _number(fields, 13, "max AC charging current")
    values["max_charging_current_a"] = _number(fields, 14, "max charging current")
    values["input_voltage_range"] = _named(
        INPUT_VOLTAGE_RANGES, _code(fields, 15, "input voltage range")
    )
    values["output_source_priority"] = _named(
        OUTPUT_SOURCE_PRIORITIES, _code(fields, 16, "output source priority")
    )
    values["charger_source_priority"] = _named(
        CHARGER_SOURCE_PRIORITIES, _code(fields, 17, "charger source priority")
    )
    if len(fields) > 18:
        # "-" on models without parallel support.
        values["parallel_max_units"] = (
            None if fields[18] == "-" else _code(fields, 18, "parallel max units")
        )
    if len(fields) > 19:
        machine = fields[19]
        if not machine.isdigit() or len(machine) > 3:
            raise ParseError(f"machine type: not a code: {machine!r}")
        values["machine_type"] = MACHINE_TYPES.get(machine, f"code_{machine}")
    if len(fields) > 20:
        values["topology"] = _named(TOPOLOGIES, _code(fields, 20, "topology"))
    if len(fields) > 21:
        values["output_mode"] = _named(OUTPUT_MODES, _code(fields, 21, "output mode"))
    values["battery_redischarge_voltage_v"] = _optional_number(
        fields, 22, "battery re-discharge voltage"
    )
    if len(fields) > 23:
        values["pv_ok_condition"] = _code(fields, 23, "PV OK condition")
    if len(fields) > 24:
        values["pv_power_balance"] = _code(fields, 24, "PV power balance")
    values["extra_fields"] = tuple(fields[_QPIRI_DOCUMENTED:])
    return RatedInformation(**values)  # type: ignore[arg-type]


# -- identity -----------------------------------------------------------------------------


def parse_qid(payload: bytes) -> str:
    """The serial number (digits on every model seen; any printable token accepted)."""
    text = _text(payload).strip()
    if not text or len(text) > 32 or " " in text:
        raise ParseError(f"QID: not a serial number: {text[:40]!r}")
    return text


def parse_qvfw(payload: bytes) -> str:
    """Main CPU firmware version: ``VERFW:00072.70`` -> ``00072.70``."""
    text = _text(payload).strip()
    prefix, sep, version = text.partition(":")
    if not sep or prefix != "VERFW" or not version or not _NUMBER_RE.match(version):
        raise ParseError(f"QVFW: unexpected reply {text[:40]!r}")
    return version


def parse_qpi(payload: bytes) -> str:
    """Protocol ID, e.g. ``PI30``."""
    text = _text(payload).strip()
    if not re.fullmatch(r"PI\d{2}", text):
        raise ParseError(f"QPI: unexpected protocol id {text[:40]!r}")
    return text


# -- setters ------------------------------------------------------------------------------


def pop_command(priority: str | int) -> str:
    """POPnn: output source priority (utility_first, solar_first, sbu_first or 0..2)."""
    return f"POP{_priority_code(OUTPUT_SOURCE_PRIORITIES, priority):02d}"


def pcp_command(priority: str | int) -> str:
    """PCPnn: charger source priority (utility_first .. solar_only or 0..3)."""
    return f"PCP{_priority_code(CHARGER_SOURCE_PRIORITIES, priority):02d}"


def encode_pop(priority: str | int) -> bytes:
    return encode_command(pop_command(priority))


def encode_pcp(priority: str | int) -> bytes:
    return encode_command(pcp_command(priority))


def _priority_code(names: tuple[str, ...], priority: str | int) -> int:
    if isinstance(priority, int) and not isinstance(priority, bool):
        if 0 <= priority < len(names):
            return priority
    elif isinstance(priority, str) and priority in names:
        return names.index(priority)
    raise ValueError(f"priority must be one of {names} or 0..{len(names) - 1}: {priority!r}")


def parse_ack(payload: bytes) -> None:
    """Setter reply: returns on ACK; NAK raises NakError (decode_frame raises it earlier)."""
    if payload == b"ACK":
        return
    if payload == b"NAK":
        raise NakError("NAK")
    raise ParseError(f"expected ACK or NAK, got {payload[:40]!r}")


def decode_response(line: bytes, parser: Callable[[bytes], T]) -> T:
    """Frame check plus ``parser`` in one step (``line`` may end with CR)."""
    return parser(decode_frame(line.removesuffix(b"\r")).payload)
