"""Log lines written by ``edge-mining run`` for a flood of bad MQTT commands.

Starts a private Mosquitto and ``edge-mining run`` (a simulated site) as a subprocess,
publishes N bad commands (QoS 0, as fast as paho sends them) on five ``.../set`` topics,
waits until the daemon has answered the last of them, stops it with SIGTERM and counts the
log lines the flood produced, and the commands those lines account for (a count line such as
``...: 2465 more in the last 3 s`` accounts for 2465).

Run: ``python3 benchmarks/command_flood.py [--commands 10000]``
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_mining.mqtt.broker import EmbeddedBroker  # noqa: E402

BASE = "bench_flood"


def site(broker: EmbeddedBroker, state_dir: Path) -> dict[str, object]:
    miner = {"min_power_w": 800, "max_power_w": 3000}
    miner |= {"nominal_hashrate_ths": 100, "nominal_power_w": 3000}
    return {
        "energy_source": {"type": "simulated"},
        "miners": [{"name": "alpha", **miner}, {"name": "beta", **miner}],
        "control": {"tick_s": 5},
        "mqtt": {"host": broker.host, "port": broker.port, "base_topic": BASE},
        "state_dir": str(state_dir),
    }


BAD = [
    (f"{BASE}/miner/alpha/power_target/set", b"5000"),
    (f"{BASE}/controller/stop_soc_pct/set", "１２".encode()),
    (f"{BASE}/controller/mode/set", b"turbo"),
    (f"{BASE}/miner/ghost/mining/set", b"ON"),
    (f"{BASE}/miner/beta/mining/set", b"\xff\xfe"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=10_000)
    args = parser.parse_args()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "site.yaml"
        config.write_text(yaml.safe_dump(site(broker, Path(scratch) / "state")))
        process = subprocess.Popen(
            [sys.executable, "-m", "edge_mining.cli", "run", "--config", str(config)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        assert process.stderr is not None
        reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
        reader.start()
        # The daemon answers every command it handles by republishing that device's state;
        # the flood is over when those answers stop.
        answers = [0.0]

        def on_message(client: paho.Client, userdata: object, message: object) -> None:
            answers[0] = time.monotonic()

        client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        client.on_message = on_message
        client.connect(broker.host, broker.port)
        client.subscribe(f"{BASE}/+/state")
        client.subscribe(f"{BASE}/miner/+/state")
        client.loop_start()
        try:
            deadline = time.monotonic() + 120
            while not any("MQTT connected" in line for line in lines):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("edge-mining run did not connect:\n" + "".join(lines))
                time.sleep(0.1)
            time.sleep(1.0)
            before = len(lines)
            began = time.monotonic()
            for i in range(args.commands):
                topic, payload = BAD[i % len(BAD)]
                client.publish(topic, payload, qos=0)
            sent_s = time.monotonic() - began
            while time.monotonic() - max(answers[0], began + sent_s) < 3.0:
                time.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            process.wait(60)
            reader.join(10)
        finally:
            client.loop_stop()
            client.disconnect()
            if process.poll() is None:
                process.kill()
    flood = [
        line
        for line in lines[before:]
        if "MQTT command" in line or re.search(r"MQTT commands \w+", line)
    ]
    counted = sum(
        int(m.group(1)) if (m := re.search(r": (\d+) more in the last", line)) else 1
        for line in flood
    )
    print(f"bad commands sent          {args.commands} in {sent_s:.2f} s (QoS 0, 5 topics)")
    print(f"log lines about them       {len(flood)}")
    print(f"commands they account for  {counted}")
    print(f"all log lines meanwhile    {len(lines) - before} (including start/stop lines)")
    for line in flood:
        print("  " + line.rstrip()[:160])


if __name__ == "__main__":
    main()
