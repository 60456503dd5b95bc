"""The shared aiomqtt client factory, against a real Mosquitto broker."""

from __future__ import annotations

import socket

from edge_mining.config import MqttConfig
from edge_mining.mqtt.client import mqtt_client
from tests.mqtt_broker import mosquitto

__all__ = ["mosquitto"]  # fixture


async def test_connected_socket_has_nagle_off(mosquitto):
    # With Nagle on, a QoS 1 publish following an unacknowledged one waits for the broker's
    # delayed ACK (~40 ms): discovery bursts crawled. benchmarks/mqtt_bridge.py shows the speed;
    # this pins the cause. paho exposes its socket only through the wrapped client.
    config = MqttConfig(host=mosquitto.host, port=mosquitto.port)
    async with mqtt_client(config, "nodelay-check") as client:
        sock = client._client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
