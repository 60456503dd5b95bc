"""Voltronic / Axpert / MPP Solar inverters over PI30: transport and energy source.

Two links carry the same PI30 bytes:
- ``serial``: an RS232 (or USB-serial) tty at 2400 8N1, through pyserial-asyncio-fast;
- ``hidraw``: the inverter's own USB HID interface (``/dev/hidrawN``), plain file I/O where a
  write is one 8-byte report (the last one padded with NULs) and replies arrive in reports
  that we concatenate until CR.

``Pi30Client`` owns one link and sends one command at a time (an asyncio.Lock), with a
per-command timeout, retries, resynchronisation after garbage, and reopening when the device
disappears (cable unplugged, USB re-enumeration). Every fault is counted by kind and logged
once per kind until the link recovers.

Line noise (a bad cable, a USB adapter that babbles) must never make the client read old
lines for new answers. So, before each command is written, everything received until then is
read out and discarded (counted by kind), and the receive buffer is bounded: a burst of any
size costs at most the exchange it lands in. After the write, the inverter answers in order,
so the reply to our command is the last thing it sends: a refusal or a corrupt frame that is
followed by another frame within a few byte times was the answer to something earlier (a
line of noise the inverter took for a command) and does not fail the attempt.

``VoltronicSource`` polls QPIGS (+ QPIGS2 on dual-MPPT models), QMOD and QPIWS and maps them
into an ``EnergyReading``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import NoReturn, TypeVar

import serial_asyncio_fast

from edge_mining.clock import Clock, WallClock
from edge_mining.config import VoltronicSourceConfig
from edge_mining.devices.base import CommandRejected, DeviceError, DeviceUnavailable
from edge_mining.devices.voltronic import pi30
from edge_mining.model import EnergyReading

# Named for the package (the module's name before it became one): log lines are unchanged.
log = logging.getLogger("edge_mining.devices.voltronic")

T = TypeVar("T")

HID_REPORT_BYTES = 8
# Fault kinds counted by the client (the keys of ``fault_counts``).
FAULT_KINDS = (
    "timeout",  # nothing came back in time
    "truncated",  # a frame started but its CR never came
    "garbage",  # bytes that are not part of any frame
    "crc",  # a frame whose CRC does not match
    "nak",  # the inverter refused the command
    "parse",  # a valid frame that does not fit the command (malformed or a stray reply)
    "frame",  # a line too short or too long to be a frame
    "disconnect",  # the open device went away
    "unavailable",  # the device could not be opened
    "stray",  # a valid reply no command was waiting for (late, or answering line noise)
    "overflow",  # bytes dropped because more arrived than a reply can hold before being read
)

# What the receive buffer keeps between two reads: several of the longest replies. Older
# bytes can only be stale (everything is discarded before the next command anyway), so a
# babbling line costs memory up to this bound and no more.
MAX_INBOX_BYTES = 4096
# How long to listen after a refusal or a corrupt frame for a further frame that would show
# it answered an earlier line: this many byte times (the gap before an inverter's next reply
# starts, with margin), and never less than MIN_SETTLE_S.
SETTLE_BYTES = 40
MIN_SETTLE_S = 0.05
BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit


class LinkLost(Exception):
    """The open device went away (EOF, EIO): close it and reopen later."""


# ------------------------------------------------------------------------------- links


class _Inbox(asyncio.Protocol):
    """Bytes received from the device, waited on by the reader; the newest MAX_INBOX_BYTES."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.lost = False
        self.dropped = 0  # bytes dropped for overflow, not yet reported
        self.changed = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.data += data
        if len(self.data) > MAX_INBOX_BYTES:
            excess = len(self.data) - MAX_INBOX_BYTES
            del self.data[:excess]
            self.dropped += excess
        self.changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.changed.set()

    async def take(self, timeout: float) -> bytes:
        """Whatever has arrived, waiting up to ``timeout`` for something. b"" on timeout."""
        if not self.data and not self.lost:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), max(0.0, timeout))
        if self.data:
            chunk = bytes(self.data)
            self.data.clear()
            return chunk
        if self.lost:
            raise LinkLost("device closed")
        return b""

    def take_now(self) -> bytes:
        """Whatever has arrived, without waiting."""
        chunk = bytes(self.data)
        self.data.clear()
        return chunk

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped


# Reads a link makes to empty the device's buffer before a command: bounded, so that a line
# that never stops babbling cannot keep the client in the drain.
_DRAIN_READS = 16


