"""The controller's side of the planner: when to plan, with what, and what the tick takes from it.

Rules (documented for installers):

- A plan is made every ``planner.interval_s`` and whenever a new forecast arrives (its
  timestamp changes), from: the hourly PV forecast (``Forecast.next_hours_w``; hours it does
  not cover count as no PV, which only makes the house reserve larger), the house-load
  forecast learned from the site's own history (:mod:`load_forecast`), the battery's SoC and
  the planner's battery settings, grid prices, and each miner's efficiency curve.
- No plan, and the controller follows its rules (the forecast's stop SoC, start SoC,
  allowance) when: the planner is disabled or knows no battery; the reading has no SoC; there
  is no hourly forecast or it is older than a day; there is no load history yet (the first
  day); or the solver fails. A plan is used for at most ``2 * interval_s`` after it was made:
  if planning keeps failing, the rules take over again.
- The tick follows the plan's current step (see ``controller``): the battery power the plan
  expects is kept for the battery and the rest of the measured balance goes to the miners, so
  off-grid a forecast error changes mining, not the battery. With a grid, below
  ``full_soc_pct``, the miners the plan commits get at most the power it gives them and what
  PV gives beyond it goes to the battery (up to its charge limit): the next plan, made from
  the fuller battery, mines it later at low power, where a miner earns the most per Wh (the
  grid serves the house when the forecast was too bright). At or below the plan's house
  reserve off-grid the battery comes first: the miners get only what it cannot take. With a
  grid, at or below the reserve the miners the plan commits get the surplus PV, never the
  battery (the plan charges it later in the day). The miners the plan commits may start
  (without the start surplus) and keep running at their minimum on the battery, down to the
  reserve; the others may use only what exceeds the committed miners' maximum.
- Off-grid, while mining owes the battery energy (``battery_debt``: what it would hold
  without the miners), a nearly full battery is topped up before hidden surplus is probed for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_mining.config import ControlConfig, EconomicsConfig, PlannerConfig
from edge_mining.control.battery_debt import BatteryDebt
from edge_mining.control.load_forecast import HouseLoadProfile
from edge_mining.control.memory import MinerMemory
from edge_mining.control.planner import (
    BatterySpec,
    Plan,
    PlanError,
    PlanMiner,
    PlanRequest,
    PlanStep,
    SiteSpec,
    plan_steps,
    solve_plan,
)
from edge_mining.model import EnergyReading, Forecast

FORECAST_MAX_AGE_S = 24 * 3600.0
# Today's PV against the forecast: averaged over an hour (RATIO_WINDOW_S), applied to the
# next hours fading with RATIO_FADE_S, within [RATIO_MIN, RATIO_MAX]; not before the hour's
# forecast reaches RATIO_MIN_W (dawn's ratios are noise).
RATIO_WINDOW_S = 3600.0
RATIO_FADE_S = 3 * 3600.0
RATIO_MIN, RATIO_MAX = 0.5, 2.0
RATIO_MIN_W = 500.0
USE_RATIO = True
# Summaries speak of the next day; the published plan covers as much.
SUMMARY_HORIZON_S = 24 * 3600.0
DOCUMENT_HOURS = 24.0


@dataclass(frozen=True, slots=True)
class PlanView:
    """What one tick takes from the plan."""

    plan: Plan
    step: PlanStep
    # Miners the plan commits now, and the power it gives each (W).
    committed: dict[str, float]
    summary: str

    @property
    def battery_w(self) -> float:
        return self.step.battery_w

    @property
    def reserve_soc_pct(self) -> float:
        return self.plan.reserve_soc_pct


def house_load_w(energy: EnergyReading, miners_draw_w: float) -> float | None:
    """The house's own load: the site's balance without the miners. From PV, battery and grid
    when all are known (whatever the inverter calls load), else from the reported load."""
    pv = energy.total_pv_power_w
    if pv is not None and energy.battery_power_w is not None and energy.grid_power_w is not None:
        return max(0.0, pv - energy.battery_power_w + energy.grid_power_w - miners_draw_w)
    if energy.load_power_w is not None:
        return max(0.0, energy.load_power_w - miners_draw_w)
    if pv is not None and energy.battery_power_w is not None:
        return max(0.0, pv - energy.battery_power_w - miners_draw_w)
    return None


def hourly_means(
    hours: Sequence[tuple[float, float]], steps: Sequence[tuple[float, float]]
) -> list[float]:
    """Time-weighted mean W over each ``(start, end)`` step of hourly values ``(hour start,
    W)``; time no hour covers counts as 0 W."""
    if not hours:
        return [0.0] * len(steps)
    starts = np.array([h for h, _ in hours], float)
    watts = np.array([w for _, w in hours], float)
    a = np.array([s for s, _ in steps], float)[:, None]
    b = np.array([e for _, e in steps], float)[:, None]
    overlap = np.clip(np.minimum(b, starts + 3600.0) - np.maximum(a, starts), 0.0, None)
    return list((overlap @ watts) / (b[:, 0] - a[:, 0]))


class Planning:
    """Plans on the controller's behalf and keeps the latest plan."""

    def __init__(
        self,
        config: PlannerConfig,
        economics: EconomicsConfig,
        floor_soc_pct: float,
        utc_offset_s: float = 0.0,
        max_starts_per_day: int = 1000,
        full_soc_pct: float = ControlConfig.model_fields["full_soc_pct"].default,
    ) -> None:
        self.config = config
        self.economics = economics
        self.floor_soc_pct = floor_soc_pct
        self.utc_offset_s = utc_offset_s
        self.max_starts_per_day = max_starts_per_day
        self.profile = HouseLoadProfile(config.load_history_days)
        self.plan: Plan | None = None
        self.status = "no plan yet"
        # Solves that failed (the controller follows its rules until one succeeds).
        self.failures = 0
        self._forecast_stamp: float | None = None
        self._tried_at: float | None = None
        self._summary_for: Plan | None = None
        self._summary_text = ""
        self._measured_seen_w = 0.0
        self._forecast_seen_w = 0.0
        self._ratio_time: float | None = None
        self.debt = BatteryDebt(config, full_soc_pct)

    @property
    def active(self) -> bool:
        return self.config.enabled and (self.config.battery_kwh or 0.0) > 0

    def observe(self, now: float, energy: EnergyReading | None, miners_draw_w: float) -> None:
        """Learn the house load from this tick's reading."""
        house = house_load_w(energy, miners_draw_w) if energy is not None else None
        self.profile.observe(now, house)
        self.debt.observe(now, energy, house)

    def update(
        self,
        now: float,
        energy: EnergyReading,
        forecast: Forecast | None,
        memories: Sequence[MinerMemory],
        grid_connected: bool,
    ) -> PlanView | None:
        """The plan for this tick (planning again when due), or None: follow the rules."""
        if not self.active:
            self.status = "planner off (no battery configured)"
            return None
        if energy.battery_soc_pct is None:
            self.status = "the reading has no battery SoC"
            return None
        if forecast is None or not forecast.next_hours_w:
            self.status = "no hourly PV forecast"
            return None
        if now - forecast.timestamp > FORECAST_MAX_AGE_S:
            self.status = "the forecast is older than a day"
            return None
        self._correct(now, energy, forecast)
        due = (
            self.plan is None
            or self._tried_at is None
            or now - self._tried_at >= self.config.interval_s
            or forecast.timestamp != self._forecast_stamp
        )
        if due:
            self._tried_at = now
            self._forecast_stamp = forecast.timestamp
            self._replan(now, energy, forecast, memories, grid_connected)
        plan = self.plan
        if plan is None or now - plan.created > 2 * self.config.interval_s:
            return None
        step = plan.step_at(now)
        if step is None:
            return None
        if self._summary_for is not plan:
            self._summary_for, self._summary_text = plan, self._summary(plan, plan.created)
        text = self._summary_text
        if step.mining_w >= 1.0:
            text += f"; mining {step.mining_w:.0f} W now"
        text += f"; reserve {plan.reserve_soc_pct:.0f} %"
        running = frozenset(m.name for m in memories if m.intent)
        return PlanView(plan, step, plan.miners_at(now, running), text)

    def _replan(
        self,
        now: float,
        energy: EnergyReading,
        forecast: Forecast,
        memories: Sequence[MinerMemory],
        grid_connected: bool,
    ) -> None:
        steps = plan_steps(now, self.config.horizon_h)
        loads = self.profile.forecast([a + (b - a) / 2 for a, b in steps])
        if loads is None:
            self.plan = None
            self.status = "no house-load history yet"
            return
        config = self.config
        site = SiteSpec(
            battery=BatterySpec(
                capacity_wh=(config.battery_kwh or 0.0) * 1000.0,
                min_soc_pct=config.battery_min_soc_pct,
                max_soc_pct=config.battery_max_soc_pct,
                max_charge_w=config.battery_max_charge_w,
                max_discharge_w=config.battery_max_discharge_w,
                efficiency=config.battery_efficiency,
            ),
            grid_connected=grid_connected,
            export_limit_w=config.export_limit_w,
            inverter_max_w=config.inverter_max_w,
            export_price_per_kwh=self.economics.export_price_per_kwh,
            import_price_per_kwh=self.economics.import_price_per_kwh,
            value_per_th_hour=self.economics.hashprice_per_th_day / 24.0,
        )
        miners = [
            PlanMiner(
                name=m.name,
                curve=m.curve,
                min_power_w=m.config.min_power_w,
                max_power_w=m.config.max_power_w,
                power_target=m.config.power_target,
                running=bool(m.intent),
                can_start=m.may_start(now, self.max_starts_per_day),
            )
            for m in memories
            if m.manual is None
        ]
        request = PlanRequest(
            now=now,
            soc_pct=energy.battery_soc_pct or 0.0,
            pv_w=self._corrected_pv(now, forecast, steps),
            load_w=loads,
            miners=miners,
            floor_soc_pct=self.floor_soc_pct,
            pv_confidence=config.pv_confidence,
            load_margin=config.load_margin_pct / 100.0,
            utc_offset_s=self.utc_offset_s,
        )
        try:
            self.plan = solve_plan(request, steps, site)
        except PlanError as error:
            self.status = str(error)
            self.failures += 1
            return
        self.status = "planned"

    @property
    def pv_ratio(self) -> float:
        """Measured PV over forecast PV over the last hour (1 when unknown), within bounds."""
        if not USE_RATIO or self._forecast_seen_w < RATIO_MIN_W:
            return 1.0
        return min(RATIO_MAX, max(RATIO_MIN, self._measured_seen_w / self._forecast_seen_w))

    def _correct(self, now: float, energy: EnergyReading, forecast: Forecast) -> None:
        """Follow how today's PV compares with the forecast, while PV is not curtailed (then
        it reads what was used, not what was there)."""
        pv = energy.total_pv_power_w
        nearly_full = (energy.battery_soc_pct or 0.0) >= self.config.battery_max_soc_pct - 3.0
        if pv is None or energy.pv_curtailed or nearly_full:
            self._ratio_time = None
            return
        expected = hourly_means(forecast.next_hours_w, [(now - 1.0, now + 1.0)])[0]
        if expected <= 0.0 and pv <= 0.0:  # night: each day's error is its own
            self._measured_seen_w = self._forecast_seen_w = 0.0
        elif self._ratio_time is not None:
            seconds = min(max(0.0, now - self._ratio_time), RATIO_WINDOW_S)
            keep = math.exp(-seconds / RATIO_WINDOW_S)
            self._measured_seen_w = keep * self._measured_seen_w + (1.0 - keep) * pv
            self._forecast_seen_w = keep * self._forecast_seen_w + (1.0 - keep) * expected
        self._ratio_time = now

    def _corrected_pv(
        self, now: float, forecast: Forecast, steps: Sequence[tuple[float, float]]
    ) -> list[float]:
        """The forecast per step, the next hours scaled by what today's PV has shown."""
        pv = hourly_means(forecast.next_hours_w, steps)
        ratio = self.pv_ratio
        if ratio == 1.0:
            return pv
        return [
            watts * (1.0 + (ratio - 1.0) * math.exp(-((a + b) / 2 - now) / RATIO_FADE_S))
            for watts, (a, b) in zip(pv, steps, strict=True)
        ]

    def document(self, now: float, hours: float = DOCUMENT_HOURS) -> dict[str, object]:
        """The plan as JSON-ready data for MQTT and the web panel: status, summary, the
        reserve, the planned mining power now, and per step of the next ``hours`` the
        planned mining power, battery power and SoC (None fields without a plan)."""
        plan = self.plan
        usable = plan is not None and now - plan.created <= 2 * self.config.interval_s
        step = plan.step_at(now) if plan is not None and usable else None
        if plan is None or step is None:
            return {
                "status": self.status if self.active else "planner off",
                "summary": None,
                "created": None,
                "reserve_soc_pct": None,
                "mining_w": None,
                "steps": [],
            }
        until = now + hours * 3600.0
        steps = [
            {
                "start": round(s.start),
                "end": round(s.end),
                "mining_w": round(s.mining_w),
                "battery_w": round(s.battery_w),
                "soc_pct": round(s.soc_end_pct, 1),
                "pv_w": round(s.pv_w),
                "load_w": round(s.load_w),
            }
            for s in plan.steps
            if s.end > now and s.start < until
        ]
        if self._summary_for is not plan:
            self._summary_for, self._summary_text = plan, self._summary(plan, plan.created)
        return {
            "status": self.status,
            "summary": self._summary_text,
            "created": round(plan.created),
            "reserve_soc_pct": round(plan.reserve_soc_pct, 1),
            "mining_w": round(step.mining_w),
            "steps": steps,
        }

    def _clock(self, when: float) -> str:
        return time.strftime("%H:%M", time.gmtime(when + self.utc_offset_s))

    def _summary(self, plan: Plan, now: float) -> str:
        until = now + SUMMARY_HORIZON_S
        battery_wh = plan.battery_mining_wh(now, until)
        if battery_wh < 50.0:
            return "plan: nothing from the battery"
        text = f"plan: {battery_wh / 1000.0:.1f} kWh from the battery"
        refill = plan.refilled_at(now, self.config.battery_max_soc_pct - 1.0)
        if refill is not None and refill <= until:
            return text + f"; forecast refills it by {self._clock(refill)}"
        return text + "; not full again within a day"
