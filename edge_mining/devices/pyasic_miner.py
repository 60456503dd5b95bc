"""What every miner driver built on pyasic shares: detection, timeouts, state, power levels.

A family's driver (Avalon, Bitaxe/NerdQAxe, Whatsminer, stock Antminer, LuxOS) subclasses
:class:`PyasicMiner` and fills in how its firmware is read and commanded. This base builds on
:class:`~edge_mining.devices.pyasic_core.PyasicCore` (detection in a task of its own, again
only after the miner was unreachable; every read and command bounded by ``timeout_s``;
``read`` reports UNREACHABLE rather than raising) and:

- detects the miner with pyasic's ``get_miner`` (unmodified); a family may add its own
  detection for units pyasic does not recognise (:meth:`PyasicMiner.detect_fallback`) and
  checks that what it found is its family (a Whatsminer configured as an Avalon is a
  configuration error, said once);
- turns the firmware's mining flag and hashrate into STARTING/STOPPING/MINING/PAUSED/ERROR
  with :class:`~edge_mining.devices.miner_state.TransitionTracker`;
- handles both kinds of power control: a continuous limit (``constraints``) or discrete
  levels (``levels``, lowest power first). ``set_power_target(watts)`` on a level miner
  picks the highest level that fits in ``watts`` (never more than asked; the lowest level
  when none fits), ``set_level(name)`` picks one by name; both read the result back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pyasic.errors import APIError
from pyasic.miners.base import AnyMiner
from pyasic.miners.factory import miner_factory

from edge_mining.devices.base import (
    CommandRejected,
    DeviceAuthError,
    DeviceError,
    DeviceUnavailable,
)
from edge_mining.devices.miner_state import Observation
from edge_mining.devices.pyasic_core import PyasicCore, detection_slots
from edge_mining.model import MinerState, MinerStatus, PowerLevel

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One poll's reading, in SI units."""

    hashrate_ths: float
    power_w: float | None
    mining_flag: bool | None  # the firmware's own "mining enabled" (None: it does not say)
    power_target_w: float | None = None
    temperature_c: float | None = None
    fan_rpm: float | None = None
    errors: tuple[str, ...] = ()
    level: str | None = None  # the level it runs at, for a level miner


@dataclass(frozen=True, slots=True)
class PowerRange:
    """The continuous power limit a miner accepts."""

    min_w: float
    max_w: float


