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

from collections.abc import Sequence
from functools import partial
from typing import Unpack

from grpclib.server import Server

from edge_mining.devices.braiins.emulator import cgminer_api, grpc_api, ssh, web
from edge_mining.devices.braiins.emulator.machine import Credentials, MinerMachine, find_model
from edge_mining.devices.emulation.server import (
    BACKLOG,
    EmulatedDevice,
    EmulatorOptions,
    Listener,
    PowerCallback,
    emulator_clock,
    loopback_hosts,
)
from edge_mining.devices.emulation.server import EmulatorFleet as SharedFleet
from edge_mining.devices.emulation.server import Server as Listening

RPC_PORT = 4028
GRPC_PORT = 50051
WEB_PORT = 80
SSH_PORT = 22

BOSER_VERSION = "2023-11-09-0-c5cdc1c5-23.10-plus"
BOSMINER_VERSION = "2022-09-27-0-8f3ee5b4-22.08-plus"


class EmulatedMiner(EmulatedDevice):
    """One BraiinsOS miner on one loopback address."""

    machine: MinerMachine

    def __init__(
        self,
        host: str,
        model: str = "S19j Pro",
        *,
        username: str = "root",
        password: str = "root",
        rpc_port: int = RPC_PORT,
        grpc_port: int = GRPC_PORT,
        web_port: int | None = WEB_PORT,
        ssh_port: int | None = SSH_PORT,
        api_version: tuple[int, int, int] = (1, 11, 0),
        **options: Unpack[EmulatorOptions],
    ) -> None:
        super().__init__(host, **options)
        self.spec = find_model(model)
        self.hostname = f"bos-{host.replace('.', '-')}"
        self.credentials = Credentials(username=username, password=password)
        # The public API version it speaks: quick ramping from 1.7, the efficiency profile
        # from 1.11 (older versions answer those calls UNIMPLEMENTED).
        self.api_version = api_version
        self.machine = MinerMachine(self.spec, self.clock, **self.machine_options())
        self.api = cgminer_api.build_api(self)
        self.rpc_port = rpc_port
        self.grpc_port = grpc_port
        self.web_port = web_port
        self.ssh_port = ssh_port if self.spec.legacy else None  # BOSer clients use gRPC

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

    # ------------------------------------------------------------------- listeners

    def listeners(self) -> Sequence[Listener]:
        """The cgminer API and gRPC (BOSer only) are required; the web page (port 80 needs
        privileges; pyasic also identifies BraiinsOS on 4028) and SSH are not."""
        listeners = [self.cgminer_listener(self.rpc_port, self.api.respond)]
        if not self.legacy:
            listeners.append(Listener("gRPC API", self.grpc_port, self._open_grpc))
        if self.web_port is not None:
            web_page = partial(web.route, self)
            listeners.append(
                self.web_listener(self.web_port, web_page, name="web page", required=False)
            )
        if self.ssh_port is not None:
            listeners.append(Listener("SSH", self.ssh_port, self._open_ssh, required=False))
        return listeners

    async def _open_grpc(self, host: str, port: int) -> Listening:
        server: Server = grpc_api.build_server(self)
        await server.start(host, port, backlog=BACKLOG, reuse_address=True)
        return server

    async def _open_ssh(self, host: str, port: int) -> Listening:
        return await ssh.start_server(self, port, BACKLOG)

    def on_reconnect(self) -> None:
        """Coming back is a reboot as far as clients can tell: every issued token is void."""
        self.credentials.revoke_all()


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
            miner_options["clock"] = emulator_clock(speed)
        if names is not None and len(names) != count:
            raise ValueError("one name per miner")
        miners = [
            EmulatedMiner(host, model, name=names[i] if names else None, **miner_options)  # type: ignore[arg-type]
            for i, host in enumerate(hosts)
        ]
        return cls(miners, on_power=on_power)
