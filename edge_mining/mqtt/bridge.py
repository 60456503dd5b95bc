"""The MQTT bridge: publishes the site to a broker with Home Assistant discovery and applies
commands received from it.

One aiomqtt connection at a time, owned by ``run``; on any connection error it reconnects with
exponential backoff (with jitter) until ``stop`` is set. Per connection:

1. the last will (``offline``, retained) is registered with the broker at CONNECT;
2. ``online`` (retained) is published right after connecting;
3. discovery for every device, per-device availability and state are (re)published;
4. commands are validated (``commands.py``), applied through the daemon, and the device's state
   is republished at once, whether the command was applied or rejected;
5. when Home Assistant announces itself (``<prefix>/status`` = ``online``), discovery and state
   are republished after a short random delay (so that many clients do not answer at once);
6. on a clean stop, ``offline`` (retained) is published before disconnecting, because a clean
   disconnect does not fire the will.

Devices we announced earlier but that are no longer configured (a removed miner) are deleted
from Home Assistant with an empty retained config. What we announced is remembered in a
retained topic on the broker and in ``<state_dir>/mqtt_discovery.json``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import secrets
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

import aiomqtt

from edge_mining.cancel import cancel_and_wait
from edge_mining.config import MqttConfig, SiteConfig
from edge_mining.log_limit import LogLimiter
from edge_mining.mqtt import state as docs
from edge_mining.mqtt.apply import CommandTarget, apply_request
from edge_mining.mqtt.client import mqtt_client
from edge_mining.mqtt.commands import CommandError, Request, parse_command
from edge_mining.mqtt.discovery import discovery_messages, encode
from edge_mining.mqtt.topics import CONTROLLER, OFFLINE, ONLINE, Topics
from edge_mining.service.state import SiteState
from edge_mining.state_files import write_json_atomic

log = logging.getLogger(__name__)

REGISTRY_FILE = "mqtt_discovery.json"
COMMAND_QUEUE_SIZE = 256
# How long the last state and ``offline`` may take at a clean stop.
FINAL_PUBLISH_TIMEOUT_S = 3.0


class DaemonPort(CommandTarget, Protocol):
    """What the bridge needs from the daemon (``edge_mining.service.Daemon``): the commands,
    and every new state."""

    def add_listener(self, callback: Callable[[SiteState], Any]) -> None: ...


def topics_for(config: MqttConfig) -> Topics:
    return Topics(base=config.base_topic, discovery_prefix=config.discovery_prefix)


def make_client(config: MqttConfig, topics: Topics, client_id: str) -> aiomqtt.Client:
    """An aiomqtt client for ``config`` with our last will. Not connected yet."""
    return mqtt_client(
        config,
        client_id,
        will=aiomqtt.Will(topics.availability, OFFLINE, qos=1, retain=True),
        max_queued_outgoing_messages=10_000,
    )


class MqttBridge:
    def __init__(
        self,
        site: SiteConfig,
        daemon: DaemonPort,
        *,
        birth_delay_s: tuple[float, float] = (1.0, 5.0),
        backoff_s: tuple[float, float] = (1.0, 60.0),
        client_id: str | None = None,
    ) -> None:
        self.site = site
        self.config = site.mqtt
        self.daemon = daemon
        self.topics = topics_for(site.mqtt)
        self.birth_delay_s = birth_delay_s
        self.backoff_s = backoff_s
        node = re.sub(r"[^A-Za-z0-9_-]", "_", self.topics.base)
        self.client_id = client_id or self.config.client_id or f"{node}-{secrets.token_hex(4)}"
        self.registry_path = Path(site.state_dir) / REGISTRY_FILE
        # Sensors whose data stops (daemon hung, broker link silently dead) expire in HA.
        self.expire_after_s = int(max(60.0, 3 * site.control.tick_s, site.control.stale_after_s))
        # Observable counters (tests, benchmark, logs).
        self.connections = 0
        self.published = 0
        self.commands_applied = 0
        self.commands_rejected = 0
        self.retained_ignored = 0
        # Commands come from outside at any rate: their log lines are limited per kind.
        self.command_log = LogLimiter(log)
        self._retained_seen: set[str] = set()
        self.connected = asyncio.Event()
        self._latest: SiteState | None = None
        self._latest_event = asyncio.Event()
        self._dirty = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._announced: dict[str, str] = {}  # discovery topic -> payload published
        self._discovery_key: object = None
        self._availability: dict[str, bool] = {}
        self._registry_seen: set[str] = set()
        self._commands: asyncio.Queue[tuple[str, str, bytes, float]] = asyncio.Queue(
            COMMAND_QUEUE_SIZE
        )
        self._birth_task: asyncio.Task[None] | None = None
        # Short-lived tasks of the current session (birth republish, stale removal).
        self._helpers: set[asyncio.Task[None]] = set()
        # Hooks for the benchmark: called after a command was applied (or rejected).
        self.on_command_done: Callable[[Request | None, float], None] | None = None

    # ------------------------------------------------------------------ daemon side

    def on_state(self, state: SiteState) -> None:
        """Daemon listener: remember the latest state, the publisher sends it."""
        self._latest = state
        self._latest_event.set()
        self._dirty.set()

    def _current(self) -> SiteState:
        return self.daemon.state

    # ------------------------------------------------------------------- lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        """Publish and obey until ``stop`` is set; reconnects on its own.

        A connection error (``aiomqtt.MqttError``) means reconnecting with backoff; anything
        else is a bug and ends ``run`` with that exception (the daemon then stops: a dead
        bridge must not go unnoticed). Once ``stop`` is set nothing is retried: a connection
        attempt still under way is abandoned (the broker's will already says ``offline``)."""
        self.daemon.add_listener(self.on_state)
        low, high = self.backoff_s
        delay = low
        while not stop.is_set():
            try:
                await self._connection(stop)
                return
            except aiomqtt.MqttError as error:
                self._client = None
                self.connected.clear()
                where = f"{self.config.host}:{self.config.port}"
                if stop.is_set():
                    log.info("MQTT broker %s: %s; stopped without a final publish", where, error)
                    return
                log.warning("MQTT broker %s: %s; reconnecting in %.1f s", where, error, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay * random.uniform(0.8, 1.2))
            except TimeoutError:
                pass
            delay = min(high, delay * 2)

    async def _connection(self, stop: asyncio.Event) -> None:
        """One connection, from CONNECT to a clean stop or a connection error; abandoned if
        ``stop`` comes while still connecting (nothing was published yet)."""
        attempt = asyncio.create_task(self._connect_and_serve(stop), name="mqtt-connection")
        stopped = asyncio.create_task(stop.wait(), name="mqtt-stop-while-connecting")
        try:
            await asyncio.wait({attempt, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not attempt.done() and self._client is None:
                attempt.cancel()
            await asyncio.wait({attempt})
        finally:
            await cancel_and_wait([attempt, stopped], logger=log)
        if attempt.cancelled():
            log.info("MQTT: stopped while connecting to %s:%s", self.config.host, self.config.port)
        elif attempt.done() and attempt.exception() is not None:
            raise attempt.exception()  # type: ignore[misc]

    async def _connect_and_serve(self, stop: asyncio.Event) -> None:
        async with make_client(self.config, self.topics, self.client_id) as client:
            await self._session(client, stop)

    async def _session(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        self._client = client
        self.connections += 1
        self._availability.clear()
        await self._publish(self.topics.availability, ONLINE, qos=1, retain=True)
        for topic in self.topics.command_filters:
            await client.subscribe(topic, qos=1)
        await client.subscribe(self.topics.homeassistant_status, qos=1)
        await client.subscribe(self.topics.registry, qos=1)
        # Nothing is known before the daemon's first tick (every miner "unreachable"): wait
        # for it rather than announce that.
        await _first(self._latest_event.wait(), stop.wait())
        await self.publish_all(force_discovery=True)
        self._remove_stale(self._read_registry_file())
        self.connected.set()
        log.info(
            "MQTT connected to %s:%s as %s", self.config.host, self.config.port, self.client_id
        )
        tasks = [
            asyncio.create_task(self._read_messages(client), name="mqtt-reader"),
            asyncio.create_task(self._publish_loop(), name="mqtt-publisher"),
            asyncio.create_task(self._command_loop(), name="mqtt-commands"),
            asyncio.create_task(stop.wait(), name="mqtt-stop"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Cancelled until they end: a publish acknowledged in the same loop turn as the
            # cancellation swallows it on Python 3.11 (edge_mining.cancel).
            await cancel_and_wait([*tasks, *self._helpers], logger=log)
            self._helpers.clear()
            self._birth_task = None
            self.connected.clear()
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is None:
                continue
            if not isinstance(error, aiomqtt.MqttError):
                # A bug: say ``offline`` while we still can (a clean disconnect does not fire
                # the will), then let it end the bridge.
                await self._final_publish(offline_only=True)
            raise error
        # Clean stop: the final state (the miners' shutdown state), then ``offline`` ourselves,
        # because the will does not fire on a clean disconnect.
        self.command_log.flush()
        if await self._final_publish():
            log.info("MQTT disconnected cleanly (published %s)", OFFLINE)
        self._client = None

    async def _final_publish(self, *, offline_only: bool = False) -> bool:
        """The last state and ``offline``, bounded in time (a broker that died under us must
        not hold the shutdown). True if the broker took it."""
        try:
            async with asyncio.timeout(FINAL_PUBLISH_TIMEOUT_S):
                if not offline_only:
                    await self._publish_states(self._current())
                await self._publish(self.topics.availability, OFFLINE, qos=1, retain=True)
        except (TimeoutError, aiomqtt.MqttError) as error:
            log.warning(
                "MQTT: final state not published (%s); the broker's will reports offline",
                _one_line(error) if str(error) else "no answer",
            )
            return False
        return True

    # ------------------------------------------------------------------- publishing

    async def _publish(
        self, topic: str, payload: str, *, qos: int = 0, retain: bool = False
    ) -> None:
        client = self._client
        if client is None:
            raise aiomqtt.MqttError("not connected")
        await client.publish(topic, payload, qos=qos, retain=retain)
        self.published += 1

    async def publish_all(self, *, force_discovery: bool = False) -> None:
        """Discovery (when changed or forced), availability and state of every device."""
        state = self._current()
        await self._publish_discovery(state, force=force_discovery)
        await self._publish_states(state, force_availability=force_discovery)

    async def _publish_discovery(self, state: SiteState, *, force: bool) -> None:
        miners = state.miners
        key = docs.discovery_key(self.site, miners)
        if not force and key == self._discovery_key:
            return
        self._discovery_key = key
        messages = discovery_messages(self.site, self.topics, miners, self.expire_after_s)
        for topic, payload in messages.items():
            if force or self._announced.get(topic) != payload:
                await self._publish(topic, payload, qos=1, retain=True)
                self._announced[topic] = payload
        await self._save_registry(set(messages))

    async def _publish_states(self, state: SiteState, *, force_availability: bool = False) -> None:
        for device, available in docs.availability(self.site, state).items():
            if force_availability or self._availability.get(device) != available:
                await self._publish(
                    self.topics.device_availability(device),
                    ONLINE if available else OFFLINE,
                    qos=1,
                    retain=True,
                )
                self._availability[device] = available
        for device, document in docs.documents(self.site, state).items():
            await self._publish(self.topics.state(device), encode(document), retain=True)

    async def _publish_device_state(self, device: str) -> None:
        document = docs.documents(self.site, self._current()).get(device)
        if document is not None:
            await self._publish(self.topics.state(device), encode(document), retain=True)

    async def _publish_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            state = self._latest if self._latest is not None else self._current()
            await self._publish_discovery(state, force=False)
            await self._publish_states(state)

    # ----------------------------------------------------------------- registry

    def _read_registry_file(self) -> set[str]:
        try:
            data = json.loads(self.registry_path.read_text(encoding="utf-8"))
            return {t for t in data.get("discovery_topics", []) if isinstance(t, str)}
        except FileNotFoundError:
            return set()
        except (OSError, ValueError, AttributeError) as error:
            log.warning("ignoring unreadable %s: %s", self.registry_path, error)
            return set()

    async def _save_registry(self, current: set[str]) -> None:
        self._registry_seen = set(current)
        payload = json.dumps({"discovery_topics": sorted(current)})
        await self._publish(self.topics.registry, payload, qos=1, retain=True)
        try:
            write_json_atomic(self.registry_path, {"discovery_topics": sorted(current)})
        except OSError as error:
            log.warning("cannot write %s: %s", self.registry_path, error)

    def _remove_stale(self, announced: set[str]) -> None:
        stale = announced - set(self._announced)
        if stale:
            self._helper(self._remove(stale), "mqtt-remove-stale")

    async def _remove(self, stale: set[str]) -> None:
        for topic in sorted(stale):
            prefix = f"{self.topics.discovery_prefix}/"
            if not topic.startswith(prefix) and "/device/" not in topic:
                continue
            log.info("removing discovery of a device no longer configured: %s", topic)
            await self._publish(topic, "", qos=1, retain=True)

    # ----------------------------------------------------------------- receiving

    async def _read_messages(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if topic == self.topics.homeassistant_status:
                if payload.strip() == ONLINE.encode():
                    self._schedule_birth_republish()
                continue
            if topic == self.topics.registry:
                self._on_registry(payload)
                continue
            parsed = self.topics.parse_command(topic)
            if parsed is None:
                continue
            if message.retain:
                self._ignore_retained(topic)
                continue
            try:
                self._commands.put_nowait((*parsed, payload, time.perf_counter()))
            except asyncio.QueueFull:
                self.commands_rejected += 1
                self.command_log.log(
                    logging.WARNING,
                    "MQTT commands dropped",
                    "MQTT command on %s dropped: too many commands queued",
                    topic,
                )

    def _ignore_retained(self, topic: str) -> None:
        """A retained command would be applied again at every reconnect and restart (a
        retained ``mode/set off`` forced the mode off after each restart): never obeyed."""
        self.retained_ignored += 1
        if topic in self._retained_seen:
            return
        self._retained_seen.add(topic)
        log.warning(
            "MQTT: ignoring the retained command on %s (commands are obeyed only as they "
            "are sent; clear it with an empty retained message)",
            topic,
        )

    def _on_registry(self, payload: bytes) -> None:
        try:
            data = json.loads(payload)
            topics = {t for t in data.get("discovery_topics", []) if isinstance(t, str)}
        except (ValueError, AttributeError):
            return
        if self._announced:
            self._remove_stale(topics)

    def _schedule_birth_republish(self) -> None:
        if self._birth_task is not None and not self._birth_task.done():
            self._birth_task.cancel()
        self._birth_task = self._helper(self._birth_republish(), "mqtt-birth-republish")

    def _helper(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A short task owned by the session: cancelled with it; a failure other than the
        connection's (which the reader reports) is logged, never lost."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._helpers.add(task)
        task.add_done_callback(self._helper_done)
        return task

    def _helper_done(self, task: asyncio.Task[None]) -> None:
        self._helpers.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, aiomqtt.MqttError):
            log.error("MQTT %s failed", task.get_name(), exc_info=error)

    async def _birth_republish(self) -> None:
        await asyncio.sleep(random.uniform(*self.birth_delay_s))
        log.info("Home Assistant is online: republishing discovery and state")
        await self.publish_all(force_discovery=True)

    # ----------------------------------------------------------------- commands

    async def _command_loop(self) -> None:
        while True:
            device, key, payload, received = await self._commands.get()
            await self.handle_command(device, key, payload, received)

    async def handle_command(
        self, device: str, key: str, payload: bytes, received: float | None = None
    ) -> None:
        """Validate and apply one command; always republish the device's real state."""
        received = time.perf_counter() if received is None else received
        request: Request | None = None
        try:
            request = parse_command(
                device,
                key,
                payload,
                site=self.site,
                miner_states=self._current().miners,
            )
            await self._apply(request)
        except (CommandError, ValueError) as error:
            self.commands_rejected += 1
            request = None
            self.command_log.log(
                logging.WARNING,
                f"MQTT commands rejected on {device}/{key}",
                "MQTT command %s/%s rejected: %s",
                device,
                key,
                _one_line(error),
            )
        except Exception as error:  # a failing device must not take the bridge down
            self.commands_rejected += 1
            request = None
            self.command_log.log(
                logging.WARNING,
                f"MQTT commands failed on {device}/{key}",
                "MQTT command %s/%s failed: %s: %s",
                device,
                key,
                type(error).__name__,
                _one_line(error),
            )
        else:
            self.commands_applied += 1
            # The daemon logs what changed; this line is for following the traffic.
            log.debug("MQTT command %s/%s applied: %s", device, key, request)
        if self.on_command_done is not None:
            self.on_command_done(request, received)
        target = device if docs.is_known_device(self.site, device) else None
        if target is not None:
            await self._publish_device_state(target)
            if target != CONTROLLER:
                await self._publish_device_state(CONTROLLER)

    async def _apply(self, request: Request) -> None:
        await apply_request(self.daemon, request)


async def _first(*awaitables: Coroutine[Any, Any, Any]) -> None:
    """Wait until one of ``awaitables`` is done; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:200] or type(error).__name__


async def run_bridge(site: SiteConfig, daemon: DaemonPort, stop: asyncio.Event) -> None:
    """Entry point for the daemon and the demo."""
    await MqttBridge(site, daemon).run(stop)
