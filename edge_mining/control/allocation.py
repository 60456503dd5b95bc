"""Who gets the available power: miners filled in priority order, with hysteresis and delays.

Three passes per tick, each in fill order (``priority`` ascending; miners without a priority
after those with one, most efficient J/TH first):

1. *Keep*: running miners claim their minimum (power-target miners) or nominal power (on/off
   miners). A miner whose claim no longer fits, by more than ``stop_deficit_w``, must show that
   deficit continuously for ``stop_delay_s`` and have run ``min_on_s`` before it is stopped;
   until then it is kept (at minimum power). A breached battery floor skips all of that.
2. *Start*: stopped miners start when their claim plus ``start_surplus_w`` fits in what is
   left, continuously for ``start_delay_s``, after ``min_off_s``, within
   ``max_starts_per_day``. Higher-priority miners are served first; a running lower-priority
   miner is never pre-empted (that would be churn).
3. *Follow*: running power-target miners share what is left, in order, each up to its max,
   through the rate-limited follower.

A miner in a heating zone that wants heat may also spend its zone's budget after the shared
pool. A miner failing the economics gate may not use the shared pool at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_mining.config import ControlConfig, MinerConfig
from edge_mining.control.following import next_target
from edge_mining.control.heating import ZoneBudget
from edge_mining.control.memory import MinerMemory
from edge_mining.control.timers import elapsed
from edge_mining.model import MinerState


def fill_order(miners: Sequence[MinerConfig]) -> list[MinerConfig]:
    """Priority ascending; miners without priority last, by efficiency (J/TH) best first."""
    return sorted(
        miners,
        key=lambda m: (
            m.priority is None,
            m.priority if m.priority is not None else 0,
            m.efficiency_j_per_th,
            m.name,
        ),
    )


@dataclass(slots=True)
class Candidate:
    """One automatically controlled, reachable miner, and its plan for this tick."""

    memory: MinerMemory
    state: MinerState
    low_w: float
    high_w: float
    # Power it needs to run: its minimum target, or its nominal power when on/off only.
    claim_w: float
    gated: bool = False
    zone: ZoneBudget | None = None
    running: bool = False
    target_w: float | None = None
    reason: str = ""
    count_start: bool = False
    new_start: bool = False


@dataclass(slots=True)
class Pools:
    """The power on offer and what has been claimed from it (W)."""

    keep_w: float
    start_w: float
    # The part of it that is surplus (no battery allowance).
    surplus_w: float
    used_w: float = 0.0
    probe_start_w: float = 0.0

    def free(self, candidate: Candidate, limit_w: float) -> float:
        shared = 0.0 if candidate.gated else limit_w - self.used_w
        if candidate.zone is None:
            return shared
        return max(0.0, shared) + candidate.zone.remaining_w

    def take(self, candidate: Candidate, watts: float, limit_w: float) -> None:
        shared_free = 0.0 if candidate.gated else max(0.0, limit_w - self.used_w)
        from_zone = 0.0
        if candidate.zone is not None:
            from_zone = candidate.zone.take(watts - shared_free)
        self.used_w += watts - from_zone


@dataclass(frozen=True, slots=True)
class Situation:
    """Facts of this tick the passes need."""

    now: float
    control: ControlConfig
    at_floor: bool
    floor_breached: bool
    # A start may be tried on a hidden surplus (battery full, PV probably curtailed).
    probe_start_ok: bool


def _keep(c: Candidate, pools: Pools, s: Situation) -> None:
    control = s.control
    memory = c.memory
    free = pools.free(c, pools.keep_w)
    # A start the miner has not followed yet costs nothing to cancel: no tolerance, no delay.
    pending = not memory.followed and not c.state.status.is_running
    tolerance = 0.0 if s.floor_breached or pending else control.stop_deficit_w
    deficit = free < c.claim_w - tolerance
    held = memory.stop_timer.update(deficit, s.now)
    if deficit:
        short = f"{max(0.0, free):.0f} W free for {c.claim_w:.0f} W"
        if pending:
            c.reason = f"start cancelled: not enough power ({short})"
            return
        if s.floor_breached:
            c.reason = f"battery at stop SoC and discharging ({short}): stop now"
            return
        min_on_left = control.min_on_s - elapsed(memory.on_since, s.now)
        if held >= control.stop_delay_s and min_on_left <= 0:
            c.reason = f"not enough power for {held:.0f} s ({short})"
            return
        if held < control.stop_delay_s:
            c.reason = f"short of power ({short}): stop in {control.stop_delay_s - held:.0f} s"
        else:
            c.reason = f"short of power ({short}): minimum run time, {min_on_left:.0f} s left"
    elif c.zone is not None and pools.free(c, pools.surplus_w) < c.claim_w:
        c.reason = f"running for heat (zone {c.zone.name})"
    elif pools.free(c, pools.surplus_w) < c.claim_w - tolerance:
        c.reason = "running on the battery allowance"
    else:
        c.reason = "running on surplus"
    c.running = True
    pools.take(c, c.claim_w, pools.keep_w)


def _start(c: Candidate, pools: Pools, s: Situation, probed: bool) -> bool:
    """Plan a start if allowed; returns True when it is a probe start."""
    control = s.control
    memory = c.memory
    free = pools.free(c, pools.start_w)
    need = c.claim_w + control.start_surplus_w
    fits = free >= need
    probe = not fits and not probed and s.probe_start_ok
    held = memory.start_timer.update(fits or probe, s.now)
    if not (fits or probe):
        floor = ", battery at or below stop SoC" if s.at_floor else ""
        c.reason = f"waiting for surplus ({max(0.0, free):.0f} W of {need:.0f} W){floor}"
        return False
    what = "hidden surplus (battery full)" if probe else "surplus"
    if held < control.start_delay_s:
        c.reason = f"{what} for {held:.0f} s of {control.start_delay_s:.0f} s"
        return False
    min_off_left = control.min_off_s - elapsed(memory.off_since, s.now)
    if min_off_left > 0:
        c.reason = f"{what}, but minimum off-time: {min_off_left:.0f} s left"
        return False
    starts = memory.starts.count(s.now)
    if starts >= control.max_starts_per_day:
        c.reason = f"{what}, but {starts} starts today: daily limit reached"
        return False
    c.running = True
    c.new_start = True
    c.count_start = True
    c.reason = f"start: probing {what}" if probe else f"start: {what} for {held:.0f} s"
    if probe:
        pools.probe_start_w += max(0.0, c.claim_w - max(0.0, free))
    pools.take(c, c.claim_w, pools.start_w + (c.claim_w if probe else 0.0))
    return probe


def _follow(c: Candidate, pools: Pools, s: Situation) -> None:
    control = s.control
    memory = c.memory
    free = pools.free(c, pools.keep_w)
    extra = min(c.high_w - c.low_w, max(0.0, free))
    desired = c.low_w + extra
    if c.new_start:
        target = min(desired, c.low_w + control.power_step_w)
    else:
        current = memory.target_w if memory.target_w is not None else c.low_w
        target = next_target(
            current,
            desired,
            low=c.low_w,
            high=c.high_w,
            since_change_s=elapsed(memory.target_changed_at, s.now),
            control=control,
            urgent=s.floor_breached,
        )
    c.target_w = target
    pools.take(c, max(desired, target) - c.low_w, pools.keep_w)


def allocate(candidates: Sequence[Candidate], pools: Pools, situation: Situation) -> None:
    """Plan every candidate (in fill order) in place."""
    for c in candidates:
        if c.memory.intent:
            _keep(c, pools, situation)
    probed = False
    for c in candidates:
        if not c.memory.intent:
            probed = _start(c, pools, situation, probed) or probed
    for c in candidates:
        if c.running and c.memory.config.power_target:
            _follow(c, pools, situation)
