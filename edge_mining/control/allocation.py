"""Who gets the available power: miners filled in priority order, with hysteresis and delays.

Three passes per tick, each in fill order (``priority`` ascending; miners without a priority
after those with one, most efficient J/TH first):

1. *Keep*: running miners claim their minimum (power-target miners) or nominal power (on/off
   miners). A miner whose claim no longer fits, by more than ``stop_deficit_w``, must show that
   deficit continuously for ``stop_delay_s`` and have run ``min_on_s`` before it is stopped;
   until then it is kept (at minimum power). A breached battery floor skips all of that.
2. *Start*: stopped miners start when their claim plus ``start_surplus_w`` fits in what is
   left, continuously for ``start_delay_s``, after ``min_off_s``, within
   ``max_starts_per_day``. Higher-priority miners are served first: what is left excludes the
   headroom (maximum minus claim) of running power-target miners earlier in the fill order,
   which the follow pass gives them, so a worse miner never starts by squeezing a better one
   down to its minimum (the better one would take the power back by a handover: churn).
   *Handover*: a stopped miner that does not fit in what is left may take over from running
   miners later in the fill order (lowest priority first) when their power plus what is left
   covers its claim plus ``start_surplus_w`` and it would mine at least ``HANDOVER_MIN_GAIN``
   more hashrate than they do (an S19j Pro instead of two S9s). The successor keeps its own
   start delay, minimum off-time and daily start limit; each miner handed over must have run
   ``min_on_s``; a miner takes part in at most one handover per ``min_on_s``, and one that
   handed over rests ``HANDOVER_REST_S`` (at least ``min_on_s``) before it restarts. When
   the successor fits beside them (within the available power plus the battery allowance),
   they keep running until it is confirmed running; otherwise they stop in the same tick
   (stop commands go out before start commands), so the plan never exceeds the power.
   The same holds for a running power-target miner held below its maximum by the minimum
   power of worse miners: they stop and it takes their power in the same tick.
3. *Follow*: running power-target miners share what is left by marginal hashrate per watt
   (each miner's efficiency curve: the next watt goes where it buys the most hashrate; with
   equal rates, in fill order), each up to its max, through the rate-limited follower. A
   miner with power levels takes its steps whole (level to next level) in that sharing, and
   runs at the highest level its share fits, with a dwell per level and hysteresis
   (:mod:`edge_mining.control.levels`).

A miner in a heating zone that wants heat may also spend its zone's budget after the shared
pool. A miner failing the economics gate may not use the shared pool at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_mining.config import ControlConfig, MinerConfig
from edge_mining.control import levels as level_rules
from edge_mining.control.following import next_target
from edge_mining.control.heating import ZoneBudget
from edge_mining.control.memory import MinerMemory
from edge_mining.control.timers import elapsed
from edge_mining.model import MinerState, PowerLevel

# A handover must raise the hashrate by at least this fraction (hysteresis against churn).
HANDOVER_MIN_GAIN = 0.2
# A miner that handed its power over rests this long (at least ``min_on_s``) before it may
# start again: the surplus that would let it restart soon is usually the one that makes it
# hand over again (a passing cloud). Measured on a year of backtest: fewer starts, no loss.
HANDOVER_REST_S = 3600.0


def fill_order(miners: Sequence[MinerConfig]) -> list[MinerConfig]:
    """Priority ascending; miners without priority last, by efficiency best first: the
    hashrate per watt at their minimum power (what a start buys), from their curves."""
    return sorted(
        miners,
        key=lambda m: (
            m.priority is None,
            m.priority if m.priority is not None else 0,
            -m.curve().start_ths_per_w,
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
    # The plan commits this miner now: it starts on its minimum power (no start surplus).
    planned: bool = False
    # Not in the plan now: kept off the shared pool (``gated`` is set too).
    plan_gated: bool = False
    running: bool = False
    target_w: float | None = None
    reason: str = ""
    count_start: bool = False
    new_start: bool = False
    # Power taken over from stopped lower-priority miners this tick (W).
    boost_w: float = 0.0
    # The successor this miner stops for, now that it runs.
    handed_to: MinerMemory | None = None
    # A level miner's levels inside [low_w, high_w], lowest first (empty: continuous).
    levels: tuple[PowerLevel, ...] = ()


@dataclass(slots=True)
class Pools:
    """The power on offer and what has been claimed from it (W)."""

    keep_w: float
    start_w: float
    # The part of it that is surplus (no battery allowance).
    surplus_w: float
    used_w: float = 0.0
    probe_start_w: float = 0.0
    # Power claimed by miners started this tick: the running miners it squeezes must make
    # room at once (a small cut is otherwise held back as noise, and the start would draw on
    # top of their unchanged targets).
    started_w: float = 0.0

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
    successor = memory.handover_to
    if successor is not None:
        if successor.intent and successor.followed:
            memory.handover_to = None
            c.handed_to = successor
            c.reason = f"handed over to {successor.name} (now running)"
            memory.stop_timer.reset()
            return
        if not successor.intent:  # its start was cancelled: carry on as before
            memory.handover_to = None
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


def _may_hand_over(v: Candidate, s: Situation) -> bool:
    """A running miner that may give its power to a better one this tick."""
    memory = v.memory
    return (
        v.running
        and not v.new_start
        and memory.followed
        and memory.handover_to is None
        and not v.gated
        and v.zone is None
        and elapsed(memory.on_since, s.now) >= s.control.min_on_s
        and elapsed(memory.handover_at, s.now) >= s.control.min_on_s
    )


def _handover_victims(
    c: Candidate,
    eligible: Sequence[Candidate],
    pools: Pools,
    s: Situation,
    reserved_w: float = 0.0,
) -> list[Candidate] | None:
    """Running miners after ``c`` in fill order whose power ``c`` would use better, or None.

    ``c`` is stopped (it needs its claim plus ``start_surplus_w``) or running below its
    maximum power (it needs room to grow). The hashrate ``c`` gains from their power must beat
    what they mine by ``HANDOVER_MIN_GAIN``.
    """
    control = s.control
    if (
        c.gated
        or c.zone is not None
        or s.floor_breached
        or elapsed(c.memory.handover_at, s.now) < control.min_on_s
    ):
        return None
    running = bool(c.memory.intent)
    # What ``c`` could draw without a handover (negative free: the pool is already short,
    # e.g. a miner kept through its stop delay; that shortfall is not handed over).
    if running:
        # Kept at its claim; the follow pass would give it the rest of the pool first.
        base = c.claim_w + pools.free(c, pools.keep_w)
        if not c.memory.config.power_target or base >= c.high_w - control.power_deadband_w:
            return None
        need = c.claim_w
        without_w = min(c.high_w, max(c.claim_w, base))
    else:
        base = pools.free(c, pools.start_w - reserved_w)
        need = c.claim_w + control.start_surplus_w
        without_w = 0.0
    victims: list[Candidate] = []
    chosen: list[Candidate] | None = None
    freed = 0.0
    before_ths = 0.0
    # Lowest priority first; the longest run of them that pays, until ``c`` is full.
    for v in eligible:
        if v.memory.rank <= c.memory.rank:
            break
        if not v.running or v.memory.handover_to is not None:
            continue  # already handed over this tick
        victims.append(v)
        freed += v.claim_w
        before_ths += v.memory.hashrate_at(max(v.state.power_w, v.claim_w))
        if base + freed < need:
            continue
        power = min(c.high_w, base + freed) if c.memory.config.power_target else c.claim_w
        gain_ths = c.memory.hashrate_at(power) - c.memory.hashrate_at(without_w)
        if gain_ths >= (1.0 + HANDOVER_MIN_GAIN) * before_ths:
            chosen = list(victims)
        if power >= c.high_w:
            break  # no room for more
    return chosen


def _start(
    c: Candidate,
    pools: Pools,
    s: Situation,
    probed: bool,
    eligible: Sequence[Candidate] = (),
    reserved_w: float = 0.0,
) -> bool:
    """Plan a start if allowed; returns True when it is a probe start.

    ``reserved_w`` is the headroom of better running power-target miners: not on offer here.
    """
    control = s.control
    memory = c.memory
    limit_w = pools.start_w - reserved_w
    free = pools.free(c, limit_w)
    need = c.claim_w + (0.0 if c.planned else control.start_surplus_w)
    fits = free >= need
    victims = None
    if not fits and eligible and eligible[0].memory.rank > memory.rank:
        victims = _handover_victims(c, eligible, pools, s, reserved_w)
    # A better running miner that can still rise absorbs a hidden surplus by its own probing.
    probe = (
        not fits
        and victims is None
        and not probed
        and s.probe_start_ok
        and reserved_w <= 0
        and not c.plan_gated
    )
    held = memory.start_timer.update(fits or probe or victims is not None, s.now)
    if not (fits or probe or victims is not None):
        floor = ", battery at or below stop SoC" if s.at_floor else ""
        c.reason = f"waiting for surplus ({max(0.0, free):.0f} W of {need:.0f} W){floor}"
        return False
    names = ", ".join(v.memory.name for v in victims or ())
    what = (
        "hidden surplus (battery full)"
        if probe
        else f"more hashrate than {names}"
        if victims
        else "surplus"
    )
    if held < control.start_delay_s:
        c.reason = f"{what} for {held:.0f} s of {control.start_delay_s:.0f} s"
        return False
    min_off_left = control.min_off_s - elapsed(memory.off_since, s.now)
    if memory.rest_until is not None:
        min_off_left = max(min_off_left, memory.rest_until - s.now)
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
    if victims:
        _hand_over(c, victims, pools, s, beside=free >= c.claim_w)
    if probe:
        pools.probe_start_w += max(0.0, c.claim_w - max(0.0, free))
    pools.started_w += c.claim_w
    pools.take(c, c.claim_w, limit_w + (c.claim_w if probe else 0.0))
    return probe


def _hand_over(
    c: Candidate, victims: Sequence[Candidate], pools: Pools, s: Situation, *, beside: bool
) -> None:
    """``c`` takes the power of ``victims``: they stop now, or once ``c`` runs if it fits beside
    them (a start). A running ``c`` may raise its target by their power at once: a swap, the
    site's total does not change, so the follower's rate limit has nothing to protect."""
    c.memory.handover_at = s.now
    names = ", ".join(v.memory.name for v in victims)
    if c.new_start:
        c.reason = f"start: handover, {c.reason.removeprefix('start: ')}"
    else:
        c.boost_w = sum(max(v.state.power_w, v.claim_w) for v in victims)
        c.reason = f"{c.reason}; taking over the power of {names}"
    for v in victims:
        v.memory.handover_at = s.now
        v.memory.rest_until = s.now + max(HANDOVER_REST_S, s.control.min_on_s)
        if beside:
            v.memory.handover_to = c.memory
            v.reason = f"handing over to {c.memory.name}: stops once it runs"
        else:
            v.running = False
            v.reason = f"stop: handed over to {c.memory.name} (more hashrate for the power)"
            pools.used_w -= v.claim_w


def _water_fill(followers: Sequence[Candidate], free_w: float) -> dict[int, float]:
    """Share ``free_w`` above each follower's minimum by marginal hashrate per watt: curve
    segments in falling order of slope (ties in fill order), each up to the miner's max. A
    level miner's segments are its steps from level to level, taken whole and in order."""
    pieces: list[tuple[float, int, int, int, float, bool]] = []
    for order, c in enumerate(followers):
        curve = c.memory.curve
        if c.levels:
            edges = [lv.power_w for lv in c.levels]
        else:
            inner = [w for w, _ in curve.points if c.low_w < w < c.high_w]
            edges = [c.low_w, *inner, c.high_w]
        for index, (a, b) in enumerate(zip(edges, edges[1:], strict=False)):
            if b > a:
                slope = (curve.hashrate_at(b) - curve.hashrate_at(a)) / (b - a)
                pieces.append((-slope, order, index, id(c), b - a, bool(c.levels)))
    pieces.sort(key=lambda p: (p[0], p[1], p[2]))
    extra: dict[int, float] = {id(c): 0.0 for c in followers}
    taken: dict[int, int] = {}  # a level miner's steps taken so far (they go in order)
    blocked: set[int] = set()
    left = max(0.0, free_w)
    for _, _, index, key, width, whole in pieces:
        if left <= 0:
            break
        if whole:
            if key in blocked or taken.get(key, 0) != index or width > left + 1e-9:
                blocked.add(key)
                continue
            taken[key] = index + 1
        take = min(width, left)
        extra[key] += take
        left -= take
    return extra


