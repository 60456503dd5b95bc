"""Field faults of the daemon and its MQTT bridge, through the real parts: ``edge-mining run``
and ``demo`` as subprocesses, a real Mosquitto broker, real signals. Each test is a row of
DOCS.md's "What happens when..." table."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MINER_3KW

from edge_mining.clock import ScaledClock
from edge_mining.config import SiteConfig
from edge_mining.mqtt import bridge as bridge_module
from edge_mining.mqtt.broker import EmbeddedBroker
from edge_mining.service import serve
from tests.cli_process import CliProcess, write_site
from tests.mqtt_broker import Recorder, mosquitto, private_broker, unique_namespace

__all__ = ["mosquitto", "private_broker"]  # fixtures

JUNE_NIGHT = 1_750_471_200.0 - 10 * 3600  # 21 June 2025, 02:00 UTC: no sun, nothing starts


def run_site(
    broker: EmbeddedBroker, state_dir: Path, label: str, **mqtt: Any
) -> tuple[SiteConfig, str]:
    """One simulated miner on a fast tick, publishing to ``broker`` under its own topics."""
    base, prefix = unique_namespace(label)
    site = SiteConfig.model_validate(
        {
            "name": "Fault site",
            "energy_source": {"type": "simulated"},
            "miners": [{**MINER_3KW, "name": "alpha", "min_power_w": 800}],
            "control": {"tick_s": 0.5},
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "base_topic": base,
                "discovery_prefix": prefix,
                **mqtt,
            },
            "state_dir": str(state_dir),
        }
    )
    return site, base


def no_asyncio_noise(output: str) -> None:
    for noise in (
        "Traceback",
        "Exception in callback",
        "exception was never retrieved",
        "Task was destroyed",
    ):
        assert noise not in output, output


# ------------------------------------------------------------------- a background task dies


async def test_a_bridge_that_dies_at_start_stops_run_with_exit_1(mosquitto, tmp_path):
    # A CA file that is no certificate: building the TLS context fails inside the bridge's
    # task, as the OverflowError of `stale_after_s: .inf` did. It used to surface only in the
    # shutdown log, hours later; the miners ran on with Home Assistant blind.
    ca = tmp_path / "ca.pem"
    ca.write_text("this is not a certificate\n", encoding="utf-8")
    site, _ = run_site(mosquitto, tmp_path / "state", "diesatstart", tls=True, ca_file=str(ca))
    config = write_site(tmp_path / "site.yaml", site)
    async with CliProcess("run", "--config", str(config)) as run:
        assert await run.wait(60) == 1
    errors = [line for line in run.lines if " ERROR " in line]
    assert "MQTT bridge failed: SSLError" in errors[0] and "stopping edge-mining" in errors[0]
    assert "edge-mining stopped after a failure: MQTT bridge failed: SSLError" in errors[-1]
    assert len(errors) == 2, run.output
    assert "shutdown: alpha paused" in run.output
    assert "exception was never retrieved" not in run.output


async def test_a_bridge_that_dies_mid_session_says_offline_and_stops_the_daemon(
    mosquitto, tmp_path, monkeypatch
):
    # A bug in the command path (injected: nothing known does this any more) ends the bridge
    # after it connected. The daemon stops (miners paused), the broker is told "offline"
    # (a clean disconnect does not fire the will), serve() raises for a non-zero exit.
    def broken(self: Any, device: str) -> Any:
        raise ZeroDivisionError("injected bug")

    monkeypatch.setattr(bridge_module.MqttBridge, "_publish_device_state", broken)
    site, base = run_site(mosquitto, tmp_path / "state", "diesmid")
    async with Recorder(mosquitto, f"{base}/#") as rec:
        daemons: list[Any] = []
        serving = asyncio.create_task(
            serve(
                site,
                clock=ScaledClock(JUNE_NIGHT, 1.0),
                install_signals=False,
                on_daemon=daemons.append,
            )
        )
        await rec.wait_topic(f"{base}/status", "online", timeout=30)
        await rec.wait_topic(f"{base}/miner/alpha/state", timeout=30)
        mark = len(rec.messages)
        await rec.publish(f"{base}/miner/alpha/mining/set", "ON")
        with pytest.raises(RuntimeError, match="MQTT bridge failed: ZeroDivisionError"):
            await asyncio.wait_for(serving, 30)
        await rec.wait_topic(f"{base}/status", "offline", after=mark, timeout=10)
    (daemon,) = daemons
    assert not daemon.running
    assert daemon.miners["alpha"].commands[-1][1] == "stop"


# ------------------------------------------------------------------- the state after SIGTERM


async def test_the_last_retained_miner_state_is_the_shutdown_state(mosquitto, tmp_path):
    site, base = run_site(mosquitto, tmp_path / "state", "sigterm")
    config = write_site(tmp_path / "site.yaml", site)
    state_topic = f"{base}/miner/alpha/state"
    async with (
        Recorder(mosquitto, f"{base}/#") as rec,
        CliProcess("run", "--config", str(config)) as run,
    ):
        await rec.wait_topic(f"{base}/status", "online", timeout=60)
        await rec.wait_topic(state_topic, timeout=30)
        await rec.publish(f"{base}/miner/alpha/mining/set", "ON")  # whatever the time of day
        await rec.wait_for(lambda m: m.topic == state_topic and m.json()["mining"], timeout=30)
        run.send(signal.SIGTERM)
        assert await run.wait(60) == 0
        await rec.wait_topic(f"{base}/status", "offline", timeout=10)
    no_asyncio_noise(run.output)
    # What Home Assistant finds on the broker afterwards (retained), from a new client.
    async with Recorder(mosquitto, state_topic, f"{base}/controller/state") as late:
        final = (await late.wait_topic(state_topic)).json()
        controller = (await late.wait_topic(f"{base}/controller/state")).json()
    assert final["mining"] is False, final
    assert final["status"] in ("stopping", "paused"), final
    assert final["reason"] == "edge-mining stopped: paused"
    assert controller["decision"] == "edge-mining stopped: miners paused"


# ------------------------------------------------------------------------ a frozen client


async def test_a_frozen_client_dropped_by_the_broker_reconnects_without_a_traceback(
    mosquitto, tmp_path
):
    # The process is stopped (a suspended VM, SIGSTOP) past 1.5 keep-alives: the broker drops
    # it. On waking, paho finds the socket closed while a write watcher is pending: aiomqtt
    # 2.5.1 then logged "Exception in callback ... add_writer ... Bad file descriptor".
    site, base = run_site(mosquitto, tmp_path / "state", "frozen", keepalive_s=5)
    config = write_site(tmp_path / "site.yaml", site)
    async with (
        Recorder(mosquitto, f"{base}/status") as rec,
        CliProcess("run", "--config", str(config)) as run,
    ):
        await rec.wait_topic(f"{base}/status", "online", timeout=60)
        connected = await run.wait_line("MQTT connected", timeout=30)
        run.send(signal.SIGSTOP)
        # The broker sends the will once it gives up on the silent client (7.5 s).
        mark = len(rec.messages)
        await rec.wait_topic(f"{base}/status", "offline", after=mark, timeout=30)
        run.send(signal.SIGCONT)
        await rec.wait_topic(f"{base}/status", "online", after=mark, timeout=30)
        await run.wait_line("MQTT connected", after=connected + 1, timeout=30)
        await asyncio.sleep(1.0)  # a few ticks on the new connection
        run.send(signal.SIGTERM)
        assert await run.wait(60) == 0
    no_asyncio_noise(run.output)
    assert run.lines[-1].endswith("edge-mining stopped"), run.output


# ------------------------------------------------------------------- stopping without a broker


@pytest.mark.parametrize("when", ["connected", "reconnecting"])
async def test_stopping_while_the_broker_hangs_ends_quietly_and_promptly(
    private_broker, tmp_path, when
):
    # A hung broker (SIGSTOP: TCP still accepted, nothing answered). Stopping used to wait for
    # the final publish's acknowledgement or the CONNACK (10 s each), then log "reconnecting"
    # after "edge-mining stopped".
    site, base = run_site(private_broker, tmp_path / "state", "hung", keepalive_s=5)
    config = write_site(tmp_path / "site.yaml", site)
    broker_pid = private_broker.pid
    assert broker_pid is not None
    try:
        async with CliProcess("run", "--config", str(config)) as run:
            connected = await run.wait_line("MQTT connected", timeout=60)
            await asyncio.sleep(0.5)
            os.kill(broker_pid, signal.SIGSTOP)
            if when == "reconnecting":
                # No answer to the keep-alive: the client gives up and connects again, into
                # a broker that never sends CONNACK.
                await run.wait_line("reconnecting in", after=connected, timeout=30)
                await asyncio.sleep(2.0)
            stopped_at = len(run.lines)
            began = time.monotonic()
            run.send(signal.SIGTERM)
            assert await run.wait(60) == 0
            took = time.monotonic() - began
    finally:
        os.kill(broker_pid, signal.SIGCONT)
    after = run.lines[stopped_at:]
    assert not any("reconnecting" in line for line in after), run.output
    assert after[-1].endswith("edge-mining stopped"), run.output
    # Bounded (3 s for the final publish) rather than 10 s per wait; generous for loaded CI.
    assert took < 30, f"took {took:.1f} s to stop:\n{run.output}"
    if when == "connected":
        assert any("final state not published" in line for line in after), run.output
    no_asyncio_noise(run.output)


# ------------------------------------------------------------------------ Ctrl-C on the demo


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("attempt", [1, 2, 3])
async def test_ctrl_c_on_the_demo_with_an_embedded_broker_stops_at_once(attempt):
    # Ctrl-C in a terminal signals the whole foreground process group. The embedded broker
    # used to get it too and die first: the bridge's final publish then waited ~10 s and
    # asyncio printed "Future exception was never retrieved ... MqttCodeError" (half the tries).
    demo_args = ("--log-level", "info", "demo", "--mqtt", "embedded", "--speed", "120")
    async with CliProcess(*demo_args) as demo:
        line = demo.lines[await demo.wait_line(r"embedded MQTT broker on ", timeout=60)]
        host, port = line.rsplit(" ", 1)[-1].rsplit(":", 1)
        await demo.wait_line(r"\bPV .* kW", timeout=60)  # the console runs
        await asyncio.sleep(0.3 * attempt)  # somewhere in a tick
        demo.send(signal.SIGINT, group=True)
        assert await demo.wait(60) == 0
    # The broker outlived the bridge: it took the final state and "offline" (it used to be
    # dead by then, and the final publish waited 10 s for it).
    assert any("MQTT disconnected cleanly" in line for line in demo.lines), demo.output
    assert "final state not published" not in demo.output
    no_asyncio_noise(demo.output)
    assert "reconnecting" not in demo.output
    assert any(line.startswith("demo ended after") for line in demo.lines), demo.output
    assert not _port_open(host, int(port)), "the embedded broker outlived the demo"


# ------------------------------------------------------------------ kill -9 and the counters

ENERGY_COUNTERS = (
    "pv_energy",
    "load_energy",
    "battery_charge_energy",
    "battery_discharge_energy",
    "grid_import_energy",
    "grid_export_energy",
)
CONTROLLER_COUNTERS = ("mined_energy_total", "earnings", "heat_delivered")


async def test_counters_never_go_back_across_kill_9(mosquitto, tmp_path):
    # Home Assistant reads them as total_increasing: a lower value starts a new meter cycle.
    # They used to be published live and saved every 30 s: kill -9 lost what HA had seen.
    state_dir = tmp_path / "state"
    site, base = run_site(mosquitto, state_dir, "kill9")
    # A house drawing ~450 kW: the load counter moves by Wh at every 0.2 s tick.
    data = site.model_dump(mode="json")
    data["state_save_interval_s"] = 1
    data["energy_source"]["plant"]["house_load_kwh_per_year"] = 4_000_000
    data["control"]["tick_s"] = 0.2
    config = write_site(tmp_path / "site.yaml", data)
    energy, controller = f"{base}/energy/state", f"{base}/controller/state"
    counters_file = state_dir / "counters.json"
    async with Recorder(mosquitto, energy, controller, f"{base}/status") as rec:
        for life in range(3):
            mark = len(rec.messages)
            async with CliProcess("run", "--config", str(config)) as run:
                await rec.wait_topic(energy, after=mark, timeout=60)
                # Saved right after start-up, before anything is published.
                assert counters_file.exists()
                seen = len(rec.messages)
                # Through a few saves (1 s apart), then killed somewhere between two.
                await rec.wait_for(lambda m: m.topic == energy, after=seen + 12 + 5 * life)
                run.send(signal.SIGKILL)
                await run.wait(30)
            # The broker sends the will once the connection is gone: everything the process
            # published came before it.
            await rec.wait_topic(f"{base}/status", "offline", after=mark, timeout=30)
            saved = json.loads(counters_file.read_text(encoding="utf-8"))
            published = [m.json() for m in rec.messages[mark:] if m.topic == energy]
            assert round(saved["load_kwh"], 3) >= max(p["load_energy"] for p in published)
    # As Home Assistant received them over the three lives: never lower.
    for topic, keys in ((energy, ENERGY_COUNTERS), (controller, CONTROLLER_COUNTERS)):
        documents = [m.json() for m in rec.messages if m.topic == topic]
        for key in keys:
            series = [d[key] for d in documents]
            drops = [(a, b) for a, b in zip(series, series[1:], strict=False) if b < a]
            assert not drops, f"{key} went back: {drops[:3]}"
    loads = [m.json()["load_energy"] for m in rec.messages if m.topic == energy]
    assert loads[-1] > loads[0] + 0.1, "the load counter hardly moved: the test proves nothing"


# ------------------------------------------------------------------- settings set over MQTT


async def test_settings_set_over_mqtt_survive_kill_9_until_the_config_file_changes(
    mosquitto, tmp_path, caplog
):
    state_dir = tmp_path / "state"
    site, base = run_site(mosquitto, state_dir, "settings")
    data = site.model_dump(mode="json")
    data["control"]["start_soc_pct"] = 80
    config = write_site(tmp_path / "site.yaml", data)
    controller, alpha = f"{base}/controller/state", f"{base}/miner/alpha/state"
    settings_file = state_dir / "user_settings.json"
    async with Recorder(mosquitto, f"{base}/#") as rec:
        async with CliProcess("run", "--config", str(config)) as run:
            await rec.wait_topic(controller, timeout=60)
            for topic, payload in [
                ("controller/start_soc_pct/set", "90"),
                ("controller/stop_deficit_w/set", "350"),
                ("controller/mode/set", "manual"),
                ("miner/alpha/power_target/set", "1500"),
            ]:
                await rec.publish(f"{base}/{topic}", payload)
            await rec.wait_for(
                lambda m: m.topic == alpha and m.json()["control"] == "manual", timeout=30
            )
            await _until_file(
                settings_file,
                lambda d: d.get("miners", {}).get("alpha", {}).get("power_w") == 1500,
            )
            run.send(signal.SIGKILL)  # no clean stop: what was written is what counts
            await run.wait(30)

        async def restarted(
            processes: contextlib.AsyncExitStack,
        ) -> tuple[dict[str, Any], dict[str, Any], CliProcess]:
            mark = len(rec.messages)
            process = await processes.enter_async_context(
                CliProcess("run", "--config", str(config))
            )
            await rec.wait_for(
                lambda m: m.topic == alpha and m.json()["control"] == "manual",
                after=mark,
                timeout=60,
            )
            state = (await rec.wait_topic(controller, after=mark, timeout=60)).json()
            miner = (await rec.wait_topic(alpha, after=mark, timeout=30)).json()
            return state, miner, process

        async with contextlib.AsyncExitStack() as processes:  # killed if a check fails
            state, miner, run = await restarted(processes)
            assert state["mode"] == "manual"
            assert state["start_soc_pct"] == 90 and state["stop_deficit_w"] == 350
            assert miner["control"] == "manual"
            run.send(signal.SIGTERM)
            assert await run.wait(60) == 0
        assert "manual control of alpha restored: running=None power_w=1500.0" in run.output

        # The file's own start_soc_pct changes: from now on it wins for that field (and only
        # for that one: the other settings set over MQTT stay).
        data["control"]["start_soc_pct"] = 85
        write_site(config, data)
        async with contextlib.AsyncExitStack() as processes:
            state, miner, run = await restarted(processes)
            assert state["start_soc_pct"] == 85
            assert state["stop_deficit_w"] == 350 and state["mode"] == "manual"
            assert miner["control"] == "manual"
            run.send(signal.SIGTERM)
            assert await run.wait(60) == 0
    assert (
        "control.start_soc_pct: the configuration changed (80.0 -> 85.0) since 90.0 was set "
        "over MQTT: the configuration wins" in run.output
    ), run.output
    saved = json.loads(settings_file.read_text(encoding="utf-8"))
    assert "start_soc_pct" not in saved["control"]
    assert saved["control"]["stop_deficit_w"] == {"value": 350.0, "config": 200.0}


async def _until_file(path: Path, ready: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if ready(document):
                return document
        except (FileNotFoundError, ValueError):
            pass
        assert time.monotonic() < deadline, f"{path} never got there"
        await asyncio.sleep(0.05)
