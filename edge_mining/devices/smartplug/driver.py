"""A miner behind a smart plug: on/off by cutting its power, telemetry from the plug's meter.

The relay is switched through a Home Assistant switch entity (``switch.turn_on`` /
``switch.turn_off``) or an MQTT command topic (Tasmota ``cmnd/<plug>/POWER``, Shelly
``shellies/<plug>/relay/0/command``); the draw is read from the plug's power sensor entity or
topic. The relay state comes from the switch entity, the ``state_topic``, or (without one)
from the last command sent.

Cutting a miner's power is hard on its power supply, so the plug keeps its own limits,
stricter than the controller's:
- after a cut the miner cools down for ``plug_cooldown_s``: ``start()`` is refused with
  CommandRejected until then (also after someone else switched the plug off);
- once on it stays on for ``plug_min_on_s``: an earlier ``stop()`` is refused likewise.

A miner takes minutes from power-on to hashing: it is STARTING until its draw rises above
``plug_running_threshold_w`` and ERROR when that has not happened within ``plug_warmup_s``.
"""

from __future__ import annotations

import asyncio
import logging

from edge_mining.clock import Clock, WallClock
from edge_mining.config import MinerConfig, SiteConfig
from edge_mining.devices.base import CommandRejected, DeviceError, DeviceUnavailable
from edge_mining.devices.failures import FailureReporter
from edge_mining.devices.homeassistant.client import (
    POWER_UNITS,
    HomeAssistantClient,
    failure_kind,
)
from edge_mining.devices.mqtt.topics import TopicWatcher
from edge_mining.devices.payload import PayloadError, extract_number, extract_value
from edge_mining.model import MinerState, MinerStatus

# Named for the package (the module's name before it became one): log lines are unchanged.
log = logging.getLogger("edge_mining.devices.smartplug")

# A draw read over MQTT older than this is not trusted (plugs report every 10-60 s).
POWER_MAX_AGE_S = 180.0