def _follow(c: Candidate, pools: Pools, s: Situation, share_w: float | None = None) -> None:
    """Move ``c``'s target towards its share: ``share_w`` above its minimum when the shared
    pool was split by :func:`_water_fill`, else all it can take of what is free."""
    control = s.control
    memory = c.memory
    if share_w is None:
        free = pools.free(c, pools.keep_w)
        extra = min(c.high_w - c.low_w, max(0.0, free))
    else:
        extra = min(c.high_w - c.low_w, max(0.0, share_w))
    desired = c.low_w + extra
    if c.levels:
        _follow_levels(c, pools, s, desired)
        return
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
            urgent=s.floor_breached or pools.started_w > 0,
        )
        if c.boost_w > 0:
            target = max(target, min(desired, current + c.boost_w))
    c.target_w = target
    pools.take(c, max(desired, target) - c.low_w, pools.keep_w)


def _follow_levels(c: Candidate, pools: Pools, s: Situation, desired: float) -> None:
    """A level miner runs at the highest level its share fits (dwell and hysteresis)."""
    memory = c.memory
    available = c.low_w + max(0.0, pools.free(c, pools.keep_w))
    if c.new_start:
        # Started at the level that fits a first step, like a continuous miner's ramp.
        level = level_rules.highest_fitting(
            c.levels, min(desired, c.low_w + s.control.power_step_w)
        )
        why = f"level {level.name} ({level.power_w:.0f} W)"
    else:
        current = level_rules.current_level(c.levels, c.state.level, memory.target_w)
        step = level_rules.choose(
            c.levels,
            desired_w=desired,
            available_w=available,
            current=current,
            since_change_s=elapsed(memory.target_changed_at, s.now),
            dwell_s=memory.config.level_dwell_s,
            control=s.control,
            urgent=s.floor_breached or pools.started_w > 0,
        )
        level, why = step.level, step.reason
    c.target_w = level.power_w
    c.reason = f"{c.reason}; {why}"
    pools.take(c, level.power_w - c.low_w, pools.keep_w)


