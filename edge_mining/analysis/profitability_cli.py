"""``edge-mining profitability``: the month-by-month projection and the break-even table.

The network defaults are the backtest's (``economics.Network``), +2 % difficulty a month,
0.035 per kWh, 48 months, 15 % uptime (solar-surplus mining runs about 12-20 % of the time at
full power; ``--uptime-from`` takes it from a backtest's JSON); the machine defaults to one
S19j Pro from the catalogue with its indicative price as CAPEX. The halvings within the
horizon come from the start date and the block height schedule unless ``--halving-month``
says otherwise. The seed analysis's setting is reproduced with
``--btc-price 40000 --difficulty 25.05e12 --difficulty-increment 6 --subsidy 6.25
--fees-per-block 0 --pool-fee 0``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from edge_mining.analysis.catalogue import parse_miner_spec
from edge_mining.analysis.economics import (
    Network,
    ProjectionInputs,
    break_even_table,
    estimated_block_height,
    halving_months,
    project,
)

EXIT_OK, EXIT_USAGE = 0, 2
DEFAULT_UPTIME_PCT = 15.0


def _numbers(text: str, name: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{name}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"{name}: no values")
    return values


def start_date(args: argparse.Namespace) -> datetime:
    if args.start_date is None:
        return datetime.now(UTC)
    try:
        return datetime.strptime(args.start_date, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"--start-date: expected YYYY-MM-DD, got {args.start_date!r}") from None


def uptime_from_backtest(path: Path) -> float:
    """The edge policy's effective uptime (% of the time at full power) in ``backtest --json``
    output (the first policy's when edge is absent)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"--uptime-from {path}: cannot read it: {error}") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data) or not data:
        raise ValueError(f"--uptime-from {path}: not the output of `edge-mining backtest --json`")
    chosen = next((item for item in data if item.get("policy") == "edge"), data[0])
    value = chosen.get("effective_uptime_pct")
    if not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ValueError(f"--uptime-from {path}: no effective_uptime_pct in it")
    return float(value)


def uptime_pct(args: argparse.Namespace) -> tuple[float, str]:
    """The uptime to use and where it comes from."""
    if args.uptime is not None and args.uptime_from is not None:
        raise ValueError("give --uptime or --uptime-from, not both")
    if args.uptime_from is not None:
        return uptime_from_backtest(args.uptime_from), f"from {args.uptime_from.name}"
    if args.uptime is not None:
        return args.uptime, "given"
    return DEFAULT_UPTIME_PCT, "default, typical of solar-surplus mining: see --uptime"


def build_inputs(args: argparse.Namespace) -> ProjectionInputs:
    hashrate, power, capex = args.hashrate_ths, args.power_w, args.capex
    if args.miner or hashrate is None or power is None:
        model, count = parse_miner_spec(args.miner or "S19j Pro")
        hashrate = hashrate or model.nominal_hashrate_ths * count
        power = power or model.nominal_power_w * count
        if capex is None:
            capex = (model.price_usd or 0.0) * count
    uptime, _ = uptime_pct(args)
    for name, value in (("--uptime", uptime), ("--hodl", args.hodl)):
        if not 0 <= value <= 100:
            raise ValueError(f"{name} is a percentage between 0 and 100")
    if args.halving_month is not None:
        if args.halving_month < 0:
            raise ValueError("--halving-month must not be negative (0: no halving)")
        halvings = (args.halving_month,) if args.halving_month else ()
    else:
        halvings = halving_months(start_date(args), args.months, args.block_height)
    return ProjectionInputs(
        hashrate_ths=hashrate,
        power_w=power,
        uptime=uptime / 100.0,
        btc_price=args.btc_price,
        difficulty=args.difficulty,
        difficulty_increment=args.difficulty_increment / 100.0,
        price_increment=args.price_increment / 100.0,
        subsidy_btc=args.subsidy,
        fees_per_block_btc=args.fees_per_block,
        pool_fee=args.pool_fee / 100.0,
        electricity_price_per_kwh=args.electricity_price,
        capex=capex or 0.0,
        opex_per_month=args.opex,
        residual_fraction=args.residual / 100.0,
        hodl_ratio=args.hodl / 100.0,
        months=args.months,
        halving_months=halvings,
        stop_when_unprofitable=not args.keep_mining_at_loss,
    )


def _months(value: int | None) -> str:
    return "-" if value is None else str(value)


def main(args: argparse.Namespace) -> int:
    try:
        start = start_date(args)
        inputs = build_inputs(args)
        uptime_source = uptime_pct(args)[1]
        prices = _numbers(args.table_prices, "--table-prices")
        uptimes = _numbers(args.table_uptimes, "--table-uptimes")
        if any(not 0 < u <= 100 for u in uptimes):
            raise ValueError("--table-uptimes are percentages in (0, 100]")
    except ValueError as error:
        print(f"profitability: {error}", file=sys.stderr)
        return EXIT_USAGE
    projection = project(inputs)
    table = break_even_table(inputs, prices, [u / 100.0 for u in uptimes])
    network = Network(
        difficulty=inputs.difficulty,
        subsidy_btc=inputs.subsidy_btc,
        fees_per_block_btc=inputs.fees_per_block_btc,
        pool_fee=inputs.pool_fee,
        btc_price=inputs.btc_price,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "inputs": asdict(inputs),
                    "hashprice_per_th_day": network.hashprice_per_th_day,
                    "sats_per_th_day": network.sats_per_th_day,
                    "break_even_month": projection.break_even_month,
                    "total_btc_mined": projection.total_btc_mined,
                    "btc_capex_equivalent": projection.btc_capex_equivalent,
                    "months": [asdict(row) for row in projection.rows],
                    "break_even_table": {
                        "electricity_prices": prices,
                        "uptimes_pct": uptimes,
                        "months": table,
                    },
                },
                indent=2,
            )
        )
        return EXIT_OK
    cur = args.currency
    height = args.block_height if args.block_height is not None else estimated_block_height(start)
    p = inputs
    print(
        f"{p.hashrate_ths:g} TH/s at {p.power_w:,.0f} W ({p.power_w / p.hashrate_ths:.1f} J/TH), "
        f"CAPEX {p.capex:,.0f} {cur}, OPEX {p.opex_per_month:,.0f} {cur}/month, electricity "
        f"{p.electricity_price_per_kwh:g} {cur}/kWh"
    )
    print(f"uptime {p.uptime * 100:g} % of the time at full power ({uptime_source})")
    print(
        f"hashprice now {network.hashprice_per_th_day:.4f} {cur}/TH/day "
        f"({network.sats_per_th_day:,.1f} sats/TH/day); difficulty {p.difficulty:.4g} "
        f"+{p.difficulty_increment * 100:g} %/month, price {p.btc_price:,.0f} {cur}/BTC "
        f"+{p.price_increment * 100:g} %/month, HODL {p.hodl_ratio * 100:g} %"
    )
    print(f"start {start:%Y-%m-%d}, block ~{height:,}, subsidy {p.subsidy_btc:g} BTC; " + (
        "halving from month " + ", ".join(str(m) for m in p.halving_months)
        if p.halving_months
        else f"no halving within {p.months} months"
    ))  # fmt: skip
    print()
    money = f"({cur})"
    print(
        f"{'month':>5} {'BTC mined':>10} {'revenue':>10} {'electric.':>10} "
        f"{'cash flow':>10} {'BTC held':>10} {'net':>10} {'net+hw':>10}"
    )
    print(f"{'':>5} {'':>10} {money:>10} {money:>10} {money:>10} {'':>10} {money:>10} {money:>10}")
    for row in projection.rows:
        print(
            f"{row.month:>5} {row.btc_mined:>10.6f} {row.revenue:>10,.2f} "
            f"{row.electricity_cost:>10,.2f} {row.cash_flow:>10,.2f} {row.btc_held:>10.6f} "
            f"{row.net_position:>10,.0f} {row.net_with_hardware:>10,.0f}"
            + ("" if row.mining else " off: loss")
        )
    print()
    print(
        f"break-even month: {_months(projection.break_even_month)}; total mined "
        f"{projection.total_btc_mined:.6f} BTC; the CAPEX would have bought "
        f"{projection.btc_capex_equivalent:.6f} BTC at the start"
    )
    print("net+hw: net position plus the hardware's depreciated value; off: loss: a month")
    print("whose revenue is below its electricity cost (miner switched off)")
    print()
    print("months to break even (-: not within the horizon)")
    print(f"rows: electricity price ({cur}/kWh); columns: uptime (% of the time at full power)")
    print(f"{cur + '/kWh':>9} " + "".join(f"{u:>6g} %" for u in uptimes))
    for price, row in zip(prices, table, strict=True):
        print(f"{price:>9g} " + "".join(f"{_months(v):>8}" for v in row))
    return EXIT_OK
