"""The behaviour of one emulated miner, whatever its firmware: no I/O, time from an injected clock.

What a real machine does, and so what this model does (all durations in the clock's seconds,
so a :class:`~edge_mining.clock.ScaledClock` speeds everything up for a demo or a test):

- ``resume``: the hashboards re-initialise for ``warmup_s`` (fans and control board only,
  5 s hashrate still 0), then hashrate ramps linearly to the tuned level over ``ramp_s``.
- ``pause``: hashing stops at once; the 5 s average decays to 0 over the next 5 s, which is
  why a client must wait for telemetry before calling the miner paused. The miner then draws
  its standby power (``idle_w``).
- a new power level applied live (a BraiinsOS power target with SAVE_AND_APPLY, an Avalon
  work mode, a Bitaxe frequency, a LuxOS profile): the boards move towards the new level with
  a first-order lag (95 % of the way after ``settle_s``), mining never stops. Applied with a
  restart (a stock Antminer's new work mode, SAVE_AND_FORCE_APPLY): warm-up and ramp again,
  ``restarts`` counts it. Saved only: kept for the next start.
- Hashrate follows power sub-linearly (lower power, better J/TH), as tuned ASICs do, unless the
  spec gives its own curve.
- A pause or resume may be scheduled for a later time on the machine's clock (Avalon's
  ``softoff``/``softon`` take a timestamp); it happens when the clock gets there.
- Curtailment ramps (BraiinsOS quick ramping): ``curtail_up_s`` replaces warm-up plus ramp
  on a resume, ``curtail_down_s`` makes a pause ramp the draw down linearly instead of at once.
- Subclasses may narrow the accepted targets (:meth:`target_limits`, e.g. with hashboards
  disabled) and hold the boards below the target (:meth:`effective_target_w`, e.g. a
  firmware's thermal scaling).

Each family's emulator wraps a :class:`MinerMachine` in the protocol its firmware speaks.
"""

from __future__ import annotations

import bisect
import math
import random
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from edge_mining.clock import Clock

HASH_WINDOW_S = 5.0  # the "5 s" hashrate window firmwares report
HASH_EXPONENT = 0.8  # hashrate ~ power ** 0.8 around the nominal point
WARMUP_POWER_FRACTION = 0.05  # share of the level drawn while boards initialise


class MachineSpec(Protocol):
    """What the dynamics need to know about a hardware model."""

    @property
    def nominal_ths(self) -> float: ...

    @property
    def nominal_w(self) -> float: ...

    @property
    def min_target_w(self) -> int: ...

    @property
    def max_target_w(self) -> int: ...

    @property
    def default_target_w(self) -> int: ...

    @property
    def idle_w(self) -> float: ...

    @property
    def hashboards(self) -> int: ...

    @property
    def fans(self) -> int: ...


@dataclass(frozen=True, slots=True)
class HardwareSpec:
    """A :class:`MachineSpec` for emulators that only need the numbers."""

    nominal_ths: float
    nominal_w: float
    min_target_w: int
    max_target_w: int
    default_target_w: int
    idle_w: float
    hashboards: int = 1
    fans: int = 1


class TargetRefused(Exception):
    """The miner refused a power level (out of its constraints, or an injected fault)."""


@dataclass(slots=True)
class Counters:
    accepted: int = 0
    rejected: int = 0
    hardware_errors: int = 0
    total_mh: float = 0.0
    restarts: int = 0
    pauses: int = 0
    resumes: int = 0
    target_changes: int = 0


@dataclass(slots=True)
class _Dynamics:
    ramp: float  # 0..1, share of the tuned level being hashed
    level_w: float  # tuned power level the boards run at when fully ramped
    hash_from: float  # time hashing (re)starts after a resume or restart
    last: float  # time of the last advance
    stopped_at: float | None = None
    hash_at_stop: float = 0.0
    power_at_stop: float = 0.0  # the draw above idle when the pause began
    ramp_s: float = 30.0  # this start's ramp (a curtailment ramp may be quicker)
    down_s: float = 0.0  # this pause's ramp down (0: at once)
    ema_1m_ths: float = 0.0
    ema_5m_ths: float = 0.0
    ema_15m_ths: float = 0.0


