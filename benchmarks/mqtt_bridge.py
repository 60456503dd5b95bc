"""MQTT bridge figures on loopback with a real Mosquitto broker.

1. Publishing throughput: state documents of a 10-miner site published back to back
   (``MqttBridge.publish_all``), counted as sent and as received by a subscriber.
2. Command-to-actuation latency: a client publishes a power target on
   ``.../miner/<name>/power_target/set``; the clock stops when the simulated miner's driver is
   called with it (broker -> bridge -> validation -> daemon -> controller tick -> driver).

Run: ``python3 benchmarks/mqtt_bridge.py [--rounds 20] [--commands 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge_mining.mqtt.broker import EmbeddedBroker
from tests.mqtt_site import RecordingMiner, running_site, site_config


async def throughput(
    broker: EmbeddedBroker, state_dir: Path, rounds: int, *, with_discovery: bool
) -> None:
    names = tuple(f"m{i}" for i in range(10))
    site = site_config(broker, state_dir, "bench_tp", "bench_ha", miners=names)
    received = 0

    # The counting subscriber is a paho client on its own thread, so that the figure is the
    # broker's delivery, not this process's event loop.
    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        nonlocal received
        received += 1

    sub = paho.Client(paho.CallbackAPIVersion.VERSION2)
    sub.on_message = on_message
    sub.connect(broker.host, broker.port)
    # Everything the bridge publishes: its own topics and the discovery configs under the
    # prefix (subscribing to the base topic alone never saw discovery, so "received" only
    # caught up with "sent" through later unrelated state publications).
    sub.subscribe([("bench_tp/#", 0), ("bench_ha/#", 0)])
    sub.loop_start()
    try:
        async with running_site(site) as running:
            bridge = running.bridge
            await asyncio.sleep(0.5)
            before_pub, before_rx = bridge.published, received
            start = time.perf_counter()
            for _ in range(rounds):
                await bridge.publish_all(force_discovery=with_discovery)
            sent_s = time.perf_counter() - start
            sent = bridge.published - before_pub
            deadline = time.monotonic() + 10
            # The daemon's own ticks keep publishing meanwhile: wait for everything published
            # so far, so both counts cover the same messages.
            while (
                received - before_rx < bridge.published - before_pub and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.001)
            all_s = time.perf_counter() - start
            got = received - before_rx
            if got < bridge.published - before_pub:
                print(f"  (missing {bridge.published - before_pub - got} messages after 10 s)")
    finally:
        sub.loop_stop()
        sub.disconnect()
    print(
        f"publish{' with discovery' if with_discovery else ' (state only)'}: {sent} messages "
        f"({rounds} rounds, 12 devices) "
        f"in {sent_s:.3f} s = {sent / sent_s:,.0f} msg/s sent; "
        f"{got} received by a subscriber in {all_s:.3f} s = {got / all_s:,.0f} msg/s"
    )


async def latency(broker: EmbeddedBroker, state_dir: Path, commands: int) -> None:
    site = site_config(broker, state_dir, "bench_lat", "bench_ha", miners=("alpha",))
    async with running_site(site) as running, aiomqtt.Client(broker.host, broker.port) as c:
        miner: RecordingMiner = running.miners["alpha"]
        await c.publish("bench_lat/miner/alpha/mining/set", "ON", qos=1)
        while miner.status.value != "mining":
            await asyncio.sleep(0.02)
        samples: list[float] = []
        for i in range(commands):
            watts = 1500.0 + (i % 2) * 100.0
            seen = len(miner.requested_w)
            start = time.perf_counter()
            await c.publish("bench_lat/miner/alpha/power_target/set", f"{watts:g}", qos=1)
            while not (len(miner.requested_w) > seen and miner.requested_w[-1] == watts):
                await asyncio.sleep(0.0005)
            samples.append((time.perf_counter() - start) * 1000.0)
        samples.sort()
        p50 = statistics.median(samples)
        p95 = samples[int(0.95 * (len(samples) - 1))]
        print(
            f"command-to-actuation: {commands} power-target commands, p50 {p50:.1f} ms, "
            f"p95 {p95:.1f} ms, max {samples[-1]:.1f} ms"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as scratch:
        print(f"mosquitto {broker.binary} on {broker.host}:{broker.port}")
        await throughput(broker, Path(scratch) / "tp", args.rounds, with_discovery=True)
        await throughput(broker, Path(scratch) / "tp2", args.rounds * 5, with_discovery=False)
        await latency(broker, Path(scratch) / "lat", args.commands)


if __name__ == "__main__":
    asyncio.run(main())
