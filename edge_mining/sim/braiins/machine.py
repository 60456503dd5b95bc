"""The behaviour of one emulated BraiinsOS miner: no I/O, time from an injected clock.

What a real machine does, and so what this model does (all durations in the clock's seconds,
so a :class:`~edge_mining.clock.ScaledClock` speeds everything up for a demo or a test):

- ``resume``: the hashboards re-initialise for ``warmup_s`` (fans and control board only,
  5 s hashrate still 0), then hashrate ramps linearly to the tuned level over ``ramp_s``.
- ``pause``: hashing stops at once; the 5 s average decays to 0 over the next 5 s, which is
  why a client must wait for telemetry before calling the miner paused.
- power target with SAVE_AND_APPLY: the tuner moves the power level towards the new target
  with a first-order lag (95 % of the way after ``settle_s``), mining never stops.
  SAVE_AND_FORCE_APPLY restarts bosminer (warm-up and ramp again, ``restarts`` counts it).
  SAVE only stores the value for the next start.
- Hashrate follows power sub-linearly (lower power, better J/TH), as a tuned BraiinsOS does;
  :meth:`MinerMachine.efficiency_profile` publishes that curve as the tuner's profile
  (``GetMinerEfficiencyProfile``), with fans and temperatures from the same draw model.
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass, field

from edge_mining.clock import Clock

HASH_WINDOW_S = 5.0  # the "5 s" hashrate window BraiinsOS reports
HASH_EXPONENT = 0.8  # hashrate ~ power ** 0.8 around the nominal point
WARMUP_POWER_FRACTION = 0.05  # share of the level drawn while boards initialise

# The saved configuration every emulated miner reports (gRPC, bosminer.toml, cgminer pools).
POOL_URL = "stratum+tcp://stratum.braiins.com:3333"
TARGET_TEMP_C = 75.0
HOT_TEMP_C = 85.0
DANGEROUS_TEMP_C = 95.0


@dataclass(frozen=True, slots=True)
class MinerSpec:
    """A hardware model as BraiinsOS describes it."""

    key: str  # short name accepted by --model, e.g. "S19j Pro"
    model: str  # as in devdetails without the "Bitmain " prefix
    legacy: bool  # True: old BOSminer (cgminer API + LuCI only, no gRPC)
    nominal_ths: float
    nominal_w: float
    min_target_w: int
    max_target_w: int
    default_target_w: int
    hashboards: int = 3
    chips_per_board: int = 126
    fans: int = 4
    idle_w: float = 25.0
    platform: int = 3  # braiins.bos.v1.Platform
    soc_family: int = 2  # braiins.bos.v1.ControlBoardSocFamily


MODELS: dict[str, MinerSpec] = {
    spec.key.upper(): spec
    for spec in (
        MinerSpec("S19j Pro", "Antminer S19j Pro", False, 104.0, 3068.0, 1200, 3600, 3068),
        MinerSpec(
            "S19 XP",
            "Antminer S19 XP",
            False,
            140.0,
            3010.0,
            1300,
            3500,
            3010,
            chips_per_board=110,
        ),
        MinerSpec("S19", "Antminer S19", False, 95.0, 3250.0, 1300, 3700, 3250, chips_per_board=76),
        MinerSpec(
            "S21", "Antminer S21", False, 200.0, 3500.0, 1500, 4000, 3500, chips_per_board=108
        ),
        MinerSpec(
            "S9",
            "Antminer S9",
            True,
            13.5,
            1323.0,
            600,
            1600,
            1323,
            chips_per_board=63,
            fans=2,
            platform=1,
            soc_family=4,
        ),
    )
}


def find_model(name: str) -> MinerSpec:
    """The spec for ``name`` ("S19j Pro", "Antminer S19j Pro", case-insensitive)."""
    key = name.strip().upper().removeprefix("BITMAIN ").removeprefix("ANTMINER ")
    try:
        return MODELS[key]
    except KeyError:
        known = ", ".join(spec.key for spec in MODELS.values())
        raise ValueError(f"unknown miner model {name!r}; known: {known}") from None


@dataclass(slots=True)
class Faults:
    """Faults injected into an emulated miner; all can be changed while it runs."""

    unreachable: bool = False  # listeners closed: connections are refused
    slow_s: float = 0.0  # every reply delayed this many wall seconds
    auth: bool = False  # logins fail and every issued token is rejected
    refuse_target: bool = False  # power target changes are refused

    @classmethod
    def parse(cls, text: str) -> Faults:
        """``"unreachable,slow=2.5,auth,refuse_target"`` (empty: no fault)."""
        faults = cls()
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            if name == "unreachable":
                faults.unreachable = True
            elif name == "slow":
                faults.slow_s = float(value or "5")
            elif name == "auth":
                faults.auth = True
            elif name == "refuse_target":
                faults.refuse_target = True
            else:
                raise ValueError(
                    f"unknown fault {name!r}; known: unreachable, slow=S, auth, refuse_target"
                )
        return faults


@dataclass(frozen=True, slots=True)
class ProfilePoint:
    """One point of the tuner's efficiency profile (what GetMinerEfficiencyProfile reports)."""

    quality: int
    power_target_w: int
    consumption_w: int
    fan_speed_pct: int
    outlet_temp_c: float
    ambient_temp_c: float
    hashrate_ths: float
    frequency_hz: float
    voltage_v: float


