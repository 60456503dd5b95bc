"""One year at 5-minute steps through each policy, and the oracle: prints the figures.

Goal: under 10 s per rule-based policy, under 60 s for the oracle. Wall and CPU time are
both printed: on a busy machine the CPU time is the fairer figure.

    python benchmarks/backtest_year.py [--policies edge,seed,threshold,export,oracle]
"""

from __future__ import annotations

import argparse
import time

from edge_mining.analysis.backtest import Setup, backtest_control, run_policy, weather_scenario
from edge_mining.analysis.catalogue import miner_configs
from edge_mining.analysis.economics import Network
from edge_mining.analysis.forecasts import ForecastOracle
from edge_mining.analysis.kpis import Prices, compute_kpis
from edge_mining.analysis.weather import pvlib_sample
from edge_mining.config import PlantConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policies", default="export,seed,threshold,edge,oracle")
    parser.add_argument("--step-min", type=int, default=5)
    args = parser.parse_args()
    step = args.step_min * 60.0

    began = time.perf_counter()
    scenario, latitude = weather_scenario(
        pvlib_sample("723170TYA.CSV"), kwp=5.0, tilt=30.0, azimuth=180.0, losses_pct=14.0,
        load_kwh_per_year=4000.0, step_s=step,
    )  # fmt: skip
    print(f"scenario (pvlib PV + BDEW load, {scenario.steps} steps): "
          f"{time.perf_counter() - began:.2f} s")  # fmt: skip
    setup = Setup(
        scenario=scenario,
        plant=PlantConfig(pv_kwp=5.0, battery_kwh=10.0, latitude=latitude),
        miners=tuple(miner_configs(["S19j Pro"])),
        prices=Prices(Network(), 0.04, 0.15),
        control=backtest_control(step),
    )
    forecasts = ForecastOracle(scenario)
    traces = {}
    for name in args.policies.split(","):
        began, cpu = time.perf_counter(), time.process_time()
        traces[name] = run_policy(name, setup, forecasts)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        goal = 60.0 if name == "oracle" else 10.0
        verdict = "ok" if elapsed < goal else "OVER GOAL"
        per_step = elapsed / scenario.steps * 1e6
        print(f"{name:>10}: {elapsed:7.2f} s wall, {cpu:7.2f} s CPU ({per_step:6.1f} us/step; "
              f"goal < {goal:.0f} s: {verdict})")  # fmt: skip
    baseline = traces.get("export") or run_policy("export", setup, forecasts)
    print()
    print(f"{'policy':>10} {'mined kWh':>10} {'revenue':>9} {'gain':>8} {'starts/d':>9}")
    for name, trace in traces.items():
        k = compute_kpis(trace, baseline, setup.prices, setup.reserve_soc_pct)
        starts = k["starts_per_day_per_miner"]  # None for the oracle's continuous plan
        starts_text = "n/a" if starts is None else f"{starts:.2f}"
        print(f"{name:>10} {k['mined_kwh']:>10.0f} {k['mining_revenue']:>9.2f} "
              f"{k['gain_vs_export']:>8.2f} {starts_text:>9}")  # fmt: skip


if __name__ == "__main__":
    main()
