"""Simulated energy source and miner, backed by a :class:`~edge_mining.sim.plant.Plant`.

They satisfy the same Protocols as the real drivers (``devices/base.py``), so the daemon, the
demo and the tests cannot tell them apart. Time comes from the injected clock.

The miner behaves like a BraiinsOS machine seen through telemetry:

- ``start()``: STARTING at once; boards boot for ``boot_s`` drawing only fans and control
  board; once hashing begins (hashrate > 0) the status is MINING and the power settles towards
  the target exponentially (95 % of the way after ``settle_s``).
- ``stop()``: STOPPING while hashing winds down for ``stop_s``, then PAUSED at standby draw.
- ``set_power_target()``: applied without a restart, clamped to the miner's [min, max].
- Hashrate follows power with a sub-linear law (lower power, better J/TH, as when tuning).

Fault hooks for tests: ``unreachable`` (read reports UNREACHABLE, commands raise
DeviceUnavailable), ``response_delay_s`` (a slow device, in wall seconds) and
``fail_reads`` on the energy source (read raises DeviceUnavailable).
"""

from __future__ import annotations

import asyncio
import math

from edge_mining.clock import Clock
from edge_mining.config import MinerConfig
from edge_mining.devices.base import CommandRejected, DeviceUnavailable
from edge_mining.model import EnergyReading, MinerState, MinerStatus
from edge_mining.sim.plant import Plant

STANDBY_W = 8.0  # control board and idle fans of a paused miner
BOOT_FRACTION = 0.04  # share of the target drawn while the boards boot
AMBIENT_C = 25.0


class SimulatedEnergySource:
    """An inverter that reads the plant: each read steps the plant to the clock's now."""

    def __init__(self, plant: Plant, clock: Clock, *, name: str = "simulated") -> None:
        self.name = name
        self.plant = plant
        self.clock = clock
        self.fail_reads = False
        self.response_delay_s = 0.0
        self.reads = 0

    async def read(self) -> EnergyReading:
        if self.response_delay_s:
            await asyncio.sleep(self.response_delay_s)
        if self.fail_reads:
            raise DeviceUnavailable(f"{self.name}: no answer (simulated fault)")
        self.plant.step(self.clock.now())
        self.reads += 1
        return self.plant.reading()

    async def close(self) -> None:
        return None


