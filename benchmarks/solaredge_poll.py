"""SolarEdge driver poll cost against the emulator on loopback: prints latency and requests.

Run: python3 benchmarks/solaredge_poll.py [POLLS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from edge_mining.clock import ManualClock
from edge_mining.config import PlantConfig, SolarEdgeSourceConfig
from edge_mining.devices.solaredge.emulator import SolarEdgeEmulator
from edge_mining.devices.solaredge.source import SolarEdgeSource
from edge_mining.sim.plant import Plant


async def main(polls: int) -> None:
    clock = ManualClock(1718964000.0)
    plant = Plant(PlantConfig(), start_time=clock.now())
    async with SolarEdgeEmulator(plant, clock=clock, batteries=2) as emulator:
        config = SolarEdgeSourceConfig(type="solaredge", host=emulator.host, port=emulator.port)
        source = SolarEdgeSource(config, clock=clock)
        started = time.perf_counter()
        await source.read()
        connect_ms = (time.perf_counter() - started) * 1000
        requests_before = emulator.requests
        latencies = []
        for _ in range(polls):
            clock.advance(5.0)
            t0 = time.perf_counter()
            await source.read()
            latencies.append((time.perf_counter() - t0) * 1000)
        await source.close()
        per_poll = (emulator.requests - requests_before) / polls
    latencies.sort()
    print(f"first read (connect + discovery): {connect_ms:.1f} ms")
    print(
        f"{polls} polls: mean {statistics.mean(latencies):.2f} ms, "
        f"p95 {latencies[int(0.95 * polls) - 1]:.2f} ms, max {latencies[-1]:.2f} ms, "
        f"{per_poll:.1f} Modbus requests per poll (inverter, meter, 2 batteries)"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