@dataclass(frozen=True, slots=True)
class PowerCurve:
    """Hashrate (TH/s) as a piecewise-linear function of power (W), from measured points."""

    points: tuple[tuple[float, float], ...]  # (power W, hashrate TH/s), power increasing

    def __post_init__(self) -> None:
        if len(self.points) < 2 or any(
            b[0] <= a[0] for a, b in zip(self.points, self.points[1:], strict=False)
        ):
            raise ValueError("a power curve needs two or more points with increasing power")

    def __call__(self, watts: float) -> float:
        powers = [p for p, _ in self.points]
        if watts <= powers[0]:
            # Below the first point hashrate falls to zero at zero power.
            return self.points[0][1] * max(watts, 0.0) / powers[0]
        if watts >= powers[-1]:
            return self.points[-1][1]
        i = bisect.bisect_right(powers, watts)
        (p0, h0), (p1, h1) = self.points[i - 1], self.points[i]
        return h0 + (h1 - h0) * (watts - p0) / (p1 - p0)


class MinerMachine:
    """State and dynamics of one miner. Every accessor first advances to the clock's now."""

    def __init__(
        self,
        spec: MachineSpec,
        clock: Clock,
        *,
        warmup_s: float = 10.0,
        ramp_s: float = 30.0,
        settle_s: float = 20.0,
        mining: bool = True,
        seed: int = 0,
        curve: PowerCurve | None = None,
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.warmup_s = warmup_s
        self.ramp_s = ramp_s
        self.settle_s = settle_s
        # Curtailment ramps (pause/resume only); None / 0: warm-up and ramp, a pause at once.
        self.curtail_up_s: float | None = None
        self.curtail_down_s: float = 0.0
        self.curve = curve
        now = clock.now()
        self.booted_at = now
        self.bosminer_started_at = now  # the mining process (bosminer, cgminer, btminer...)
        self.running = True  # the mining process (BraiinsOS gRPC start/stop)
        self.mining_enabled = mining  # pause/resume
        self.active_target_w = spec.default_target_w
        self.saved_target_w = spec.default_target_w
        self.counters = Counters()
        self.locate = False
        self.uid = secrets.token_hex(8)
        rng = random.Random(seed)
        self.serial = f"JYZZ{rng.randrange(10**11):011d}"
        self.mac = "02:00:" + ":".join(f"{rng.randrange(256):02X}" for _ in range(4))
        self._rng = rng
        # (time, enable mining?) changes waiting for the clock to reach them, in time order.
        self._scheduled: list[tuple[float, bool]] = []
        level = float(spec.default_target_w)
        ramp = 1.0 if mining else 0.0
        self._dyn = _Dynamics(ramp=ramp, level_w=level, hash_from=now, last=now, ramp_s=ramp_s)
        if mining:
            rate = self.hashrate_at(level)
            self._dyn.ema_1m_ths = self._dyn.ema_5m_ths = self._dyn.ema_15m_ths = rate

    # ------------------------------------------------------------------------- dynamics

    @property
    def hashing_enabled(self) -> bool:
        return self.running and self.mining_enabled

    def effective_target_w(self) -> float:
        """The level the boards move towards: the active target (subclasses may hold it
        lower, as a firmware's thermal scaling does)."""
        return float(self.active_target_w)

    def target_limits(self) -> tuple[int, int]:
        """The power targets the miner accepts now."""
        return self.spec.min_target_w, self.spec.max_target_w

    def hashrate_at(self, level_w: float) -> float:
        """Fully ramped hashrate (TH/s) when the boards run at ``level_w``."""
        if self.curve is not None:
            return self.curve(level_w)
        spec = self.spec
        return spec.nominal_ths * (max(level_w, 0.0) / spec.nominal_w) ** HASH_EXPONENT

    def advance(self) -> float:
        """Move the dynamics to the clock's now (through any scheduled change); returns now."""
        now = self.clock.now()
        while self._scheduled and self._scheduled[0][0] <= now:
            at, enable = self._scheduled.pop(0)
            self._advance_to(at)
            self._set_mining(enable, max(at, self._dyn.last))
        self._advance_to(now)
        return now

    def _advance_to(self, now: float) -> None:
        dyn = self._dyn
        dt = now - dyn.last
        if dt <= 0:
            return
        if self.hashing_enabled:
            tau = max(self.settle_s / 3.0, 1e-6)
            target = self.effective_target_w()
            dyn.level_w += (target - dyn.level_w) * (1.0 - math.exp(-dt / tau))
            hashing_dt = now - max(dyn.last, dyn.hash_from)
            if hashing_dt > 0:
                dyn.ramp = min(1.0, dyn.ramp + hashing_dt / max(dyn.ramp_s, 1e-6))
        rate = self._instant_ths(now)
        self.counters.total_mh += rate * 1e6 * dt
        # Shares at ~1 per 5 s per 100 TH/s; enough for counters that move.
        self.counters.accepted += int(rate * dt / 500.0 + self._rng.random())
        for attr, window in (("ema_1m_ths", 60.0), ("ema_5m_ths", 300.0), ("ema_15m_ths", 900.0)):
            old = getattr(dyn, attr)
            setattr(dyn, attr, old + (rate - old) * (1.0 - math.exp(-dt / window)))
        dyn.last = now

    def _instant_ths(self, now: float) -> float:
        if not self.hashing_enabled:
            return self._dyn.hash_at_stop * self._ramping_down(now)
        if now < self._dyn.hash_from:
            return 0.0
        return self._dyn.ramp * self.hashrate_at(self._dyn.level_w)

    def _ramping_down(self, now: float) -> float:
        """The share of the pre-pause level still hashing (a pause with a ramp down)."""
        dyn = self._dyn
        if dyn.stopped_at is None or dyn.down_s <= 0:
            return 0.0
        return max(0.0, 1.0 - (now - dyn.stopped_at) / dyn.down_s)

    # ------------------------------------------------------------------------- telemetry

    @property
    def hashrate_ths(self) -> float:
        """Instantaneous hashrate."""
        return self._instant_ths(self.advance())

    @property
    def hashrate_5s_ths(self) -> float:
        """The 5 s average firmwares report: it lags a pause by up to 5 s."""
        now = self.advance()
        dyn = self._dyn
        if self.hashing_enabled:
            return self._instant_ths(now)
        if dyn.stopped_at is None:
            return 0.0
        left = max(1.0 - (now - dyn.stopped_at) / HASH_WINDOW_S, self._ramping_down(now))
        return dyn.hash_at_stop * max(0.0, left)

    @property
    def hashrate_1m_ths(self) -> float:
        self.advance()
        return self._dyn.ema_1m_ths

    @property
    def hashrate_5m_ths(self) -> float:
        self.advance()
        return self._dyn.ema_5m_ths

    @property
    def hashrate_15m_ths(self) -> float:
        self.advance()
        return self._dyn.ema_15m_ths

    @property
    def power_w(self) -> float:
        """What the miner draws from the wall now."""
        return self._power_at(self.advance())

    def _power_at(self, now: float) -> float:
        dyn = self._dyn
        idle = self.spec.idle_w
        if not self.hashing_enabled:
            return idle + dyn.power_at_stop * self._ramping_down(now)
        warming = WARMUP_POWER_FRACTION * dyn.level_w
        if now < dyn.hash_from:
            return idle + warming
        # The ramp starts from the warm-up draw, not below it.
        return idle + max(warming, dyn.ramp * max(dyn.level_w - idle, 0.0))

    @property
    def tuner_stable(self) -> bool:
        self.advance()
        target = self.effective_target_w()
        return abs(self._dyn.level_w - target) <= 0.02 * target

    @property
    def uptime_s(self) -> float:
        return max(0.0, self.advance() - self.booted_at)

    @property
    def bosminer_uptime_s(self) -> float:
        return max(0.0, self.advance() - self.bosminer_started_at) if self.running else 0.0

    def board_temperature_c(self, board: int) -> float:
        """Board temperature: ambient plus a rise proportional to the draw."""
        share = self.power_w / max(self.spec.nominal_w, 1.0)
        return round(28.0 + 32.0 * share + 1.5 * board, 1)

    def chip_temperature_c(self, board: int) -> float:
        return round(self.board_temperature_c(board) + 12.0 * self.power_w / self.spec.nominal_w, 1)

    def fan_rpm(self, fan: int) -> int:
        share = self.power_w / max(self.spec.nominal_w, 1.0)
        return int(1800 + 3600 * min(share, 1.2) + 40 * fan)

    # ------------------------------------------------------------------------- actions

    def pause(self) -> bool:
        """Pause mining; returns True when it was already paused."""
        now = self.advance()
        self._scheduled.clear()
        return self._set_mining(False, now)

    def resume(self) -> bool:
        """Resume mining; returns True when it was already mining."""
        now = self.advance()
        self._scheduled.clear()
        return self._set_mining(True, now)

    def schedule_mining(self, enable: bool, at: float) -> None:
        """Pause (``enable`` False) or resume mining when the clock reaches ``at``."""
        self.advance()
        self._scheduled = sorted([*self._scheduled, (at, enable)])
        self.advance()  # a time already past takes effect now

    @property
    def scheduled(self) -> tuple[tuple[float, bool], ...]:
        self.advance()
        return tuple(self._scheduled)

    def _set_mining(self, enable: bool, now: float) -> bool:
        if enable == self.mining_enabled:
            return True
        if enable:
            self.mining_enabled = True
            if self.running:
                if self.curtail_up_s is None:
                    self._start_hashing(now)
                else:  # a quick ramp: a quarter warm-up, the rest ramp
                    up = max(self.curtail_up_s, 1e-3)
                    self._start_hashing(now, warmup_s=0.25 * up, ramp_s=0.75 * up)
            self.counters.resumes += 1
        else:
            if self.running:
                self._stop_hashing(now, down_s=self.curtail_down_s)
            self.mining_enabled = False
            self.counters.pauses += 1
        return False

    def stop(self) -> bool:
        """Stop the mining process; returns True when already stopped."""
        now = self.advance()
        if not self.running:
            return True
        if self.mining_enabled:
            self._stop_hashing(now)
        self.running = False
        return False

    def start(self) -> bool:
        """Start the mining process; returns True when it was already running."""
        now = self.advance()
        if self.running:
            return True
        self.running = True
        self.bosminer_started_at = now
        self.active_target_w = self.saved_target_w
        if self.mining_enabled:
            self._start_hashing(now)
        return False

    def restart(self) -> None:
        """Restart the mining process: mining stops and warms up again."""
        now = self.advance()
        if self.hashing_enabled:
            self._stop_hashing(now)
        self.running = True
        self.bosminer_started_at = now
        self.active_target_w = self.saved_target_w
        self.counters.restarts += 1
        if self.mining_enabled:
            self._start_hashing(now)

    def set_power_target(self, watts: int, *, apply: bool, force: bool) -> int:
        """Save ``watts`` and, with ``apply``, re-target the boards (``force``: by a restart)."""
        low, high = self.target_limits()
        if watts < low or watts > high:
            raise TargetRefused(f"power target {watts} W is outside [{low}, {high}] W")
        self.advance()
        self.saved_target_w = watts
        if apply:
            self.counters.target_changes += 1
            if force:
                self.restart()
            else:
                self.active_target_w = watts
        return watts

    def _stop_hashing(self, now: float, *, down_s: float = 0.0) -> None:
        dyn = self._dyn
        dyn.hash_at_stop = self._instant_ths(now)
        dyn.power_at_stop = self._power_at(now) - self.spec.idle_w if down_s > 0 else 0.0
        dyn.stopped_at = now
        dyn.down_s = down_s
        dyn.ramp = 0.0

    def _start_hashing(
        self, now: float, *, warmup_s: float | None = None, ramp_s: float | None = None
    ) -> None:
        dyn = self._dyn
        dyn.ramp = 0.0
        dyn.hash_from = now + (self.warmup_s if warmup_s is None else warmup_s)
        dyn.ramp_s = self.ramp_s if ramp_s is None else ramp_s
        dyn.down_s = 0.0
        dyn.stopped_at = None
        dyn.hash_at_stop = 0.0


@dataclass(slots=True)
class Credentials:
    """The login the miner accepts and the tokens it has issued."""

    username: str = "root"
    password: str = "root"
    token_timeout_s: int = 3600
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)

    def issue(self, now: float) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = now + self.token_timeout_s
        return token

    def valid(self, token: str | None, now: float) -> bool:
        if not token:
            return False
        expiry = self.tokens.get(token)
        if expiry is None or expiry < now:
            self.tokens.pop(token, None)
            return False
        # Validity is refreshed with each request, as BOSer documents.
        self.tokens[token] = now + self.token_timeout_s
        return True

    def revoke_all(self) -> None:
        self.tokens.clear()