class SerialLink:
    """A tty (RS232, USB-serial adapter, or a pseudo-terminal) at 2400 8N1."""

    def __init__(self, device: str, baudrate: int = 2400) -> None:
        self.device = device
        self.baudrate = baudrate
        self._inbox: _Inbox | None = None
        self._transport: asyncio.Transport | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        inbox = _Inbox()
        try:
            transport, _ = await serial_asyncio_fast.create_serial_connection(
                loop,
                lambda: inbox,
                self.device,
                baudrate=self.baudrate,
                bytesize=8,
                parity="N",
                stopbits=1,
                exclusive=True,
            )
        except Exception as error:  # serial.SerialException, OSError, ValueError
            code = getattr(error, "errno", None)
            reason = os.strerror(code) if isinstance(code, int) else str(error)
            raise OSError(code, f"cannot open {self.device}: {reason}") from error
        self._inbox, self._transport = inbox, transport

    async def write(self, data: bytes) -> None:
        if self._transport is None or self._inbox is None or self._inbox.lost:
            raise LinkLost("device closed")
        self._transport.write(data)

    async def read(self, timeout: float) -> bytes:
        if self._inbox is None:
            raise LinkLost("device closed")
        return await self._inbox.take(timeout)

    def drain(self) -> tuple[bytes, int]:
        """Everything received so far, the kernel's buffer included, without waiting; and the
        bytes dropped for overflow since the last drain."""
        if self._transport is None or self._inbox is None:
            raise LinkLost("device closed")
        port = self._transport.serial  # type: ignore[attr-defined]
        try:
            # The transport reads only when the loop turns: take what the tty holds now.
            for _ in range(_DRAIN_READS):
                chunk = port.read(MAX_INBOX_BYTES) if port is not None else b""
                if not chunk:
                    break
                self._inbox.data_received(chunk)
        except (OSError, ValueError) as error:  # serial.SerialException is an OSError
            raise LinkLost(f"read failed: {error}") from error
        return self._inbox.take_now(), self._inbox.take_dropped()

    def drain_dropped(self) -> int:
        """Bytes dropped for overflow since the last call."""
        return self._inbox.take_dropped() if self._inbox is not None else 0

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            # Let the transport finish closing (it releases the fd on the next loop turn).
            await asyncio.sleep(0)
        self._transport = self._inbox = None


