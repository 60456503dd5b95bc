"""``edge-mining demo --config FILE`` simulates the site's shape and never touches its real
devices or the network; its state goes to a temporary folder unless ``--state-dir`` is given."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml
from braiins_support import fresh_host

from edge_mining.config import load_config
from edge_mining.demo_shape import simulated_shape

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def test_every_example_becomes_a_site_with_nothing_real_in_it(tmp_path):
    assert len(EXAMPLES) >= 3
    for path in EXAMPLES:
        original = load_config(path, environ={"EDGE_MINING_MQTT_PASSWORD": "s3cret-mqtt"})
        shape = simulated_shape(original, tmp_path / "state")
        site = shape.site
        assert site.energy_source.type == "simulated"
        assert site.state_dir == tmp_path / "state"
        assert not site.mqtt.enabled and site.mqtt.host is None and site.mqtt.password is None
        # The demo plans like a site with a forecast: the simulated plant's own, with the
        # site's day-ahead error; the planner keeps the site's settings.
        assert site.forecast.type == "simulated" and not site.heating.enabled
        assert site.forecast.error_sigma == original.forecast.error_sigma
        assert site.forecast.planes == [] and site.forecast.api_key is None
        assert site.planner == original.planner
        if original.planner.battery_kwh is not None:  # the plant is the planner's battery
            assert site.energy_source.plant.battery_kwh == original.planner.battery_kwh
        assert site.homeassistant.url is None and site.homeassistant.token is None
        assert site.economics.hashprice_source is None
        assert [m.name for m in site.miners] == [m.name for m in original.miners]
        for before, after in zip(original.miners, site.miners, strict=True):
            assert after.driver == "simulated" and after.host is None and after.port is None
            assert after.password.get_secret_value() == ""
            assert after.switch_entity is None and after.command_topic is None
            assert (after.min_power_w, after.max_power_w) == (
                before.min_power_w,
                before.max_power_w,
            )
            assert after.nominal_hashrate_ths == before.nominal_hashrate_ths
            assert after.priority == before.priority
            assert after.efficiency_curve == before.efficiency_curve
            assert after.levels == before.levels and after.level_dwell_s == before.level_dwell_s
        assert site.control == original.control
        dumped = json.dumps(site.model_dump(mode="json"))
        for fragment in ("192.168.", "sensor.", "/dev/tty", "s3cret"):
            assert fragment not in dumped, (path.name, fragment)
        if original.energy_source.type != "simulated":
            assert shape.notes[0] == f"{original.energy_source.type} energy source simulated"


class Listener:
    """A TCP port on loopback that counts the connections made to it (never accepted)."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.socket = socket.create_server(self.address, backlog=16)
        self.socket.setblocking(False)

    def connections(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.socket.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    def close(self) -> None:
        self.socket.close()


def test_demo_of_a_real_site_contacts_none_of_its_devices(tmp_path):
    miner_host, source_host, broker_host, ha_host = (fresh_host() for _ in range(4))
    listeners = [Listener(miner_host, port) for port in (80, 4028, 50051, 14028)] + [
        Listener(source_host, 1502),
        Listener(broker_host, 1883),
        Listener(ha_host, 8123),
    ]
    primary, secondary = os.openpty()  # a "serial adapter" for a second site file
    site = {
        "name": "Real site",
        "energy_source": {"type": "solaredge", "host": source_host, "port": 1502},
        "miners": [
            {
                "name": "garage",
                "driver": "braiins",
                "host": miner_host,
                "port": 14028,
                "password": "miner-secret",
                "min_power_w": 1200,
                "max_power_w": 3300,
                "nominal_hashrate_ths": 100,
                "nominal_power_w": 3050,
            },
            {
                "name": "plug",
                "driver": "smartplug",
                "command_topic": "plug/cmnd/POWER",
                "min_power_w": 140,
                "max_power_w": 140,
                "nominal_hashrate_ths": 4,
                "nominal_power_w": 140,
                "power_target": False,
            },
        ],
        "mqtt": {"host": broker_host, "port": 1883, "password": "mqtt-secret"},
        "homeassistant": {"url": f"http://{ha_host}:8123", "token": "ha-secret"},
        "economics": {
            "hashprice_source": {"url": f"http://{ha_host}:8123/price", "json_path": "p"}
        },
    }
    real = tmp_path / "real.yaml"
    real.write_text(yaml.safe_dump(site), encoding="utf-8")
    serial = tmp_path / "serial.yaml"
    serial.write_text(
        yaml.safe_dump(
            {**site, "energy_source": {"type": "voltronic", "device": os.ttyname(secondary)}}
        ),
        encoding="utf-8",
    )
    work = tmp_path / "work"
    work.mkdir()
    state = tmp_path / "kept-state"
    try:
        for path, extra in ((real, ["--state-dir", str(state)]), (serial, [])):
            result = subprocess.run(
                [sys.executable, "-m", "edge_mining.cli", "demo", "--config", str(path)]
                + ["--duration", "3", "--speed", "600", "--start-hour", "10", *extra],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=work,
            )
            assert result.returncode == 0, result.stderr
            for listener in listeners:
                assert listener.connections() == 0, listener.address
            assert "Traceback" not in result.stderr
            text = " ".join(result.stdout.split())  # the note wraps at 80 columns
            assert f"demo of {path}: " in text
            assert "miners garage, plug simulated (no device is contacted)" in text
            for secret in ("miner-secret", "mqtt-secret", "ha-secret"):
                assert secret not in result.stdout + result.stderr
        os.set_blocking(primary, False)
        try:
            written = os.read(primary, 4096)
        except BlockingIOError:
            written = b""
        assert written == b"", "the demo wrote to the serial adapter"
    finally:
        for listener in listeners:
            listener.close()
        os.close(primary)
        os.close(secondary)
    # --state-dir keeps the counters there; without it nothing is left in the working folder.
    assert any(state.iterdir())
    assert list(work.iterdir()) == []
