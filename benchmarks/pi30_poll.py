"""One full PI30 poll cycle (QPIGS, QMOD, QPIWS) at 2400 baud, against the wire time.

The emulator paces both directions at 2400 baud, 10 bits per byte: a request is answered
only once its last byte would have arrived, and the reply leaves at line speed. The wire time
is the bytes exchanged times 10 / 2400 s; the goal is a cycle within 1.15x of it (the driver
adds only its own turnaround).

    python3 benchmarks/pi30_poll.py [--cycles N] [--transport serial|hidraw]
    (with the package installed, e.g. the .venv of scripts/test, or PYTHONPATH=.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from edge_mining.config import PlantConfig, VoltronicSourceConfig
from edge_mining.devices import pi30
from edge_mining.devices.voltronic import VoltronicSource
from edge_mining.sim.pi30_emulator import BITS_PER_BYTE, Pi30Emulator
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--transport", choices=["serial", "hidraw"], default="serial")
    args = parser.parse_args()
    asyncio.run(bench(args.cycles, args.transport))


if __name__ == "__main__":
    main()
