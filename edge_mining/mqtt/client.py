"""The aiomqtt client for a site's broker, built in one place from ``MqttConfig``: address,
credentials, protocol version, keep-alive and TLS (CA file, client certificate). The bridge
and the device drivers that read MQTT topics connect the same way."""

from __future__ import annotations

import socket
import ssl

import aiomqtt

from edge_mining.config import MqttConfig

CONNECT_TIMEOUT_S = 10.0

# paho leaves Nagle's algorithm on. A QoS 1 publish written while the previous one is not yet
# acknowledged at the TCP level is then held until the broker's delayed ACK (~40 ms on Linux):
# a forced discovery round of 10 kB messages ran at ~420 msg/s with dozens of 40 ms stalls.
# Every MQTT packet is written whole in one send, so there is nothing for Nagle to coalesce.
NO_DELAY: tuple[int, int, int] = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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
) -> aiomqtt.Client:
    """An aiomqtt client for ``config`` (not connected yet). Raises ValueError without a host."""
    if not config.host:
        raise ValueError("mqtt.host is not set")
    v5 = config.protocol == "5"
    return aiomqtt.Client(
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
