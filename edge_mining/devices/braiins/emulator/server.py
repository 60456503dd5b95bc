"""Emulated BraiinsOS miners bound to loopback addresses, one address per miner.

Each :class:`EmulatedMiner` listens on its own 127.x.y.z at the real ports: the cgminer-style
API on 4028, the gRPC API on 50051 (BOSer models only; legacy BOSminer has none) and the web
page on 80 (skipped when the process may not bind it); legacy models also run the SSH
shell on 22 that pyasic reads their configuration through (skipped likewise). An
:class:`EmulatorFleet` runs many of them on consecutive addresses and can feed their draw to
the plant simulator (the fleet and the loopback helpers are shared by every emulator:
:mod:`edge_mining.devices.emulation.server`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from functools import partial

import asyncssh
from grpclib.server import Server

from edge_mining.clock import Clock, ScaledClock, WallClock
from edge_mining.devices.braiins.emulator import cgminer_api, grpc_api, ssh, web
from edge_mining.devices.braiins.emulator.machine import (
    Credentials,
    Faults,
    MinerMachine,
    find_model,
)
from edge_mining.devices.emulation.server import LOOPBACK, PowerCallback, loopback_hosts
from edge_mining.devices.emulation.server import EmulatorFleet as SharedFleet

log = logging.getLogger(__name__)

RPC_PORT = 4028
GRPC_PORT = 50051
WEB_PORT = 80
SSH_PORT = 22
BACKLOG = 512

BOSER_VERSION = "2023-11-09-0-c5cdc1c5-23.10-plus"
BOSMINER_VERSION = "2022-09-27-0-8f3ee5b4-22.08-plus"


class EmulatedMiner:
    """One BraiinsOS miner on one loopback address."""

    def __init__(
        self,
        host: str,
        model: str = "S19j Pro",
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        username: str = "root",
        password: str = "root",
        name: str | None = None,
        faults: Faults | None = None,
        mining: bool = True,
        warmup_s: float = 10.0,
        ramp_s: float = 30.0,
        settle_s: float = 20.0,
        rpc_port: int = RPC_PORT,
        grpc_port: int = GRPC_PORT,
        web_port: int | None = WEB_PORT,
        ssh_port: int | None = SSH_PORT,
        seed: int | None = None,
        api_version: tuple[int, int, int] = (1, 11, 0),
    ) -> None:
        address = ipaddress.IPv4Address(host)
        if address not in LOOPBACK:
            raise ValueError(f"{host} is not a loopback address (127.0.0.0/8)")
        self.host = host
        self.spec = find_model(model)
        if clock is None:
            clock = ScaledClock(WallClock().now(), speed) if speed != 1.0 else WallClock()
        self.clock = clock
        self.name = name or f"miner-{host.replace('.', '-')}"
        self.hostname = f"bos-{host.replace('.', '-')}"
        self.credentials = Credentials(username=username, password=password)
        self.faults = faults or Faults()
        # The public API version it speaks: quick ramping from 1.7, the efficiency profile
        # from 1.11 (older versions answer those calls UNIMPLEMENTED).
        self.api_version = api_version
        self.machine = MinerMachine(
            self.spec,
            clock,
            warmup_s=warmup_s,
            ramp_s=ramp_s,
            settle_s=settle_s,
            mining=mining,
            seed=int(address) if seed is None else seed,
        )
        self.rpc_port = rpc_port
        self.grpc_port = grpc_port
        self.web_port = web_port
        self.ssh_port = ssh_port if self.spec.legacy else None  # BOSer clients use gRPC
        self._rpc_server: asyncio.Server | None = None
        self._web_server: asyncio.Server | None = None
        self._grpc_server: Server | None = None
        self._ssh_server: asyncssh.SSHAcceptor | None = None
        self._started = False

    # ------------------------------------------------------------------- identity strings

    @property
    def legacy(self) -> bool:
        return self.spec.legacy

    @property
    def rpc_name(self) -> str:
        return "BOSminer+" if self.legacy else "BOSer"

    @property
    def rpc_version(self) -> str:
        return "0.4.0-8f3ee5b4" if self.legacy else "boser-buildroot 0.1.0-c5cdc1c5"

    @property
    def rpc_description(self) -> str:
        return f"{self.rpc_name} {self.rpc_version}"

    @property
    def bos_version(self) -> str:
        return BOSMINER_VERSION if self.legacy else BOSER_VERSION

    # ------------------------------------------------------------------- lifecycle

    @property
    def listening(self) -> bool:
        return self._rpc_server is not None

    async def start(self) -> None:
        """Bind the listeners (unless the unreachable fault is set)."""
        self._started = True
        if not self.faults.unreachable:
            await self._bind()

    async def close(self) -> None:
        self._started = False
        await self._unbind()

    async def set_unreachable(self, unreachable: bool) -> None:
        """Take the miner off the network (listeners closed) or bring it back.

        Coming back is a reboot as far as clients can tell: every issued token is void.
        """
        self.faults.unreachable = unreachable
        if unreachable:
            await self._unbind()
        else:
            self.credentials.revoke_all()
            if self._started and not self.listening:
                await self._bind()

    async def _bind(self) -> None:
        try:
            self._rpc_server = await asyncio.start_server(
                partial(cgminer_api.handle_connection, self),
                self.host,
                self.rpc_port,
                backlog=BACKLOG,
                reuse_address=True,
            )
            if not self.legacy:
                grpc_server = grpc_api.build_server(self)
                await grpc_server.start(
                    self.host, self.grpc_port, backlog=BACKLOG, reuse_address=True
                )
                self._grpc_server = grpc_server
        except BaseException:
            await self._unbind()
            raise
        if self.web_port is not None:
            try:
                self._web_server = await asyncio.start_server(
                    partial(web.handle_connection, self),
                    self.host,
                    self.web_port,
                    backlog=BACKLOG,
                    reuse_address=True,
                )
            except OSError as exc:
                # Port 80 needs privileges; pyasic also identifies BraiinsOS on 4028.
                log.info("%s: web page on port %s not served: %s", self.host, self.web_port, exc)
                self.web_port = None
        if self.ssh_port is not None:
            try:
                self._ssh_server = await ssh.start_server(self, self.ssh_port, BACKLOG)
            except OSError as exc:
                log.info("%s: SSH on port %s not served: %s", self.host, self.ssh_port, exc)
                self.ssh_port = None

    async def _unbind(self) -> None:
        for server in (self._rpc_server, self._web_server):
            if server is not None:
                server.close()
        ssh_server, self._ssh_server = self._ssh_server, None
        if ssh_server is not None:
            ssh_server.close()
            await ssh_server.wait_closed()
        grpc_server, self._grpc_server = self._grpc_server, None
        if grpc_server is not None:
            grpc_server.close()
            await grpc_server.wait_closed()
        for server in (self._rpc_server, self._web_server):
            if server is not None:
                await server.wait_closed()
        self._rpc_server = self._web_server = None

    async def __aenter__(self) -> EmulatedMiner:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class EmulatorFleet(SharedFleet):
    """Many emulated BraiinsOS miners; optionally feeds each one's draw to the plant."""

    @classmethod
    def on_loopback(
        cls,
        first_host: str,
        count: int,
        model: str = "S19j Pro",
        *,
        on_power: PowerCallback | None = None,
        names: list[str] | None = None,
        **miner_options: object,
    ) -> EmulatorFleet:
        hosts = loopback_hosts(first_host, count)
        if "clock" not in miner_options:
            # One clock for the whole fleet, so a speed factor means the same time everywhere.
            speed = float(miner_options.pop("speed", 1.0))  # type: ignore[arg-type]
            start = WallClock().now()
            miner_options["clock"] = ScaledClock(start, speed) if speed != 1.0 else WallClock()
        if names is not None and len(names) != count:
            raise ValueError("one name per miner")
        miners = [
            EmulatedMiner(host, model, name=names[i] if names else None, **miner_options)  # type: ignore[arg-type]
            for i, host in enumerate(hosts)
        ]
        return cls(miners, on_power=on_power)
