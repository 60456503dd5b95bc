"""Emulated devices bound to loopback addresses, one address per device, and fleets of them.

An :class:`EmulatedDevice` owns a :class:`~edge_mining.devices.emulation.machine.MinerMachine`
and the listeners its firmware opens (the cgminer API on 4028, a web server on 80, gRPC,
SSH...), each on the device's own 127.x.y.z at the real port, so unmodified client libraries
find it exactly where they look on a LAN. A listener may be optional (port 80 needs
privileges, and a client that has another way in does not need it) or required (a Bitaxe is
only HTTP). Every family's emulator takes the same options (:class:`EmulatorOptions`: clock or
speed, name, faults, mining at start, warm-up, ramp and settle times); a family declares its
own default times (:attr:`EmulatedDevice.default_timing`).

An :class:`EmulatorFleet` runs many devices and can feed each one's draw to the plant
simulator, so the miners' power shows up in the energy readings.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Protocol, Self, TypedDict

from edge_mining.clock import Clock, ScaledClock, WallClock
from edge_mining.devices.emulation import cgminer, http
from edge_mining.devices.emulation.faults import Faults
from edge_mining.devices.emulation.machine import (
    HardwareSpec,
    MachineSpec,
    MinerMachine,
    PowerCurve,
)

log = logging.getLogger(__name__)

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
BACKLOG = 512

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server(Protocol):
    """A listening server: asyncio's, grpclib's, asyncssh's acceptor."""

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


Opener = Callable[[str, int], Awaitable[Server]]  # (host, port) -> a server listening there


def loopback_hosts(first: str, count: int) -> list[str]:
    """``count`` consecutive addresses from ``first``, all inside 127.0.0.0/8."""
    if count < 1:
        raise ValueError("count must be at least 1")
    start = ipaddress.IPv4Address(first)
    last = start + (count - 1)
    if start not in LOOPBACK or last not in LOOPBACK:
        raise ValueError(f"{first} + {count} addresses leaves the loopback range 127.0.0.0/8")
    return [str(start + i) for i in range(count)]


def require_loopback(host: str) -> str:
    if ipaddress.IPv4Address(host) not in LOOPBACK:
        raise ValueError(f"{host} is not a loopback address (127.0.0.0/8)")
    return host


def emulator_clock(speed: float) -> Clock:
    """The clock of an emulator running ``speed`` times faster than the wall clock."""
    return ScaledClock(WallClock().now(), speed) if speed != 1.0 else WallClock()


def stream_server(handler: ConnectionHandler) -> Opener:
    """An :data:`Opener` serving each TCP connection with ``handler``."""

    async def open_server(host: str, port: int) -> Server:
        return await asyncio.start_server(handler, host, port, backlog=BACKLOG, reuse_address=True)

    return open_server


@dataclass(frozen=True, slots=True)
class Listener:
    """One TCP port a device serves."""

    name: str  # for log lines: "cgminer API", "web"
    port: int
    open: Opener
    required: bool = True  # False: skipped (and logged) when the port cannot be bound


@dataclass(frozen=True, slots=True)
class Timing:
    """How long a (re)start takes: boards initialising, hashrate ramping, a new level settling
    (the machine's clock's seconds)."""

    warmup_s: float = 10.0
    ramp_s: float = 30.0
    settle_s: float = 20.0


class EmulatorOptions(TypedDict, total=False):
    """What every family's emulated miner takes beside its host, model, password and ports."""

    clock: Clock | None  # the machine's time (default: the wall clock, ``speed`` times faster)
    speed: float
    name: str | None  # the miner's name for the plant (default from the host)
    faults: Faults | None
    mining: bool  # mining at start
    warmup_s: float | None  # None: the family's default_timing
    ramp_s: float | None
    settle_s: float | None
    seed: int | None  # serial, MAC and the like (default from the host)


