"""The aiomqtt client for a site's broker, built in one place from ``MqttConfig``: address,
credentials, protocol version, keep-alive and TLS (CA file, client certificate). The bridge
and the device drivers that read MQTT topics connect the same way.

``Client`` is aiomqtt's client with two repairs of aiomqtt 2.5.1 (pinned), both seen when a
broker drops a client that was frozen (a suspended VM, a stopped process) or dies under it:

- paho asks for a write watcher from whichever thread it runs on; aiomqtt schedules
  ``loop.add_writer(fd)`` for later, and when paho has closed the socket meanwhile the loop
  logs an ``add_writer ... Bad file descriptor`` traceback (or, worse, watches an unrelated
  socket that reused the number). We register the watcher only if that socket is still open.
- the "unexpected disconnection" error is kept in a future that only the message iterator
  reads; when the connection ends while nothing iterates (during the final publish), asyncio
  prints ``Future exception was never retrieved``. The bridge and the drivers report the
  disconnect themselves, so the client marks it retrieved when its context exits.
"""

from __future__ import annotations

import socket
import ssl
from types import TracebackType
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

from edge_mining.config import MqttConfig

CONNECT_TIMEOUT_S = 10.0

# paho leaves Nagle's algorithm on. A QoS 1 publish written while the previous one is not yet
# acknowledged at the TCP level is then held until the broker's delayed ACK (~40 ms on Linux):
# a forced discovery round of 10 kB messages ran at ~420 msg/s with dozens of 40 ms stalls.
# Every MQTT packet is written whole in one send, so there is nothing for Nagle to coalesce.
NO_DELAY: tuple[int, int, int] = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Client(aiomqtt.Client):
    """aiomqtt's client with the two repairs described in the module doc."""

    def _on_socket_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def on_writable() -> None:
            # As aiomqtt does: a failed write is a broken connection, reported as such.
            try:
                client.loop_write()
            except Exception as error:
                if not self._disconnected.done():
                    self._disconnected.set_exception(error)

        fd = sock.fileno()

        def watch() -> None:
            # paho closed (or replaced) the socket between the request and now: nothing to
            # watch. A closed socket's fileno() is -1.
            if fd >= 0 and sock.fileno() == fd and client.socket() is sock:
                self._loop.add_writer(fd, on_writable)

        # paho may call this from the executor thread that runs connect().
        self._loop.call_soon_threadsafe(watch)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            ended = self._disconnected
            if ended.done() and not ended.cancelled():
                ended.exception()  # retrieved: the caller reports the disconnect itself


def tls_context(config: MqttConfig) -> ssl.SSLContext | None:
    """TLS when asked for, or implied by a CA file or client certificate; None for plain TCP."""
    if not (config.tls or config.ca_file or config.client_cert_file):
        return None
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    if config.client_cert_file:
        context.load_cert_chain(
            str(config.client_cert_file),
            str(config.client_key_file) if config.client_key_file else None,
        )
    return context


def mqtt_client(
    config: MqttConfig,
    client_id: str,
    *,
    will: aiomqtt.Will | None = None,
    max_queued_outgoing_messages: int | None = None,
) -> Client:
    """An aiomqtt client for ``config`` (not connected yet). Raises ValueError without a host."""
    if not config.host:
        raise ValueError("mqtt.host is not set")
    v5 = config.protocol == "5"
    return Client(
        config.host,
        config.port,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        will=will,
        # MQTT 5 has clean_start instead; 3.1.1 starts every session afresh.
        clean_session=None if v5 else True,
        keepalive=config.keepalive_s,
        tls_context=tls_context(config),
        timeout=CONNECT_TIMEOUT_S,
        max_queued_outgoing_messages=max_queued_outgoing_messages,
        socket_options=(NO_DELAY,),
    )
