"""One full PI30 poll cycle (QPIGS, QMOD, QPIWS) at 2400 baud, against the wire time.

The emulator paces both directions at 2400 baud, 10 bits per byte: a request is answered
only once its last byte would have arrived, and the reply leaves at line speed. The wire time
is the bytes exchanged times 10 / 2400 s; the goal is a cycle within 1.15x of it (the driver
adds only its own turnaround).

With ``--noise LINES`` it measures instead how fast fresh data comes back after a burst of
``junk\r`` lines: toward the inverter (which refuses each line with a NAK) and toward the
driver, on an unpaced pty where the emulator answers every line (the worst case), and at 2400
baud with a firmware-like backlog of two lines. The goal: fresh data on the first or second
poll after the noise stops.

    python3 benchmarks/pi30_poll.py [--cycles N] [--transport serial|hidraw] [--noise LINES]
    (with the package installed, e.g. the .venv of scripts/test, or PYTHONPATH=.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from edge_mining.config import PlantConfig, VoltronicSourceConfig
from edge_mining.devices.base import DeviceError
from edge_mining.devices.voltronic import pi30
from edge_mining.devices.voltronic.emulator import BITS_PER_BYTE, Pi30Emulator
from edge_mining.devices.voltronic.source import VoltronicSource
from edge_mining.sim.plant import Plant

BAUD = 2400
GOAL = 1.15


async def bench(cycles: int, transport: str) -> None:
    plant = Plant(PlantConfig(), start_time=time.time())
    plant.set_miner_draw("s19", 1400.0)
    async with Pi30Emulator(plant, pacing_baud=BAUD, hid_reports=transport == "hidraw") as emu:
        source = VoltronicSource(
            VoltronicSourceConfig(
                type="voltronic", device=emu.path, transport=transport, timeout_s=2.0
            )
        )
        try:
            await source.read()  # open the port, warm up
            ratios, durations, wires = [], [], []
            for _ in range(cycles):
                before = emu.bytes_received + emu.bytes_sent
                start = time.perf_counter()
                await source.read()
                elapsed = time.perf_counter() - start
                exchanged = emu.bytes_received + emu.bytes_sent - before
                wire = exchanged * BITS_PER_BYTE / BAUD
                durations.append(elapsed)
                wires.append(wire)
                ratios.append(elapsed / wire)
            before = emu.bytes_received + emu.bytes_sent
            start = time.perf_counter()
            await source.client.query("QPIGS", pi30.parse_qpigs)
            qpigs_s = time.perf_counter() - start
            qpigs_wire = (emu.bytes_received + emu.bytes_sent - before) * BITS_PER_BYTE / BAUD
        finally:
            await source.close()
    assert not source.fault_counts, source.fault_counts
    median = statistics.median(ratios)
    print(f"PI30 poll cycle (QPIGS + QMOD + QPIWS) at {BAUD} baud, {transport}, {cycles} cycles")
    print(f"  bytes exchanged per cycle   {round(wires[0] * BAUD / BITS_PER_BYTE)}")
    print(f"  wire time per cycle         {statistics.median(wires) * 1000:.0f} ms")
    print(
        f"  measured cycle              median {statistics.median(durations) * 1000:.0f} ms, "
        f"max {max(durations) * 1000:.0f} ms"
    )
    print(f"  ratio to wire time          median {median:.3f}x, max {max(ratios):.3f}x")
    print(f"  goal                        <= {GOAL:.2f}x: {'met' if median <= GOAL else 'MISSED'}")
    print(
        f"  QPIGS alone                 {qpigs_s * 1000:.0f} ms (wire {qpigs_wire * 1000:.0f} ms, "
        f"{qpigs_s / qpigs_wire:.3f}x)"
    )


async def noise_recovery(lines: int, toward: str, paced: bool) -> None:
    """Poll back to back; report the time from the end of the noise to the first fresh reading."""
    plant = Plant(PlantConfig(), start_time=time.time())
    emulator = Pi30Emulator(
        plant, pacing_baud=BAUD if paced else None, max_backlog=2 if paced else None
    )
    async with emulator as emu:
        source = VoltronicSource(VoltronicSourceConfig(type="voltronic", device=emu.path))
        polls: list[tuple[float, float, bool]] = []
        stop = asyncio.Event()

        async def poll_back_to_back() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    await source.read()
                    polls.append((started, time.perf_counter(), True))
                except DeviceError:
                    polls.append((started, time.perf_counter(), False))

        try:
            await source.read()  # open the port, warm up
            poller = asyncio.create_task(poll_back_to_back())
            await asyncio.sleep(0.1)
            answered = emu.commands["?"]
            started = time.perf_counter()
            await emu.line_noise(b"junk\r" * lines, toward=toward)
            # The noise stops for the driver once the inverter has refused the last line.
            while toward == "inverter" and emu.commands["?"] + emu.lost_requests < answered + lines:
                await asyncio.sleep(0.001)
            noise_end = time.perf_counter()
            while not any(ok for begun, _, ok in polls if begun >= noise_end):
                await asyncio.sleep(0.001)
            stop.set()
            await poller
        finally:
            await source.close()
    after = [(begun, ended, ok) for begun, ended, ok in polls if begun >= noise_end]
    first = next(i for i, (_, _, ok) in enumerate(after) if ok)
    in_flight = [p for p in polls if p[0] < noise_end <= p[1]]
    counts = ", ".join(f"{k}={v}" for k, v in sorted(source.fault_counts.items()))
    line = "2400 baud, backlog 2" if paced else "unpaced, every line answered"
    print(f"{lines} junk lines toward the {toward} ({line})")
    print(f"  burst written and answered  {(noise_end - started) * 1000:.0f} ms")
    print(
        f"  fresh reading after         {(after[first][1] - noise_end) * 1000:.0f} ms "
        f"(poll {first + 1} started after the noise; "
        f"{'one poll was in flight' if in_flight else 'no poll in flight'}; "
        f"goal: poll 1 or 2: {'met' if first <= 1 else 'MISSED'})"
    )
    print(f"  faults counted              {counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--transport", choices=["serial", "hidraw"], default="serial")
    parser.add_argument("--noise", type=int, metavar="LINES", help="measure noise recovery")
    args = parser.parse_args()
    if args.noise:
        for toward, paced in (("inverter", False), ("driver", False), ("inverter", True)):
            asyncio.run(noise_recovery(args.noise, toward, paced))
        return
    asyncio.run(bench(args.cycles, args.transport))


if __name__ == "__main__":
    main()
