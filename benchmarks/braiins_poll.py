"""Poll-cycle time over many emulated BraiinsOS miners: cached detection vs re-detection.

    python benchmarks/braiins_poll.py [--count 1000] [--cycles 10] [--redetect-cycles 3]
        [--get-data-count N] [--get-data-cycles 3] [--get-data-include hass-miner|all]

The emulators run in a child process (``edge-mining emulate miner --count N``), one loopback
address each. This process then polls every miner concurrently, one cycle after another:

- cached: ``BraiinsMiner`` detects the pyasic miner object once; a poll is one cgminer
  multi-command.
- re-detect (driver): the same driver without its cache: a fresh ``BraiinsMiner`` per poll,
  so pyasic detection, gRPC login and static facts, then the poll.
- re-detect (bare pyasic): a lower bound of what re-detecting integrations do:
  ``pyasic.get_miner(ip)`` plus one telemetry round trip, no gRPC login, no ``get_data``.
- re-detect + get_data (hass-miner): what the Home Assistant integration hass-miner does on
  every update since its PR #302 ("always poll miner"): the coordinator calls
  ``pyasic.get_miner(ip)``, sets the credentials, then ``miner.get_data(include=[...])`` with
  the 13 data items its sensors show (``HASS_MINER_INCLUDE``); ``all`` asks
  for pyasic's full data set instead. Optionally on the first ``--get-data-count`` miners
  only; per-miner throughput is printed next to the cycle times so a subset compares honestly.

Detection (pyasic ``get_miner``) is limited to the driver's 32 concurrent detections in every
baseline: unthrottled, 1,000 concurrent detections all time out (pyasic waits 3 s per stage).
The get_data baseline also checks what pyasic got (hashrate, wattage, fans, hashboards) and
counts the warnings and errors pyasic logged.

Prints p50/p95 cycle times, the speed-ups, and the RSS of both processes. Bounded: every read
has a timeout (so every cycle ends), the number of cycles is fixed, the emulators must be ready
within 120 s and are terminated (then killed) at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyasic import DataOptions  # noqa: E402
from pyasic.data import MinerData  # noqa: E402
from pyasic.miners.factory import miner_factory  # noqa: E402

from edge_mining.config import MinerConfig  # noqa: E402
from edge_mining.devices.braiins.driver import (  # noqa: E402
    TELEMETRY_COMMAND,
    BraiinsMiner,
    parse_telemetry,
)
from edge_mining.devices.emulation.cli import raise_fd_limit  # noqa: E402
from edge_mining.devices.pyasic_core import MAX_CONCURRENT_DETECTIONS  # noqa: E402
from edge_mining.model import MinerStatus  # noqa: E402

FIRST_HOST = "127.60.0.1"
PASSWORD = "root"
READ_TIMEOUT_S = 300.0  # a re-detecting cycle over 1,000 miners takes tens of seconds
READY_TIMEOUT_S = 120.0

# The data items hass-miner's coordinator asks pyasic for on every update.
HASS_MINER_INCLUDE = [
    DataOptions.HOSTNAME,
    DataOptions.MAC,
    DataOptions.IS_MINING,
    DataOptions.FW_VERSION,
    DataOptions.HASHRATE,
    DataOptions.EXPECTED_HASHRATE,
    DataOptions.HASHBOARDS,
    DataOptions.WATTAGE,
    DataOptions.WATTAGE_LIMIT,
    DataOptions.FANS,
    DataOptions.CONFIG,
    DataOptions.POOLS,
    DataOptions.UPTIME,
]


def config(host: str, index: int) -> MinerConfig:
    return MinerConfig(
        name=f"m{index}",
        driver="braiins",
        host=host,
        password=PASSWORD,
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


class LogCounter(logging.Handler):
    """Counts the warnings and errors pyasic (or anything else) logs during a phase."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.name} {record.levelname}"] += 1
        if self.first is None:
            self.first = record.getMessage()[:200]


@dataclass
class Phase:
    """The cycle times of one way of polling, and what each cycle got."""

    name: str
    miners: int
    seconds: list[float] = field(default_factory=list)
    rss_mb: float = 0.0

    @property
    def p50(self) -> float:
        return percentile(self.seconds, 0.5)

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 0.95)

    @property
    def miners_per_s(self) -> float:
        return self.miners / self.p50

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.miners:>5} {len(self.seconds):>6}"
            f" {self.p50:>8.3f} {self.p95:>8.3f} {self.miners_per_s:>9.0f} {self.rss_mb:>13.0f}"
        )


