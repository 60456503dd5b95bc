"""Poll-cycle time over many emulated BraiinsOS miners, cached detection vs re-detection.

    python benchmarks/braiins_poll.py [--count 1000] [--cycles 10] [--redetect-cycles 3]

The emulators run in a child process (``edge-mining emulate miner --count N``), one loopback
address each. This process then polls every miner concurrently through ``BraiinsMiner``:

- cached: the pyasic miner object is detected once; a poll is one cgminer multi-command.
- re-detect (driver): the same driver without its cache: a fresh ``BraiinsMiner`` per poll,
  so pyasic detection, gRPC login and static facts, then the poll.
- re-detect (bare pyasic): the lower bound of what integrations do on every poll:
  ``pyasic.get_miner(ip)`` (32 at a time) plus one telemetry round trip; it even skips the
  gRPC login and calls a full ``get_data`` would make.

Prints p50/p95 cycle times, the speed-up, and the RSS of both processes. Bounded: every read
has a timeout and the number of cycles is fixed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyasic.miners.factory import miner_factory  # noqa: E402

from edge_mining.config import MinerConfig  # noqa: E402
from edge_mining.devices.braiins import (  # noqa: E402
    TELEMETRY_COMMAND,
    BraiinsMiner,
    parse_telemetry,
)
from edge_mining.model import MinerStatus  # noqa: E402
from edge_mining.sim.braiins_emulator import raise_fd_limit  # noqa: E402

FIRST_HOST = "127.60.0.1"
BARE_CONCURRENCY = 32
READ_TIMEOUT_S = 300.0  # a re-detecting cycle over 1,000 miners takes tens of seconds


def config(host: str, index: int) -> MinerConfig:
    return MinerConfig(
        name=f"m{index}",
        driver="braiins",
        host=host,
        password="root",
        min_power_w=1000,
        max_power_w=3600,
        nominal_hashrate_ths=104,
        nominal_power_w=3068,
    )


def rss_mb(pid: int | None = None) -> float:
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def cycle(drivers: list[BraiinsMiner]) -> tuple[float, int]:
    """One concurrent poll of every driver: (seconds, miners that answered)."""
    started = time.perf_counter()
    states = await asyncio.gather(
        *(asyncio.wait_for(d.read(), READ_TIMEOUT_S) for d in drivers), return_exceptions=True
    )
    elapsed = time.perf_counter() - started
    ok = sum(
        1
        for s in states
        if not isinstance(s, BaseException) and s.status != MinerStatus.UNREACHABLE
    )
    return elapsed, ok


async def redetect_read(host: str, slots: asyncio.Semaphore) -> bool:
    async with slots:
        miner = await miner_factory.get_miner(host)
    if miner is None:
        return False
    data = await miner.rpc.send_command(TELEMETRY_COMMAND, allow_warning=False)
    parse_telemetry(data)
    return True


async def redetect_cycle(hosts: list[str]) -> tuple[float, int]:
    # Unthrottled, 1,000 concurrent pyasic detections all time out (its factory waits 3 s per
    # stage), so the baseline gets the same concurrency limit as the driver's detection.
    slots = asyncio.Semaphore(BARE_CONCURRENCY)
    started = time.perf_counter()
    results = await asyncio.gather(
        *(asyncio.wait_for(redetect_read(h, slots), READ_TIMEOUT_S) for h in hosts),
        return_exceptions=True,
    )
    failures = Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
    if failures:
        print(f"  failures: {dict(failures)}; first: {next(r for r in results if r is not True)!r}")
    return time.perf_counter() - started, sum(1 for r in results if r is True)


async def run(args: argparse.Namespace, hosts: list[str]) -> None:
    configs = [config(host, i) for i, host in enumerate(hosts)]
    drivers = [BraiinsMiner(c, timeout_s=60.0) for c in configs]

    warm, ok = await cycle(drivers)
    print(f"first poll (detects every miner): {warm:.2f} s, {ok}/{len(drivers)} answered")

    cached: list[float] = []
    for _ in range(args.cycles):
        elapsed, ok = await cycle(drivers)
        if ok != len(drivers):
            print(f"  warning: only {ok}/{len(drivers)} answered")
        cached.append(elapsed)
    assert all(d.detections == 1 for d in drivers), "detection must be cached"

    redetect: list[float] = []
    for _ in range(args.redetect_cycles):
        fresh = [BraiinsMiner(c, timeout_s=60.0) for c in configs]
        elapsed, ok = await cycle(fresh)
        if ok != len(fresh):
            print(f"  warning: only {ok}/{len(fresh)} answered")
        redetect.append(elapsed)
    bare: list[float] = []
    for _ in range(args.redetect_cycles):
        elapsed, ok = await redetect_cycle(hosts)
        if ok != len(hosts):
            print(f"  warning: only {ok}/{len(hosts)} answered")
        bare.append(elapsed)

    c50, c95 = percentile(cached, 0.5), percentile(cached, 0.95)
    r50, r95 = percentile(redetect, 0.5), percentile(redetect, 0.95)
    print(f"miners: {len(drivers)}  cores: {os.cpu_count()}")
    print(f"cached detection  ({len(cached)} cycles): p50 {c50:.3f} s  p95 {c95:.3f} s")
    b50, b95 = percentile(bare, 0.5), percentile(bare, 0.95)
    print(f"re-detect, driver ({len(redetect)} cycles): p50 {r50:.3f} s  p95 {r95:.3f} s")
    print(f"re-detect, bare pyasic ({len(bare)} cycles): p50 {b50:.3f} s  p95 {b95:.3f} s")
    print(
        f"speed-up (p50): {r50 / c50:.1f}x vs driver re-detect, {b50 / c50:.1f}x vs bare pyasic;"
        f" mean cached {statistics.mean(cached):.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--redetect-cycles", type=int, default=3)
    args = parser.parse_args()
    raise_fd_limit(args.count * 12 + 1024)

    emulator = subprocess.Popen(
        [sys.executable, "-m", "edge_mining.cli", "emulate", "miner", "--host", FIRST_HOST]
        + ["--count", str(args.count)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        hosts: list[str] = []
        started = time.monotonic()
        assert emulator.stdout is not None
        while len(hosts) < args.count:
            line = emulator.stdout.readline()
            if not line:
                raise SystemExit(f"emulator exited with {emulator.wait()}")
            if line.startswith("MINER "):
                hosts.append(line.split()[1])
            if time.monotonic() - started > 120:
                raise SystemExit("emulators not ready within 120 s")
        print(f"{len(hosts)} emulators ready in {time.monotonic() - started:.1f} s")
        asyncio.run(run(args, hosts))
        client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"RSS: poller {rss_mb():.0f} MB (peak {client_peak:.0f} MB), "
            f"emulators {rss_mb(emulator.pid):.0f} MB"
        )
    finally:
        emulator.terminate()
        try:
            emulator.wait(timeout=30)
        except subprocess.TimeoutExpired:
            emulator.kill()
            emulator.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
