"""The web panel under test: a simulated site served in a thread of its own, a stand-in for the
Supervisor's ingress proxy, and the browser (Debian's chromium driven by Playwright).

The daemon runs in its own thread and event loop so the tests can use Playwright's sync API;
everything listens on its own loopback /24 (``fresh_host``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, TCPConnector, web

from edge_mining.clock import ScaledClock
from edge_mining.demo import DEMO_SITE, demo_start, seed_house_load
from edge_mining.service.daemon import Daemon

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "reports" / "panel"
INGRESS_PREFIX = "/api/hassio_ingress/ZmFrZS1pbmdyZXNzLXRva2Vu"
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def wait_until(predicate: Callable[[], Any], timeout_s: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def wait_listening(host: str, port: int, timeout_s: float = 20.0) -> None:
    def up() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_until(up, timeout_s, f"{host}:{port} to listen")


class IngressProxy:
    """What Home Assistant's Supervisor does for ingress, reduced to the part the panel sees:
    ``<prefix>/<path>`` is forwarded to the panel as ``/<path>`` with ``X-Ingress-Path:
    <prefix>``, from the proxy's own address, and responses are streamed back (server-sent
    events included)."""

    def __init__(self, host: str, port: int, target: str) -> None:
        self.host, self.port, self.target = host, port, target
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    async def start(self) -> None:
        # Connections to the panel leave from the proxy's address, like 172.30.32.2.
        self._session = ClientSession(connector=TCPConnector(local_addr=(self.host, 0)))
        app = web.Application()
        app.router.add_route("*", INGRESS_PREFIX + "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        headers["X-Ingress-Path"] = INGRESS_PREFIX
        url = f"{self.target}/{request.match_info['tail']}"
        if request.query_string:
            url += f"?{request.query_string}"
        async with self._session.request(
            request.method,
            url,
            headers=headers,
            data=await request.read() if request.can_read_body else None,
            allow_redirects=False,
            auto_decompress=False,
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_HEADERS:
                    response.headers[key] = value
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            return response

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()


class PanelSite:
    """The demo site (three simulated miners, its simulated forecast and its seeded house-load
    history, so the planner plans from the first tick) with its panel, in a thread, until
    ``close``."""

    def __init__(
        self, state_dir: Path, host: str, proxy_host: str, stranger_host: str, speed: float = 200.0
    ) -> None:
        self.host, self.port = host, 8099
        target = f"http://{host}:{self.port}"
        self.proxy = IngressProxy(proxy_host, 8099, target)
        # The same proxy from an address the panel does not allow.
        self.stranger = IngressProxy(stranger_host, 8099, target)
        self.url = f"http://{host}:{self.port}/"
        self.ingress_url = f"http://{proxy_host}:8099{INGRESS_PREFIX}/"
        self.stranger_url = f"http://{stranger_host}:8099{INGRESS_PREFIX}/"
        site_data = {
            **DEMO_SITE,
            "state_dir": str(state_dir),
            "web": {
                "enabled": True,
                "host": host,
                "port": self.port,
                # The browser's connections come from 127.0.0.1; the proxy's from its address.
                "allowed_clients": ["127.0.0.1", proxy_host],
            },
        }
        from edge_mining.config import parse_config

        self.site = parse_config(site_data, environ={})
        self.clock = ScaledClock(start=demo_start(7.0), speed=speed)
        self.daemon: Daemon | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="panel-site", daemon=True)

    def start(self) -> PanelSite:
        self._thread.start()
        wait_until(lambda: self.daemon is not None or self._error, what="the daemon")
        if self._error:
            raise self._error
        wait_listening(self.host, self.port)
        wait_listening(self.proxy.host, self.proxy.port)
        wait_listening(self.stranger.host, self.stranger.port)
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to the test thread
            self._error = error

    async def _serve(self) -> None:
        from edge_mining.devices.factory import build_plant
        from edge_mining.service import serve

        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        plant = build_plant(self.site, self.clock.now())
        seed_house_load(self.site, plant, self.clock.now())
        await self.proxy.start()
        await self.stranger.start()
        try:
            await serve(
                self.site,
                clock=self.clock,
                stop=self._stop,
                plant=plant,
                install_signals=False,
                on_daemon=self._attach,
            )
        finally:
            await self.proxy.close()
            await self.stranger.close()

    def _attach(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def call(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` in the daemon's loop and return its result (thread-safe reads)."""
        assert self.loop is not None

        async def run() -> Any:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def close(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self._error:
            raise self._error