class PyasicMiner(PyasicCore[Telemetry]):
    """A :class:`~edge_mining.devices.base.MinerDriver` over one pyasic miner object."""

    logger = log
    family: ClassVar[str] = "pyasic"  # the family's name in log lines and errors
    pyasic_classes: ClassVar[tuple[type, ...]] = ()  # what pyasic may detect; () any
    default_username: ClassVar[str] = "root"
    default_password: ClassVar[str] = "root"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # PyasicCore's: config, clock=, timeout_s=...
        self.levels: tuple[PowerLevel, ...] = ()
        self.constraints: PowerRange | None = None
        self._command_error: str | None = None  # the last refused level/target, until one works
        self._last: Telemetry | None = None

    def __repr__(self) -> str:
        # Never the password.
        return f"{type(self).__name__}(name={self.name!r}, host={self.host!r})"

    @property
    def username(self) -> str:
        return self.config.username or self.default_username

    @property
    def password(self) -> str:
        return self.config.password.get_secret_value() or self.default_password

    # ------------------------------------------------------------------------- hooks

    def configure(self, miner: AnyMiner) -> None:
        """Give the detected pyasic object our credentials (and anything else it needs)."""

    async def detect_fallback(self) -> AnyMiner | None:
        """A miner pyasic's factory does not recognise but this family can (None: not one)."""
        return None

    async def describe(self, miner: AnyMiner) -> None:
        """Read what does not change while the miner runs: model, firmware, serial, levels."""

    async def poll(self, miner: AnyMiner) -> Telemetry:
        raise NotImplementedError

    async def resume(self, miner: AnyMiner) -> None:
        raise CommandRejected(f"{self.label}: this firmware cannot resume mining remotely")

    async def pause(self, miner: AnyMiner) -> None:
        raise CommandRejected(
            f"{self.label}: this firmware cannot pause mining without cutting its power"
        )

    async def apply_level(self, miner: AnyMiner, level: PowerLevel) -> None:
        raise CommandRejected(f"{self.label}: this firmware has no power levels")

    async def apply_power(self, miner: AnyMiner, watts: int) -> float:
        raise CommandRejected(f"{self.label}: this firmware has no power limit")

    # ------------------------------------------------------------------------- reading

    async def _read_telemetry(self, miner: AnyMiner) -> Telemetry:
        return await self.poll(miner)

    def _reading(self, now: float, telemetry: Telemetry) -> MinerState:
        self._last = telemetry
        status, reason = self.tracker.observe(
            Observation(True, telemetry.hashrate_ths, telemetry.mining_flag), now
        )
        errors = telemetry.errors
        if reason:
            errors = (reason, *errors)
        if self._command_error:
            errors = (*errors, self._command_error)
        return self._state(now, status, telemetry=telemetry, errors=errors)

    def _state(
        self,
        now: float,
        status: MinerStatus,
        *,
        telemetry: Telemetry | None = None,
        errors: tuple[str, ...] = (),
    ) -> MinerState:
        constraints = self.constraints
        t = telemetry
        target = t.power_target_w if t else None
        if target is None and t is not None and t.level is not None:
            # A level miner's target is its level's power.
            target = next((lv.power_w for lv in self.levels if lv.name == t.level), None)
        return MinerState(
            name=self.name,
            timestamp=now,
            status=status,
            hashrate_ths=t.hashrate_ths if t else 0.0,
            power_w=(t.power_w or 0.0) if t else 0.0,
            power_target_w=target,
            target_min_w=constraints.min_w if constraints else None,
            target_max_w=constraints.max_w if constraints else None,
            temperature_c=t.temperature_c if t else None,
            fan_rpm=t.fan_rpm if t else None,
            errors=errors,
            model=self.model,
            firmware=self.firmware,
            serial=self.serial,
            levels=self.levels,
            level=t.level if t else None,
        )

    # ------------------------------------------------------------------------- detection

    async def _detect(self) -> AnyMiner:
        async with detection_slots():
            async with asyncio.timeout(self.detect_timeout_s):
                miner = await miner_factory.get_miner(self.host)
                if miner is None or not self._is_family(miner):
                    fallback = await self.detect_fallback()
                    if fallback is not None:
                        miner = fallback
                if miner is None:
                    raise DeviceUnavailable(f"{self.label}: no miner answers")
                if not self._is_family(miner):
                    raise DeviceError(
                        f"{self.label}: this is a {miner.model or type(miner).__name__} "
                        f"({type(miner).__name__}), not a {self.family} miner; check its driver"
                    )
                self.configure(miner)
                self.tracker.forget()
                await self.describe(miner)  # a refusal here leaves the miner undetected
                self.detections += 1
                self._miner = miner
                self._lost = False
        log.info("%s detected: %s (%s)", self.label, self.model, type(miner).__name__)
        return miner

    def _is_family(self, miner: AnyMiner) -> bool:
        return not self.pyasic_classes or isinstance(miner, self.pyasic_classes)

    # ------------------------------------------------------------------------- commands

    async def start(self) -> None:
        """Resume mining (never a power cycle when the firmware can resume)."""
        miner = await self._require()
        await self.guard(self.resume(miner))
        self.tracker.command(True, self.clock.now())
        log.info("%s: resume mining", self.label)

    async def stop(self) -> None:
        """Pause mining, leaving the control board up."""
        miner = await self._require()
        await self.guard(self.pause(miner))
        self.tracker.command(False, self.clock.now())
        log.info("%s: pause mining", self.label)

    def level_for(self, watts: float) -> PowerLevel:
        """The highest level that draws no more than ``watts`` (the lowest when none fits)."""
        if not self.levels:
            raise CommandRejected(f"{self.label}: no power levels known")
        fitting = [level for level in self.levels if level.power_w <= watts + 0.5]
        return max(fitting, key=lambda lv: lv.power_w) if fitting else self.levels[0]

    def find_level(self, name: str) -> PowerLevel:
        for level in self.levels:
            if level.name.lower() == name.strip().lower():
                return level
        known = ", ".join(level.name for level in self.levels) or "none"
        raise CommandRejected(f"{self.label} has no level {name!r}; its levels: {known}")

    async def set_level(self, name: str) -> str:
        """Run at the named level; returns it once the miner reports it."""
        try:
            miner = await self._require()
            if not self.levels:
                await self.describe(miner)
            level = self.find_level(name)
            await self._apply_and_confirm(miner, level)
        except CommandRejected as exc:
            self._command_error = str(exc)
            raise
        self._command_error = None
        return level.name

    async def set_power_target(self, watts: float) -> float:
        """Apply a power limit, or the level that fits it; returns what was applied."""
        if not self.config.power_target:
            raise CommandRejected(f"{self.label}: configured without a power target")
        try:
            miner = await self._require()
            if not self.levels and self.constraints is None:
                await self.describe(miner)
            if self.levels:
                level = self.level_for(watts)
                await self._apply_and_confirm(miner, level)
                applied = level.power_w
            else:
                applied = await self.guard(self.apply_power(miner, self.clamp(watts)))
        except CommandRejected as exc:
            self._command_error = str(exc)
            raise
        self._command_error = None
        return applied

    async def _apply_and_confirm(self, miner: AnyMiner, level: PowerLevel) -> None:
        last = self._last
        if last is not None and last.level == level.name:
            return  # already there: no needless write
        await self.guard(self.apply_level(miner, level))
        telemetry = await self.guard(self.poll(miner))
        self._last = telemetry
        if telemetry.level != level.name:
            raise CommandRejected(
                f"{self.label}: asked for level {level.name!r} but it runs "
                f"{telemetry.level or 'an unknown level'}"
            )
        log.info("%s: level %s (%.0f W)", self.label, level.name, level.power_w)

    def _miner_range(self) -> tuple[float | None, float | None]:
        c = self.constraints
        return (c.min_w, c.max_w) if c is not None else (None, None)

    # ------------------------------------------------------------------------- transport

    async def guard(self, call: Awaitable[T]) -> T:
        """Run one call to the miner bounded by ``timeout_s``; map failures to driver errors."""
        try:
            return await self._bounded(call)
        except DeviceError:
            raise
        except APIError as exc:
            raise self.api_error(exc) from exc
        except OSError as exc:
            self._mark_lost()
            raise DeviceUnavailable(f"{self.label}: {exc}") from exc

    def api_error(self, exc: APIError) -> DeviceError:
        """A pyasic API error as a driver error (a family may know better)."""
        text = str(exc)
        if "No data returned" in text or "connection" in text.lower():
            self._mark_lost()
            return DeviceUnavailable(f"{self.label}: {text}")
        return CommandRejected(f"{self.label} refused the command: {text}")

    def auth_failed(self, why: str) -> DeviceAuthError:
        log.error("%s refused the credentials of user %r: %s", self.label, self.username, why)
        return DeviceAuthError(f"{self.label} refused the credentials of user {self.username!r}")


def number(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not a number."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result and abs(result) != float("inf") else None
