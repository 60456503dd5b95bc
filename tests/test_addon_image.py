"""The add-on image's contents, built without Docker, running against emulated devices.

The package is installed into a fresh virtual environment exactly as the Dockerfile does it
(its COPY lines and its ``pip install`` line, only without ``--no-cache-dir`` so the local pip
cache is reused), then ``run.sh`` starts ``edge-mining run --addon`` with a temporary
``options.json``, a fake Supervisor on loopback that announces a real Mosquitto broker (with
credentials), an emulated SolarEdge inverter (Modbus TCP) and an emulated BraiinsOS miner.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
import yaml
from braiins_support import FAST, fresh_host

from edge_mining.config import PlantConfig
from edge_mining.devices.braiins.emulator import EmulatedMiner
from edge_mining.devices.solaredge.emulator import SolarEdgeEmulator
from edge_mining.mqtt.broker import EmbeddedBroker
from edge_mining.sim.plant import Plant
from tests.loopback_http import Reply, Request, serving

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
TOKEN = "supervisor-test-token"


def dockerfile_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of the COPY lines that build the package (not run.sh)."""
    copies = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            *sources, destination = shlex.split(line)[1:]
            if sources != ["run.sh"]:
                copies.append((sources, destination))
    return copies


def dockerfile_pip_args() -> list[str]:
    match = re.search(r"pip install (.+?)(?:\s*\\|\s*&&|$)", DOCKERFILE, re.M)
    assert match is not None, "the Dockerfile has no pip install line"
    return [arg for arg in shlex.split(match.group(1)) if arg != "--no-cache-dir"]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment holding what the image holds; returns its bin directory."""
    root = tmp_path_factory.mktemp("image")
    build = root / "build"
    build.mkdir()
    for sources, destination in dockerfile_copies():
        for source in sources:
            src = ROOT / source
            target = build / destination if destination not in ("./", ".") else build / src.name
            if src.is_dir():
                shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, target if destination not in ("./", ".") else build)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *dockerfile_pip_args()],
        cwd=build,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return venv / "bin"


def test_the_image_holds_exactly_the_pinned_tree(image: Path) -> None:
    assert (image / "edge-mining").exists()
    check = subprocess.run(
        [str(image / "python"), "-m", "pip", "check"], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout
    frozen = subprocess.run(
        [str(image / "python"), "-m", "pip", "freeze", "--exclude", "edge-mining"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    pinned = [
        line
        for line in (ROOT / "requirements-addon.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]

    def norm(lines: list[str]) -> set[str]:
        return {re.sub(r"[-_.]+", "-", line.lower()) for line in lines if "==" in line}

    extra = norm(frozen) - norm(pinned)
    assert extra == set(), f"installed but not pinned: {sorted(extra)}"


def default_options() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    return json.loads(json.dumps(config["options"]))


async def test_run_sh_runs_the_addon_against_emulated_devices(image: Path, tmp_path: Path) -> None:
    broker = EmbeddedBroker(username="addons", password="broker-secret")
    broker.start()
    requests: list[Request] = []

    def supervisor(request: Request) -> Reply:
        requests.append(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(401, {"result": "error", "message": "Unauthorized"})
        data = {
            "host": broker.host,
            "port": broker.port,
            "ssl": False,
            "protocol": "3.1.1",
            "username": "addons",
            "password": "broker-secret",
            "addon": "core_mosquitto",
        }
        return Reply(200, {"result": "ok", "data": data})

    plant = Plant(PlantConfig(), start_time=time.time())
    host = fresh_host()
    panel_host = fresh_host()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    try:
        with serving(supervisor) as fake_supervisor:
            async with (
                SolarEdgeEmulator(plant) as inverter,
                EmulatedMiner(host, password="miner-secret", **FAST),
            ):
                options = default_options()
                options["energy_source"].update(
                    type="solaredge", host=inverter.host, port=inverter.port, poll_interval_s=0.5
                )
                options["miners"] = [
                    {
                        "name": "s19",
                        "driver": "braiins",
                        "host": host,
                        "password": "miner-secret",
                        "min_power_w": 1000,
                        "max_power_w": 3300,
                        "nominal_hashrate_ths": 104,
                        "nominal_power_w": 3068,
                    }
                ]
                options["control"]["mode"] = "manual"  # the test watches, it does not mine
                options["mqtt"].update(base_topic="addon_test", discovery_prefix="ha_addon")
                options_path = data_dir / "options.json"
                options_path.write_text(json.dumps(options), encoding="utf-8")
                env = {
                    "PATH": f"{image}{os.pathsep}/usr/bin:/bin",
                    "HOME": str(tmp_path),
                    "EDGE_MINING_OPTIONS": str(options_path),
                    "SUPERVISOR_TOKEN": TOKEN,
                    "SUPERVISOR_URL": fake_supervisor.url,
                    # The ingress panel on loopback (in the image: every interface).
                    "EDGE_MINING_INGRESS_HOST": panel_host,
                }
                seen = await run_and_watch(env, broker, tmp_path, panel_host)
    finally:
        broker.close()

    returncode, log, messages, panel_status = seen
    # The panel is served, to the Supervisor's ingress proxy only: this test is not it.
    assert panel_status == 403
    assert returncode == 0, log[-3000:]
    assert [r.path for r in requests] == ["/services/mqtt"]
    assert messages["addon_test/status"][0] == "online"
    assert messages["addon_test/status"][-1] == "offline"  # clean stop
    assert any(t.startswith("ha_addon/device/") for t in messages)
    energy = json.loads(messages["addon_test/energy/state"][-1])
    assert energy["battery_soc"] is not None and energy["pv_power"] is not None
    assert any(t.startswith("addon_test/miner/s19/") for t in messages)
    assert "broker-secret" not in log and "miner-secret" not in log
    assert TOKEN not in log
    # The log starts with the banner: version, energy source, miners, broker and its origin.
    banner = next(line for line in log.splitlines() if "edge-mining 0.1.0 starting" in line)
    assert f"energy from SolarEdge at {inverter.host}:{inverter.port}" in banner
    assert f"miners: s19 (braiins {host}, 1000-3300 W)" in banner
    assert f"MQTT broker {broker.host}:{broker.port} (from the Supervisor)" in banner
    assert (data_dir / "counters.json").exists()  # state persists in /data


async def run_and_watch(
    env: dict[str, str], broker: EmbeddedBroker, tmp_path: Path, panel_host: str
) -> tuple[int, str, dict[str, list[str]], int | None]:
    messages: dict[str, list[str]] = {}
    panel_status: int | None = None
    log_path = tmp_path / "addon.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            str(ROOT / "run.sh"), env=env, cwd=tmp_path, stdout=log_file, stderr=log_file
        )
        try:
            async with aiomqtt.Client(
                broker.host, broker.port, username="addons", password="broker-secret"
            ) as client:
                await client.subscribe("addon_test/#", qos=1)
                await client.subscribe("ha_addon/#", qos=1)

                async def collect() -> None:
                    async for message in client.messages:
                        payload = message.payload
                        text = payload.decode() if isinstance(payload, bytes) else str(payload)
                        messages.setdefault(str(message.topic), []).append(text)

                collector = asyncio.create_task(collect())
                deadline = time.monotonic() + 60  # bounded: start-up, discovery, a few ticks
                while time.monotonic() < deadline and process.returncode is None:
                    energy = messages.get("addon_test/energy/state", [])
                    if (
                        energy
                        and json.loads(energy[-1]).get("battery_soc") is not None
                        and any(t.startswith("addon_test/miner/s19/") for t in messages)
                    ):
                        break
                    await asyncio.sleep(0.2)
                if process.returncode is None:
                    async with httpx.AsyncClient() as http:
                        panel = await http.get(f"http://{panel_host}:8099/", timeout=5)
                        panel_status = panel.status_code
                    process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(30):
                    await process.wait()
                await asyncio.sleep(0.5)  # the retained "offline" arrives
                collector.cancel()
                await asyncio.gather(collector, return_exceptions=True)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return process.returncode or 0, log_path.read_text(errors="replace"), messages, panel_status
