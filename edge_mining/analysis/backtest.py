"""One backtest: a scenario, a plant, miners and prices, run through every chosen policy.

All policies see the same PV and load series, the same forecasts and the same plant
configuration; the ``export`` baseline is always run because the surplus KPIs need it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_mining.analysis.engine import Fleet, RulePolicy, Trace, simulate
from edge_mining.analysis.forecasts import ForecastOracle
from edge_mining.analysis.kpis import Prices, compute_kpis
from edge_mining.analysis.load import bdew_household_w, csv_load_w
from edge_mining.analysis.oracle import Progress, solve_oracle
from edge_mining.analysis.policies import (
    POLICY_NAMES,
    EdgePolicy,
    ExportPolicy,
    SeedPolicy,
    ThresholdPolicy,
    ThresholdRules,
)
from edge_mining.analysis.scenario import Scenario, read_power_csv, resample_means
from edge_mining.analysis.weather import pv_power_w, read_weather
from edge_mining.config import (
    ControlConfig,
    EconomicsConfig,
    MinerConfig,
    PlannerConfig,
    PlantConfig,
)


@dataclass(frozen=True)
class Setup:
    scenario: Scenario
    plant: PlantConfig
    miners: tuple[MinerConfig, ...]
    prices: Prices
    reserve_soc_pct: float = 30.0
    control: ControlConfig = field(default_factory=ControlConfig)
    # The edge policy's planner (None: the controller's rules alone); its battery, inverter
    # and export limit default to the plant's.
    planner: PlannerConfig | None = field(default_factory=PlannerConfig)
    forecast_noise: float = 0.0
    seed: int = 1

    def economics_config(self) -> EconomicsConfig:
        """The controller's view of the same prices (hashprice per TH/s per day)."""
        return EconomicsConfig(
            currency=self.prices.currency,
            export_price_per_kwh=self.prices.export_price_per_kwh,
            import_price_per_kwh=self.prices.import_price_per_kwh,
            hashprice_per_th_day=self.prices.network.hashprice_per_th_day,
        )


def backtest_control(step_s: float, base: ControlConfig | None = None) -> ControlConfig:
    """The controller's configuration for a backtest: its defaults, ticking once per step."""
    base = base or ControlConfig()
    return ControlConfig.model_validate({**base.model_dump(), "tick_s": min(300.0, step_s)})


def weather_scenario(
    weather_file: Path,
    *,
    kwp: float,
    tilt: float,
    azimuth: float,
    losses_pct: float,
    load_kwh_per_year: float,
    step_s: float,
    load_csv: Path | None = None,
    inverter_kw: float | None = None,
) -> tuple[Scenario, float]:
    """A one-year scenario from a weather file; also returns the site's latitude."""
    weather = read_weather(weather_file)
    pv_hourly = pv_power_w(
        weather,
        kwp=kwp,
        tilt=tilt,
        azimuth=azimuth,
        losses_pct=losses_pct,
        inverter_kw=inverter_kw,
    )
    start = weather.year_start
    steps = round(365 * 86400 / step_s)
    offset = weather.utc_offset_h * 3600.0
    centres = pv_hourly.index.map(lambda t: t.timestamp()).to_numpy(float)
    pv = resample_means(centres, pv_hourly.to_numpy(float), start, step_s, steps)
    load = (
        csv_load_w(load_csv, start, step_s, steps)
        if load_csv
        else bdew_household_w(load_kwh_per_year, start, step_s, steps, offset)
    )
    return Scenario(start, step_s, pv, load, offset, weather.name), weather.latitude


