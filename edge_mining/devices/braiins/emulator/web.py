"""The miner's web interface on TCP 80, as far as clients look at it.

pyasic's miner factory fetches ``/`` and recognises BraiinsOS by the text "Braiins OS" in the
page; legacy BOSminer clients log in to LuCI (``POST /cgi-bin/luci``) and read JSON pages such
as ``/cgi-bin/luci/bos/info``. A tiny HTTP/1.1 responder (one request per connection) is all
that takes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_mining.devices.braiins.emulator.server import EmulatedMiner

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16384
REQUEST_TIMEOUT_S = 5.0

INDEX_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Braiins OS</title></head>'
    '<body><div id="root">Braiins OS</div></body></html>'
)


def _route(miner: EmulatedMiner, method: str, path: str) -> tuple[int, str, str]:
    """(status, content type, body) for one request."""
    path = path.split("?", 1)[0]
    if method == "GET" and path in ("/", "/index.html"):
        return 200, "text/html; charset=utf-8", INDEX_HTML
    if path == "/cgi-bin/luci" and method == "POST":
        return 200, "text/html; charset=utf-8", "<html><title>Braiins OS</title></html>"
    if method == "GET" and path == "/cgi-bin/luci/bos/info":
        body = {"version": miner.bos_version, "mode": "nand", "hostname": miner.hostname}
        return 200, "application/json", json.dumps(body)
    if method == "GET" and path == "/cgi-bin/luci/admin/network/iface_status/lan":
        body = [{"macaddr": miner.machine.mac, "ipaddrs": [{"addr": miner.host}]}]
        return 200, "application/json", json.dumps(body)
    return 404, "text/plain", "Not Found"


async def handle_connection(
    miner: EmulatedMiner, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
        if len(head) > MAX_HEAD_BYTES:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = (lines[0].split(" ") + ["", ""])[:3]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                length = min(int(value), MAX_HEAD_BYTES)
        if length:
            await asyncio.wait_for(reader.readexactly(length), REQUEST_TIMEOUT_S)
        if miner.faults.slow_s:
            await asyncio.sleep(miner.faults.slow_s)
        status, content_type, body = _route(miner, method, path)
        payload = body.encode()
        reason = {200: "OK", 404: "Not Found"}.get(status, "Error")
        headers = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n"
        )
        if path.startswith("/cgi-bin/luci") and method == "POST":
            headers += "Set-Cookie: sysauth=emulated; path=/cgi-bin/luci\r\n"
        writer.write(headers.encode() + b"\r\n" + payload)
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        log.debug("%s: web request dropped: %s", miner.host, exc)
    except (ConnectionError, OSError) as exc:
        log.debug("%s: web connection lost: %s", miner.host, exc)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