class EmulatedDevice:
    """One emulated miner on one loopback address: its machine and its listeners.

    Subclasses set ``machine`` (:meth:`new_machine`, :meth:`level_machine`) and return their
    ports from :meth:`listeners`.
    """

    machine: MinerMachine
    default_timing: ClassVar[Timing] = Timing()

    def __init__(
        self,
        host: str,
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        name: str | None = None,
        faults: Faults | None = None,
        mining: bool = True,
        warmup_s: float | None = None,
        ramp_s: float | None = None,
        settle_s: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.host = require_loopback(host)
        self.clock = clock if clock is not None else emulator_clock(speed)
        self.name = name or f"miner-{host.replace('.', '-')}"
        self.faults = faults or Faults()
        default = self.default_timing
        self.timing = Timing(
            default.warmup_s if warmup_s is None else warmup_s,
            default.ramp_s if ramp_s is None else ramp_s,
            default.settle_s if settle_s is None else settle_s,
        )
        self.mining_at_start = mining
        self.seed = int(ipaddress.IPv4Address(self.host)) if seed is None else seed
        self.ports: dict[str, int] = {}  # listener name -> port actually served
        self._servers: list[Server] = []
        self._started = False

    def listeners(self) -> Sequence[Listener]:
        raise NotImplementedError

    # ------------------------------------------------------------------- building blocks

    def machine_options(self) -> dict[str, Any]:
        """The keyword arguments of the device's machine: its timing, mining at start, seed."""
        timing = self.timing
        return {
            "warmup_s": timing.warmup_s,
            "ramp_s": timing.ramp_s,
            "settle_s": timing.settle_s,
            "mining": self.mining_at_start,
            "seed": self.seed,
        }

    def new_machine(self, spec: MachineSpec, curve: PowerCurve | None = None) -> MinerMachine:
        """The device's machine (see :meth:`machine_options`) for ``spec`` and ``curve``."""
        return MinerMachine(spec, self.clock, curve=curve, **self.machine_options())

    def level_machine(
        self,
        levels: Sequence[tuple[float, float]],
        *,
        default_w: float,
        idle_w: float,
        nominal: tuple[float, float] | None = None,
        hashboards: int = 1,
        fans: int = 1,
    ) -> MinerMachine:
        """A machine whose power levels are ``levels`` ((W, TH/s), lowest first): targets from
        the lowest to the highest, hashrate along the levels; ``nominal`` (W, TH/s) is the
        top level unless given."""
        nominal_w, nominal_ths = nominal or levels[-1]
        spec = HardwareSpec(
            nominal_ths=nominal_ths,
            nominal_w=nominal_w,
            min_target_w=int(levels[0][0]),
            max_target_w=int(levels[-1][0]),
            default_target_w=int(default_w),
            idle_w=idle_w,
            hashboards=hashboards,
            fans=fans,
        )
        curve = PowerCurve(tuple(levels)) if len(levels) > 1 else None
        return self.new_machine(spec, curve)

    def cgminer_listener(
        self,
        port: int,
        respond: Callable[[cgminer.Request], bytes],
        *,
        name: str = "cgminer API",
        raw: cgminer.RawResponder | None = None,
    ) -> Listener:
        """The cgminer-style API on ``port`` (replies delayed by the ``slow`` fault)."""
        serve = partial(
            cgminer.serve_connection, self.host, respond, delay=self.reply_delay, raw=raw
        )
        return Listener(name, port, stream_server(serve))

    def web_listener(
        self, port: int, route: http.Route, *, name: str = "web", required: bool = True
    ) -> Listener:
        """An HTTP server on ``port`` (replies delayed by the ``slow`` fault)."""
        serve = partial(http.serve_connection, self.host, route, delay=self.reply_delay)
        return Listener(name, port, stream_server(serve), required=required)

    # ------------------------------------------------------------------- lifecycle

    @property
    def listening(self) -> bool:
        return bool(self._servers)

    async def start(self) -> None:
        """Bind the listeners (unless the unreachable fault is set)."""
        self._started = True
        if not self.faults.unreachable:
            await self._bind()

    async def close(self) -> None:
        self._started = False
        await self._unbind()

    async def set_unreachable(self, unreachable: bool) -> None:
        """Take the device off the network (listeners closed) or bring it back."""
        self.faults.unreachable = unreachable
        if unreachable:
            await self._unbind()
        else:
            self.on_reconnect()
            if self._started and not self.listening:
                await self._bind()

    def on_reconnect(self) -> None:
        """Called when the device comes back on the network (a reboot, as clients see it)."""

    async def _bind(self) -> None:
        try:
            for listener in self.listeners():
                try:
                    server = await listener.open(self.host, listener.port)
                except OSError as exc:
                    if listener.required:
                        raise
                    log.info(
                        "%s: %s on port %s not served: %s",
                        self.host,
                        listener.name,
                        listener.port,
                        exc,
                    )
                    continue
                self._servers.append(server)
                self.ports[listener.name] = listener.port
        except BaseException:
            await self._unbind()
            raise

    async def _unbind(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for server in servers:
            await server.wait_closed()

    async def reply_delay(self) -> None:
        """The injected ``slow`` fault: every reply waits this long (wall seconds)."""
        if self.faults.slow_s:
            await asyncio.sleep(self.faults.slow_s)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class FleetMember(Protocol):
    host: str
    name: str
    machine: MinerMachine

    async def start(self) -> None: ...

    async def close(self) -> None: ...


PowerCallback = Callable[[str, float], None]


class EmulatorFleet:
    """Many emulated miners; optionally feeds each one's draw to ``on_power(name, watts)``."""

    def __init__(
        self,
        miners: Sequence[FleetMember],
        *,
        on_power: PowerCallback | None = None,
        feed_interval_s: float = 0.5,
    ) -> None:
        self.miners = list(miners)
        self.on_power = on_power
        self.feed_interval_s = feed_interval_s
        self._feed_task: asyncio.Task[None] | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.miners)

    def __len__(self) -> int:
        return len(self.miners)

    def by_host(self, host: str) -> Any:
        for miner in self.miners:
            if miner.host == host:
                return miner
        raise KeyError(host)

    async def start(self) -> None:
        try:
            for miner in self.miners:
                await miner.start()
        except BaseException:
            await self.close()
            raise
        if self.on_power is not None:
            self.feed_power()
            self._feed_task = asyncio.create_task(self._feed_loop(), name="emulator-power-feed")

    async def close(self) -> None:
        task, self._feed_task = self._feed_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for miner in self.miners:
            await miner.close()

    def feed_power(self) -> None:
        """Tell ``on_power`` what every miner draws now."""
        if self.on_power is None:
            return
        for miner in self.miners:
            self.on_power(miner.name, miner.machine.power_w)

    async def _feed_loop(self) -> None:
        while True:
            await asyncio.sleep(self.feed_interval_s)
            self.feed_power()

    async def __aenter__(self) -> EmulatorFleet:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