class SimulatedMiner:
    """A miner with BraiinsOS-like dynamics whose draw lands on the plant."""

    def __init__(
        self,
        config: MinerConfig,
        plant: Plant,
        clock: Clock,
        *,
        boot_s: float = 20.0,
        settle_s: float = 30.0,
        stop_s: float = 5.0,
        running: bool = False,
    ) -> None:
        self.name = config.name
        self.config = config
        self.plant = plant
        self.clock = clock
        self.boot_s = boot_s
        self.settle_s = settle_s
        self.stop_s = stop_s
        self.unreachable = False
        self.response_delay_s = 0.0
        self.starts = 0
        self.commands: list[tuple[float, str, float | None]] = []  # (time, action, watts)
        self._target_w = min(max(config.nominal_power_w, config.min_power_w), config.max_power_w)
        self._power_w = 0.0
        self._temperature_c = AMBIENT_C
        now = clock.now()
        self._updated = now
        self._phase_since = now
        if running:
            self._status = MinerStatus.MINING
            self._power_w = self._target_w
        else:
            self._status = MinerStatus.PAUSED
            self._power_w = STANDBY_W
        plant.set_miner_draw(self.name, self._power_w)

    # ---------------------------------------------------------------------- dynamics

    @property
    def status(self) -> MinerStatus:
        return self._status

    @property
    def power_w(self) -> float:
        return self._power_w

    @property
    def target_w(self) -> float:
        return self._target_w

    def _hashrate_ths(self) -> float:
        if self._status is not MinerStatus.MINING or self._power_w <= STANDBY_W:
            return 0.0
        c = self.config
        return c.nominal_hashrate_ths * (self._power_w / c.nominal_power_w) ** 0.8

    def advance(self, now: float | None = None) -> None:
        """Bring the miner's physics up to ``now`` and put its draw on the plant."""
        now = self.clock.now() if now is None else now
        dt = max(0.0, now - self._updated)
        self._updated = now
        in_phase = now - self._phase_since
        if self._status is MinerStatus.STARTING:
            if in_phase >= self.boot_s:
                self._status = MinerStatus.MINING
                self._phase_since = self._phase_since + self.boot_s
                self._power_w = max(self._power_w, BOOT_FRACTION * self._target_w)
                dt = now - self._phase_since
            else:
                self._power_w = max(STANDBY_W, BOOT_FRACTION * self._target_w)
        if self._status is MinerStatus.MINING and dt > 0:
            tau = self.settle_s / 3.0 if self.settle_s > 0 else 0.0
            if tau > 0:
                self._power_w = self._target_w + (self._power_w - self._target_w) * math.exp(
                    -dt / tau
                )
            else:
                self._power_w = self._target_w
        if self._status is MinerStatus.STOPPING:
            if in_phase >= self.stop_s:
                self._status = MinerStatus.PAUSED
                self._power_w = STANDBY_W
            else:
                share = 1.0 - in_phase / self.stop_s
                self._power_w = max(STANDBY_W, self._power_w * share)
        # Chip temperature relaxes towards a level set by the power (time constant 60 s).
        level = AMBIENT_C + 45.0 * self._power_w / self.config.max_power_w
        self._temperature_c = level + (self._temperature_c - level) * math.exp(-dt / 60.0)
        self.plant.set_miner_draw(self.name, self._power_w)

    # ------------------------------------------------------------------- the Protocol

    async def _respond(self) -> None:
        if self.response_delay_s:
            await asyncio.sleep(self.response_delay_s)
        if self.unreachable:
            raise DeviceUnavailable(f"{self.name}: no answer (simulated fault)")

    async def read(self) -> MinerState:
        now = self.clock.now()
        try:
            await self._respond()
        except DeviceUnavailable:
            return MinerState(name=self.name, timestamp=now, status=MinerStatus.UNREACHABLE)
        self.advance(now)
        c = self.config
        hashrate = self._hashrate_ths()
        return MinerState(
            name=self.name,
            timestamp=now,
            status=self._status,
            hashrate_ths=hashrate,
            power_w=self._power_w,
            power_target_w=self._target_w if c.power_target else None,
            target_min_w=c.min_power_w if c.power_target else None,
            target_max_w=c.max_power_w if c.power_target else None,
            temperature_c=round(self._temperature_c, 1),
            fan_rpm=round(1500 + 60 * max(0.0, self._temperature_c - AMBIENT_C) * 2)
            if self._power_w > STANDBY_W
            else 0.0,
            model=f"Simulated {c.nominal_hashrate_ths:g} TH/s",
            firmware="sim-1.0",
            serial=f"SIM-{c.name}",
        )

    async def start(self) -> None:
        await self._respond()
        now = self.clock.now()
        self.advance(now)
        self.commands.append((now, "start", None))
        if self._status in (MinerStatus.PAUSED, MinerStatus.STOPPING):
            self._status = MinerStatus.STARTING
            self._phase_since = now
            self.starts += 1
            self.advance(now)

    async def stop(self) -> None:
        await self._respond()
        now = self.clock.now()
        self.advance(now)
        self.commands.append((now, "stop", None))
        if self._status in (MinerStatus.STARTING, MinerStatus.MINING):
            self._status = MinerStatus.STOPPING
            self._phase_since = now

    async def set_power_target(self, watts: float) -> float:
        await self._respond()
        c = self.config
        if not c.power_target:
            raise CommandRejected(f"{self.name}: this miner has no power target")
        if not math.isfinite(watts):
            raise CommandRejected(f"{self.name}: power target must be a finite number")
        now = self.clock.now()
        self.advance(now)
        self._target_w = min(max(float(watts), c.min_power_w), c.max_power_w)
        self.commands.append((now, "set_power", self._target_w))
        return self._target_w

    async def close(self) -> None:
        return None
