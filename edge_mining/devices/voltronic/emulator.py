"""A Voltronic/Axpert inverter speaking PI30 byte for byte on a pseudo-terminal.

The numbers come from the plant simulator, so the miners' draw shows up in the inverter's
load and battery readings. Optional 2400-baud pacing (10 bits per byte, both directions) and
fault injection make it a flaky cable on demand:

- ``crc``: a reply with a corrupted CRC
- ``nak``: ``(NAK`` instead of the reply (with or without CRC)
- ``truncated``: the reply cut short, its CR never sent
- ``garbage``: line noise before the reply
- ``slow``: the reply sent after ``slow_s`` seconds (longer than the driver's timeout)
- ``vanish``: the device disappears for ``vanish_s`` seconds, then comes back on a new
  pseudo-terminal behind the same path (a symlink), like a USB re-enumeration

``line_noise()`` puts a burst of bytes on the cable, toward the inverter (which answers NAK to
every line it takes for a command) or toward the driver. By default every received line is
answered, however many arrive (the worst case for a driver); ``max_backlog`` models a real
inverter's firmware instead, which keeps only a few lines while it is busy answering.

Embedding: ``Pi30Emulator(plant).start()`` in the caller's event loop (the demo and the tests
share the Plant object); ``edge-mining emulate inverter`` runs it standalone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import random
import signal
import sys
import tempfile
import time
import tty
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge_mining.clock import Clock, ScaledClock, WallClock
from edge_mining.config import PlantConfig
from edge_mining.devices.voltronic import pi30
from edge_mining.sim.plant import Plant, PlantState

log = logging.getLogger(__name__)

FAULT_KINDS = ("crc", "nak", "truncated", "garbage", "slow", "vanish")
BITS_PER_BYTE = 10  # start bit, 8 data bits, stop bit
SERIAL_NUMBER = "96332309100452"
FIRMWARE = "VERFW:00072.70"
_PACING_CHUNK = 16  # bytes written at once when pacing


@dataclass(frozen=True)
class FaultSpec:
    """Probability per reply of each fault kind, and how long slow/vanish faults last."""

    rates: dict[str, float] = field(default_factory=dict)
    slow_s: float = 3.0
    vanish_s: float = 1.0
    seed: int = 1

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """``crc=0.05,nak=0.05,garbage=0.05,truncated=0.05,slow=0.02,vanish=0.001`` plus
        optional ``slow_s=``, ``vanish_s=``, ``seed=``. ValueError names the bad item."""
        rates: dict[str, float] = {}
        options: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = item.partition("=")
            key = key.strip()
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not sep or not math.isfinite(number) or number < 0:
                raise ValueError(f"fault {item!r}: expected NAME=NUMBER (a number >= 0)")
            if key in FAULT_KINDS:
                if number > 1:
                    raise ValueError(f"fault {item!r}: a rate is between 0 and 1")
                rates[key] = number
            elif key in ("slow_s", "vanish_s", "seed"):
                options[key] = number
            else:
                raise ValueError(
                    f"fault {key!r}: unknown (expected one of {', '.join(FAULT_KINDS)}, "
                    "slow_s, vanish_s, seed)"
                )
        if sum(rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        return cls(
            rates=rates,
            slow_s=options.get("slow_s", 3.0),
            vanish_s=options.get("vanish_s", 1.0),
            seed=int(options.get("seed", 1)),
        )

    def draw(self, rng: random.Random) -> str | None:
        """The fault for one reply, or None."""
        roll = rng.random()
        for kind in FAULT_KINDS:
            roll -= self.rates.get(kind, 0.0)
            if roll < 0:
                return kind
        return None


class _Pty:
    """One pseudo-terminal pair in raw mode. We keep the slave open so that a client closing
    its end does not hang up the master."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class Pi30Emulator:
    """An inverter on a pseudo-terminal. ``path`` is what a driver opens."""

    def __init__(
        self,
        plant: Plant,
        *,
        clock: Clock | None = None,
        step_plant: bool = False,
        pacing_baud: int | None = None,
        faults: FaultSpec | None = None,
        link_path: str | Path | None = None,
        dual_mppt: bool = False,
        hid_reports: bool = False,
        max_backlog: int | None = None,
    ) -> None:
        self.plant = plant
        self.clock = clock or WallClock()
        # Standalone, the emulator advances the plant; embedded, the plant's owner does.
        self.step_plant = step_plant
        self.pacing_baud = pacing_baud
        self.faults = faults or FaultSpec()
        self.link_path = Path(link_path) if link_path is not None else None
        self.dual_mppt = dual_mppt
        # USB HID inverters answer in 8-byte reports padded with NULs.
        self.hid_reports = hid_reports
        # Lines waiting to be answered; more are lost (a real UART's overflow). None: no bound.
        self.max_backlog = max_backlog
        self.lost_requests = 0
        self.output_priority = 2  # SBU
        self.charger_priority = 1  # solar first
        self.injected: Counter[str] = Counter()
        self.commands: Counter[str] = Counter()
        # Bytes that crossed the (emulated) wire, padding excluded: for wire-time figures.
        self.bytes_received = 0
        self.bytes_sent = 0
        self._rng = random.Random(self.faults.seed)
        self._forced: list[str] = []
        self._pty: _Pty | None = None
        self._inbox = bytearray()
        self._first_byte_at: float | None = None
        self._queue: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
        self._server: asyncio.Task[None] | None = None
        self._handlers: dict[str, Callable[[], bytes]] = {
            "QPI": lambda: b"PI30",
            "QID": lambda: SERIAL_NUMBER.encode(),
            "QVFW": lambda: FIRMWARE.encode(),
            "QPIRI": self._qpiri,
            "QPIGS": self._qpigs,
            "QMOD": self._qmod,
            "QPIWS": self._qpiws,
        }
        if dual_mppt:
            self._handlers["QPIGS2"] = self._qpigs2

    # -------------------------------------------------------------------- lifecycle

    @property
    def path(self) -> str:
        if self.link_path is not None:
            return str(self.link_path)
        if self._pty is None:
            raise RuntimeError("emulator not started")
        return self._pty.path

    async def start(self) -> str:
        self._open_pty()
        self._server = asyncio.create_task(self._serve(), name="pi30-emulator")
        return self.path

    async def stop(self) -> None:
        if self._server is not None:
            self._server.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._server
            self._server = None
        self._close_pty()
        if self.link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link_path.unlink()

    async def __aenter__(self) -> Pi30Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def inject(self, kind: str, count: int = 1) -> None:
        """Force ``kind`` onto the next ``count`` replies (tests use this for exact faults)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        self._forced.extend([kind] * count)

    async def vanish(self, seconds: float) -> None:
        """Unplug: the device path disappears for ``seconds``, then a new pty appears there."""
        self._close_pty()
        if self.link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link_path.unlink()
        await asyncio.sleep(seconds)
        self._open_pty()

    async def line_noise(self, data: bytes, *, toward: str = "inverter") -> None:
        """A burst of line noise on the cable: ``data`` reaches the inverter (``toward=
        "inverter"``: it answers each line as a command, NAK for junk) or the driver
        (``"driver"``). Returns once every byte has been written into the pseudo-terminal."""
        if toward not in ("inverter", "driver"):
            raise ValueError(f"toward must be inverter or driver, not {toward!r}")
        if self._pty is None:
            raise RuntimeError("emulator not started")
        if toward == "driver":
            await _write_all(self._pty.master, data)
            return
        # The device side of the pty, opened again as another writer on the line would.
        fd = os.open(self._pty.path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            await _write_all(fd, data)
        finally:
            os.close(fd)

    def _open_pty(self) -> None:
        pty = _Pty()
        self._pty = pty
        self._inbox.clear()
        self._first_byte_at = None
        asyncio.get_running_loop().add_reader(pty.master, self._readable, pty)
        if self.link_path is not None:
            # Replace atomically so a reader never sees a half-made link.
            tmp = self.link_path.with_name(self.link_path.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(pty.path)
            tmp.replace(self.link_path)

    def _close_pty(self) -> None:
        if self._pty is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._pty.master)
            self._pty.close()
            self._pty = None
        # Commands sent to the old device are lost with it.
        while not self._queue.empty():
            self._queue.get_nowait()

    # ------------------------------------------------------------------------ wire

    def _byte_time(self) -> float:
        return BITS_PER_BYTE / self.pacing_baud if self.pacing_baud else 0.0

    def _readable(self, pty: _Pty) -> None:
        try:
            data = os.read(pty.master, 1024)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            return
        now = time.monotonic()
        for byte in data:
            if byte == 0:
                continue  # HID report padding
            self.bytes_received += 1
            if self._first_byte_at is None:
                self._first_byte_at = now
            if byte == pi30.CR:
                # The command is complete once its last byte has crossed the wire.
                started = self._first_byte_at
                done = started + (len(self._inbox) + 1) * self._byte_time()
                if self.max_backlog is not None and self._queue.qsize() >= self.max_backlog:
                    self.lost_requests += 1
                else:
                    self._queue.put_nowait((bytes(self._inbox), max(now, done)))
                self._inbox.clear()
                self._first_byte_at = None
            elif len(self._inbox) < 256:
                self._inbox.append(byte)

    async def _serve(self) -> None:
        while True:
            request, ready_at = await self._queue.get()
            delay = ready_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self._answer(request)
            except OSError as error:
                log.debug("pi30 emulator: write failed: %s", error)

    async def _answer(self, request: bytes) -> None:
        command = self._command(request)
        self.commands[command or "?"] += 1
        reply = self._reply(command)
        fault = self._forced.pop(0) if self._forced else self.faults.draw(self._rng)
        if fault is not None:
            self.injected[fault] += 1
        match fault:
            case "crc":
                reply = _corrupt_crc(reply)
            case "nak":
                reply = pi30.encode_response(b"NAK") if self._rng.random() < 0.5 else b"(NAK\r"
            case "truncated":
                reply = reply[: self._rng.randint(1, max(1, len(reply) - 3))]
            case "garbage":
                noise = bytes(
                    self._rng.choice(_NOISE_BYTES) for _ in range(self._rng.randint(1, 12))
                )
                reply = noise + (b"\r" if self._rng.random() < 0.5 else b"") + reply
            case "slow":
                await asyncio.sleep(self.faults.slow_s)
            case "vanish":
                await self.vanish(self.faults.vanish_s)
                return
        await self._send(reply)

    def _command(self, request: bytes) -> str | None:
        """The command text when the request's CRC is right (or absent on a known command)."""
        if len(request) >= 3:
            body, crc = request[:-2], request[-2:]
            if pi30.crc_bytes(body) == crc:
                return body.decode("ascii", "replace")
        text = request.decode("ascii", "replace")
        return text if text in self._handlers else None

    def _reply(self, command: str | None) -> bytes:
        if command is None:
            return pi30.encode_response(b"NAK")
        handler = self._handlers.get(command)
        if handler is not None:
            return pi30.encode_response(handler())
        if command[:3] in ("POP", "PCP") and len(command) == 5 and command[3:].isdigit():
            value = int(command[3:])
            if command.startswith("POP") and value <= 2:
                self.output_priority = value
                return pi30.encode_response(b"ACK")
            if command.startswith("PCP") and value <= 3:
                self.charger_priority = value
                return pi30.encode_response(b"ACK")
        return pi30.encode_response(b"NAK")

    async def _send(self, reply: bytes) -> None:
        if self.hid_reports:
            reply = reply.ljust(-(-len(reply) // 8) * 8, b"\0")
        byte_time = self._byte_time()
        started = time.monotonic()
        for offset in range(0, len(reply), _PACING_CHUNK if byte_time else len(reply) or 1):
            chunk = reply[offset : offset + (_PACING_CHUNK if byte_time else len(reply))]
            if byte_time:
                # Each chunk leaves once its last byte would have crossed a 2400-baud line.
                wait = started + (offset + len(chunk)) * byte_time - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            if self._pty is None:
                return
            os.write(self._pty.master, chunk)
            self.bytes_sent += len(chunk)

    # --------------------------------------------------------------------- replies

    def _state(self) -> PlantState:
        if self.step_plant:
            return self.plant.step(self.clock.now())
        return self.plant.state

    def _qpigs(self) -> bytes:
        s = self._state()
        cfg = self.plant.config
        grid = cfg.grid_connected
        t = s.time
        grid_v = 230.0 + 2.0 * math.sin(t / 600.0) if grid else 0.0
        grid_hz = 50.0 + 0.05 * math.sin(t / 97.0) if grid else 0.0
        load_w = s.house_load_w + s.miners_w
        load_va = load_w / 0.95
        load_pct = 100.0 * load_w / cfg.inverter_max_w
        battery_v = s.battery_voltage_v
        charge_a = max(0.0, s.battery_power_w) / battery_v if battery_v > 0 else 0.0
        discharge_a = max(0.0, -s.battery_power_w) / battery_v if battery_v > 0 else 0.0
        pv_w = max(0.0, s.pv_w - s.curtailed_w)
        pv1_w = pv_w * 0.6 if self.dual_mppt else pv_w
        pv_v = 360.0 + 20.0 * math.sin(t / 900.0) if pv_w > 1 else 0.0
        pv_a = pv1_w / pv_v if pv_v else 0.0
        heatsink = 30.0 + 25.0 * min(1.0, (pv_w + load_w) / (2 * cfg.inverter_max_w))
        charging = s.battery_power_w > 1.0
        status = "".join(
            "1" if flag else "0"
            for flag in (
                False,  # b7 SBU priority version added
                False,  # b6 configuration changed
                False,  # b5 SCC firmware updated
                load_w > 0,  # b4 load on
                False,  # b3 battery voltage steady while charging
                charging,  # b2 charging
                charging and pv_w > 0,  # b1 SCC charging
                charging and grid and s.grid_w > 0,  # b0 AC charging
            )
        )
        status2 = ("1" if charging and s.battery_soc_pct >= 99 else "0") + "10"
        fields = (
            f"{_fit(grid_v, 5, 1)} {_fit(grid_hz, 4, 1)} {_fit(230.0, 5, 1)} {_fit(50.0, 4, 1)} "
            f"{_fit(load_va, 4, 0)} {_fit(load_w, 4, 0)} {_fit(load_pct, 3, 0)} "
            f"{_fit(390.0, 3, 0)} {_fit(battery_v, 5, 2)} {_fit(charge_a, 3, 0)} "
            f"{_fit(s.battery_soc_pct, 3, 0)} {_fit(heatsink, 4, 0)} {_fit(pv_a, 4, 1)} "
            f"{_fit(pv_v, 5, 1)} {_fit(battery_v, 5, 2)} {_fit(discharge_a, 5, 0)} "
            f"{status} 00 00 {_fit(pv1_w, 5, 0)} {status2}"
        )
        return fields.encode("ascii")

    def _qpigs2(self) -> bytes:
        s = self._state()
        pv2_w = max(0.0, s.pv_w - s.curtailed_w) * 0.4
        pv2_v = 340.0 + 15.0 * math.sin(s.time / 700.0) if pv2_w > 1 else 0.0
        pv2_a = pv2_w / pv2_v if pv2_v else 0.0
        return f"{_fit(pv2_a, 4, 1)} {_fit(pv2_v, 5, 1)} {_fit(pv2_w, 5, 0)} ".encode("ascii")

    def _qmod(self) -> bytes:
        s = self._state()
        if self.plant.config.grid_connected and s.grid_w > 0.5:
            return b"L"
        return b"B"

    def _qpiws(self) -> bytes:
        s = self._state()
        cfg = self.plant.config
        bits = ["0"] * 32
        if not cfg.grid_connected:
            bits[5] = "1"  # line fail
        if s.battery_soc_pct <= cfg.battery_min_soc_pct + 2:
            bits[12] = "1"  # battery low alarm
        if s.house_load_w + s.miners_w > cfg.inverter_max_w:
            bits[16] = "1"  # overload (a warning while the inverter-fault bit is clear)
        return "".join(bits).encode("ascii")

    def _qpiri(self) -> bytes:
        cfg = self.plant.config
        rated_w = cfg.inverter_max_w
        rated_a = rated_w / 230.0
        return (
            f"230.0 {_fit(rated_a, 4, 1)} 230.0 50.0 {_fit(rated_a, 4, 1)} "
            f"{_fit(rated_w, 4, 0)} {_fit(rated_w, 4, 0)} 48.0 46.0 42.0 56.4 54.0 "
            f"2 030 060 0 {self.output_priority} {self.charger_priority} 9 01 0 0 54.0 0 1"
        ).encode("ascii")


async def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a non-blocking fd, waiting for room as the reader drains it."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
            continue
        except BlockingIOError:
            pass
        room: asyncio.Future[None] = loop.create_future()
        loop.add_writer(fd, _resolve, room)
        try:
            await room
        finally:
            loop.remove_writer(fd)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _corrupt_crc(reply: bytes) -> bytes:
    """``reply`` with CRC bytes that cannot pass the check, nor read as a frame mark."""
    body = reply[:-3]
    for mask in (0x5A, 0xA5, 0x3C):
        crc = bytes(b ^ mask for b in reply[-3:-1])
        if 0x0D in crc or 0x28 in crc:
            continue
        with contextlib.suppress(pi30.Pi30Error):
            pi30.decode_frame(body + crc)
            continue
        return body + crc + b"\r"
    return body + b"\xff\xff\r"  # pragma: no cover - the masks above always find one


# Line noise never contains a frame start or a CR (those would be frames, not noise).
_NOISE_BYTES = bytes(b for b in range(1, 256) if b not in (0x0D, 0x28))


def _fit(value: float, width: int, decimals: int) -> str:
    """Zero-padded fixed-width field, clamped to what the width can show."""
    largest = 10 ** (width - (decimals + 1 if decimals else 0)) - 10**-decimals
    value = min(max(0.0, value), largest)
    return f"{value:0{width}.{decimals}f}"


# ------------------------------------------------------------------------------- CLI


def main(args: argparse.Namespace) -> int:
    """``edge-mining emulate inverter [--speed N] [--faults SPEC] [--pacing]``."""
    try:
        faults = FaultSpec.parse(args.faults or "")
    except ValueError as error:
        print(f"edge-mining emulate inverter: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve_until_signal(args.speed, faults, bool(args.pacing)))
    except KeyboardInterrupt:
        pass
    return 0


async def _serve_until_signal(speed: float, faults: FaultSpec, pacing: bool) -> None:
    start = time.time()
    clock = ScaledClock(start, speed)
    plant = Plant(PlantConfig(), start_time=start)
    link_dir: tempfile.TemporaryDirectory[str] | None = None
    link_path = None
    if faults.rates.get("vanish"):
        # The pty changes on every re-plug: give the driver a path that stays the same.
        link_dir = tempfile.TemporaryDirectory(prefix="edge-mining-pi30-")
        link_path = Path(link_dir.name) / "ttyPI30"
    emulator = Pi30Emulator(
        plant,
        clock=clock,
        step_plant=True,
        pacing_baud=2400 if pacing else None,
        faults=faults,
        link_path=link_path,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        path = await emulator.start()
        print(f"PTY {path}", flush=True)
        await stop.wait()
    finally:
        await emulator.stop()
        if link_dir is not None:
            link_dir.cleanup()
