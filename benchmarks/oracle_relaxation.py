"""How much of the LP oracle's net gain is its relaxation: the exact unit-commitment MILP of
the same plant (``edge_mining.analysis.oracle_milp``) against the LP, on sample windows.

The backtest's oracle lets a miner's power run continuously from 0 W (time-sharing it below
its minimum power) and ignores start limits; a policy's "share of the oracle's gain" is
measured against that upper bound. Here the site is built from backtest arguments (the same
parser and ``build_setup`` as ``edge-mining backtest``), the oracle and the export baseline
run once over the period, and then for each window (whole days, from the SoC the oracle's
trace has at the window's start, terminal SoC free) the LP window and the MILP are solved:

- ``LP``: the oracle's window program (``oracle_lp.solve_window``; its reserve relaxed, so if
  anything it is worth a little more than the oracle's own plan there);
- ``MILP`` and ``bound``: the best unit-commitment plan HiGHS found within the time limit
  and its dual bound (no plan that respects the minimum power, the controller's min on/off
  times, its starts per day and the reserve exactly is worth more);
- ``baseline``: what the export policy's trace is worth over the window (no mining; from
  its own SoC, as the backtest's gain KPI counts it, not the oracle's);
- ``MILP %`` / ``bound %``: the MILP's (the bound's) gain over the baseline as a share of the
  LP's. 100 % means the relaxation costs nothing there.

    python benchmarks/oracle_relaxation.py [--days 3] [--windows 30,120,170,250 | --spread 4]
        [--time-limit 120] [--mip-gap 0.001] -- BACKTEST ARGS
    e.g. ... -- --weather sample --pv-kwp 5 --battery-kwh 10 --load-kwh-per-year 4000 \\
        --miner "S19j Pro"
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from edge_mining.analysis.backtest import Setup, run_policy
from edge_mining.analysis.backtest_cli import build_setup
from edge_mining.analysis.engine import Trace
from edge_mining.analysis.oracle_milp import (
    Commitment,
    lp_window_value,
    setup_program,
    solve_window_milp,
)
from edge_mining.cli import build_parser
from edge_mining.highs_banner import silence_highs_banner


def window_value(trace: Trace, setup: Setup, a: int, b: int) -> float:
    """Site value of a trace over steps ``[a, b)``: mining revenue + export - import."""
    p = setup.prices
    kwh = setup.scenario.hours_per_step / 1000.0
    revenue = float(trace.hashrate_ths[a:b].sum()) * p.value_per_th_s * setup.scenario.step_s
    export = float(trace.grid_export_w[a:b].sum()) * kwh * p.export_price_per_kwh
    return revenue + export - float(trace.grid_import_w[a:b].sum()) * kwh * p.import_price_per_kwh


def start_days(args: argparse.Namespace, total_days: int) -> list[int]:
    last = total_days - args.days
    if last < 0:
        raise SystemExit(f"--days {args.days}: the period has only {total_days} days")
    if args.windows:
        days = [int(d) for d in args.windows.split(",")]
        bad = [d for d in days if not 0 <= d <= last]
        if bad:
            raise SystemExit(f"--windows: start days must be in 0..{last}: {bad}")
        return days
    count = args.spread
    return sorted({min(last, max(0, round((i + 0.5) * total_days / count - args.days / 2)))
                   for i in range(count)})  # fmt: skip


def share(x: float, lp: float, base: float) -> str:
    gain = lp - base
    return f"{100.0 * (x - base) / gain:7.2f}" if abs(gain) > 1e-12 else f"{'n/a':>7}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="backtest arguments follow after --"
    )
    parser.add_argument("--days", type=int, default=3, help="days per window (default 3)")
    picks = parser.add_mutually_exclusive_group()
    picks.add_argument("--windows", help="start days, comma-separated (day 0 is the first)")
    picks.add_argument("--spread", type=int, default=4, help="N windows spread over the period")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per MILP")
    parser.add_argument("--mip-gap", type=float, default=1e-3, help="HiGHS mip_rel_gap")
    parser.add_argument("backtest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.days < 1 or args.spread < 1:
        parser.error("--days and --spread must be at least 1")
    rest = args.backtest[1:] if args.backtest[:1] == ["--"] else args.backtest
    setup = build_setup(build_parser().parse_args(["backtest", *rest]))
    silence_highs_banner()

    sc = setup.scenario
    per_day = round(86400.0 / sc.step_s)
    days = start_days(args, sc.steps // per_day)
    began = time.perf_counter()
    oracle = run_policy("oracle", setup)
    baseline = run_policy("export", setup)
    print(f"backtest {' '.join(rest)}")
    print(f"oracle and export baseline over {sc.steps // per_day} days: "
          f"{time.perf_counter() - began:.1f} s")  # fmt: skip
    prog = setup_program(setup)
    rules = Commitment.from_control(setup.control, sc.step_s)
    print(f"MILP rules: min on {rules.min_on_steps} steps, min off {rules.min_off_steps}, "
          f"{rules.max_starts_per_day} starts/day per miner; {args.days}-day windows, "
          f"time limit {args.time_limit:g} s, mip gap {args.mip_gap:g}")  # fmt: skip
    print(f"{'days':>9} {'LP':>8} {'MILP':>8} {'bound':>8} {'baseline':>8} {'MILP %':>7} "
          f"{'bound %':>7} {'LP s':>5} {'MILP s':>6}  status")  # fmt: skip
    totals = np.zeros(4)
    for day in days:
        a, b = day * per_day, (day + args.days) * per_day
        start_wh = prog.capacity_wh * float(oracle.soc_start_pct[a]) / 100.0
        start_wh = min(prog.e_max, max(prog.e_min, start_wh))
        t0 = time.perf_counter()
        lp = lp_window_value(prog, a, b, start_wh)
        lp_s = time.perf_counter() - t0
        sol = solve_window_milp(
            prog, setup.miners, a, b, start_wh, rules,
            time_limit_s=args.time_limit, mip_gap=args.mip_gap,
        )  # fmt: skip
        base = window_value(baseline, setup, a, b)
        totals += (lp, sol.value, sol.bound, base)
        status = "optimal" if sol.optimal else "time limit"
        print(f"{day:>4}-{day + args.days:<4} {lp:8.3f} {sol.value:8.3f} {sol.bound:8.3f} "
              f"{base:8.3f} {share(sol.value, lp, base)} {share(sol.bound, lp, base)} "
              f"{lp_s:5.1f} {sol.elapsed_s:6.1f}  {status}, {sol.binaries} binaries, "
              f"starts {','.join(str(s) for s in sol.starts)}", flush=True)  # fmt: skip
    lp, value, bound, base = totals
    print(f"{'total':>9} {lp:8.3f} {value:8.3f} {bound:8.3f} {base:8.3f} "
          f"{share(value, lp, base)} {share(bound, lp, base)}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
