"""A real Mosquitto broker for the MQTT tests, and a recording MQTT client.

Import the fixtures into a test module with ``from tests.mqtt_broker import mosquitto, ...``.
``mosquitto`` is one broker for the whole session (tests isolate themselves with their own base
topic and discovery prefix); ``private_broker`` is a broker of the test's own, for tests that stop
or restart it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiomqtt
import pytest

from edge_mining.mqtt.broker import EmbeddedBroker

_names = itertools.count()


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker


@pytest.fixture
def private_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker


def unique_namespace(label: str) -> tuple[str, str]:
    """(base topic, discovery prefix) no other test uses."""
    n = next(_names)
    return f"em_{label}_{n}", f"ha_{label}_{n}"


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.payload)


class Recorder:
    """Subscribes to ``filters`` and keeps every message; waits for the ones a test expects."""

    def __init__(self, broker: EmbeddedBroker, *filters: str) -> None:
        self.broker = broker
        self.filters = filters or ("#",)
        self.messages: list[Received] = []
        self._changed = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Recorder:
        self._client = aiomqtt.Client(self.broker.host, self.broker.port)
        await self._client.__aenter__()
        for topic in self.filters:
            await self._client.subscribe(topic, qos=1)
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client:
            await self._client.__aexit__(None, None, None)

    async def _read(self) -> None:
        assert self._client is not None
        async for message in self._client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            self.messages.append(
                Received(str(message.topic), payload, bool(message.retain), time.monotonic())
            )
            self._changed.set()

    async def publish(self, topic: str, payload: str | bytes, *, retain: bool = False) -> None:
        assert self._client is not None
        await self._client.publish(topic, payload, qos=1, retain=retain)

    def on(self, topic: str) -> list[Received]:
        return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        found = self.on(topic)
        return found[-1] if found else None

    async def wait_for(
        self,
        predicate: Callable[[Received], bool],
        *,
        timeout: float = 10.0,
        after: int = 0,
    ) -> Received:
        """The first message (from index ``after``) matching ``predicate``."""
        deadline = time.monotonic() + timeout
        index = after
        while True:
            while index < len(self.messages):
                message = self.messages[index]
                index += 1
                if predicate(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = sorted({m.topic for m in self.messages})
                raise AssertionError(f"no matching message in {timeout}s; topics seen: {seen}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_topic(
        self, topic: str, payload: str | None = None, *, timeout: float = 10.0, after: int = 0
    ) -> Received:
        return await self.wait_for(
            lambda m: m.topic == topic and (payload is None or m.text == payload),
            timeout=timeout,
            after=after,
        )