def allocate(candidates: Sequence[Candidate], pools: Pools, situation: Situation) -> None:
    """Plan every candidate (in fill order) in place."""
    for c in candidates:
        if c.memory.intent:
            _keep(c, pools, situation)
    for c in candidates:
        if c.handed_to is not None:  # the successor takes its power at once (a swap)
            for successor in candidates:
                if successor.memory is c.handed_to:
                    successor.boost_w += max(c.state.power_w, c.claim_w)
    # Who may hand its power over this tick, lowest priority first.
    eligible = [c for c in reversed(candidates) if _may_hand_over(c, situation)]
    probed = False
    reserved_w = 0.0
    for c in candidates:
        if not c.memory.intent:
            # A miner the plan commits is not kept off by better miners' headroom: the plan
            # already chose who carries the budget.
            held_back = 0.0 if c.planned else reserved_w
            probed = _start(c, pools, situation, probed, eligible, held_back) or probed
        if c.running and c.memory.config.power_target:
            reserved_w += max(0.0, c.high_w - c.claim_w)
    last_rank = eligible[0].memory.rank if eligible else -1
    for c in candidates:
        if c.memory.rank >= last_rank:
            break  # nobody after it may hand over
        if c.running and not c.new_start and c.memory.intent and c.memory.config.power_target:
            victims = _handover_victims(c, eligible, pools, situation)
            if victims:
                _hand_over(c, victims, pools, situation, beside=False)
    followers = [c for c in candidates if c.running and c.memory.config.power_target]
    shared = [c for c in followers if not c.gated and c.zone is None]
    shared_ids = {id(c) for c in shared}
    shares: dict[int, float] | None = None
    for c in followers:
        if id(c) in shared_ids:
            if shares is None:  # split the shared pool once, when its first miner's turn comes
                shares = _water_fill(shared, pools.keep_w - pools.used_w)
            _follow(c, pools, situation, shares[id(c)])
        else:
            _follow(c, pools, situation)
