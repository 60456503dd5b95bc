"""The rule-based policies the backtest compares.

- ``edge``: the real :class:`edge_mining.control.Controller`, the very code the daemon runs,
  fed with the plant's reading, the miners' states and the forecast at every step, with its
  planner (the forecast's hourly PV, the load it learns from the readings as the backtest
  goes, the plant's battery).
- ``seed``: the seed project's Home Assistant automations (README of the original add-on):
  two ON automations at different battery and production levels, held for 10 minutes; OFF
  when the SoC is below a threshold that follows tomorrow's forecast; and OFF when PV stays
  below 1000 W for 5 minutes while the SoC is below that threshold. On/off at full power.
- ``threshold``: a common surplus charger (evcc's PV mode): start when the surplus covers the
  miner's full power for ``enable_delay_s``, stop when it falls short by more than
  ``disable_threshold_w`` for ``disable_delay_s``; battery charging counts as surplus only
  above ``priority_soc_pct``; hard stop below the reserve. On/off at full power.
- ``export``: no mining (the baseline every surplus share is measured against).

Thresholds the seed README does not state numerically are chosen here (see ``SeedRules``)
and documented; they are the natural reading of its text, not tuned against ``edge``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge_mining.analysis.engine import Fleet, RulePolicy
from edge_mining.analysis.forecasts import ForecastOracle
from edge_mining.config import ControlConfig, EconomicsConfig, PlannerConfig
from edge_mining.control import Controller
from edge_mining.model import Action, Snapshot
from edge_mining.sim.plant import Plant, PlantState

POLICY_NAMES = ("edge", "seed", "threshold", "export", "oracle")
# A trace note: how many of the edge policy's plans could not be solved.
PLANS_FAILED = "plans failed"


class _Timer:
    """How long a condition has held, as seen at step times."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        self.since: float | None = None

    def held(self, condition: bool, now: float, duration_s: float) -> bool:
        if not condition:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= duration_s


# ---------------------------------------------------------------------------------- edge


class EdgePolicy(RulePolicy):
    name = "edge"

    def __init__(
        self,
        fleet: Fleet,
        control: ControlConfig,
        economics: EconomicsConfig,
        forecasts: ForecastOracle | None,
        planner: PlannerConfig | None = None,
        utc_offset_s: float = 0.0,
    ) -> None:
        super().__init__(fleet)
        self.controller = Controller(
            control,
            fleet.configs,
            economics=economics,
            planner=planner,
            utc_offset_s=utc_offset_s,
        )
        self._forecasts = forecasts

    def decide(self, now: float, state: PlantState, plant: Plant) -> None:
        fleet = self.fleet
        snapshot = Snapshot(
            time=now,
            energy=plant.reading(),
            miners=fleet.states(now),
            forecast=self._forecasts.at(now) if self._forecasts else None,
        )
        decision = self.controller.tick(snapshot)
        if self.controller.plan_failures:
            # The backtest says so (``backtest_cli``): a planner that cannot solve leaves the
            # controller on its rules, and the figures would not say why.
            self.notes[PLANS_FAILED] = self.controller.plan_failures
        for command in decision.commands:
            i = fleet.index[command.miner]
            if command.action is Action.START:
                fleet.start(i, command.power_w)
            elif command.action is Action.STOP:
                fleet.stop(i)
            elif command.power_w is not None:
                fleet.set_power(i, command.power_w)
            if command.action is not Action.SET_POWER:
                # Reasons grouped without their numbers: which rule starts and stops miners.
                reason = re.sub(r"-?[0-9][0-9.,]*", "#", command.reason)
                prefix = f"{command.action.value}:"
                key = reason if reason.startswith(prefix) else f"{prefix} {reason}"
                self.notes[key] = self.notes.get(key, 0) + 1


# ---------------------------------------------------------------------------------- seed


@dataclass(frozen=True)
class SeedRules:
    # ON automation 1: battery nearly full and the sun shining.
    on_full_soc_pct: float = 90.0
    on_full_min_pv_w: float = 1000.0
    # ON automation 2: battery well charged and strong production.
    on_strong_soc_pct: float = 80.0
    on_strong_min_pv_w: float = 2500.0
    on_hold_s: float = 600.0
    # Forecast-dependent stop SoC (the same figures as the controller's defaults).
    stop_soc_sunny_pct: float = 30.0
    stop_soc_cloudy_pct: float = 60.0
    stop_soc_default_pct: float = 40.0
    forecast_sunny_kwh: float = 20.0
    forecast_cloudy_kwh: float = 5.0
    # "PV under 1000 W for at least 5 minutes" rule.
    low_pv_w: float = 1000.0
    low_pv_hold_s: float = 300.0

    def stop_soc(self, tomorrow_wh: float | None) -> float:
        if tomorrow_wh is None:
            return self.stop_soc_default_pct
        kwh = tomorrow_wh / 1000.0
        if kwh >= self.forecast_sunny_kwh:
            return self.stop_soc_sunny_pct
        if kwh <= self.forecast_cloudy_kwh:
            return self.stop_soc_cloudy_pct
        return self.stop_soc_default_pct


