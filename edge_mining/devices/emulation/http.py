"""A tiny HTTP/1.1 server for emulated miners' web APIs: one request per connection.

Enough of HTTP for what miner clients send (pyasic's httpx clients, browsers, curl): a request
line, headers, an optional body sized by Content-Length, and one response with
``Connection: close``. HTTP Digest authentication (RFC 7616 with MD5 and ``qop=auth``, as
Bitmain's and Canaan's web servers use it) is available to routes that need it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16384
MAX_BODY_BYTES = 1 << 20
REQUEST_TIMEOUT_S = 5.0
REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.body.decode("utf-8"))

    @property
    def cookies(self) -> dict[str, str]:
        jar: dict[str, str] = {}
        for part in self.headers.get("cookie", "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                jar[name] = value
        return jar


@dataclass(frozen=True, slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(value).encode(), "application/json")

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode())


NOT_FOUND = Response(404, b"Not Found")

Route = Callable[[Request], Response | Awaitable[Response]]


async def serve_connection(
    host: str,
    route: Route,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    delay: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Read one request, answer it with ``route``, close the connection."""
    try:
        request = await asyncio.wait_for(_read_request(reader), REQUEST_TIMEOUT_S)
        if request is None:
            return
        if delay is not None:
            await delay()
        result = route(request)
        response = await result if isinstance(result, Awaitable) else result
        writer.write(_encode(response, head_only=request.method == "HEAD"))
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        log.debug("%s: web request dropped: %s", host, exc)
    except (ConnectionError, OSError) as exc:
        log.debug("%s: web connection lost: %s", host, exc)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEAD_BYTES:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length", "0")
    size = int(length) if length.isdigit() else 0
    if size > MAX_BODY_BYTES:
        return None
    body = await reader.readexactly(size) if size else b""
    parts = urlsplit(target)
    return Request(
        method=method.upper(),
        path=parts.path or "/",
        query=dict(parse_qsl(parts.query)),
        headers=headers,
        body=body,
    )


def _encode(response: Response, *, head_only: bool = False) -> bytes:
    reason = REASONS.get(response.status, "Error")
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in response.headers.items()),
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + response.body


class DigestAuth:
    """Server side of HTTP Digest authentication (MD5, qop=auth) for one realm and user."""

    def __init__(self, realm: str, username: str, password: str) -> None:
        self.realm = realm
        self.username = username
        self.password = password
        self._nonces: set[str] = set()

    def challenge(self, body: bytes = b"401 Unauthorized") -> Response:
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        if len(self._nonces) > 1024:  # forget old challenges, bounded
            self._nonces = {nonce}
        header = f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", algorithm=MD5'
        return Response(401, body, headers={"WWW-Authenticate": header})

    def verify(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "digest":
            return False
        fields = _parse_digest(rest)
        if fields.get("username") != self.username or fields.get("realm") != self.realm:
            return False
        if fields.get("nonce") not in self._nonces:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{self.username}:{self.realm}:{self.password}")
        uri = fields.get("uri", "")
        ha2 = md5(f"{request.method}:{uri}")
        if fields.get("qop"):
            expected = md5(
                f"{ha1}:{fields['nonce']}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:"
                f"{fields['qop']}:{ha2}"
            )
        else:
            expected = md5(f"{ha1}:{fields['nonce']}:{ha2}")
        return secrets.compare_digest(expected, fields.get("response", ""))


def _parse_digest(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in _split_params(text):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip().strip('"')
    return fields


def _split_params(text: str) -> list[str]:
    """Split ``a="x, y", b=z`` on the commas outside quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        parts.append("".join(current))
    return parts
