"""``edge-mining emulate miner``: emulated miners of any family on loopback until SIGTERM.

``--model MODEL`` names any model of any family (``--list-models`` lists them); ``--count N``
miners take consecutive addresses from ``--host``; one ``MINER <host>`` line per miner is
printed once all of them listen, then they serve until SIGTERM or Ctrl-C. ``--password`` is
the miner's login (BraiinsOS, Avalon web, Whatsminer API, LuxOS...), ``--speed`` makes their
time run faster, ``--faults`` injects faults (``unreachable,slow=S,auth,refuse_target``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_mining.devices.emulation.faults import Faults
from edge_mining.devices.emulation.server import EmulatorFleet, emulator_clock, loopback_hosts
from edge_mining.devices.registry import Device, Kind, devices, load

FDS_PER_MINER = 16  # listeners plus the connections of a detection in flight


@dataclass(frozen=True, slots=True)
class EmulatedModel:
    key: str
    family: Device  # its registry line
    make: Callable[..., Any]  # make(host, *, clock, password, faults) -> device


def emulated_models() -> dict[str, EmulatedModel]:
    """Every model any family can emulate, by upper-cased name, in family order."""
    models: dict[str, EmulatedModel] = {}
    for family in devices(Kind.MINER):
        if family.emulated_models is None:
            continue
        for key, make in load(family.emulated_models)().items():
            models[key.upper()] = EmulatedModel(key, family, make)
    return models


def find_model(name: str) -> EmulatedModel:
    """The model called ``name`` (case-insensitive; BraiinsOS's own aliases accepted)."""
    models = emulated_models()
    wanted = " ".join(name.strip().upper().split())
    if wanted in models:
        return models[wanted]
    from edge_mining.devices.braiins.emulator import find_model as find_braiins

    try:
        return models[find_braiins(name).key.upper()]
    except ValueError:
        known = ", ".join(model.key for model in models.values())
        raise ValueError(f"unknown miner model {name!r}; known: {known}") from None


def list_models() -> str:
    width = max(len(model.key) for model in emulated_models().values())
    return "\n".join(
        f"{model.key:<{width}}  {model.family.label}" for model in emulated_models().values()
    )


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    model = find_model(args.model)
    clock = emulator_clock(args.speed)
    miners = [
        model.make(
            host,
            clock=clock,
            password=args.password,
            faults=Faults.parse(args.faults or ""),
        )
        for host in loopback_hosts(args.host, args.count)
    ]
    fleet = EmulatorFleet(miners)
    await fleet.start()
    try:
        for miner in miners:
            print(f"MINER {miner.host}", flush=True)
        await stop.wait()
    finally:
        await fleet.close()
    return 0


def main(args: argparse.Namespace) -> int:
    if args.list_models:
        print(list_models())
        return 0
    try:
        if args.count < 1:
            raise ValueError("--count must be at least 1")
        loopback_hosts(args.host, args.count)
        find_model(args.model)
        Faults.parse(args.faults or "")
    except ValueError as exc:
        print(f"edge-mining emulate miner: {exc}", file=sys.stderr)
        return 2
    raise_fd_limit(args.count * FDS_PER_MINER + 256)

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await serve(args, stop)
        except OSError as exc:
            print(f"edge-mining emulate miner: cannot listen: {exc}", file=sys.stderr)
            return 1

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run())
    return 0