def report_failures(results: list[object]) -> None:
    failures = Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
    if failures:
        first = next(r for r in results if isinstance(r, BaseException))
        print(f"  failures: {dict(failures)}; first: {first!r}")


async def timed_gather(
    jobs: list[Awaitable[object]],
) -> tuple[float, list[object]]:
    """Run one cycle's jobs concurrently, each bounded by READ_TIMEOUT_S."""
    started = time.perf_counter()
    results = await asyncio.gather(
        *(asyncio.wait_for(job, READ_TIMEOUT_S) for job in jobs), return_exceptions=True
    )
    return time.perf_counter() - started, results


def answered(results: list[object]) -> int:
    return sum(
        1
        for s in results
        if not isinstance(s, BaseException) and s.status != MinerStatus.UNREACHABLE  # type: ignore[attr-defined]
    )


async def bare_read(host: str, slots: asyncio.Semaphore) -> bool:
    async with slots:
        miner = await miner_factory.get_miner(host)
    if miner is None:
        return False
    data = await miner.rpc.send_command(TELEMETRY_COMMAND, allow_warning=False)
    parse_telemetry(data)
    return True


async def hass_miner_update(
    host: str, slots: asyncio.Semaphore, include: list[DataOptions] | None
) -> MinerData | None:
    """One hass-miner coordinator update: detect, set credentials, get_data."""
    async with slots:
        miner = await miner_factory.get_miner(host)
    if miner is None:
        return None
    if miner.web is not None:
        miner.web.username = "root"
        miner.web.pwd = PASSWORD
    return await miner.get_data(include=include)


def sensible(data: object) -> bool:
    """Did get_data see a mining miner: hashrate, wattage, every fan and hashboard?"""
    if not isinstance(data, MinerData):
        return False
    boards = [b for b in data.hashboards if b.hashrate is not None and float(b.hashrate) > 0]
    return (
        data.hashrate is not None
        and float(data.hashrate) > 0
        and (data.wattage or 0) > 0
        and len(data.fans) == data.expected_fans
        and all(f.speed for f in data.fans)
        and len(boards) == data.expected_hashboards
        and all(b.temp is not None for b in data.hashboards)
    )


async def run_phase(
    phase: Phase, cycles: int, one_cycle: Callable[[], Awaitable[tuple[float, int]]]
) -> Phase:
    for _ in range(cycles):
        elapsed, ok = await one_cycle()
        if ok != phase.miners:
            print(f"  warning ({phase.name}): only {ok}/{phase.miners} answered")
        phase.seconds.append(elapsed)
    phase.rss_mb = rss_mb()
    return phase


