"""The web panel's HTTP server (aiohttp), in the daemon's event loop.

Who may connect, in this order (a middleware, before any handler):

1. the client's address must be in ``web.allowed_clients`` when that list is set (the add-on:
   only the Supervisor's ingress proxy, 172.30.32.2); anyone else gets 403;
2. with ``web.token`` set, every request carries it: ``Authorization: Bearer <token>``, or the
   cookie set when the panel is opened once as ``/?token=<token>`` (then redirected without it).
   The token is compared in constant time and never logged (there is no access log: URLs could
   carry it).

Every URL works under the ``X-Ingress-Path`` prefix Home Assistant's ingress adds: the page
uses relative URLs only and gets a ``<base>`` with the prefix. Every response carries
``X-Content-Type-Options: nosniff``, a CSP allowing only the panel's own files and
``Referrer-Policy: no-referrer``; live data is ``Cache-Control: no-store``.

Commands (``POST api/command``) take the MQTT command's device, key and payload and go through
``mqtt.commands.parse_command`` and ``mqtt.apply.apply_request``: the very checks an MQTT
command passes. Live values reach the page as server-sent events (``api/events``), at most
``EVENT_INTERVAL_S`` apart and within that of each control tick.
"""

from __future__ import annotations

import asyncio
import gzip
import hmac
import ipaddress
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from edge_mining import __version__
from edge_mining.config import SiteConfig, WebConfig
from edge_mining.mqtt.apply import CommandTarget, apply_request
from edge_mining.mqtt.commands import CommandError, parse_command
from edge_mining.service.state import SiteState
from edge_mining.web.documents import live_document, site_document
from edge_mining.web.history import History

log = logging.getLogger(__name__)

STATIC = resources.files("edge_mining.web") / "static"
# Served files: name -> content type. Nothing else under static/ is reachable.
STATIC_FILES = {
    "app.js": "text/javascript",
    "app.css": "text/css",
    "icon.svg": "image/svg+xml",
    "vendor/uPlot.iife.min.js": "text/javascript",
    "vendor/uPlot.min.css": "text/css",
    "vendor/LICENSE.uPlot.txt": "text/plain",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)
