"""``edge-mining backtest``: replay a year (or part of one) through every chosen policy.

Exit codes: 0 done, 1 the run failed (for example the oracle's LP), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from edge_mining.analysis.backtest import (
    Setup,
    backtest_control,
    csv_scenario,
    parse_policies,
    run_backtest,
    weather_scenario,
)
from edge_mining.analysis.catalogue import miner_configs
from edge_mining.analysis.economics import Network
from edge_mining.analysis.kpis import Prices
from edge_mining.analysis.oracle import OracleError
from edge_mining.analysis.policies import PLANS_FAILED
from edge_mining.analysis.progress_bars import policy_bars
from edge_mining.analysis.report import console_table, write_html_report
from edge_mining.analysis.weather import pvlib_sample
from edge_mining.config import ControlConfig, PlannerConfig, PlantConfig
from edge_mining.highs_banner import silence_highs_banner

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
SAMPLE_WEATHER = "sample"  # --weather sample: pvlib's bundled TMY3 year (Greensboro, NC)

NOTE = (
    "gain vs no mining = mining revenue + export income - import cost, minus the same for the\n"
    "export baseline: the oracle maximises it. A policy can out-earn the oracle's gross mining\n"
    "revenue only by mining battery energy the house later buys back (see extra import).\n"
    "The oracle's miner power is continuous: its starts are no schedule and shown as '-'."
)


class UsageError(ValueError):
    pass


def _overrides(items: list[str] | None, option: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE")
        changes[key.strip()] = yaml.safe_load(value)
    return changes


def _control(args: argparse.Namespace, step_s: float) -> ControlConfig:
    try:
        base = ControlConfig.model_validate(_overrides(args.control, "--control"))
    except ValueError as error:
        raise UsageError(f"--control: {error}") from None
    return backtest_control(step_s, base)


def _planner(args: argparse.Namespace) -> PlannerConfig | None:
    try:
        planner = PlannerConfig.model_validate(_overrides(args.planner, "--planner"))
    except ValueError as error:
        raise UsageError(f"--planner: {error}") from None
    return planner if planner.enabled else None


def build_setup(args: argparse.Namespace) -> Setup:
    if not 1 <= args.step_min <= 60 or 1440 % args.step_min:
        raise UsageError("--step-min must divide a day and be between 1 and 60")
    step_s = args.step_min * 60.0
    if (args.weather is None) == (args.pv_csv is None):
        raise UsageError("give exactly one of --weather FILE or --pv-csv FILE")
    if args.weather == Path(SAMPLE_WEATHER):
        args.weather = pvlib_sample()
    for path in (args.weather, args.pv_csv, args.load_csv):
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: no such file")
    latitude = 45.0
    if args.weather is not None:
        scenario, latitude = weather_scenario(
            args.weather,
            kwp=args.pv_kwp,
            tilt=args.tilt,
            azimuth=args.azimuth,
            losses_pct=args.losses,
            load_kwh_per_year=args.load_kwh_per_year,
            step_s=step_s,
            load_csv=args.load_csv,
        )
    else:
        scenario = csv_scenario(
            args.pv_csv,
            load_kwh_per_year=args.load_kwh_per_year,
            step_s=step_s,
            load_csv=args.load_csv,
        )
    if args.start_day or args.days:
        total = int(scenario.days)
        days = args.days or (total - args.start_day)
        scenario = scenario.slice_days(args.start_day, days)
    try:
        plant = PlantConfig(
            pv_kwp=args.pv_kwp,
            battery_kwh=args.battery_kwh,
            battery_max_charge_w=args.battery_kw * 1000.0,
            battery_max_discharge_w=args.battery_kw * 1000.0,
            battery_initial_soc_pct=args.initial_soc,
            inverter_max_w=args.inverter_kw * 1000.0,
            export_limit_w=args.export_limit_w,
            grid_connected=not args.off_grid,
            latitude=latitude,
        )
        network = Network(
            difficulty=args.difficulty,
            subsidy_btc=args.subsidy,
            fees_per_block_btc=args.fees_per_block,
            pool_fee=args.pool_fee / 100.0,
            btc_price=args.btc_price,
        )
        miners = tuple(miner_configs(args.miner or ["S19j Pro"]))
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.export_price < 0 or args.import_price < 0:
        raise UsageError("prices must not be negative")
    if not 0 <= args.reserve_soc <= 100:
        raise UsageError("--reserve-soc is a percentage")
    if not 0 <= args.forecast_noise <= 2:
        raise UsageError("--forecast-noise is a log-normal sigma between 0 and 2")
    return Setup(
        scenario=scenario,
        plant=plant,
        miners=miners,
        prices=Prices(network, args.export_price, args.import_price, args.currency),
        reserve_soc_pct=args.reserve_soc,
        control=_control(args, step_s),
        planner=_planner(args),
        forecast_noise=args.forecast_noise,
        seed=args.seed,
    )


def describe(setup: Setup, args: argparse.Namespace) -> list[str]:
    s, p, n = setup.scenario, setup.plant, setup.prices.network
    models: dict[str, int] = {}
    for m in setup.miners:
        key = f"{m.nominal_power_w:.0f} W / {m.nominal_hashrate_ths:g} TH/s"
        models[key] = models.get(key, 0) + 1
    fleet = ", ".join(f"{count} x {key}" for key, count in models.items())
    source = args.weather.name if args.weather else args.pv_csv.name
    cur = setup.prices.currency
    return [
        f"{s.name or source}: {s.days:.0f} days at {s.step_s / 60:.0f}-min steps; "
        f"PV {p.pv_kwp:g} kWp (tilt {args.tilt:g}, azimuth {args.azimuth:g}), "
        f"{s.pv_w.sum() * s.hours_per_step / 1000:,.0f} kWh; house "
        f"{s.load_w.sum() * s.hours_per_step / 1000:,.0f} kWh",
        f"battery {p.battery_kwh:g} kWh ({p.battery_max_charge_w / 1000:g} kW), reserve "
        f"{setup.reserve_soc_pct:g} %; inverter {p.inverter_max_w / 1000:g} kW; miners: {fleet}",
        f"hashprice {n.hashprice_per_th_day:.4f} {cur}/TH/day ({n.sats_per_th_day:.0f} sats) at "
        f"difficulty {n.difficulty:.4g}, {n.subsidy_btc:g}+{n.fees_per_block_btc:g} BTC/block, "
        f"{n.btc_price:,.0f} {cur}/BTC, pool fee {n.pool_fee * 100:g} %",
        f"export {setup.prices.export_price_per_kwh:g} {cur}/kWh, import "
        f"{setup.prices.import_price_per_kwh:g} {cur}/kWh; forecast: "
        + (
            "perfect (actual PV, hourly)"
            if setup.forecast_noise == 0
            else f"day-ahead, actual PV x log-normal(sigma {setup.forecast_noise:g}) per day "
            f"and per hour"
        ),
        "edge: "
        + (
            f"planner every {setup.planner.interval_s:g} s over {setup.planner.horizon_h:g} h"
            if setup.planner is not None
            else "rules only (no planner)"
        ),
    ] + ([f"edge control overrides: {', '.join(args.control)}"] if args.control else [])


def main(args: argparse.Namespace) -> int:
    try:
        policies = parse_policies(args.policies)
        setup = build_setup(args)
    except (UsageError, ValueError) as error:
        print(f"backtest: {error}", file=sys.stderr)
        return EXIT_USAGE
    silence_highs_banner()  # the planner solves with HiGHS; stdout may carry --json
    try:
        # Bars only for a person watching a terminal; never in --json or piped output.
        with policy_bars(sys.stderr, sys.stderr.isatty() and not args.json) as bars:
            result = run_backtest(setup, policies, bars)
    except OracleError as error:
        print(f"backtest: {error}", file=sys.stderr)
        return EXIT_FAILURE
    for name in policies:
        failed = int(result.traces[name].notes.get(PLANS_FAILED, 0))
        if failed:
            print(
                f"backtest: warning: {name}: {failed} plans could not be solved; the controller "
                "followed its rules until the next one was",
                file=sys.stderr,
            )
    lines = describe(setup, args)
    if args.json:
        print(json.dumps([result.kpis[name] for name in policies], indent=2))
    else:
        print("\n".join(lines))
        print()
        print(console_table({name: result.kpis[name] for name in policies}))
        print()
        print(NOTE)
    if args.report is not None:
        path = write_html_report(
            args.report,
            {name: result.traces[name] for name in policies},
            {name: result.kpis[name] for name in policies},
            setup.prices,
            "Edge Mining backtest",
            lines,
            baseline=result.baseline,
        )
        print(f"report: {path}", file=sys.stderr)
    return EXIT_OK
