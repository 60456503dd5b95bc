"""The web panel's server through a real HTTP client on loopback: who may connect (allowed
clients, token), the security headers, commands through the MQTT validation path, live events
within 2 s of a control tick, and the configuration rules."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from braiins_support import fresh_host
from conftest import JUNE_21, make_site

from edge_mining.clock import ManualClock
from edge_mining.config import ConfigError, SiteConfig, parse_config
from edge_mining.devices.factory import build_devices
from edge_mining.service import Daemon
from edge_mining.web.address import parse_listen_address
from edge_mining.web.server import CSP, WebPanel

TOKEN = "panel-token-Secr3t-value"
NOON = JUNE_21 + 11 * 3600


def panel_site(tmp_path: Path, **web: Any) -> SiteConfig:
    return make_site(
        tmp_path / "state",
        energy_source={"type": "simulated", "plant": {"battery_initial_soc_pct": 80}},
        web={"enabled": True, "host": fresh_host(), "port": 8099, **web},
    )


class Running:
    def __init__(self, site: SiteConfig, panel: WebPanel, daemon: Daemon, clock: ManualClock):
        self.site, self.panel, self.daemon, self.clock = site, panel, daemon, clock
        self.url = f"http://{site.web.host}:{site.web.port}"

    async def tick(self, seconds: float = 5.0) -> None:
        self.clock.advance(seconds)
        await self.daemon._poll_all_once()
        await self.daemon.tick()


async def start(site: SiteConfig) -> AsyncIterator[Running]:
    clock = ManualClock(NOON)
    devices = build_devices(site, clock=clock)
    daemon = Daemon(site, energy=devices.energy, miners=devices.miners, clock=clock)
    panel = WebPanel(site, daemon)
    stop = asyncio.Event()
    task = asyncio.create_task(panel.run(stop))
    running = Running(site, panel, daemon, clock)
    try:
        deadline = time.monotonic() + 10
        while panel.port is None:
            assert time.monotonic() < deadline and not task.done(), "the panel did not start"
            await asyncio.sleep(0.02)
        await running.tick()
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await devices.close()


@pytest.fixture
async def open_panel(tmp_path: Path) -> AsyncIterator[Running]:
    async for running in start(panel_site(tmp_path)):
        yield running


@pytest.fixture
async def token_panel(tmp_path: Path) -> AsyncIterator[Running]:
    async for running in start(panel_site(tmp_path, token=TOKEN)):
        yield running


# --------------------------------------------------------------------------------- headers


async def test_every_response_carries_the_security_headers(open_panel: Running) -> None:
    async with httpx.AsyncClient(base_url=open_panel.url) as client:
        for path, cache in (
            ("/", "no-store"),
            ("/api/state", "no-store"),
            ("/api/history", "no-store"),
            ("/api/site", "no-store"),
            ("/static/app.js", "public, max-age=86400"),
            ("/static/nothing.js", "no-store"),
        ):
            response = await client.get(path)
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            assert response.headers["Content-Security-Policy"] == CSP, path
            assert response.headers["Cache-Control"] == cache, path
            assert response.headers["Referrer-Policy"] == "no-referrer", path
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
    assert "default-src 'self'" in CSP


async def test_the_page_gets_the_ingress_prefix_as_its_base(open_panel: Running) -> None:
    async with httpx.AsyncClient(base_url=open_panel.url) as client:
        page = (await client.get("/", headers={"X-Ingress-Path": "/api/hassio_ingress/abc"})).text
        assert '<base href="/api/hassio_ingress/abc/">' in page
        # A header that is no path (an injection attempt) is ignored.
        page = (await client.get("/", headers={"X-Ingress-Path": '/x"><script>'})).text
        assert '<base href="/">' in page and "<script>" not in page.split("<head>")[0]
        assert '"><script>' not in page


# ----------------------------------------------------------------------------- who connects


async def test_a_client_outside_allowed_clients_gets_403(tmp_path: Path, caplog) -> None:
    site = panel_site(tmp_path)
    allowed = fresh_host()
    web = site.web.model_copy(update={"allowed_clients": [allowed]})
    site = site.model_copy(update={"web": web})
    async for running in start(site):
        stranger = httpx.AsyncHTTPTransport(local_address="127.0.0.1")
        friend = httpx.AsyncHTTPTransport(local_address=allowed)
        with caplog.at_level(logging.WARNING, logger="edge_mining.web.server"):
            for _ in range(3):
                async with httpx.AsyncClient(transport=stranger, base_url=running.url) as client:
                    response = await client.get("/api/state")
                    assert response.status_code == 403
        async with httpx.AsyncClient(transport=friend, base_url=running.url) as client:
            assert (await client.get("/api/state")).status_code == 200
        refusals = [r for r in caplog.records if "refused client 127.0.0.1" in r.getMessage()]
        assert len(refusals) == 1  # once per address, not once per request


async def test_the_token_is_required_and_never_shown(token_panel: Running, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(base_url=token_panel.url) as client:
        for path in ("/", "/api/state", "/api/events", "/static/app.js"):
            assert (await client.get(path)).status_code == 401, path
        assert (await client.get("/?token=wrong-token-12345")).status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        state = await client.get("/api/state", headers=bearer)
        assert state.status_code == 200
        # Opened once with ?token=: a cookie, and the token leaves the address bar.
        opened = await client.get(f"/?token={TOKEN}")
        assert opened.status_code == 302 and opened.headers["Location"] == "/"
        cookie = opened.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert (await client.get("/api/state")).status_code == 200  # with the cookie
        bodies = [
            (await client.get(path)).text
            for path in ("/", "/api/state", "/api/site", "/api/history", "/static/app.js")
        ]
    assert all(TOKEN not in body for body in bodies)
    # The server's own log lines (the test's HTTP client logs what it sends, that is its job).
    server_lines = [
        r.getMessage() for r in caplog.records if r.name.startswith(("edge_mining", "aiohttp"))
    ]
    assert not any(TOKEN in line for line in server_lines)


# --------------------------------------------------------------------------------- commands


async def post(running: Running, body: Any, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=running.url) as client:
        return await client.post("/api/command", json=body, **kwargs)


async def test_commands_pass_the_mqtt_validation(open_panel: Running) -> None:
    running = open_panel
    response = await post(running, {"device": "miner/m3k", "key": "mining", "value": True})
    assert response.status_code == 200 and response.json()["ok"] is True
    assert "m3k" in running.daemon.state.manual_miners
    response = await post(running, {"device": "miner/m3k", "key": "power_target", "value": 2000})
    assert response.json() == {"ok": True, "applied": "SetMinerPower(miner='m3k', watts=2000.0)"}
    for _ in range(4):  # power changes are spaced by power_change_interval_s (30 s)
        await running.tick(20)
    miner = running.daemon.state.miners["m3k"]
    assert miner.status.is_running and miner.power_target_w == 2000
    for body, reason in (
        ({"device": "miner/m3k", "key": "power_target", "value": 9000}, "outside"),
        ({"device": "miner/m3k", "key": "power_target", "value": "nan"}, "not a finite number"),
        ({"device": "miner/nope", "key": "mining", "value": True}, "unknown miner"),
        ({"device": "controller", "key": "mode", "value": "turbo"}, "is not one of"),
        ({"device": "controller", "key": "tick_s", "value": 1}, "unknown controller command"),
        ({"device": "controller", "key": "stop_soc_pct", "value": 95}, "must be below"),
        ({"device": "controller", "key": "mode", "value": "x" * 100}, "payload too long"),
        ({"device": "controller", "key": "mode", "value": None}, "value must be"),
        (["not", "an", "object"], "expected an object"),
    ):
        response = await post(running, body)
        assert response.status_code == 400, body
        assert reason in response.json()["error"], (body, response.json())
    assert running.daemon.control.stop_soc_pct == 40
    assert running.panel.commands_rejected == 9
    # Back to auto, and a setting that passes.
    assert (
        await post(running, {"device": "miner/m3k", "key": "control", "value": "auto"})
    ).is_success
    assert "m3k" not in running.daemon.state.manual_miners
    assert (
        await post(running, {"device": "controller", "key": "stop_soc_pct", "value": 35})
    ).is_success
    assert running.daemon.control.stop_soc_pct == 35


async def test_a_command_must_be_json(open_panel: Running) -> None:
    async with httpx.AsyncClient(base_url=open_panel.url) as client:
        form = await client.post("/api/command", data={"device": "controller", "key": "mode"})
        assert form.status_code == 415
        broken = await client.post(
            "/api/command", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert broken.status_code == 400
        assert (await client.get("/api/command")).status_code == 405


# ------------------------------------------------------------------------------ live events


async def test_an_event_follows_each_tick_within_two_seconds(open_panel: Running) -> None:
    running = open_panel
    received: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()

    async def listen() -> None:
        async with httpx.AsyncClient(base_url=running.url, timeout=None) as client:
            async with client.stream("GET", "/api/events") as response:
                assert response.headers["Content-Type"] == "text/event-stream"
                assert response.headers["Cache-Control"] == "no-store"
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        received.put_nowait((time.monotonic(), json.loads(line[6:])))

    listener = asyncio.create_task(listen())
    try:
        _, first = await asyncio.wait_for(received.get(), 5)
        for _ in range(3):
            await asyncio.sleep(0.3)
            ticked = time.monotonic()
            await running.tick(60)
            while True:
                at, event = await asyncio.wait_for(received.get(), 5)
                if event["time"] == running.daemon.state.time:
                    break
            assert at - ticked < 2.0
            assert event["time"] > first["time"]
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def test_the_history_survives_a_restart(tmp_path: Path) -> None:
    site = panel_site(tmp_path)
    async for running in start(site):
        for _ in range(30):
            await running.tick(30)  # 15 minutes
        rows = running.panel.history.series()["columns"]["t"]
        assert len(rows) >= 14
    assert (site.state_dir / "history.json").exists()
    async for running in start(site):
        async with httpx.AsyncClient(base_url=running.url) as client:
            history = (await client.get("/api/history")).json()
        assert history["columns"]["t"][: len(rows)] == rows
        assert history["miners"] == ["m3k"]


# ------------------------------------------------------------------------------ configuration


def test_beyond_loopback_the_panel_needs_a_token_or_allowed_clients(tmp_path: Path) -> None:
    base = {"energy_source": {"type": "simulated"}, "state_dir": str(tmp_path)}
    miners = [
        {"name": "m", "min_power_w": 1, "max_power_w": 2, "nominal_hashrate_ths": 1,
         "nominal_power_w": 2}
    ]  # fmt: skip
    with pytest.raises(ConfigError) as error:
        parse_config({**base, "miners": miners, "web": {"enabled": True, "host": "0.0.0.0"}})
    assert (
        error.value.problems
        == [
            "web: Value error, the panel listens beyond loopback (0.0.0.0): set token "
            "(or allowed_clients, for a proxy that authenticates users)"
        ]
        or "set token" in error.value.problems[0]
    )
    with pytest.raises(ConfigError) as error:
        parse_config({**base, "miners": miners, "web": {"allowed_clients": ["10.0.0.300"]}})
    assert "web.allowed_clients" in error.value.problems[0]
    with pytest.raises(ConfigError) as error:
        parse_config({**base, "miners": miners, "web": {"token": "short"}})
    assert "at least 12 characters" in error.value.problems[0] and "short" not in str(
        error.value.problems
    ).replace("at least", "")
    ok = parse_config(
        {**base, "miners": miners, "web": {"enabled": True, "host": "0.0.0.0", "token": TOKEN}},
        environ={},
    )
    assert TOKEN not in repr(ok)
    from_env = parse_config(
        {**base, "miners": miners, "web": {"enabled": True, "host": "192.168.1.5"}},
        environ={"EDGE_MINING_WEB_TOKEN": TOKEN},
    )
    assert from_env.web.token is not None


def test_listen_addresses() -> None:
    assert parse_listen_address("127.0.0.1:8099") == ("127.0.0.1", 8099)
    assert parse_listen_address("0.0.0.0") == ("0.0.0.0", 8099)
    assert parse_listen_address("[::1]:9000") == ("::1", 9000)
    for bad in ("127.0.0.1:x", ":80", "::1:80", "host:70000"):
        with pytest.raises(ValueError):
            parse_listen_address(bad)


def test_a_plan_is_read_from_the_planner_s_document() -> None:
    """The Plan page's data is the controller's plan document (``Planning.document``) with
    the page's names and the 24 h totals; steps it cannot read are left out, and without a
    plan the status says why."""
    from edge_mining.web.documents import plan_document

    def step(start: float, end: float, mining_w: float, soc: float) -> dict[str, float]:
        return {"start": start, "end": end, "mining_w": mining_w, "battery_w": -800.0,
                "soc_pct": soc, "pv_w": 2000.0, "load_w": 400.0}  # fmt: skip

    def shown(t: float, end: float, mining_w: float, soc: float) -> dict[str, float]:
        return {"t": t, "end": end, "mining_w": mining_w, "battery_w": -800.0, "soc": soc,
                "pv_w": 2000.0, "load_w": 400.0}  # fmt: skip

    planned = {
        "status": "planned",
        "summary": "plan: 2.4 kWh from the battery",
        "created": 1000,
        "reserve_soc_pct": 30.0,
        "mining_w": 1500,
        "steps": [
            step(1000, 1900, 1500, 80.0),
            step(1900, 5500, 0, 75.5),
            {"start": 5500, "end": 5500, "mining_w": 9},  # empty: left out
            {"start": "x", "end": 9100, "mining_w": 9},  # unreadable: left out
        ],
    }
    assert plan_document(planned) == {
        "status": "planned",
        "planning": True,
        "summary": "plan: 2.4 kWh from the battery",
        "created": 1000.0,
        "reserve_soc": 30.0,
        "mining_w": 1500.0,
        "steps": [shown(1000.0, 1900.0, 1500.0, 80.0), shown(1900.0, 5500.0, 0.0, 75.5)],
        # 1500 W for a quarter hour; 2000 W and 400 W for an hour and a quarter.
        "totals": {"mining_kwh": 0.38, "pv_kwh": 2.5, "load_kwh": 0.5},
    }
    fallback = {"status": "no hourly PV forecast", "summary": None, "created": None,
                "reserve_soc_pct": None, "mining_w": None, "steps": []}  # fmt: skip
    document = plan_document(fallback)
    assert document is not None
    assert document["status"] == "no hourly PV forecast" and document["planning"] is False
    assert document["steps"] == [] and document["totals"]["mining_kwh"] == 0.0
    # A "planned" status with no readable step is not drawn as a plan.
    assert plan_document({**planned, "steps": []})["planning"] is False
    assert plan_document(None) is None  # no planner
    assert plan_document(object()) is None


def test_demo_web_on_a_taken_port_exits_2(capsys) -> None:
    import socket

    from edge_mining.cli import main

    host = fresh_host()
    with socket.socket() as taken:
        taken.bind((host, 8099))
        taken.listen()
        assert main(["demo", "--web", f"{host}:8099", "--duration", "1"]) == 2
    assert "--web: cannot listen on" in capsys.readouterr().err