def csv_scenario(
    pv_csv: Path,
    *,
    load_kwh_per_year: float,
    step_s: float,
    load_csv: Path | None = None,
) -> Scenario:
    """A scenario over the whole days a measured PV CSV covers (UTC days)."""
    times, values = read_power_csv(pv_csv)
    spacing = float(times[1] - times[0])
    first = math.floor((times[0] - spacing / 2) / 86400.0) * 86400.0
    days = max(1, math.ceil((times[-1] + spacing / 2 - first) / 86400.0))
    steps = round(days * 86400 / step_s)
    pv = resample_means(times, values, first, step_s, steps)
    load = (
        csv_load_w(load_csv, first, step_s, steps)
        if load_csv
        else bdew_household_w(load_kwh_per_year, first, step_s, steps, 0.0)
    )
    return Scenario(first, step_s, pv, load, 0.0, pv_csv.stem)


def make_policy(name: str, setup: Setup, forecasts: ForecastOracle) -> RulePolicy:
    fleet = Fleet(setup.miners, setup.scenario)
    if name == "edge":
        planner = setup.planner.for_plant(setup.plant) if setup.planner is not None else None
        return EdgePolicy(
            fleet,
            setup.control,
            setup.economics_config(),
            forecasts,
            planner=planner,
            utc_offset_s=setup.scenario.utc_offset_s,
        )
    if name == "seed":
        return SeedPolicy(fleet, forecasts)
    if name == "threshold":
        return ThresholdPolicy(fleet, ThresholdRules(reserve_soc_pct=setup.reserve_soc_pct))
    if name == "export":
        return ExportPolicy(fleet)
    raise ValueError(f"unknown policy {name!r} (known: {', '.join(POLICY_NAMES)})")


def parse_policies(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICY_NAMES]
    if unknown or not names:
        raise ValueError(
            f"unknown policies {unknown or text!r} (choose from {','.join(POLICY_NAMES)})"
        )
    return list(dict.fromkeys(names))


def run_policy(
    name: str,
    setup: Setup,
    forecasts: ForecastOracle | None = None,
    progress: Progress | None = None,
) -> Trace:
    """One policy's trace; ``progress(done_steps, total_steps)`` as it goes (for the oracle,
    after each window)."""
    if name == "oracle":
        return solve_oracle(
            setup.scenario,
            setup.plant,
            setup.miners,
            btc_value_per_th_s=setup.prices.value_per_th_s,
            export_price_per_kwh=setup.prices.export_price_per_kwh,
            import_price_per_kwh=setup.prices.import_price_per_kwh,
            reserve_soc_pct=setup.reserve_soc_pct,
            # The same efficiency curves the fleet mines with (concave hulls through 0 W).
            curves={m.name: m.curve().hull() for m in setup.miners},
            progress=progress,
        )
    forecasts = forecasts or ForecastOracle(setup.scenario, setup.forecast_noise, setup.seed)
    policy = make_policy(name, setup, forecasts)
    return simulate(policy, setup.scenario, setup.plant, progress=progress)


@dataclass
class Result:
    traces: dict[str, Trace]
    baseline: Trace
    kpis: dict[str, dict[str, Any]]


def run_backtest(
    setup: Setup,
    policies: Sequence[str],
    progress: Callable[[str], Progress] | None = None,
) -> Result:
    """Every policy in turn; ``progress(name)`` gives each run its progress callback."""
    forecasts = ForecastOracle(setup.scenario, setup.forecast_noise, setup.seed)
    traces: dict[str, Trace] = {}
    for name in policies:
        traces[name] = run_policy(name, setup, forecasts, progress(name) if progress else None)
    baseline = traces.get("export") or run_policy(
        "export", setup, forecasts, progress("export") if progress else None
    )
    kpis = {
        name: compute_kpis(trace, baseline, setup.prices, setup.reserve_soc_pct)
        for name, trace in traces.items()
    }
    oracle = kpis.get("oracle")
    if oracle:
        for row in kpis.values():
            for key, share in (
                ("mining_revenue", "share_of_oracle_revenue_pct"),
                ("gain_vs_export", "share_of_oracle_gain_pct"),
            ):
                if oracle[key] > 0:
                    row[share] = round(100.0 * row[key] / oracle[key], 2)
    return Result(traces, baseline, kpis)
