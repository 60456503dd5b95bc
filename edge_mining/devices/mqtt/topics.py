"""One MQTT connection that follows a few topics (and publishes commands), for device drivers.

Devices that publish to MQTT themselves (OpenDTU, Shelly, Tasmota, Victron's dbus-mqtt,
zigbee2mqtt thermometers) are read by subscribing; the latest payload per topic is kept and
handed to a callback as it arrives. The connection is owned by a background task that
reconnects with backoff; failures are reported once per kind.

Numbers are picked out of the payloads with :mod:`edge_mining.devices.payload`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiomqtt

from edge_mining.clock import Clock, WallClock
from edge_mining.config import MqttConfig
from edge_mining.devices.base import DeviceUnavailable
from edge_mining.devices.failures import FailureReporter
from edge_mining.mqtt.client import mqtt_client

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class Latest:
    payload: bytes
    received_at: float


MessageCallback = Callable[[str, bytes, float], None]


def _failure_kind(error: aiomqtt.MqttError) -> str:
    text = str(error).lower()
    if "not authori" in text or "bad user" in text or "bad username" in text:
        return "auth"
    return "unreachable"


class TopicWatcher:
    """Subscribes to ``topics`` on the broker of ``mqtt`` and keeps the latest payloads."""

    def __init__(
        self,
        mqtt: MqttConfig,
        topics: Iterable[str],
        *,
        purpose: str,
        on_message: MessageCallback | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not mqtt.host:
            raise ValueError("mqtt.host is not set (needed to read devices over MQTT)")
        self._config = mqtt
        self.topics = tuple(dict.fromkeys(topics))
        self.purpose = purpose
        self._on_message = on_message
        self._clock = clock or WallClock()
        # Unique per connection: a broker drops an older client that reuses an id.
        self.client_id = f"edge-mining-{purpose}-{secrets.token_hex(3)}"
        self._latest: dict[str, Latest] = {}
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.failures = FailureReporter(f"MQTT ({purpose})", log)

    def latest(self, topic: str) -> Latest | None:
        return self._latest.get(topic)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Start the connection task (idempotent; needs a running event loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"mqtt-{self.purpose}")

    async def wait_connected(self, timeout_s: float) -> bool:
        self.start()
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        client = self._client
        if client is None or not self.connected:
            raise DeviceUnavailable(f"MQTT broker {self._config.host} is not connected")
        try:
            await client.publish(topic, payload, qos=1, retain=retain)
        except aiomqtt.MqttError as error:
            raise DeviceUnavailable(f"MQTT publish to {topic} failed: {error}") from None

    def _make_client(self) -> aiomqtt.Client:
        return mqtt_client(self._config, self.client_id)

    async def _run(self) -> None:
        delay = RECONNECT_MIN_S
        while True:
            try:
                async with self._make_client() as client:
                    for topic in self.topics:
                        await client.subscribe(topic, qos=1)
                    self._client = client
                    self._connected.set()
                    self.failures.recovered()
                    delay = RECONNECT_MIN_S
                    async for message in client.messages:
                        payload = message.payload
                        if isinstance(payload, str):
                            payload = payload.encode()
                        elif not isinstance(payload, bytes | bytearray):
                            payload = b"" if payload is None else str(payload).encode()
                        self._received(str(message.topic), bytes(payload))
            except aiomqtt.MqttError as error:
                where = f"{self._config.host}:{self._config.port}"
                self.failures.report(_failure_kind(error), f"broker {where}: {error}")
            except Exception as error:
                # A bug must not end the watcher unnoticed (the readings would just go stale):
                # logged with its traceback once per kind, and the watcher starts again.
                self.failures.report(
                    f"bug {type(error).__name__}", f"reader failed: {error!r}", exc_info=True
                )
            finally:
                self._client = None
                self._connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _received(self, topic: str, payload: bytes) -> None:
        now = self._clock.now()
        self._latest[topic] = Latest(payload, now)
        if self._on_message is not None:
            try:
                self._on_message(topic, payload, now)
            except Exception as error:  # one bad payload must not stop the others
                self.failures.report(
                    f"callback {type(error).__name__}",
                    f"message on {topic} not handled: {error!r}",
                    exc_info=True,
                )

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
