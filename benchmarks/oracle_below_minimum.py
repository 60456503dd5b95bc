"""How much of the LP oracle's value comes from mining below a miner's minimum power.

The backtest's oracle is a linear program: a miner's power runs continuously from 0 W, so in a
5-minute step it may "run" at 400 W when its minimum is 1,220 W (time-sharing the minimum
within the step, with nothing to buffer the difference). A real miner cannot: it runs at its
minimum or more, or not at all, and only a battery above the reserve can make up what PV
lacks. This script runs the oracle (and the export baseline, for the net gain) over a
backtest's period and prints what the oracle mines in steps where the whole fleet draws more
than 0 W and less than its smallest miner's minimum (no whole miner can run there: a lower
bound on its time-sharing), split by the battery's SoC at the step's start against the
reserve (below it a real controller cannot bridge with the battery at all).

    python benchmarks/oracle_below_minimum.py -- BACKTEST ARGS
    e.g. ... -- --weather sample --pv-kwp 5 --battery-kwh 10 --load-kwh-per-year 4000 \\
        --miner "S19j Pro"
"""

from __future__ import annotations

import sys

import numpy as np

from edge_mining.analysis.backtest import Setup, run_policy
from edge_mining.analysis.backtest_cli import build_setup
from edge_mining.analysis.engine import Trace
from edge_mining.cli import build_parser
from edge_mining.highs_banner import silence_highs_banner


def step_values(trace: Trace, setup: Setup) -> tuple[np.ndarray, np.ndarray]:
    """Per step: mining revenue, and revenue + export income - import cost (currency)."""
    p = setup.prices
    kwh = setup.scenario.hours_per_step / 1000.0
    revenue = trace.hashrate_ths * p.value_per_th_s * setup.scenario.step_s
    export = trace.grid_export_w * kwh * p.export_price_per_kwh
    grid = export - trace.grid_import_w * kwh * p.import_price_per_kwh
    return revenue, revenue + grid


def main() -> int:
    rest = sys.argv[1:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if not rest or rest[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if rest else 2
    setup = build_setup(build_parser().parse_args(["backtest", *rest]))
    silence_highs_banner()
    oracle = run_policy("oracle", setup)
    baseline = run_policy("export", setup)
    revenue, value = step_values(oracle, setup)
    _, base_value = step_values(baseline, setup)
    gain = float(value.sum() - base_value.sum())
    smallest_w = min(m.min_power_w if m.power_target else m.nominal_power_w for m in setup.miners)
    kwh = setup.scenario.hours_per_step / 1000.0
    power = oracle.miners_w
    below = (power > 1.0) & (power < smallest_w - 1.0)
    soc = oracle.soc_start_pct
    reserve = setup.reserve_soc_pct

    print(f"backtest {' '.join(rest)}")
    print(
        f"oracle: mined {power.sum() * kwh:,.0f} kWh, revenue {revenue.sum():.2f}, "
        f"net gain over export {gain:.2f}; smallest miner minimum {smallest_w:.0f} W, "
        f"reserve {reserve:.0f} %"
    )
    print(f"{'steps below the minimum':<34} {'steps':>7} {'kWh':>7} {'revenue':>8} "
          f"{'% rev':>6} {'% gain':>6}")  # fmt: skip
    rows = (
        ("all", below),
        (f"SoC below the reserve ({reserve:.0f} %)", below & (soc < reserve)),
        ("SoC at or above the reserve", below & (soc >= reserve)),
    )
    for label, mask in rows:
        rev = float(revenue[mask].sum())
        gain_pct = f"{100.0 * rev / gain:6.1f}" if abs(gain) > 1e-9 else f"{'n/a':>6}"
        print(f"{label:<34} {int(mask.sum()):>7} {power[mask].sum() * kwh:7.0f} {rev:8.2f} "
              f"{100.0 * rev / max(float(revenue.sum()), 1e-9):6.1f} {gain_pct}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