TOKEN_COOKIE = "edge_mining_token"
INGRESS_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
EVENT_INTERVAL_S = 0.25
KEEPALIVE_S = 15.0
HISTORY_SAVE_S = 600.0
MAX_COMMAND_BYTES = 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebPanel:
    """The panel for one daemon: its app, its history, its live-event fan-out."""

    def __init__(self, site: SiteConfig, daemon: CommandTarget) -> None:
        self.site = site
        self.config: WebConfig = site.web
        self.daemon = daemon
        self.history = History([m.name for m in site.miners], site.state_dir)
        self._networks = [
            ipaddress.ip_network(c, strict=False) for c in self.config.allowed_clients
        ]
        self._refused: set[str] = set()  # addresses already logged (once each, bounded)
        self._token = (
            self.config.token.get_secret_value().encode() if self.config.token is not None else None
        )
        self._tick = asyncio.Event()
        self._closing = asyncio.Event()
        self._latest: SiteState | None = None
        self._encoded: tuple[int, str] | None = None
        self._history_cache: tuple[int, bytes, bytes] | None = None
        self._generation = 0
        self._last_save = time.monotonic()
        self.commands_applied = 0
        self.commands_rejected = 0
        self.port: int | None = None  # the bound port, once listening
        self.app = self._build_app()

    # ------------------------------------------------------------------------ the daemon side

    def on_state(self, state: SiteState) -> None:
        """Daemon listener: record the history, wake the event streams."""
        self._latest = state
        self.history.record(state)
        self._generation += 1
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    def _state(self) -> SiteState:
        return self._latest if self._latest is not None else self.daemon.state

    def _live_json(self) -> str:
        cached = self._encoded
        if cached is not None and cached[0] == self._generation:
            return cached[1]
        state = self._state()
        today = live_document(self.site, state, {})["date"]
        document = live_document(self.site, state, self.history.totals(today))
        document["history_version"] = self.history.version
        encoded = json.dumps(document, separators=(",", ":"))
        self._encoded = (self._generation, encoded)
        return encoded

    # ------------------------------------------------------------------------------ the app

    def _build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._headers_middleware, self._guard_middleware],
            client_max_size=MAX_COMMAND_BYTES * 4,
        )
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name:.+}", self._static)
        app.router.add_get("/api/site", self._site)
        app.router.add_get("/api/state", self._live)
        app.router.add_get("/api/history", self._history)
        app.router.add_get("/api/events", self._events)
        app.router.add_post("/api/command", self._command)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, app: web.Application) -> None:
        self._closing.set()

    # ---------------------------------------------------------------------------- middleware

    @web.middleware
    async def _headers_middleware(self, request: web.Request, handler: Handler) -> Any:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            response = error
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Content-Security-Policy"] = CSP
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "SAMEORIGIN"
        headers.setdefault("Cache-Control", "no-store")
        if isinstance(response, web.HTTPException):
            raise response
        return response

    def _client_allowed(self, request: web.Request) -> bool:
        if not self._networks:
            return True
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if not peer:
            return False
        try:
            address = ipaddress.ip_address(peer[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def _token_ok(self, candidate: str | None) -> bool:
        assert self._token is not None
        return candidate is not None and hmac.compare_digest(candidate.encode(), self._token)

    @web.middleware
    async def _guard_middleware(self, request: web.Request, handler: Handler) -> Any:
        if not self._client_allowed(request):
            peer = request.transport.get_extra_info("peername") if request.transport else None
            address = str(peer[0]) if peer else "?"
            if address not in self._refused and len(self._refused) < 100:
                self._refused.add(address)
                log.warning("web panel: refused client %s (not in web.allowed_clients)", address)
            raise web.HTTPForbidden(text="403: this address may not use the Edge Mining panel\n")
        if self._token is None:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        bearer = header[7:] if header.startswith("Bearer ") else None
        if self._token_ok(bearer) or self._token_ok(request.cookies.get(TOKEN_COOKIE)):
            return await handler(request)
        if request.path == "/" and self._token_ok(request.query.get("token")):
            # Opened with ?token=...: remember it in a cookie and drop it from the address bar.
            response = web.HTTPFound(self._base(request))
            response.set_cookie(
                TOKEN_COOKIE,
                self._token.decode(),
                httponly=True,
                samesite="Strict",
                path=self._base(request),
                secure=request.secure,
            )
            raise response
        raise web.HTTPUnauthorized(
            text="401: open the panel as /?token=<web.token> (see the documentation)\n"
        )

    @staticmethod
    def _base(request: web.Request) -> str:
        """The panel's root as the browser sees it: the ingress prefix, or /."""
        prefix = request.headers.get("X-Ingress-Path", "")
        if prefix and INGRESS_PATH.match(prefix) and ".." not in prefix:
            return prefix + "/"
        return "/"

    # ------------------------------------------------------------------------------ handlers

    async def _index(self, request: web.Request) -> web.Response:
        page = (STATIC / "index.html").read_text(encoding="utf-8")
        page = page.replace("{{base}}", self._base(request)).replace("{{version}}", __version__)
        page = page.replace("{{title}}", _escape(self.site.name))
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        content_type = STATIC_FILES.get(name)
        if content_type is None:
            raise web.HTTPNotFound(text="404: no such file\n")
        body = (STATIC / name).read_bytes()
        response = web.Response(body=body, content_type=content_type)
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.enable_compression()
        return response

    async def _site(self, request: web.Request) -> web.Response:
        return self._json(site_document(self.site))

    async def _live(self, request: web.Request) -> web.Response:
        response = web.Response(text=self._live_json(), content_type="application/json")
        response.enable_compression()
        return response

    async def _history(self, request: web.Request) -> web.Response:
        # Encoded (and compressed) once per change, whoever asks: it is the largest answer.
        cached = self._history_cache
        if cached is None or cached[0] != self.history.version:
            raw = json.dumps(self.history.series(), separators=(",", ":")).encode()
            cached = self._history_cache = (self.history.version, raw, gzip.compress(raw, 6))
        _, raw, packed = cached
        response = web.Response(content_type="application/json")
        response.headers["Vary"] = "Accept-Encoding"
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.body = packed
            response.headers["Content-Encoding"] = "gzip"
        else:
            response.body = raw
        return response

    def _json(self, data: Any) -> web.Response:
        response = web.json_response(data, dumps=lambda d: json.dumps(d, separators=(",", ":")))
        response.enable_compression()
        return response

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # proxies must pass each event on at once
            }
        )
        await response.prepare(request)
        sent = -1
        try:
            while not self._closing.is_set():
                if sent != self._generation:
                    sent = self._generation
                    await response.write(f"event: state\ndata: {self._live_json()}\n\n".encode())
                    await asyncio.sleep(EVENT_INTERVAL_S)
                    continue
                tick = self._tick
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        await _first(tick.wait(), self._closing.wait())
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def _command(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            # A cross-site form cannot send JSON without a CORS preflight, which we never allow.
            raise web.HTTPUnsupportedMediaType(text="415: send application/json\n")
        try:
            body = await request.json()
        except ValueError:
            return self._reject("the body is not JSON")
        if not isinstance(body, dict):
            return self._reject("expected an object with device, key and value")
        device, key, value = body.get("device"), body.get("key"), body.get("value")
        if not isinstance(device, str) or not isinstance(key, str):
            return self._reject("device and key must be strings")
        if isinstance(value, bool):
            payload = "ON" if value else "OFF"
        elif isinstance(value, int | float | str):
            payload = str(value)
        else:
            return self._reject("value must be a string, a number or true/false")
        try:
            command = parse_command(
                device, key, payload, site=self.site, miner_states=self.daemon.state.miners
            )
            await apply_request(self.daemon, command)
        except (CommandError, ValueError) as error:
            return self._reject(str(error), f"{device}/{key}")
        self.commands_applied += 1
        log.info("web command %s/%s applied: %s", device, key, command)
        return self._json({"ok": True, "applied": str(command)})

    def _reject(self, reason: str, what: str = "") -> web.Response:
        self.commands_rejected += 1
        line = " ".join(reason.split())[:200]
        log.warning("web command %s rejected: %s", what or "(malformed)", line)
        response = self._json({"ok": False, "error": line})
        response.set_status(400)
        return response

    # ------------------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set. A port that cannot be bound is logged as an error: the
        daemon goes on controlling the miners without its panel."""
        await asyncio.to_thread(self.history.load)
        add_listener = getattr(self.daemon, "add_listener", None)
        if add_listener is not None:
            add_listener(self.on_state)
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            site = web.TCPSite(
                runner,
                self.config.host,
                self.config.port,
            )
            try:
                await site.start()
            except OSError as error:
                log.error(
                    "web panel: cannot listen on %s:%s: %s",
                    self.config.host,
                    self.config.port,
                    error.strerror or error,
                )
                return
            addresses = runner.addresses
            self.port = addresses[0][1] if addresses else self.config.port
            log.info("web panel on http://%s:%s/", self.config.host, self.port)
            while not stop.is_set():
                try:
                    async with asyncio.timeout(HISTORY_SAVE_S):
                        await stop.wait()
                except TimeoutError:
                    await self._save_history()
        finally:
            self._closing.set()
            await runner.cleanup()
            await self._save_history()

    async def _save_history(self) -> None:
        try:
            await asyncio.to_thread(self.history.save)
        except OSError as error:
            log.warning("could not save the panel's history to %s: %s", self.history.path, error)


async def _first(*aws: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


async def run_panel(site: SiteConfig, daemon: CommandTarget, stop: asyncio.Event) -> None:
    """Entry point for the daemon and the demo."""
    await WebPanel(site, daemon).run(stop)
