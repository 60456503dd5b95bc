"""One year at 5-minute steps through each policy and the oracle: time and peak RSS of each.

Each policy runs in a fresh Python process, so one run's memory peak never hides another's:
``peak RSS`` is that process's maximum resident set (imports and the scenario included, shown
apart as ``before``). Wall and CPU time are both printed: on a busy machine the CPU time is
the fairer figure.

Goals: under 10 s per rule-based policy; edge (which plans every 15 minutes) under 60 s;
the oracle under 15 s; both under 300 MB peak.
``oracle-monolithic`` solves the whole year as one program, as the oracle did before it was
windowed (about 2 GB): run it only to compare.

    python benchmarks/backtest_year.py [--site grid|off-grid|hybrid]
        [--policies export,seed,threshold,edge,oracle] [--step-min 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from edge_mining.analysis.weather import pvlib_sample

SITES = {
    # The two reference sites, and a hybrid that may import but never export.
    "grid": ["--pv-kwp", "5", "--battery-kwh", "10", "--load-kwh-per-year", "4000",
             "--miner", "S19j Pro"],
    "off-grid": ["--pv-kwp", "8", "--battery-kwh", "15", "--load-kwh-per-year", "3000",
                 "--miner", "S19j Pro", "--miner", "S9:2", "--off-grid"],
    "hybrid": ["--pv-kwp", "8", "--battery-kwh", "10", "--load-kwh-per-year", "4000",
               "--miner", "S19j Pro", "--miner", "S9", "--export-limit-w", "0"],
}  # fmt: skip
# edge plans a day and a half ahead every 15 minutes of the year (35,040 small LPs, a
# millisecond or two each): its goal is the planner's, not a rule-based policy's. With a grid
# a plan until sunset holds two scenarios of the day's PV (``planner.GRID_PV_SCENARIOS``),
# twice the program: 60 -> 90 s.
GOALS = {"oracle": (15.0, 300.0), "oracle-monolithic": (60.0, None), "edge": (90.0, 300.0)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(name: str, site: str, step_min: int) -> dict[str, float | str | None]:
    """In the child: build the setup, run one policy, measure, then compute its KPIs."""
    from edge_mining.analysis.backtest import run_policy
    from edge_mining.analysis.backtest_cli import build_setup
    from edge_mining.analysis.kpis import compute_kpis
    from edge_mining.analysis.oracle import solve_oracle
    from edge_mining.cli import build_parser

    argv = ["backtest", "--weather", str(pvlib_sample()), "--step-min", str(step_min)]
    setup = build_setup(build_parser().parse_args([*argv, *SITES[site]]))
    before = peak_rss_mb()
    began, cpu = time.perf_counter(), time.process_time()
    if name == "oracle-monolithic":
        p = setup.prices
        trace = solve_oracle(
            setup.scenario, setup.plant, setup.miners, btc_value_per_th_s=p.value_per_th_s,
            export_price_per_kwh=p.export_price_per_kwh,
            import_price_per_kwh=p.import_price_per_kwh, reserve_soc_pct=setup.reserve_soc_pct,
            window_days=0,
        )  # fmt: skip
    else:
        trace = run_policy(name, setup)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = peak_rss_mb()
    baseline = trace if name == "export" else run_policy("export", setup)
    k = compute_kpis(trace, baseline, setup.prices, setup.reserve_soc_pct)
    return {
        "policy": name, "steps": setup.scenario.steps, "wall_s": wall, "cpu_s": cpu,
        "rss_before_mb": before, "peak_rss_mb": peak, "mined_kwh": k["mined_kwh"],
        "revenue": k["mining_revenue"], "gain": k["gain_vs_export"],
        "starts_per_day": k["starts_per_day_per_miner"],
        "objective": trace.notes.get("objective"), "gap_pct": trace.notes.get("gap_pct"),
        "windows": trace.notes.get("windows"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policies", default="export,seed,threshold,edge,oracle")
    parser.add_argument("--site", choices=sorted(SITES), default="grid")
    parser.add_argument("--step-min", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child's side
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.site, args.step_min)))
        return

    print(f"site {args.site}: {' '.join(SITES[args.site])}, {args.step_min}-min steps, "
          f"pvlib Greensboro TMY3; each policy in a fresh process")  # fmt: skip
    print(f"{'policy':>17} {'wall s':>7} {'CPU s':>7} {'before MB':>9} {'peak MB':>8} "
          f"{'mined kWh':>9} {'revenue':>8} {'gain':>7} {'objective':>10}"
          f" {'gap %':>7}")  # fmt: skip
    for name in args.policies.split(","):
        child = [sys.executable, __file__, "--one", name, "--site", args.site,
                 "--step-min", str(args.step_min)]  # fmt: skip
        done = subprocess.run(child, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{name:>17} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        objective = "" if r["objective"] is None else f"{r['objective']:.4f}"
        gap = "" if r["gap_pct"] is None else f"{r['gap_pct']:.4f}"
        line = (f"{name:>17} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} {r['rss_before_mb']:9.0f} "
                f"{r['peak_rss_mb']:8.0f} {r['mined_kwh']:9.0f} {r['revenue']:8.2f} "
                f"{r['gain']:7.2f} {objective:>10} {gap:>7}")  # fmt: skip
        time_goal, rss_goal = GOALS.get(name, (10.0, None))
        over = r["wall_s"] >= time_goal or (rss_goal is not None and r["peak_rss_mb"] >= rss_goal)
        goal = f"< {time_goal:.0f} s" + (f", < {rss_goal:.0f} MB" if rss_goal else "")
        print(f"{line}  goal {goal}: {'OVER GOAL' if over else 'ok'}")


if __name__ == "__main__":
    main()
