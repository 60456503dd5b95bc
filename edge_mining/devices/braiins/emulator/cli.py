"""``edge-mining emulate miner``: BraiinsOS miners on loopback until SIGTERM.

Prints one ``MINER <host>`` line per miner once all of them listen, then serves. The package
:mod:`edge_mining.devices.braiins.emulator` holds the emulator itself; this module is its
command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import signal
import sys

from edge_mining.devices.braiins.emulator import (
    EmulatedMiner,
    EmulatorFleet,
    Faults,
    find_model,
    loopback_hosts,
)

__all__ = ["EmulatedMiner", "EmulatorFleet", "Faults", "main", "raise_fd_limit"]

FDS_PER_MINER = 16  # three listeners plus the connections of a detection in flight


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (capped by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    hosts = loopback_hosts(args.host, args.count)
    find_model(args.model)
    faults = args.faults or ""
    Faults.parse(faults)  # fail early on a typo
    miners = [
        EmulatedMiner(
            host, args.model, speed=args.speed, password=args.password, faults=Faults.parse(faults)
        )
        for host in hosts
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
