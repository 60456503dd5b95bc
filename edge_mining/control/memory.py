"""What the controller remembers about each miner between ticks, and how it reads telemetry.

The controller's *intent* (running or not) is what its timers count from. Telemetry is the
truth about the miner: STARTING/MINING count as running; PAUSED/STOPPING as stopped;
UNREACHABLE/ERROR as unavailable (skipped, its power not counted).

- A command the miner has not followed yet is *pending*: it is sent again only after
  ``command_retry_s`` (so the daemon is not spammed, yet a lost command is not lost forever).
- A miner that followed a command and later changed state by itself (a user's web UI, a fault,
  a power cut) is *adopted*: an outside stop starts its minimum off-time; an outside start
  does not get minimum on-time protection (the controller did not decide it).
- A miner that took part in a *handover* (see ``allocation``) remembers when, so it takes part
  in at most one per ``min_on_s``; a miner handing over waits for its successor to run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_mining.config import MinerConfig
from edge_mining.control.timers import DailyCounter, HoldTimer
from edge_mining.model import Action, HashrateCurve, MinerState, PowerLevel


@dataclass(slots=True)
class ManualOverride:
    """A user's explicit command; holds until released."""

    running: bool | None = None
    power_w: float | None = None


@dataclass(slots=True)
class MinerMemory:
    config: MinerConfig
    # Position in the fill order (0 first).
    rank: int
    intent: bool | None = None  # None until the first telemetry
    followed: bool = True
    last_command: Action | None = None
    last_command_at: float | None = None
    on_since: float | None = None
    off_since: float | None = None
    target_w: float | None = None
    target_changed_at: float | None = None
    target_sent_at: float | None = None
    start_timer: HoldTimer = field(default_factory=HoldTimer)
    stop_timer: HoldTimer = field(default_factory=HoldTimer)
    starts: DailyCounter = field(default_factory=DailyCounter)
    manual: ManualOverride | None = None
    # Last handover this miner took part in (either side), and the successor a running miner
    # waits for before it stops (None when it is not handing over).
    handover_at: float | None = None
    handover_to: MinerMemory | None = None
    # A miner that handed its power over does not start again before this time.
    rest_until: float | None = None
    reason: str = "waiting for telemetry"
    # Hashrate against power: the configured curve, else the miner's own profile once it
    # reports one, else the nominal J/TH.
    curve: HashrateCurve = field(init=False)
    # A level miner's levels, lowest first: the configured ones, else those its driver
    # reports (then they also make its curve, unless a curve is configured).
    levels: tuple[PowerLevel, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.curve = self.config.curve()
        self.levels = self.config.power_levels()

    @property
    def name(self) -> str:
        return self.config.name

    def hashrate_at(self, power_w: float) -> float:
        return self.curve.hashrate_at(power_w)

    def learn_levels(self, state: MinerState) -> None:
        """Take the levels the miner reports, when none are configured."""
        if self.config.levels or not state.levels or not self.config.power_target:
            return
        reported = tuple(sorted(state.levels, key=lambda lv: lv.power_w))
        if reported == self.levels:
            return
        self.levels = reported
        if self.config.configured_curve() is None:
            try:
                points = tuple((lv.power_w, lv.hashrate_ths) for lv in reported)
                self.curve = HashrateCurve(points, source="reported levels")
            except ValueError:
                pass  # levels that make no curve (equal powers): keep the nominal one

    def learn_curve(self, state: MinerState) -> None:
        """Take the efficiency curve the miner publishes, when none is configured."""
        if state.curve is None or self.config.configured_curve() is not None:
            return
        if self.config.levels or state.levels:
            return  # a miner with levels: its levels are its curve
        self.curve = state.curve

    def may_start(self, now: float, max_starts_per_day: int) -> bool:
        """Not running, it could still start today: starts left, not resting."""
        if self.starts.count(now) >= max_starts_per_day:
            return False
        return self.rest_until is None or self.rest_until <= now

    def observe(self, state: MinerState, now: float) -> None:
        """Reconcile the intent with this tick's telemetry."""
        self.learn_levels(state)
        self.learn_curve(state)
        running = state.status.is_running
        if self.intent is None:
            self.intent = running
            self.followed = True
            if running and self.config.power_target:
                reported = state.power_target_w or state.power_w or self.config.nominal_power_w
                self.target_w = reported
            return
        if running == self.intent:
            self.followed = True
            return
        if self.followed:
            # It did what we asked, then changed by itself: adopt what it is doing.
            self.intent = running
            self.handover_to = None
            self.start_timer.reset()
            self.stop_timer.reset()
            if running:
                self.on_since = None
                if self.config.power_target:
                    self.target_w = state.power_target_w or state.power_w or self.target_w
            else:
                self.off_since = now
            self.reason = "started outside the controller" if running else "stopped outside"
