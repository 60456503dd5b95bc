"""``HOST:PORT`` of a listening address (``[v6]:PORT`` for IPv6)."""

from __future__ import annotations

DEFAULT_PORT = 8099


def parse_listen_address(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` -> (host, port); port 8099 when omitted. ValueError if malformed."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"bad address {text!r} (expected HOST:PORT or [IPv6]:PORT)")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:
        raise ValueError(f"bad address {text!r}: write an IPv6 host as [HOST]:PORT")
    if not host:
        raise ValueError(f"bad address {text!r}: no host")
    if not port_text:
        return host, DEFAULT_PORT
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"bad address {text!r}: port is not a number") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"bad address {text!r}: port out of range")
    return host, port