class SmartPlugMiner:
    """MinerDriver for ``driver: smartplug`` (on/off only: no power target)."""

    def __init__(
        self,
        config: MinerConfig,
        site: SiteConfig,
        *,
        clock: Clock | None = None,
        ha_client: HomeAssistantClient | None = None,
    ) -> None:
        if not (config.switch_entity or config.command_topic):
            raise ValueError("a smartplug miner needs switch_entity or command_topic")
        self.name = config.name
        self.config = config
        self._clock = clock or WallClock()
        self._threshold_w = config.plug_running_threshold_w or 0.5 * config.nominal_power_w
        needs_ha = bool(config.switch_entity or config.power_entity)
        self._owns_client = ha_client is None and needs_ha
        self._ha = ha_client or (HomeAssistantClient(site.homeassistant) if needs_ha else None)
        topics = [
            t
            for t in (
                None if config.switch_entity else config.state_topic,
                None if config.power_entity else config.power_topic,
            )
            if t
        ]
        needs_mqtt = bool(topics) or (config.command_topic and not config.switch_entity)
        self._mqtt = (
            TopicWatcher(site.mqtt, topics, purpose=f"plug-{config.name}", clock=self._clock)
            if needs_mqtt
            else None
        )
        self.failures = FailureReporter(f"miner {config.name} (smart plug)", log)
        self._mqtt_started = False
        self._commanded_on: bool | None = None
        self._last_seen_on: bool | None = None
        # When the relay last closed (warm-up) and when we (or someone) switched it on/off
        # (PSU limits).
        self._powered_at: float | None = None
        self._on_since: float | None = None
        self._off_since: float | None = None

    # ------------------------------------------------------------------------- telemetry

    async def _relay_on(self) -> bool | None:
        """The relay state, or None when it cannot be known (unreachable)."""
        if self.config.switch_entity:
            assert self._ha is not None
            state = await self._ha.get_state(self.config.switch_entity)
            value = state.state.strip().lower()
            if value in ("on", "off"):
                return value == "on"
            return None  # "unavailable", "unknown": the plug is not reachable
        assert self._mqtt is not None
        if self.config.state_topic:
            latest = self._mqtt.latest(self.config.state_topic)
            if latest is None:
                return self._commanded_on if self._mqtt.connected else None
            return self._parse_relay(latest.payload)
        return self._commanded_on if self._mqtt.connected else None

    def _parse_relay(self, payload: bytes) -> bool | None:
        try:
            value = extract_value(payload, None)
        except PayloadError:
            return None
        if isinstance(value, dict):  # Tasmota stat/<plug>/RESULT {"POWER": "ON"}
            value = value.get("POWER", value.get("state"))
        text = str(value).strip().lower()
        if text == self.config.payload_on.lower() or text in ("on", "true", "1"):
            return True
        if text == self.config.payload_off.lower() or text in ("off", "false", "0"):
            return False
        self.failures.report("malformed_state", f"relay state {text[:20]!r} not understood")
        return None

    async def _power_w(self) -> float | None:
        if self.config.power_entity:
            assert self._ha is not None
            state = await self._ha.get_state(self.config.power_entity)
            return state.converted(POWER_UNITS, "power")
        if self.config.power_topic:
            assert self._mqtt is not None
            latest = self._mqtt.latest(self.config.power_topic)
            if latest is None or self._clock.now() - latest.received_at > POWER_MAX_AGE_S:
                return None
            try:
                return extract_number(latest.payload, self.config.power_json_path)
            except PayloadError as error:
                self.failures.report("power malformed", f"power payload: {error}")
                return None
        return None

    async def read(self) -> MinerState:
        if self._mqtt is not None and not self._mqtt_started:
            # Give the first connection a moment, so a fresh start does not look unreachable.
            self._mqtt_started = True
            await self._mqtt.wait_connected(2.0)
        now = self._clock.now()
        relay, power = await asyncio.gather(
            self._relay_on(), self._power_w(), return_exceptions=True
        )
        errors: list[str] = []
        if isinstance(relay, BaseException):
            if not isinstance(relay, DeviceError):
                raise relay
            self.failures.report(failure_kind(relay), str(relay))
            return self._state(now, MinerStatus.UNREACHABLE, 0.0, (str(relay),))
        if isinstance(power, BaseException):
            if not isinstance(power, DeviceError):
                raise power
            self.failures.report(f"power {failure_kind(power)}", str(power))
            errors.append(f"power unknown: {power}")
            power = None
        if relay is None:
            self.failures.report("relay_unknown", "the plug's relay state is unknown")
            return self._state(now, MinerStatus.UNREACHABLE, 0.0, ("plug unreachable",))
        for kind in self.failures.failing:
            if not kind.startswith("power") or power is not None:
                self.failures.recovered(kind)
        self._observe(relay, now)
        return self._state(now, self._status(relay, power, now), power or 0.0, tuple(errors))

    def _observe(self, on: bool, now: float) -> None:
        """Track switch-over times, also when someone else switched the plug."""
        previous, self._last_seen_on = self._last_seen_on, on
        if previous is None:
            # First sight (e.g. after a restart): the warm-up counts from now, but the PSU
            # limits are not enforced for switch-overs we did not see.
            if on and self._powered_at is None:
                self._powered_at = now
        elif on != previous and on != self._commanded_on:
            # Switched by someone else (the HA UI, the plug's button, a power cut).
            if on:
                self._on_since = self._powered_at = now
            else:
                self._off_since = now
        if previous is None or on != previous:
            self._commanded_on = on

    def _status(self, on: bool, power: float | None, now: float) -> MinerStatus:
        drawing = power is not None and power >= self._threshold_w
        if not on:
            return MinerStatus.STOPPING if drawing else MinerStatus.PAUSED
        if drawing:
            return MinerStatus.MINING
        since = self._powered_at if self._powered_at is not None else now
        if now - since < self.config.plug_warmup_s:
            return MinerStatus.STARTING
        if power is None:
            return MinerStatus.MINING  # no meter: trust the relay after the warm-up
        return MinerStatus.ERROR

    def _state(
        self, now: float, status: MinerStatus, power: float, errors: tuple[str, ...]
    ) -> MinerState:
        if status is MinerStatus.ERROR:
            errors += (
                f"no mining draw (>= {self._threshold_w:.0f} W) "
                f"{self.config.plug_warmup_s:.0f} s after power-on",
            )
        ratio = min(1.0, power / self.config.nominal_power_w) if power > 0 else 0.0
        hashrate = self.config.nominal_hashrate_ths * ratio if status.is_running else 0.0
        return MinerState(
            name=self.name,
            timestamp=now,
            status=status,
            hashrate_ths=hashrate,  # estimated from the draw: a plug cannot see hashes
            power_w=power,
            errors=errors,
            model="smart plug",
        )

    # -------------------------------------------------------------------------- commands

    async def _switch(self, on: bool) -> None:
        config = self.config
        if config.switch_entity:
            assert self._ha is not None
            service = "turn_on" if on else "turn_off"
            await self._ha.call_service("switch", service, {"entity_id": config.switch_entity})
            return
        assert self._mqtt is not None and config.command_topic
        if not await self._mqtt.wait_connected(5.0):
            raise DeviceUnavailable(f"miner {self.name}: MQTT broker not connected")
        await self._mqtt.publish(
            config.command_topic, config.payload_on if on else config.payload_off
        )

    async def start(self) -> None:
        now = self._clock.now()
        if self._commanded_on is True and self._last_seen_on is not False:
            return
        if self._off_since is not None:
            left = self.config.plug_cooldown_s - (now - self._off_since)
            if left > 0:
                raise CommandRejected(
                    f"miner {self.name}: cooling down after a power cut, {left:.0f} s left"
                )
        await self._switch(True)
        self._commanded_on = True
        self._on_since = self._powered_at = now

    async def stop(self) -> None:
        now = self._clock.now()
        if self._commanded_on is False and self._last_seen_on is not True:
            return
        if self._on_since is not None:
            left = self.config.plug_min_on_s - (now - self._on_since)
            if left > 0:
                raise CommandRejected(
                    f"miner {self.name}: minimum on time to protect the PSU, {left:.0f} s left"
                )
        await self._switch(False)
        self._commanded_on = False
        self._off_since = now

    async def set_power_target(self, watts: float) -> float:
        raise CommandRejected(f"miner {self.name}: a smart plug is on/off only (no power target)")

    async def close(self) -> None:
        if self._mqtt is not None:
            await self._mqtt.close()
        if self._ha is not None and self._owns_client:
            await self._ha.close()
