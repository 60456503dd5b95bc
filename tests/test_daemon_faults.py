"""Field faults of the daemon and its MQTT bridge, through the real parts: ``edge-mining run``
and ``demo`` as subprocesses, a real Mosquitto broker, real signals. Each test is a row of
DOCS.md's "What happens when..." table."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

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
            "miners": [
                {
                    "name": "alpha",
                    "min_power_w": 800,
                    "max_power_w": 3000,
                    "nominal_hashrate_ths": 100,
                    "nominal_power_w": 3000,
                }
            ],
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
