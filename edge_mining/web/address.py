"""``HOST:PORT`` of the panel's listening address (``[v6]:PORT`` for IPv6)."""

from __future__ import annotations

from edge_mining.address import parse_host_port

DEFAULT_PORT = 8099


def parse_listen_address(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` -> (host, port); port 8099 when omitted. ValueError if malformed."""
    return parse_host_port(text, DEFAULT_PORT, bare_ipv6=False)