class HidrawLink:
    """The inverter's USB HID interface: 8-byte reports, plain file I/O on /dev/hidrawN."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._fd: int | None = None
        self._inbox: _Inbox | None = None

    async def open(self) -> None:
        try:
            fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as error:
            raise OSError(error.errno, f"cannot open {self.device}: {error.strerror}") from error
        inbox = _Inbox()
        self._fd, self._inbox = fd, inbox
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> bool:
        """Read what the device has; False when it had nothing (or went away)."""
        assert self._fd is not None and self._inbox is not None
        try:
            data = os.read(self._fd, 256)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if data:
            self._inbox.data_received(data)
            return True
        asyncio.get_running_loop().remove_reader(self._fd)
        self._inbox.connection_lost(None)
        return False

    async def write(self, data: bytes) -> None:
        if self._fd is None or self._inbox is None or self._inbox.lost:
            raise LinkLost("device closed")
        for start in range(0, len(data), HID_REPORT_BYTES):
            report = data[start : start + HID_REPORT_BYTES].ljust(HID_REPORT_BYTES, b"\0")
            while True:
                try:
                    os.write(self._fd, report)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.005)
                except OSError as error:
                    raise LinkLost(f"write failed: {error}") from error

    async def read(self, timeout: float) -> bytes:
        if self._inbox is None:
            raise LinkLost("device closed")
        return await self._inbox.take(timeout)

    def drain(self) -> tuple[bytes, int]:
        """As SerialLink.drain: everything received so far, and the bytes dropped."""
        if self._fd is None or self._inbox is None or self._inbox.lost:
            raise LinkLost("device closed")
        for _ in range(_DRAIN_READS * MAX_INBOX_BYTES // 256):
            if not self._readable():
                break
        if self._inbox.lost and not self._inbox.data:
            raise LinkLost("device closed")
        return self._inbox.take_now(), self._inbox.take_dropped()

    def drain_dropped(self) -> int:
        """Bytes dropped for overflow since the last call."""
        return self._inbox.take_dropped() if self._inbox is not None else 0

    async def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._fd)
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = self._inbox = None


Link = SerialLink | HidrawLink


# ------------------------------------------------------------------------------ client


class Pi30Client:
    """One PI30 conversation at a time over a serial or hidraw link."""

    def __init__(
        self,
        device: str,
        *,
        transport: str = "serial",
        baudrate: int = 2400,
        timeout_s: float = 2.0,
        retries: int = 2,
        name: str = "inverter",
    ) -> None:
        if transport not in ("serial", "hidraw"):
            raise ValueError(f"transport must be serial or hidraw, not {transport!r}")
        self.device = device
        self.transport = transport
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.retries = retries
        self.name = name
        self.fault_counts: Counter[str] = Counter()
        self._seen: set[str] = set()
        self._down = False
        self._link: Link | None = None
        # After a refusal or a corrupt frame, how long to listen for a further frame.
        self._settle_s = max(MIN_SETTLE_S, SETTLE_BYTES * BITS_PER_BYTE / baudrate)
        self._buffer = pi30.FrameBuffer()
        # Lines received during one exchange and not yet examined: at most one read's worth
        # (MAX_INBOX_BYTES), and emptied before every command.
        self._lines: deque[bytes] = deque()
        self._lock = asyncio.Lock()

    # -- public

    async def query(self, command: str, parser: Callable[[bytes], T]) -> T:
        """Send ``command`` and return its parsed reply, retrying on faults.

        Raises CommandRejected when the inverter keeps answering NAK, DeviceUnavailable when
        it cannot be reached, DeviceError when its replies stay malformed.
        """
        return await self._exchange(command, parser, retry_nak=True)

    async def set(self, command: str) -> None:
        """Send a setter (POP02, PCP01, ...): returns on ACK, CommandRejected on NAK."""
        await self._exchange(command, pi30.parse_ack, retry_nak=False)

    async def close(self) -> None:
        async with self._lock:
            await self._drop_link()

    @property
    def connected(self) -> bool:
        return self._link is not None

    # -- internals

    async def _exchange(self, command: str, parser: Callable[[bytes], T], *, retry_nak: bool) -> T:
        request = pi30.encode_command(command)
        async with self._lock:
            last: str = "no attempt"
            last_kind = "timeout"
            for attempt in range(self.retries + 1):
                try:
                    link = await self._ensure_link()
                except OSError as error:
                    last_kind, last = "unavailable", error.strerror or str(error)
                    self._fault("unavailable", f"{command}: {last}")
                    if attempt < self.retries:
                        await asyncio.sleep(min(0.5, self.timeout_s / 4))
                    continue
                try:
                    self._discard_stale(link, command)
                    await link.write(request)
                    result = await self._read_reply(link, command, parser)
                except LinkLost as error:
                    last_kind, last = "disconnect", f"device went away ({error})"
                    self._fault("disconnect", f"{command}: {last}")
                    await self._drop_link()
                    continue
                except _AttemptFailed as failure:
                    last_kind, last = failure.kind, failure.message
                    if failure.kind == "nak" and not retry_nak:
                        break
                    continue
                self._recovered()
                return result
            message = f"{self.name}: {command} failed after {attempt + 1} attempt(s): {last}"
            self._exchange_failed(message)
            if last_kind == "nak":
                raise CommandRejected(message)
            if last_kind in ("timeout", "disconnect", "unavailable"):
                raise DeviceUnavailable(message)
            raise DeviceError(message)

    async def _ensure_link(self) -> Link:
        if self._link is None:
            link: Link = (
                HidrawLink(self.device)
                if self.transport == "hidraw"
                else SerialLink(self.device, self.baudrate)
            )
            await link.open()
            self._link = link
            self._buffer = pi30.FrameBuffer()
            self._lines.clear()
            log.debug("%s: opened %s (%s)", self.name, self.device, self.transport)
        return self._link

    async def _drop_link(self) -> None:
        if self._link is not None:
            await self._link.close()
            self._link = None
        self._buffer.clear()
        self._lines.clear()

    def _discard_stale(self, link: Link, command: str) -> None:
        """Read out and drop everything received before ``command`` is written: the resync.

        Nothing received so far can answer the command about to be written: it is a late reply,
        the inverter's refusal of line noise, or the noise itself. Each line is counted by its
        kind (``stray`` for a valid reply), with one log line per kind.
        """
        data, dropped = link.drain()
        lines = [*self._lines, *self._buffer.feed(data)]
        self._lines.clear()
        kinds: Counter[str] = Counter()
        for line in lines:
            kinds.update(_stale_kinds(line))
        tail = self._buffer.clear().strip(b"\0")
        if tail:
            kinds["truncated" if tail.startswith(b"(") else "garbage"] += 1
        if overflow := self._buffer.take_overflow():
            kinds["garbage"] += 1
            dropped += overflow
        for kind, count in sorted(kinds.items()):
            noun = "line" if count == 1 else "lines"
            self._fault(
                kind, f"{command}: discarded {count} {noun} received before the command", count
            )
        if dropped:
            self._fault("overflow", f"{command}: dropped {dropped} bytes of a burst")

    async def _read_reply(self, link: Link, command: str, parser: Callable[[bytes], T]) -> T:
        """Read lines until one is ``command``'s valid reply, or the attempt fails.

        Lines that are garbage, or valid frames that do not parse as this command's reply (a
        late reply to an earlier command), are counted and skipped. The inverter answers in
        order, so its answer to ``command`` is the last frame it sends: a refusal or a corrupt
        frame fails the attempt only if no further frame starts within the settle time (or
        before the deadline); one that is followed by another frame answered an earlier line.
        """
        deadline = time.monotonic() + self.timeout_s
        discarded_kind: str | None = None
        failed: _AttemptFailed | None = None
        while True:
            while self._lines:
                outcome = self._accept_line(command, self._lines.popleft(), parser)
                if outcome is _PADDING:
                    continue
                if isinstance(outcome, _AttemptFailed):
                    failed = outcome
                    continue
                if isinstance(outcome, _Discarded):
                    discarded_kind = outcome.kind
                    if outcome.kind != "garbage":
                        failed = None  # a frame came after it: the failure answered something else
                    continue
                return outcome  # type: ignore[return-value]
            remaining = deadline - time.monotonic()
            frame_on_its_way = pi30.START in self._buffer.pending
            if failed is not None and (remaining <= 0 or not frame_on_its_way):
                # Nothing more is on its way: listen a little for a further frame.
                data = await link.read(min(self._settle_s, remaining)) if remaining > 0 else b""
                if not data:
                    raise failed
            elif remaining <= 0:
                self._on_timeout(command, discarded_kind)
            else:
                data = await link.read(remaining)
            self._lines.extend(self._buffer.feed(data))
            if overflow := self._buffer.take_overflow():
                self._fault("garbage", f"{command}: {overflow} bytes without a frame end")
            if dropped := link.drain_dropped():
                self._fault("overflow", f"{command}: dropped {dropped} bytes of a burst")

    def _accept_line(
        self, command: str, line: bytes, parser: Callable[[bytes], T]
    ) -> T | _Discarded | _AttemptFailed | object:
        stripped = line.lstrip(b"\0")
        if not stripped:
            return _PADDING  # USB report padding, nothing lost
        try:
            frame = pi30.decode_frame(stripped)
        except pi30.Pi30Error as error:
            self._count_skipped(command, error.skipped)
            if isinstance(error, pi30.FrameError) and pi30.START not in stripped:
                self._fault("garbage", f"{command}: {len(stripped)} bytes of line noise")
                return _Discarded("garbage")
            self._fault(error.kind, f"{command}: {error}")
            return _AttemptFailed(error.kind, str(error))
        self._count_skipped(command, frame.skipped)
        try:
            return parser(frame.payload)
        except pi30.NakError as error:
            self._fault("nak", f"{command}: {error}")
            return _AttemptFailed("nak", str(error))
        except pi30.Pi30Error as error:
            self._fault("parse", f"{command}: {error}")
            return _Discarded("parse")

    def _count_skipped(self, command: str, skipped: bytes) -> None:
        skipped = skipped.strip(b"\0")
        if skipped:
            kind = "truncated" if skipped.startswith(b"(") else "garbage"
            self._fault(kind, f"{command}: skipped {len(skipped)} bytes before a frame")

    def _on_timeout(self, command: str, discarded_kind: str | None) -> NoReturn:
        pending = self._buffer.clear().strip(b"\0")
        if pending:
            kind = "truncated" if pending.startswith(b"(") else "garbage"
            self._fault(kind, f"{command}: {len(pending)} bytes without a frame end")
            raise _AttemptFailed(kind, f"reply cut short ({len(pending)} bytes)")
        if discarded_kind is not None:
            # The fault that cost this attempt was already counted when it was discarded.
            raise _AttemptFailed(discarded_kind, "no valid reply")
        self._fault("timeout", f"{command}: no reply within {self.timeout_s:g} s")
        raise _AttemptFailed("timeout", f"no reply within {self.timeout_s:g} s")

    def _fault(self, kind: str, message: str, count: int = 1) -> None:
        # A flaky cable produces many faults that retries absorb: each is counted, the first
        # of each kind is a warning, the rest are debug lines.
        self.fault_counts[kind] += count
        if kind in self._seen:
            log.debug("%s: %s (%s)", self.name, message, kind)
        else:
            self._seen.add(kind)
            log.warning(
                "%s: %s (%s; further %s faults are counted and logged at debug level)",
                self.name,
                message,
                kind,
                kind,
            )

    def _exchange_failed(self, message: str) -> None:
        if self._down:
            log.debug("%s", message)
        else:
            self._down = True
            log.warning("%s", message)

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            counts = ", ".join(f"{k}={v}" for k, v in sorted(self.fault_counts.items()))
            log.info("%s: answering again (faults so far: %s)", self.name, counts)


class _AttemptFailed(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Discarded:
    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind


_PADDING = object()


def _stale_kinds(line: bytes) -> list[str]:
    """The fault kinds in a line received before its command was written: the line's own
    (``stray`` for a valid reply) and that of the bytes skipped before its frame, if any."""
    stripped = line.lstrip(b"\0")
    if not stripped:
        return []  # USB report padding
    try:
        frame = pi30.decode_frame(stripped)
    except pi30.FrameError as error:
        kind, skipped = ("frame" if pi30.START in stripped else "garbage"), error.skipped
    except pi30.Pi30Error as error:
        kind, skipped = error.kind, error.skipped
    else:
        kind, skipped = "stray", frame.skipped
    skipped = skipped.strip(b"\0")
    if not skipped:
        return [kind]
    return [kind, "truncated" if skipped.startswith(b"(") else "garbage"]


# ------------------------------------------------------------------------------ source


class VoltronicSource:
    """An EnergySource reading a PI30 inverter: QPIGS (+QPIGS2), QMOD and QPIWS per read."""

    def __init__(
        self,
        config: VoltronicSourceConfig,
        *,
        name: str = "inverter",
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock or WallClock()
        self.client = Pi30Client(
            config.device,
            transport=config.transport,
            baudrate=config.baudrate,
            timeout_s=config.timeout_s,
            retries=config.retries,
            name=name,
        )
        self.reads_ok = 0
        self.reads_failed = 0

    @property
    def fault_counts(self) -> dict[str, int]:
        """Faults seen on the link, by kind (see FAULT_KINDS)."""
        return dict(self.client.fault_counts)

    async def read(self) -> EnergyReading:
        try:
            status = await self.client.query("QPIGS", pi30.parse_qpigs)
        except DeviceError:
            self.reads_failed += 1
            raise
        timestamp = self._clock.now()
        pv2 = await self._optional("QPIGS2", pi30.parse_qpigs2) if self.config.dual_mppt else None
        mode = await self._optional("QMOD", pi30.parse_qmod)
        warnings = await self._optional("QPIWS", pi30.parse_qpiws)
        self.reads_ok += 1
        return to_energy_reading(timestamp, status, mode=mode, warnings=warnings, pv2=pv2)

    async def _optional(self, command: str, parser: Callable[[bytes], T]) -> T | None:
        # QPIGS carries the numbers; a failed mode or warning query leaves those fields unknown
        # rather than losing the whole reading.
        try:
            return await self.client.query(command, parser)
        except DeviceError as error:
            log.debug("%s: %s", self.name, error)
            return None

    async def set_output_priority(self, priority: str | int) -> None:
        """POPnn: utility_first, solar_first or sbu_first."""
        await self.client.set(pi30.pop_command(priority))

    async def set_charger_priority(self, priority: str | int) -> None:
        """PCPnn: utility_first, solar_first, solar_and_utility or solar_only."""
        await self.client.set(pi30.pcp_command(priority))

    async def close(self) -> None:
        await self.client.close()


def to_energy_reading(
    timestamp: float,
    status: pi30.GeneralStatus,
    *,
    mode: str | None = None,
    warnings: pi30.WarningStatus | None = None,
    pv2: pi30.Pv2Status | None = None,
) -> EnergyReading:
    """Map PI30 replies into the core's EnergyReading (SI units, our sign conventions)."""
    return EnergyReading(
        timestamp=timestamp,
        pv_power_w=status.pv_power_w,
        pv2_power_w=pv2.pv2_power_w if pv2 is not None else None,
        load_power_w=status.output_active_power_w,
        load_apparent_va=status.output_apparent_power_va,
        battery_soc_pct=status.battery_capacity_pct,
        battery_power_w=status.battery_power_w,
        battery_voltage_v=status.battery_voltage_v,
        # PI30 does not report grid power; QPIGS has grid voltage and frequency only.
        grid_power_w=None,
        grid_voltage_v=status.grid_voltage_v,
        grid_frequency_hz=status.grid_frequency_hz,
        inverter_mode=mode,
        warnings=warnings.active if warnings is not None else (),
        heatsink_temperature_c=status.heatsink_temperature_c,
    )
