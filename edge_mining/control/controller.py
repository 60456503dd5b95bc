"""The controller's public face: one tick in, commands with reasons out.

Pure and synchronous: no I/O, no asyncio, time only from ``Snapshot.time``. The rules live in
small modules (surplus, battery, timers, following, allocation, heating, economics); this one
wires them together and owns the decisions about modes and safety:

- ``Mode.OFF``: every running miner is stopped; nothing starts.
- ``Mode.AUTO``: the controller decides, except for miners a user took over with
  :meth:`Controller.manual` (held until :meth:`Controller.release`).
- ``Mode.MANUAL``: nothing automatic; miners without a user's command are left as they are.
- Two safety rules hold in every mode, for manual miners too: stale or missing energy data
  applies ``safe_action`` (``pause``: stop; ``min_power``: power-target miners to their minimum,
  on/off miners stopped, since their only minimum is off), immediately, regardless of the
  minimum on-time: never mine blind. And the battery floor: at or below the stop SoC, a
  discharge beyond ``margin_w`` stops the miners causing it at once; a manual run stopped this
  way is cancelled (the user must start it again), so it cannot flap against the floor.
- ``set_mode(AUTO)`` and ``set_mode(OFF)`` release every manual miner; ``set_mode(MANUAL)``
  keeps the commands already given.
- Starts counted against ``max_starts_per_day`` are the controller's own (not retries, not a
  user's), per local calendar day of the snapshot time (``utc_offset_s``: the site's offset
  from UTC; the daemon takes the system's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from pydantic import ValidationError

from edge_mining.config import (
    ControlConfig,
    EconomicsConfig,
    HeatingConfig,
    MinerConfig,
    PlannerConfig,
)
from edge_mining.control import levels as level_rules
from edge_mining.control.allocation import (
    HANDOVER_REST_S,
    Candidate,
    Pools,
    Situation,
    allocate,
    fill_order,
)
from edge_mining.control.battery import BatteryBudget, battery_budget, stop_soc_for
from edge_mining.control.commands import emit
from edge_mining.control.economics import beats_export
from edge_mining.control.following import clamp, target_limits
from edge_mining.control.heating import Heating
from edge_mining.control.memory import ManualOverride, MinerMemory
from edge_mining.control.persistence import export_memory, import_memory
from edge_mining.control.planner import Plan
from edge_mining.control.planning import Planning, PlanView
from edge_mining.control.surplus import (
    PROBE_START_BACKOFF_S,
    SiteKind,
    estimate_surplus,
    probe_backoff_s,
)
from edge_mining.control.timers import DailyCounter, local_day
from edge_mining.model import (
    Action,
    Command,
    Decision,
    MinerState,
    MinerStatus,
    Mode,
    PowerLevel,
    Snapshot,
)

_ACTION_ORDER = {Action.STOP: 0, Action.SET_POWER: 1, Action.START: 2}
# Mining owes the battery energy beyond this share of its capacity (%): top it up first.
DEBT_TOLERANCE_PCT = 0.5
# Below the plan's reserve by more than this (%), running miners are cut at once.
FLOOR_BAND_PCT = 0.1


class Controller:
    """Decides, every tick, which miner runs and how hard.

    Stateful (timers, start counts, last targets) but deterministic: the same sequence of
    snapshots gives the same decisions. Time comes only from ``Snapshot.time``.
    """

    def __init__(
        self,
        control: ControlConfig,
        miners: Sequence[MinerConfig],
        heating: HeatingConfig | None = None,
        economics: EconomicsConfig | None = None,
        planner: PlannerConfig | None = None,
        utc_offset_s: float = 0.0,
    ) -> None:
        self.control = control
        self.miners = list(miners)
        self.heating = heating or HeatingConfig()
        self.economics = economics or EconomicsConfig()
        self.mode = control.mode
        # The site's offset from UTC: days (starts per day) are local days.
        self._utc_offset_s = utc_offset_s
        # The forecast-aware planner (None: rules only). Its floor is the lowest stop SoC.
        self._planning = (
            Planning(
                planner,
                self.economics,
                control.stop_soc_sunny_pct,
                utc_offset_s,
                control.max_starts_per_day,
                control.full_soc_pct,
            )
            if planner is not None
            else None
        )
        self._memory = {
            config.name: MinerMemory(config, rank, starts=DailyCounter(utc_offset_s))
            for rank, config in enumerate(fill_order(self.miners))
        }
        self._ordered = sorted(self._memory.values(), key=lambda m: m.rank)
        self._heat = Heating(self.heating)
        # Hidden-surplus probing: whether the last tick assumed more than it measured, and
        # when probing may resume after a probe made the battery discharge.
        self._probed = False
        self._probe_blocked_until = float("-inf")
        # Probe starts: who was started on a hidden surplus (and when), and the back-off.
        self._probe_started: dict[str, float] = {}
        self._probe_start_backoff_s = PROBE_START_BACKOFF_S
        self._probe_start_blocked_until = float("-inf")
        self._probe_day = -1
        # The latest time seen (tick or import): the day whose starts export_memory carries.
        self._latest_time: float | None = None

    # ------------------------------------------------------------------ user commands

    def set_mode(self, mode: Mode | str) -> None:
        self.mode = Mode(mode)
        if self.mode is not Mode.MANUAL:
            for memory in self._ordered:
                memory.manual = None

    def update_control(self, **changes: float) -> None:
        """Change thresholds/delays at run time (from MQTT numbers); validated like config."""
        try:
            self.control = ControlConfig.model_validate({**self.control.model_dump(), **changes})
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "control"
            raise ValueError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
        if "mode" in changes:
            self.set_mode(self.control.mode)

    def manual(
        self, miner: str, *, running: bool | None = None, power_w: float | None = None
    ) -> None:
        """A user's explicit command: the miner goes to manual until released."""
        memory = self._lookup(miner)
        if self.mode is Mode.OFF:
            raise ValueError("mode is off: switch to manual or auto first")
        if running is None and power_w is None:
            raise ValueError("nothing to do: give running and/or power_w")
        config = memory.config
        if power_w is not None:
            if not config.power_target:
                raise ValueError(f"{miner} is on/off only: it takes no power target")
            if not math.isfinite(power_w) or not (
                config.min_power_w <= power_w <= config.max_power_w
            ):
                raise ValueError(
                    f"power_w {power_w:g} W is outside {miner}'s limits "
                    f"[{config.min_power_w:g}, {config.max_power_w:g}] W"
                )
        previous = memory.manual or ManualOverride()
        memory.manual = ManualOverride(
            running=previous.running if running is None else running,
            power_w=previous.power_w if power_w is None else power_w,
        )

    def release(self, miner: str) -> None:
        """Hand a miner back to the controller."""
        memory = self._lookup(miner)
        memory.manual = None
        memory.start_timer.reset()
        memory.stop_timer.reset()
        memory.reason = "released to the controller"

    def is_manual(self, miner: str) -> bool:
        return self._lookup(miner).manual is not None

    def manual_override(self, miner: str) -> ManualOverride | None:
        """The user's command holding ``miner`` (None: the controller decides)."""
        return self._lookup(miner).manual

    @property
    def plan(self) -> Plan | None:
        """The latest plan (None without a planner, or before the first one)."""
        return self._planning.plan if self._planning is not None else None

    @property
    def battery_debt_wh(self) -> float | None:
        """Energy mining owes the battery (``battery_debt``; None without a planner)."""
        return self._planning.debt.debt_wh if self._planning is not None else None

    @property
    def planning_status(self) -> str:
        return self._planning.status if self._planning is not None else "planner off"

    @property
    def plan_failures(self) -> int:
        """Plans that could not be solved since start-up (0 without a planner)."""
        return self._planning.failures if self._planning is not None else 0

    def plan_document(self, now: float) -> dict[str, object] | None:
        """The plan of the next 24 h as JSON-ready data (None without a planner)."""
        return self._planning.document(now) if self._planning is not None else None

    @property
    def load_profile(self) -> dict[str, object] | None:
        """The learned house-load profile as plain data (the daemon saves it)."""
        return self._planning.profile.export() if self._planning is not None else None

    def restore_load_profile(self, data: dict[str, object], now: float) -> None:
        """Restore :attr:`load_profile`; a malformed document raises ValueError."""
        if self._planning is not None:
            self._planning.profile.restore(data, now)

    # ------------------------------------------------------------------- persistence

    def export_memory(self) -> dict[str, object]:
        """What must survive a restart (starts today, on/off times, handover rest) as plain
        JSON-ready data; see :mod:`edge_mining.control.persistence`."""
        return export_memory(self._ordered, self._latest_time)

    def import_memory(self, data: dict[str, object], now: float) -> None:
        """Restore what :meth:`export_memory` gave, before the first tick. Unknown miners are
        ignored; a malformed document raises ValueError and changes nothing."""
        max_rest_s = max(HANDOVER_REST_S, self.control.min_on_s)
        import_memory(self._memory, data, now, max_rest_s)
        self._latest_time = now if self._latest_time is None else max(self._latest_time, now)

    def _lookup(self, miner: str) -> MinerMemory:
        try:
            return self._memory[miner]
        except KeyError:
            raise ValueError(f"unknown miner {miner!r}") from None

    # ----------------------------------------------------------------------- the tick

    def tick(self, snapshot: Snapshot) -> Decision:
        now = snapshot.time
        self._latest_time = now
        control = self.control
        stop_soc = stop_soc_for(control, snapshot.forecast, now)
        self._heat.update(snapshot.room_temperatures_c)

        live: list[tuple[MinerMemory, MinerState]] = []
        for memory in self._ordered:
            state = snapshot.miners.get(memory.name)
            if state is None:
                memory.reason = "no telemetry: skipped"
            elif not state.status.is_available:
                memory.reason = f"{state.status.value}: skipped"
            else:
                memory.observe(state, now)
                live.append((memory, state))

        energy = snapshot.energy
        if self._planning is not None:
            # The house's load is learned in every mode, from fresh readings only.
            fresh = energy is not None and now - energy.timestamp <= control.stale_after_s
            draw_now = sum(state.power_w for _, state in live)
            self._planning.observe(now, energy if fresh else None, draw_now)

        if self.mode is Mode.OFF:
            commands = self._all_stopped(live, now, "mode off")
            return self._decision(now, commands, 0.0, None, stop_soc, "mode off")

        if energy is None:
            return self._safe(live, now, stop_soc, "no energy data")
        age = now - energy.timestamp
        if age > control.stale_after_s:
            return self._safe(live, now, stop_soc, f"energy data stale ({age:.0f} s old)")

        draw = 0.0
        unconfirmed = 0.0
        ramping = False
        for memory, state in live:
            draw += state.power_w
            if memory.intent:
                committed = self._committed_w(memory)
                unconfirmed += max(0.0, committed - state.power_w)
                ramping = ramping or state.status is MinerStatus.STARTING
        ramping = ramping or unconfirmed > control.margin_w
        discharging = (energy.battery_power_w or 0.0) < -control.margin_w
        if self._probed and discharging:
            self._probe_blocked_until = now + probe_backoff_s(control)  # the probe failed
        estimate = estimate_surplus(
            energy,
            control,
            miners_draw_w=draw,
            unconfirmed_w=unconfirmed,
            probe_allowed=not ramping and now >= self._probe_blocked_until,
        )
        if estimate is None:
            return self._safe(live, now, stop_soc, "energy reading lacks grid/battery power")
        self._probed = estimate.probe_w > 0

        view: PlanView | None = None
        if self._planning is not None:
            self._planning.max_starts_per_day = control.max_starts_per_day
            view = self._planning.update(
                now,
                energy,
                snapshot.forecast,
                self._ordered,
                grid_connected=estimate.kind is SiteKind.GRID_TIED,
            )
            if view is not None:
                stop_soc = view.reserve_soc_pct  # the house reserve replaces the stop SoC

        battery = battery_budget(energy, control, stop_soc)
        # With a grid, the reserve keeps the battery's energy from the miners, not PV.
        grid_tied = estimate.kind is SiteKind.GRID_TIED
        if (
            view is not None
            and not grid_tied
            and battery.at_floor
            and not battery.floor_breached
            and not estimate.hidden
            and (battery.soc_pct or 0.0) < stop_soc - FLOOR_BAND_PCT
            and any(memory.intent for memory, _ in live)
        ):
            # Below the plan's house reserve, and the battery could take more: every watt a
            # miner draws is the house's, so the miners go at once, as at a breached floor.
            battery = replace(battery, floor_breached=True)
        margin = 0.0 if estimate.hidden else control.margin_w
        owed = False
        if view is not None:
            # Follow the plan: the battery gets the power the plan expects it to take (or
            # gives what the plan expects it to give); the rest of the balance is mining's.
            planned_battery_w = view.battery_w
            # Off-grid, while mining owes the battery energy (``battery_debt``), a nearly full
            # battery is topped up before any hidden surplus is probed for: the debt is
            # repaid only once the battery is really full.
            owed = (
                self._planning is not None
                and estimate.kind is SiteKind.OFF_GRID
                and estimate.surplus_w > 0.0
                and self._planning.debt.owed(DEBT_TOLERANCE_PCT)
            )
            if estimate.hidden and not owed:
                planned_battery_w = min(planned_battery_w, 0.0)  # full: it takes no more
            measured = estimate.surplus_w if owed else estimate.estimate_w
            available = measured - planned_battery_w - margin
            # What the balance leaves once the battery charges at its limit.
            charge_limit_w = self._planning.config.battery_max_charge_w if self._planning else 0.0
            beyond_charge_w = measured - charge_limit_w - margin
            planned_mining_w = sum(view.committed.values())
            if (
                grid_tied
                and not estimate.hidden
                and (battery.soc_pct or 0.0) < control.full_soc_pct
                and view.committed
            ):
                # With a grid, what PV gives beyond the plan's mining goes to the battery
                # (up to its charge limit) until it is nearly full: the next plan mines it
                # later at low power, where a miner earns the most per Wh.
                available = min(available, max(planned_mining_w, beyond_charge_w))
            if battery.at_floor and grid_tied:
                # At or below the reserve with a grid, mining gets PV, never the battery:
                # the miners the plan commits come first (an hourly forecast is often a
                # little above this minute's PV), the battery takes the rest and the plan
                # charges it later in the day, or the grid serves the house. A miner drawing
                # on the battery here is cut at once (floor breached).
                available = min(max(available, planned_mining_w), max(0.0, measured - margin))
            elif battery.at_floor:
                # At or below the house reserve the battery comes first: mining gets only
                # what it cannot take (charging at its limit).
                available = min(available, max(0.0, beyond_charge_w))
        else:
            available = estimate.estimate_w - battery.charge_reserve_w - margin
        zones = self._heat.budgets(
            soc_pct=battery.soc_pct, stop_soc_pct=stop_soc, economics=self.economics
        )
        exportable = estimate.kind is SiteKind.GRID_TIED and energy.pv_curtailed is not True

        fixed: list[tuple[MinerMemory, MinerState, bool, float | None, str]] = []
        candidates: list[Candidate] = []
        manual_used_w = 0.0
        for memory, state in live:
            if memory.manual is not None or self.mode is Mode.MANUAL:
                running, target, reason = self._manual_plan(memory, state)
                if running:
                    manual_used_w += self._claim_w(memory, target or memory.target_w)
                fixed.append((memory, state, running, target, reason))
                continue
            low, high = target_limits(memory.config, state)
            levels: tuple[PowerLevel, ...] = ()
            if memory.levels and memory.config.power_target:
                levels = level_rules.within(memory.levels, low, high)
                low, high = levels[0].power_w, levels[-1].power_w
            heat = self._heat.wants_heat(memory.name)
            zone_name = self._heat.zone_of.get(memory.name)
            # A heater-only zone's miner follows its thermostat: no surplus when warm.
            warm_heater = zone_name is not None and self._heat.heat_only(zone_name) and not heat
            candidates.append(
                Candidate(
                    memory=memory,
                    state=state,
                    low_w=low,
                    high_w=high,
                    levels=levels,
                    claim_w=low if memory.config.power_target else memory.config.nominal_power_w,
                    gated=warm_heater
                    or (
                        exportable
                        and not beats_export(
                            memory.config, self.economics, self.heating, heat_wanted=heat
                        )
                    ),
                    zone=zones.get(zone_name) if zone_name is not None else None,
                    # A warm heat-only heater cannot take the power the plan gives it: the
                    # others may mine it (its commitment would otherwise hold them back).
                    planned=view is not None and memory.name in view.committed and not warm_heater,
                )
            )

        if view is None:
            pools = Pools(
                keep_w=available + battery.allowance_keep_w,
                start_w=available + battery.allowance_start_w,
                surplus_w=available,
                used_w=manual_used_w,
            )
        else:
            pools = self._plan_pools(view, candidates, available, battery)
            pools.used_w = manual_used_w

        situation = Situation(
            now=now,
            control=control,
            at_floor=battery.at_floor,
            floor_breached=battery.floor_breached,
            probe_start_ok=self._probe_start_ok(
                estimate.hidden
                and now >= self._probe_blocked_until
                and now >= self._probe_start_blocked_until,
                ramping,
                battery,
                candidates,
            ),
        )
        allocate(candidates, pools, situation)
        self._track_probe_starts(candidates, now)
        for c in candidates:
            zone_name = self._heat.zone_of.get(c.memory.name)
            # A warm heat-only zone gates its miner whatever the plan commits to it: the
            # thermostat is the reason it takes no power, so that is what the reason says.
            if (
                c.gated
                and zone_name is not None
                and self._heat.heat_only(zone_name)
                and not self._heat.wants_heat(c.memory.name)
            ):
                c.reason += f" (heat only: {zone_name} is warm)"
            elif view is not None and c.planned:
                c.reason += f" (plan: {view.committed[c.memory.name]:.0f} W)"
            elif view is not None and c.plan_gated:
                c.reason += " (not in the plan now)"
            elif c.gated and not c.running:
                c.reason += " (economics: export pays more)"
            elif c.gated:
                c.reason += " (economics gate: export pays more)"

        if battery.floor_breached and pools.used_w > pools.keep_w:
            fixed = self._enforce_floor(fixed, pools)

        commands: list[Command] = []
        for c in candidates:
            commands += emit(
                c.memory,
                c.state,
                running=c.running,
                target_w=c.target_w,
                reason=c.reason,
                now=now,
                control=control,
                count_start=c.count_start,
            )
        for memory, state, running, target, reason in fixed:
            commands += emit(
                memory,
                state,
                running=running,
                target_w=target,
                reason=reason,
                now=now,
                control=control,
                count_start=False,
            )

        reported = max(0.0, available + pools.probe_start_w)
        soc = (
            f", SoC {battery.soc_pct:.0f}% (start {control.start_soc_pct:.0f}%, "
            f"stop {stop_soc:.0f}%)"
            if battery.has_battery
            else ""
        )
        hidden = ", battery full: probing" if estimate.hidden else ""
        if owed:
            owed_wh = self.battery_debt_wh or 0.0
            hidden = f", mining owes the battery {owed_wh:.0f} Wh: topping it up first"
        # Say why less is available than the surplus, beyond the noise margin.
        why = (
            f": {battery.charge_reserve_w:.0f} W charge the battery first (below the start SoC)"
            if battery.charge_reserve_w >= 1 and view is None
            else ""
        )
        summary = (
            f"{self.mode.value}: surplus {estimate.surplus_w:.0f} W, "
            f"available {reported:.0f} W{soc}{hidden}{why}"
        )
        if view is not None:
            summary += f"; {view.summary}"
        elif self._planning is not None and self._planning.active:
            summary += f"; rules ({self._planning.status})"
        return self._decision(now, commands, reported, estimate.surplus_w, stop_soc, summary)

    # -------------------------------------------------------------------- helpers

    def _plan_pools(
        self,
        view: PlanView,
        candidates: Sequence[Candidate],
        available: float,
        battery: BatteryBudget,
    ) -> Pools:
        """The pools when following a plan (module doc of ``planning``): committed miners may
        start and keep running at their minimum on the battery, down to the plan's reserve;
        the others only on what exceeds the committed miners' maximum power. A start on the
        battery needs the energy to make up what the surplus lacks for ``min_on_s`` above the
        reserve: one the reserve stops at once spends one of the day's few starts for nothing
        (near the reserve, a plan mining a little from the battery started and stopped a
        miner all morning, and the sunny afternoon found it out of starts)."""
        committed = [c for c in candidates if c.planned]
        claims = sum(c.claim_w for c in committed)
        capacity = sum(c.high_w if c.memory.config.power_target else c.claim_w for c in committed)
        beyond = available > capacity + self.control.start_surplus_w
        for c in candidates:
            if not c.planned and not beyond:
                c.plan_gated = True
                c.gated = True
        base = available if battery.at_floor else max(available, claims)
        starting = sum(c.claim_w for c in committed if not c.memory.intent)
        shortfall_w = max(0.0, starting - max(0.0, available))
        above_wh = ((battery.soc_pct or 0.0) - battery.stop_soc_pct) / 100.0 * view.plan.capacity_wh
        on_battery = above_wh >= shortfall_w * self.control.min_on_s / 3600.0
        start = base if on_battery else available
        return Pools(keep_w=base, start_w=start, surplus_w=available)

    def _committed_w(self, memory: MinerMemory) -> float:
        config = memory.config
        if config.power_target and memory.target_w is not None:
            return memory.target_w
        return config.nominal_power_w

    def _claim_w(self, memory: MinerMemory, target: float | None) -> float:
        if memory.config.power_target and target is not None:
            return target
        return memory.config.nominal_power_w

    def _manual_plan(
        self, memory: MinerMemory, state: MinerState
    ) -> tuple[bool, float | None, str]:
        override = memory.manual
        config = memory.config
        if override is None:
            # Left as it is: no target either, so nothing is re-sent.
            return bool(memory.intent), None, "manual mode: left as it is"
        running = bool(memory.intent) if override.running is None else override.running
        target: float | None = None
        if config.power_target:
            low, high = target_limits(config, state)
            wanted = override.power_w
            if wanted is None:
                wanted = memory.target_w if memory.target_w is not None else config.nominal_power_w
            target = clamp(wanted, low, high)
        what = "run" if running else "stop"
        power = f" at {target:.0f} W" if running and target is not None else ""
        return running, target, f"manual: {what}{power}"

    def _probe_start_ok(
        self,
        hidden: bool,
        ramping: bool,
        battery: BatteryBudget,
        candidates: Sequence[Candidate],
    ) -> bool:
        """A start on a hidden surplus: battery full, nothing ramping, no target left to raise."""
        if not hidden or ramping or battery.soc_pct is None:
            return False
        if battery.soc_pct < self.control.start_soc_pct:
            return False
        for c in candidates:
            if (
                c.memory.intent
                and c.memory.config.power_target
                and (c.memory.target_w or 0.0) < c.high_w - self.control.power_deadband_w
            ):
                return False
        return True

    def _track_probe_starts(self, candidates: Sequence[Candidate], now: float) -> None:
        """Back off probe starts that fail; forgive them when one holds or a day begins."""
        day = local_day(now, self._utc_offset_s)
        if day != self._probe_day:
            self._probe_day = day
            self._probe_start_backoff_s = PROBE_START_BACKOFF_S
            self._probe_start_blocked_until = float("-inf")
        for c in candidates:
            name = c.memory.name
            if c.new_start and c.reason.startswith("start: probing"):
                self._probe_started[name] = now
            elif name in self._probe_started:
                started = self._probe_started[name]
                if not c.running:
                    del self._probe_started[name]
                    self._probe_start_blocked_until = now + self._probe_start_backoff_s
                    self._probe_start_backoff_s *= 2
                elif (
                    now - started >= self.control.min_on_s
                    and c.memory.stop_timer.held_for(now) == 0.0
                ):
                    del self._probe_started[name]
                    self._probe_start_backoff_s = PROBE_START_BACKOFF_S

    def _enforce_floor(
        self,
        fixed: list[tuple[MinerMemory, MinerState, bool, float | None, str]],
        pools: Pools,
    ) -> list[tuple[MinerMemory, MinerState, bool, float | None, str]]:
        """Stop manual miners, lowest priority first, until the battery stops draining."""
        result = list(fixed)
        for index in range(len(result) - 1, -1, -1):
            if pools.used_w <= pools.keep_w:
                break
            memory, state, running, target, _ = result[index]
            if not running:
                continue
            pools.used_w -= self._claim_w(memory, target)
            if memory.manual is not None:
                memory.manual = ManualOverride(running=False, power_w=memory.manual.power_w)
            result[index] = (
                memory,
                state,
                False,
                None,
                "battery at stop SoC and discharging: manual run cancelled",
            )
        return result

    def _all_stopped(
        self, live: list[tuple[MinerMemory, MinerState]], now: float, reason: str
    ) -> list[Command]:
        commands: list[Command] = []
        for memory, state in live:
            memory.start_timer.reset()
            memory.stop_timer.reset()
            commands += emit(
                memory,
                state,
                running=False,
                target_w=None,
                reason=reason,
                now=now,
                control=self.control,
                count_start=False,
            )
        return commands

    def _safe(
        self,
        live: list[tuple[MinerMemory, MinerState]],
        now: float,
        stop_soc: float,
        why: str,
    ) -> Decision:
        """Never mine blind: the configured safe action for every miner, at once."""
        action = self.control.safe_action
        reason = f"{why}: safe action {action}"
        commands: list[Command] = []
        for memory, state in live:
            memory.start_timer.reset()
            memory.stop_timer.reset()
            keep = action == "min_power" and memory.config.power_target and bool(memory.intent)
            target = target_limits(memory.config, state)[0] if keep else None
            commands += emit(
                memory,
                state,
                running=keep,
                target_w=target,
                reason=reason,
                now=now,
                control=self.control,
                count_start=False,
            )
        return self._decision(now, commands, 0.0, None, stop_soc, reason)

    def _decision(
        self,
        now: float,
        commands: list[Command],
        available: float,
        surplus: float | None,
        stop_soc: float,
        reason: str,
    ) -> Decision:
        commands.sort(key=lambda c: _ACTION_ORDER[c.action])
        return Decision(
            time=now,
            commands=tuple(commands),
            available_power_w=available,
            surplus_w=surplus,
            stop_soc_pct=stop_soc,
            reason=reason,
            miner_reasons={memory.name: memory.reason for memory in self._ordered},
        )