class SeedPolicy(RulePolicy):
    name = "seed"

    def __init__(
        self, fleet: Fleet, forecasts: ForecastOracle | None, rules: SeedRules | None = None
    ) -> None:
        super().__init__(fleet)
        self.rules = rules or SeedRules()
        self._forecasts = forecasts
        self._on_full = _Timer()
        self._on_strong = _Timer()
        self._low_pv = _Timer()

    def decide(self, now: float, state: PlantState, plant: Plant) -> None:
        r = self.rules
        soc = state.battery_soc_pct
        pv = state.pv_w - state.curtailed_w  # what the inverter reports as PV power
        tomorrow = self._forecasts.at(now).tomorrow_wh if self._forecasts else None
        stop_soc = r.stop_soc(tomorrow)
        on = self._on_full.held(
            soc >= r.on_full_soc_pct and pv >= r.on_full_min_pv_w, now, r.on_hold_s
        ) | self._on_strong.held(
            soc >= r.on_strong_soc_pct and pv >= r.on_strong_min_pv_w, now, r.on_hold_s
        )
        low_pv = self._low_pv.held(pv < r.low_pv_w, now, r.low_pv_hold_s)
        off = soc < stop_soc or (low_pv and soc < stop_soc)
        fleet = self.fleet
        for i in range(len(fleet.configs)):
            if fleet.running[i] and off:
                fleet.stop(i)
                self.notes["stop: SoC below forecast threshold"] = (
                    self.notes.get("stop: SoC below forecast threshold", 0) + 1
                )
            elif not fleet.running[i] and on and not off:
                fleet.start(i, fleet.configs[i].max_power_w)


# ----------------------------------------------------------------------------- threshold


@dataclass(frozen=True)
class ThresholdRules:
    enable_threshold_w: float = 0.0  # surplus beyond the miner's power needed to start
    disable_threshold_w: float = 0.0  # shortfall (import or discharge) tolerated while running
    enable_delay_s: float = 60.0
    disable_delay_s: float = 180.0
    priority_soc_pct: float = 80.0  # below it, battery charging is not surplus
    reserve_soc_pct: float = 30.0  # hard stop below it


class ThresholdPolicy(RulePolicy):
    name = "threshold"

    def __init__(self, fleet: Fleet, rules: ThresholdRules | None = None) -> None:
        super().__init__(fleet)
        self.rules = rules or ThresholdRules()
        self._enable = [_Timer() for _ in fleet.configs]
        self._disable = [_Timer() for _ in fleet.configs]

    def decide(self, now: float, state: PlantState, plant: Plant) -> None:
        r = self.rules
        fleet = self.fleet
        soc = state.battery_soc_pct
        battery = state.battery_power_w
        if soc < r.priority_soc_pct:
            battery = min(battery, 0.0)  # charging belongs to the battery
        # Measured at the meter and the battery, with the miners' own draw added back.
        surplus = state.miners_w + battery - state.grid_w
        used = sum(fleet.draw(i) for i in range(len(fleet.configs)))
        for i in range(len(fleet.configs)):
            power = fleet.configs[i].max_power_w
            if fleet.running[i]:
                short = surplus < used - r.disable_threshold_w
                if soc < r.reserve_soc_pct or self._disable[i].held(short, now, r.disable_delay_s):
                    fleet.stop(i)
                    used -= power
                    self._disable[i].since = None
            else:
                free = surplus - used
                ok = free >= power + r.enable_threshold_w and soc >= r.reserve_soc_pct
                if self._enable[i].held(ok, now, r.enable_delay_s):
                    fleet.start(i, power)
                    used += power
                    self._enable[i].since = None


# -------------------------------------------------------------------------------- export


class ExportPolicy(RulePolicy):
    name = "export"

    def decide(self, now: float, state: PlantState, plant: Plant) -> None:
        return None
