"""Emulated devices bound to loopback addresses, one address per device, and fleets of them.

An :class:`EmulatedDevice` owns a :class:`~edge_mining.devices.emulation.machine.MinerMachine`
and the TCP listeners its firmware opens (the cgminer API on 4028, a web server on 80, ...),
each on the device's own 127.x.y.z at the real port, so unmodified client libraries find it
exactly where they look on a LAN. A listener may be optional (port 80 needs privileges, and a
client that has another way in does not need it) or required (a Bitaxe is only HTTP).

An :class:`EmulatorFleet` runs many devices and can feed each one's draw to the plant
simulator, so the miners' power shows up in the energy readings.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edge_mining.clock import Clock, ScaledClock, WallClock
from edge_mining.devices.emulation.faults import Faults
from edge_mining.devices.emulation.machine import MinerMachine

log = logging.getLogger(__name__)

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
BACKLOG = 512

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


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


@dataclass(frozen=True, slots=True)
class Listener:
    """One TCP port a device serves."""

    name: str  # for log lines: "cgminer API", "web"
    port: int
    handler: ConnectionHandler
    required: bool = True  # False: skipped (and logged) when the port cannot be bound


class EmulatedDevice:
    """One emulated miner on one loopback address: its machine and its listeners.

    Subclasses set ``machine`` and return their ports from :meth:`listeners`.
    """

    machine: MinerMachine

    def __init__(
        self,
        host: str,
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        name: str | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.host = require_loopback(host)
        self.clock = clock if clock is not None else emulator_clock(speed)
        self.name = name or f"miner-{host.replace('.', '-')}"
        self.faults = faults or Faults()
        self.ports: dict[str, int] = {}  # listener name -> port actually served
        self._servers: list[asyncio.Server] = []
        self._started = False

    def listeners(self) -> Sequence[Listener]:
        raise NotImplementedError

    @property
    def seed(self) -> int:
        return int(ipaddress.IPv4Address(self.host))

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
                    server = await asyncio.start_server(
                        listener.handler,
                        self.host,
                        listener.port,
                        backlog=BACKLOG,
                        reuse_address=True,
                    )
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

    async def __aenter__(self) -> Any:
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
