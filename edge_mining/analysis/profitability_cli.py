"""``edge-mining profitability``: the month-by-month projection and the break-even table.

The network defaults are the backtest's (``economics.Network``), +2 % difficulty a month,
0.035 per kWh, 48 months; the machine defaults to one S19j Pro from the catalogue with its
indicative price as CAPEX. The seed analysis's setting is reproduced with
``--btc-price 40000 --difficulty 25.05e12 --difficulty-increment 6 --subsidy 6.25
--fees-per-block 0 --pool-fee 0``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from edge_mining.analysis.catalogue import parse_miner_spec
from edge_mining.analysis.economics import (
    Network,
    ProjectionInputs,
    break_even_table,
    project,
)

EXIT_OK, EXIT_USAGE = 0, 2


def _numbers(text: str, name: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{name}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"{name}: no values")
    return values


def build_inputs(args: argparse.Namespace) -> ProjectionInputs:
    hashrate, power, capex = args.hashrate_ths, args.power_w, args.capex
    if args.miner or hashrate is None or power is None:
        model, count = parse_miner_spec(args.miner or "S19j Pro")
        hashrate = hashrate or model.nominal_hashrate_ths * count
        power = power or model.nominal_power_w * count
        if capex is None:
            capex = (model.price_usd or 0.0) * count
    for name, value in (("--uptime", args.uptime), ("--hodl", args.hodl)):
        if not 0 <= value <= 100:
            raise ValueError(f"{name} is a percentage between 0 and 100")
    return ProjectionInputs(
        hashrate_ths=hashrate,
        power_w=power,
        uptime=args.uptime / 100.0,
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
        halving_month=args.halving_month,
        stop_when_unprofitable=not args.keep_mining_at_loss,
    )


def _months(value: int | None) -> str:
    return "NaN" if value is None else str(value)


def main(args: argparse.Namespace) -> int:
    try:
        inputs = build_inputs(args)
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
    p = inputs
    print(
        f"{p.hashrate_ths:g} TH/s at {p.power_w:,.0f} W ({p.power_w / p.hashrate_ths:.1f} J/TH), "
        f"uptime {p.uptime * 100:g} %, CAPEX {p.capex:,.0f}, OPEX {p.opex_per_month:,.0f}/month"
    )
    print(
        f"hashprice now {network.hashprice_per_th_day:.4f}/TH/day "
        f"({network.sats_per_th_day:,.1f} sats/TH/day); difficulty {p.difficulty:.4g} "
        f"+{p.difficulty_increment * 100:g} %/month, price {p.btc_price:,.0f} "
        f"+{p.price_increment * 100:g} %/month, HODL {p.hodl_ratio * 100:g} %"
        + (f", halving in month {p.halving_month}" if p.halving_month else "")
    )
    print()
    print(
        f"{'month':>5} {'BTC mined':>11} {'revenue':>11} {'electricity':>11} "
        f"{'cash flow':>11} {'BTC held':>10} {'net':>12} {'net+hardware':>13}"
    )
    for row in projection.rows:
        print(
            f"{row.month:>5} {row.btc_mined:>11.6f} {row.revenue:>11,.2f} "
            f"{row.electricity_cost:>11,.2f} {row.cash_flow:>11,.2f} {row.btc_held:>10.6f} "
            f"{row.net_position:>12,.2f} {row.net_with_hardware:>13,.2f}"
            + ("" if row.mining else "  (switched off: below electricity cost)")
        )
    print()
    print(
        f"break-even month: {_months(projection.break_even_month)}; total mined "
        f"{projection.total_btc_mined:.6f} BTC; the CAPEX would have bought "
        f"{projection.btc_capex_equivalent:.6f} BTC at the start"
    )
    print()
    print("months to break even (NaN: not within the horizon)")
    print("price/kWh " + "".join(f"{u:>7g}%" for u in uptimes))
    for price, row in zip(prices, table, strict=True):
        print(f"{price:>9g} " + "".join(f"{_months(v):>8}" for v in row))
    return EXIT_OK
