"""The miner's web interface on TCP 80, as far as clients look at it.

pyasic's miner factory fetches ``/`` and recognises BraiinsOS by the text "Braiins OS" in the
page; legacy BOSminer clients log in to LuCI (``POST /cgi-bin/luci``) and read JSON pages such
as ``/cgi-bin/luci/bos/info``. The emulators' small HTTP/1.1 server
(:mod:`edge_mining.devices.emulation.http`, one request per connection) serves these routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_mining.devices.emulation import http

if TYPE_CHECKING:
    from edge_mining.devices.braiins.emulator.server import EmulatedMiner

INDEX_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Braiins OS</title></head>'
    '<body><div id="root">Braiins OS</div></body></html>'
)
LUCI_COOKIE = {"Set-Cookie": "sysauth=emulated; path=/cgi-bin/luci"}


def route(miner: EmulatedMiner, request: http.Request) -> http.Response:
    """The response to one request."""
    method, path = request.method, request.path
    if method == "GET" and path in ("/", "/index.html"):
        return http.Response.html(INDEX_HTML)
    if path == "/cgi-bin/luci" and method == "POST":
        page = b"<html><title>Braiins OS</title></html>"
        return http.Response(200, page, "text/html; charset=utf-8", LUCI_COOKIE)
    if method == "GET" and path == "/cgi-bin/luci/bos/info":
        body = {"version": miner.bos_version, "mode": "nand", "hostname": miner.hostname}
        return http.Response.json(body)
    if method == "GET" and path == "/cgi-bin/luci/admin/network/iface_status/lan":
        return http.Response.json(
            [{"macaddr": miner.machine.mac, "ipaddrs": [{"addr": miner.host}]}]
        )
    headers = LUCI_COOKIE if path.startswith("/cgi-bin/luci") and method == "POST" else {}
    return http.Response(404, b"Not Found", "text/plain", headers)
