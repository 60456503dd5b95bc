"""The cgminer-style API on TCP 4028 that most firmwares keep (BraiinsOS, Avalon, LuxOS, stock
Antminer, Whatsminer): its framing, status blocks and the two request forms (BOSminer takes
JSON only).

One request per connection, then the miner closes it, exactly what pyasic's RPC client and its
miner factory expect:

- JSON: ``{"command": "summary", "parameter": "0,workmode,get"}``; several commands joined
  with ``+`` get one reply keyed by command (``{"summary": [...], "devs": [...], "id": 1}``);
  the reply ends with a NUL byte.
- plain text (cgminer's original form, still used by Canaan's tools): ``summary`` or
  ``ascset|0,workmode,get``; the reply is ``STATUS=S,When=...,Code=11,Msg=Summary,
  Description=cgminer 4.11.1|SUMMARY,Elapsed=...|`` and a NUL byte.

A family's emulator builds a :class:`CgminerApi` with its command handlers; each handler takes
the parameter (or None) and returns a :class:`Reply`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 65536
REQUEST_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Reply:
    """One command's answer: its status block and its data sections."""

    code: int
    msg: str
    sections: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    status: str = "S"  # S success, I info, W warning, E error

    @classmethod
    def error(cls, code: int, msg: str) -> Reply:
        return cls(code, msg, status="E")


Handler = Callable[[str | None], Reply]
INVALID_COMMAND = Reply.error(14, "Invalid command")


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded request: the command, its parameter, the form it came in, and the raw JSON."""

    command: str
    parameter: str | None
    json: bool
    raw: Mapping[str, Any] = field(default_factory=dict)


def parse_request(data: bytes) -> Request | None:
    """The request in ``data``, or None while it is incomplete (JSON still open)."""
    text = data.rstrip(b"\x00").decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            return None
        if not isinstance(decoded, dict):
            return Request("", None, True)
        parameter = decoded.get("parameter")
        return Request(
            str(decoded.get("command", "")),
            None if parameter is None else str(parameter),
            True,
            decoded,
        )
    command, sep, parameter = text.partition("|")
    return Request(command.strip(), parameter if sep else None, False)


class CgminerApi:
    """Dispatches requests to handlers and renders replies the way cgminer does."""

    def __init__(
        self,
        description: str,
        handlers: Mapping[str, Handler],
        *,
        joinable: bool = True,
        plain_text: bool = True,
        when: Callable[[], float] = time.time,
    ) -> None:
        self.description = description  # "cgminer 4.11.1", "LUXminer"...
        self.handlers = dict(handlers)
        self.joinable = joinable
        # False: JSON only (BOSminer); anything else is answered as an invalid JSON command.
        self.plain_text = plain_text
        self.when = when

    def status_block(self, reply: Reply) -> dict[str, Any]:
        return {
            "STATUS": reply.status,
            "When": int(self.when()),
            "Code": reply.code,
            "Msg": reply.msg,
            "Description": self.description,
        }

    def answer(self, command: str, parameter: str | None) -> Reply:
        handler = self.handlers.get(command)
        if handler is None:
            return INVALID_COMMAND
        return handler(parameter)

    def as_json(self, reply: Reply) -> dict[str, Any]:
        return {"STATUS": [self.status_block(reply)], **reply.sections, "id": 1}

    def respond(self, request: Request) -> bytes:
        """The reply bytes for one request (NUL-terminated, as cgminer sends them)."""
        names = [name for name in request.command.split("+") if name]
        if request.json:
            if len(names) > 1 and self.joinable:
                body: dict[str, Any] = {
                    name: [self.as_json(self.answer(name, request.parameter))] for name in names
                }
                body["id"] = 1
            else:
                body = self.as_json(self.answer(request.command, request.parameter))
            return json.dumps(body).encode() + b"\x00"
        if not self.plain_text:
            return json.dumps(self.as_json(INVALID_COMMAND)).encode() + b"\x00"
        return self.as_text(self.answer(request.command, request.parameter)).encode() + b"\x00"

    def as_text(self, reply: Reply) -> str:
        parts = [_text_item(self.status_block(reply))]
        for section, items in reply.sections.items():
            for item in items:
                first, *_ = list(item) or [""]
                # cgminer starts each item with its section name (or "NAME=index").
                prefix = "" if first == section else f"{section},"
                parts.append(prefix + _text_item(item))
        return "|".join(parts) + "|"


def _text_item(item: Mapping[str, Any]) -> str:
    def show(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return f"{value:.6f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
        return str(value)

    return ",".join(f"{key}={show(value)}" for key, value in item.items())


RawResponder = Callable[[bytes], bytes | None]


async def serve_connection(
    host: str,
    respond: Callable[[Request], bytes],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    delay: Callable[[], Any] | None = None,
    raw: RawResponder | None = None,
) -> None:
    """Serve one request on one connection, then close it (as cgminer does).

    ``raw`` sees the request bytes first and may answer them itself (Whatsminer's encrypted
    privileged commands are JSON without a ``command``).
    """
    try:
        request, data = await asyncio.wait_for(_read_request(reader), REQUEST_TIMEOUT_S)
        if request is None:
            return
        if delay is not None:
            await delay()
        reply = raw(data) if raw is not None else None
        if reply is None:
            reply = respond(request)
        writer.write(reply)
        await writer.drain()
    except (TimeoutError, ConnectionError, OSError) as exc:
        log.debug("%s: cgminer API connection dropped: %s", host, exc)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def _read_request(reader: asyncio.StreamReader) -> tuple[Request | None, bytes]:
    """Read until a whole request arrived. Clients send no terminator: a JSON request is
    complete when it parses; a plain-text one is what the first read brings (cgminer itself
    reads once)."""
    data = b""
    while len(data) < MAX_REQUEST_BYTES:
        chunk = await reader.read(4096)
        if not chunk:
            break
        data += chunk
        if not data.lstrip().startswith(b"{"):
            break
        request = parse_request(data)
        if request is not None:
            return request, data
    if not data:
        return None, data
    request = parse_request(data)
    if request is None:
        log.info("malformed cgminer API request (%d bytes)", len(data))
        return Request("", None, True), data
    return request, data