async def run(args: argparse.Namespace, hosts: list[str]) -> list[Phase]:
    configs = [config(host, i) for i, host in enumerate(hosts)]
    drivers = [BraiinsMiner(c, timeout_s=60.0) for c in configs]

    warm, results = await timed_gather([d.read() for d in drivers])
    print(f"first poll (detects every miner): {warm:.2f} s, {answered(results)} answered")

    async def cached_cycle() -> tuple[float, int]:
        elapsed, results = await timed_gather([d.read() for d in drivers])
        return elapsed, answered(results)

    cached = await run_phase(
        Phase("cached detection (ours)", len(drivers)), args.cycles, cached_cycle
    )
    assert all(d.detections == 1 for d in drivers), "detection must be cached"

    async def driver_redetect_cycle() -> tuple[float, int]:
        fresh = [BraiinsMiner(c, timeout_s=60.0) for c in configs]
        elapsed, results = await timed_gather([d.read() for d in fresh])
        return elapsed, answered(results)

    redetect = await run_phase(
        Phase("re-detect, driver", len(hosts)), args.redetect_cycles, driver_redetect_cycle
    )

    async def bare_cycle() -> tuple[float, int]:
        slots = asyncio.Semaphore(MAX_CONCURRENT_DETECTIONS)
        elapsed, results = await timed_gather([bare_read(h, slots) for h in hosts])
        report_failures(results)
        return elapsed, sum(1 for r in results if r is True)

    bare = await run_phase(
        Phase("re-detect + 1 command, pyasic", len(hosts)), args.redetect_cycles, bare_cycle
    )

    subset = hosts[: args.get_data_count or len(hosts)]
    include = HASS_MINER_INCLUDE if args.get_data_include == "hass-miner" else None
    logs = LogCounter()
    logging.getLogger().addHandler(logs)
    checked = Counter[str]()

    async def get_data_cycle() -> tuple[float, int]:
        slots = asyncio.Semaphore(MAX_CONCURRENT_DETECTIONS)
        elapsed, results = await timed_gather(
            [hass_miner_update(h, slots, include) for h in subset]
        )
        report_failures(results)
        checked.update(
            "not detected" if r is None else "sensible" if sensible(r) else "not sensible"
            for r in results
        )
        return elapsed, sum(1 for r in results if isinstance(r, MinerData))

    label = "hass-miner" if include else "all"
    try:
        get_data = await run_phase(
            Phase(f"re-detect + get_data ({label})", len(subset)),
            args.get_data_cycles,
            get_data_cycle,
        )
    finally:
        logging.getLogger().removeHandler(logs)
    print(
        f"get_data check: {dict(checked)} of {sum(checked.values())} replies;"
        f" warnings/errors logged: {dict(logs.counts) or 0}"
        + (f"; first: {logs.first}" if logs.first else "")
    )
    return [cached, redetect, bare, get_data]


def print_table(phases: list[Phase]) -> None:
    cached = phases[0]
    print(f"cores: {os.cpu_count()} (emulators and poller share them)")
    print(
        f"{'way of polling':<34} {'miners':>5} {'cycles':>6} {'p50 s':>8} {'p95 s':>8}"
        f" {'miners/s':>9} {'RSS MB after':>13}"
    )
    for phase in phases:
        print(phase.line())
    for phase in phases[1:]:
        # Per-miner throughput, so a baseline measured on a subset compares honestly.
        speedup = cached.miners_per_s / phase.miners_per_s
        print(f"speed-up of cached detection vs {phase.name}: {speedup:.1f}x (p50 miners/s)")


def wait_for_emulators(emulator: subprocess.Popen[str], count: int) -> list[str]:
    """The ``MINER <host>`` lines, or SystemExit after READY_TIMEOUT_S (never blocks longer).

    A daemon thread reads the pipe, so a silent emulator cannot hang this process.
    """
    stdout = emulator.stdout
    assert stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    hosts: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(hosts) < count:
        if emulator.poll() is not None and lines.empty():
            raise SystemExit(f"emulator exited with {emulator.returncode}")
        try:
            line = lines.get(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        except queue.Empty:
            if time.monotonic() >= deadline:
                raise SystemExit(f"emulators not ready within {READY_TIMEOUT_S:g} s") from None
            continue
        if line.startswith("MINER "):
            hosts.append(line.split()[1])
    return hosts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--redetect-cycles", type=int, default=3)
    parser.add_argument(
        "--get-data-count", type=int, default=0, help="miners in the get_data baseline (0: all)"
    )
    parser.add_argument("--get-data-cycles", type=int, default=3)
    parser.add_argument("--get-data-include", choices=("hass-miner", "all"), default="hass-miner")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress in logs
    if args.count < 1 or not 0 <= args.get_data_count <= args.count:
        parser.error("need 1 <= --count and 0 <= --get-data-count <= --count")
    if min(args.cycles, args.redetect_cycles, args.get_data_cycles) < 1:
        parser.error("every phase needs at least one cycle")
    raise_fd_limit(args.count * 12 + 1024)

    emulator = subprocess.Popen(
        [sys.executable, "-m", "edge_mining.cli", "emulate", "miner", "--host", FIRST_HOST]
        + ["--count", str(args.count)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        started = time.monotonic()
        hosts = wait_for_emulators(emulator, args.count)
        print(f"{len(hosts)} emulators ready in {time.monotonic() - started:.1f} s")
        phases = asyncio.run(run(args, hosts))
        print_table(phases)
        client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"RSS: poller {rss_mb():.0f} MB now (peak {client_peak:.0f} MB),"
            f" emulators {rss_mb(emulator.pid):.0f} MB"
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
