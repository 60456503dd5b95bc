"""``HOST[:PORT]`` on the command line: a device's address, a broker's, a listening one.

An IPv6 host with a port is written in brackets (``[::1]:9000``); the port, when omitted, is
the caller's default. One parser for all of them, so that they accept and refuse alike.
"""

from __future__ import annotations


def parse_host_port(
    text: str, default_port: int, *, what: str = "address", bare_ipv6: bool = True
) -> tuple[str, int]:
    """(host, port) from ``host``, ``host:port`` or ``[v6]:port``; ValueError with a one-line
    reason naming ``what`` otherwise. ``bare_ipv6``: an unbracketed host with several colons
    is an IPv6 host (a device's address), or refused (a listening address, where ``::1:80``
    would read as a port)."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"bad {what} {text!r}: expected HOST:PORT or [IPv6]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text and not bare_ipv6:
        raise ValueError(f"bad {what} {text!r}: write an IPv6 host as [HOST]:PORT")
    if not host:
        raise ValueError(f"bad {what} {text!r}: no host")
    if not port_text:
        return host, default_port
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"bad {what} {text!r}: port is not a number") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"bad {what} {text!r}: port must be 1-65535")
    return host, port