PROFILE_POINTS = 10
PROFILE_QUALITY = 3  # tuned profiles each point is interpolated from
AMBIENT_TEMP_C = 25.0
NOMINAL_CHIP_MHZ = 525.0


class TargetRefused(Exception):
    """The miner refused a power target (out of its constraints, or an injected fault)."""


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
    ema_1m_ths: float = 0.0
    ema_5m_ths: float = 0.0
    ema_15m_ths: float = 0.0


class MinerMachine:
    """State and dynamics of one miner. Every accessor first advances to the clock's now."""

    def __init__(
        self,
        spec: MinerSpec,
        clock: Clock,
        *,
        warmup_s: float = 10.0,
        ramp_s: float = 30.0,
        settle_s: float = 20.0,
        mining: bool = True,
        seed: int = 0,
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.warmup_s = warmup_s
        self.ramp_s = ramp_s
        self.settle_s = settle_s
        now = clock.now()
        self.booted_at = now
        self.bosminer_started_at = now
        self.running = True  # the bosminer process (gRPC start/stop)
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
        level = float(spec.default_target_w)
        ramp = 1.0 if mining else 0.0
        self._dyn = _Dynamics(ramp=ramp, level_w=level, hash_from=now, last=now)
        if mining:
            rate = self.hashrate_at(level)
            self._dyn.ema_1m_ths = self._dyn.ema_5m_ths = self._dyn.ema_15m_ths = rate

    # ------------------------------------------------------------------------- dynamics

    @property
    def hashing_enabled(self) -> bool:
        return self.running and self.mining_enabled

    def hashrate_at(self, level_w: float) -> float:
        """Fully ramped hashrate (TH/s) when the tuner runs at ``level_w``."""
        spec = self.spec
        return spec.nominal_ths * (max(level_w, 0.0) / spec.nominal_w) ** HASH_EXPONENT

    def efficiency_profile(self) -> list[ProfilePoint]:
        """The tuner's efficiency curve over the power-target range, ascending."""
        spec = self.spec
        points = []
        span = spec.max_target_w - spec.min_target_w
        for k in range(PROFILE_POINTS):
            target = round(spec.min_target_w + span * k / (PROFILE_POINTS - 1))
            share = target / spec.nominal_w
            ths = self.hashrate_at(target)
            points.append(
                ProfilePoint(
                    quality=PROFILE_QUALITY,
                    power_target_w=target,
                    consumption_w=target,
                    fan_speed_pct=min(100, round(30 + 50 * share)),
                    outlet_temp_c=round(AMBIENT_TEMP_C + 30.0 * share, 1),
                    ambient_temp_c=AMBIENT_TEMP_C,
                    hashrate_ths=round(ths, 3),
                    frequency_hz=NOMINAL_CHIP_MHZ * 1e6 * ths / spec.nominal_ths,
                    voltage_v=round(12.0 + 2.4 * share, 2),
                )
            )
        return points

    def advance(self) -> float:
        """Move the dynamics to the clock's now; returns now."""
        now = self.clock.now()
        dyn = self._dyn
        dt = now - dyn.last
        if dt <= 0:
            return now
        if self.hashing_enabled:
            tau = max(self.settle_s / 3.0, 1e-6)
            dyn.level_w += (self.active_target_w - dyn.level_w) * (1.0 - math.exp(-dt / tau))
            hashing_dt = now - max(dyn.last, dyn.hash_from)
            if hashing_dt > 0:
                dyn.ramp = min(1.0, dyn.ramp + hashing_dt / max(self.ramp_s, 1e-6))
        rate = self._instant_ths(now)
        self.counters.total_mh += rate * 1e6 * dt
        # Shares at ~1 per 5 s per 100 TH/s; enough for counters that move.
        self.counters.accepted += int(rate * dt / 500.0 + self._rng.random())
        for attr, window in (("ema_1m_ths", 60.0), ("ema_5m_ths", 300.0), ("ema_15m_ths", 900.0)):
            old = getattr(dyn, attr)
            setattr(dyn, attr, old + (rate - old) * (1.0 - math.exp(-dt / window)))
        dyn.last = now
        return now

    def _instant_ths(self, now: float) -> float:
        if not self.hashing_enabled or now < self._dyn.hash_from:
            return 0.0
        return self._dyn.ramp * self.hashrate_at(self._dyn.level_w)

    # ------------------------------------------------------------------------- telemetry

    @property
    def hashrate_ths(self) -> float:
        """Instantaneous hashrate."""
        return self._instant_ths(self.advance())

    @property
    def hashrate_5s_ths(self) -> float:
        """The 5 s average BraiinsOS reports: it lags a pause by up to 5 s."""
        now = self.advance()
        dyn = self._dyn
        if self.hashing_enabled:
            return self._instant_ths(now)
        if dyn.stopped_at is None:
            return 0.0
        left = 1.0 - (now - dyn.stopped_at) / HASH_WINDOW_S
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
        now = self.advance()
        dyn = self._dyn
        idle = self.spec.idle_w
        if not self.hashing_enabled:
            return idle
        if now < dyn.hash_from:
            return idle + WARMUP_POWER_FRACTION * dyn.level_w
        return idle + dyn.ramp * max(dyn.level_w - idle, 0.0)

    @property
    def tuner_stable(self) -> bool:
        self.advance()
        return abs(self._dyn.level_w - self.active_target_w) <= 0.02 * self.active_target_w

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
        if not self.mining_enabled:
            return True
        self._stop_hashing(now)
        self.mining_enabled = False
        self.counters.pauses += 1
        return False

    def resume(self) -> bool:
        """Resume mining; returns True when it was already mining."""
        now = self.advance()
        if self.mining_enabled:
            return True
        self.mining_enabled = True
        if self.running:
            self._start_hashing(now)
        self.counters.resumes += 1
        return False

    def stop(self) -> bool:
        """Stop the bosminer process; returns True when already stopped."""
        now = self.advance()
        if not self.running:
            return True
        if self.mining_enabled:
            self._stop_hashing(now)
        self.running = False
        return False

    def start(self) -> bool:
        """Start the bosminer process; returns True when it was already running."""
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
        """Restart bosminer: mining stops and warms up again."""
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
        """Save ``watts`` and, with ``apply``, re-target the tuner (``force``: by a restart)."""
        if watts < self.spec.min_target_w or watts > self.spec.max_target_w:
            raise TargetRefused(
                f"power target {watts} W is outside [{self.spec.min_target_w}, "
                f"{self.spec.max_target_w}] W"
            )
        self.advance()
        self.saved_target_w = watts
        if apply:
            self.counters.target_changes += 1
            if force:
                self.restart()
            else:
                self.active_target_w = watts
        return watts

    def _stop_hashing(self, now: float) -> None:
        dyn = self._dyn
        dyn.hash_at_stop = self._instant_ths(now)
        dyn.stopped_at = now
        dyn.ramp = 0.0

    def _start_hashing(self, now: float) -> None:
        dyn = self._dyn
        dyn.ramp = 0.0
        dyn.hash_from = now + self.warmup_s
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
