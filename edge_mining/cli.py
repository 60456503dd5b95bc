"""Command line: ``edge-mining run | demo | emulate | probe | backtest | profitability``
and ``check-config``.

Every subcommand's handler lives in the room that owns it and is imported only when that
subcommand runs, so ``edge-mining --help`` and light commands stay fast. A handler takes the
parsed arguments and returns the exit code: 0 success, 1 runtime failure, 2 bad
configuration or usage.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from edge_mining import __version__

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

Handler = Callable[[argparse.Namespace], int]


def _handler(target: str) -> Callable[[argparse.Namespace], int]:
    """A handler that imports ``module:function`` only when it is called."""

    def call(args: argparse.Namespace) -> int:
        module_name, _, function_name = target.partition(":")
        function: Handler = getattr(importlib.import_module(module_name), function_name)
        return function(args)

    return call


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the daemon")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="site configuration (YAML)")
    source.add_argument(
        "--addon", action="store_true", help="read /data/options.json (Home Assistant add-on)"
    )
    run.add_argument("--options", type=Path, default=None, help=argparse.SUPPRESS)
    run.set_defaults(handler=_handler("edge_mining.service:run_command"))

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_handler("edge_mining.cli:check_config_command"))


def _add_demo(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run a simulated site with a live console view")
    demo.add_argument("--speed", type=_positive_float, default=300.0, help="time acceleration")
    demo.add_argument(
        "--duration", type=_positive_float, default=None, help="wall-clock seconds, then exit 0"
    )
    demo.add_argument("--config", type=Path, default=None, help="site configuration (YAML)")
    demo.add_argument(
        "--start-hour", type=float, default=7.0, help="simulated time of day to start at"
    )
    demo.add_argument(
        "--inverter",
        choices=["sim", "emulated"],
        default="sim",
        help="emulated: a PI30 inverter emulator on a pseudo-terminal",
    )
    demo.add_argument(
        "--solaredge", action="store_true", help="use an emulated SolarEdge over Modbus TCP"
    )
    demo.add_argument(
        "--miners",
        choices=["sim", "emulated"],
        default="sim",
        help="emulated: BraiinsOS emulators on loopback, driven through pyasic",
    )
    demo.add_argument("--mqtt", default=None, help="HOST:PORT of a broker, or 'embedded'")
    demo.add_argument("--mqtt-username", default=None)
    demo.add_argument("--mqtt-password", default=None)
    demo.set_defaults(handler=_handler("edge_mining.demo:main"))


def _add_emulate(sub: argparse._SubParsersAction) -> None:
    emulate = sub.add_parser("emulate", help="serve an emulated device until SIGTERM")
    kinds = emulate.add_subparsers(dest="device", required=True)

    inverter = kinds.add_parser("inverter", help="Voltronic/Axpert PI30 on a pseudo-terminal")
    inverter.add_argument("--speed", type=_positive_float, default=1.0)
    inverter.add_argument("--faults", default="", help="e.g. crc=0.05,nak=0.05,garbage=0.05")
    inverter.add_argument("--pacing", action="store_true", help="pace bytes at 2400 baud")
    inverter.set_defaults(handler=_handler("edge_mining.sim.pi30_emulator:main"))

    miner = kinds.add_parser("miner", help="BraiinsOS miner(s) on loopback")
    miner.add_argument("--host", default="127.0.1.1")
    miner.add_argument("--count", type=int, default=1)
    miner.add_argument("--model", default="S19j Pro")
    miner.add_argument("--password", default="root")
    miner.add_argument("--speed", type=_positive_float, default=1.0)
    miner.add_argument("--faults", default="")
    miner.set_defaults(handler=_handler("edge_mining.sim.braiins_emulator:main"))

    solaredge = kinds.add_parser("solaredge", help="SolarEdge SunSpec over Modbus TCP")
    solaredge.add_argument("--host", default="127.0.0.1")
    solaredge.add_argument("--port", type=int, default=1502)
    solaredge.add_argument("--speed", type=_positive_float, default=1.0)
    solaredge.add_argument("--faults", default="")
    solaredge.set_defaults(handler=_handler("edge_mining.sim.solaredge_emulator:main"))


def _add_probe(sub: argparse._SubParsersAction) -> None:
    probe = sub.add_parser("probe", help="read a real device once and print what we see")
    kinds = probe.add_subparsers(dest="device", required=True)

    inverter = kinds.add_parser("inverter")
    inverter.add_argument("--device", required=True)
    inverter.add_argument("--transport", choices=["serial", "hidraw"], default=None)
    inverter.add_argument("--json", action="store_true")
    inverter.set_defaults(handler=_handler("edge_mining.devices.voltronic_probe:main"))

    miner = kinds.add_parser("miner")
    miner.add_argument("host")
    miner.add_argument("--username", default="root")
    miner.add_argument("--password", default=None, help="default: env EDGE_MINING_MINER_PASSWORD")
    miner.add_argument("--json", action="store_true")
    miner.set_defaults(handler=_handler("edge_mining.devices.braiins_probe:main"))

    solaredge = kinds.add_parser("solaredge")
    solaredge.add_argument("address", metavar="HOST[:PORT]")
    solaredge.add_argument("--unit", type=int, default=1)
    solaredge.add_argument("--json", action="store_true")
    solaredge.set_defaults(handler=_handler("edge_mining.devices.solaredge_probe:main"))


def _add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """The bitcoin network and market, with the same defaults for every analysis command.

    Kept here rather than imported from analysis/economics.py so ``--help`` stays fast; a test
    checks they equal ``economics.Network``'s defaults.
    """
    parser.add_argument("--btc-price", type=_positive_float, default=100_000.0)
    parser.add_argument("--difficulty", type=_positive_float, default=1.2e14)
    parser.add_argument("--subsidy", type=float, default=3.125, help="BTC per block")
    parser.add_argument("--fees-per-block", type=float, default=0.025, help="BTC")
    parser.add_argument("--pool-fee", type=float, default=2.0, help="%%")


def _add_analysis(sub: argparse._SubParsersAction) -> None:
    backtest = sub.add_parser("backtest", help="replay a period through the controller")
    backtest.add_argument("--weather", type=Path, default=None, help="TMY3, TMY2 or EPW file")
    backtest.add_argument("--pv-csv", type=Path, default=None, help="measured PV power CSV")
    backtest.add_argument("--pv-kwp", type=_positive_float, default=5.0)
    backtest.add_argument("--tilt", type=float, default=30.0)
    backtest.add_argument("--azimuth", type=float, default=180.0)
    backtest.add_argument("--losses", type=float, default=14.0, help="system losses, %%")
    backtest.add_argument("--battery-kwh", type=float, default=10.0)
    backtest.add_argument("--load-kwh-per-year", type=float, default=4000.0)
    backtest.add_argument("--load-csv", type=Path, default=None)
    backtest.add_argument("--miner", action="append", default=None, help="MODEL[:COUNT]")
    backtest.add_argument("--policies", default="edge,seed,threshold,export,oracle")
    backtest.add_argument("--step-min", type=int, default=5)
    backtest.add_argument("--json", action="store_true")
    backtest.add_argument("--report", type=Path, default=None, help="write a report to DIR")
    backtest.add_argument("--battery-kw", type=float, default=5.0, help="max charge/discharge")
    backtest.add_argument("--initial-soc", type=float, default=50.0)
    backtest.add_argument("--inverter-kw", type=_positive_float, default=8.0)
    backtest.add_argument("--export-limit-w", type=float, default=None)
    backtest.add_argument("--off-grid", action="store_true")
    backtest.add_argument("--export-price", type=float, default=0.04, help="per kWh")
    backtest.add_argument("--import-price", type=float, default=0.15, help="per kWh")
    backtest.add_argument("--currency", default="USD")
    _add_network_arguments(backtest)
    backtest.add_argument("--reserve-soc", type=float, default=30.0, help="%%, never mined below")
    backtest.add_argument("--forecast-noise", type=float, default=0.0, help="log-normal sigma")
    backtest.add_argument("--seed", type=int, default=1)
    backtest.add_argument("--start-day", type=int, default=0, help="first day (0 = 1 Jan)")
    backtest.add_argument("--days", type=int, default=None, help="limit the period")
    backtest.add_argument(
        "--control", action="append", default=None, metavar="KEY=VALUE",
        help="override a control setting of the edge policy",
    )  # fmt: skip
    backtest.set_defaults(handler=_handler("edge_mining.analysis.backtest_cli:main"))

    profitability = sub.add_parser("profitability", help="month-by-month mining projection")
    profitability.set_defaults(handler=_handler("edge_mining.analysis.profitability_cli:main"))
    profitability.add_argument("--json", action="store_true")
    profitability.add_argument("--miner", default=None, help="MODEL[:COUNT] from the catalogue")
    profitability.add_argument("--hashrate-ths", type=_positive_float, default=None)
    profitability.add_argument("--power-w", type=_positive_float, default=None)
    profitability.add_argument("--uptime", type=float, default=100.0, help="%%")
    _add_network_arguments(profitability)
    profitability.add_argument("--difficulty-increment", type=float, default=2.0, help="%%/month")
    profitability.add_argument("--price-increment", type=float, default=0.0, help="%%/month")
    profitability.add_argument("--halving-month", type=int, default=None)
    profitability.add_argument("--electricity-price", type=float, default=0.035, help="per kWh")
    profitability.add_argument("--capex", type=float, default=None, help="default: catalogue")
    profitability.add_argument("--opex", type=float, default=0.0, help="per month")
    profitability.add_argument("--residual", type=float, default=10.0, help="%% of CAPEX at end")
    profitability.add_argument("--hodl", type=float, default=0.0, help="%% of coins kept")
    profitability.add_argument("--months", type=int, default=48)
    profitability.add_argument(
        "--keep-mining-at-loss", action="store_true",
        help="mine even in months whose revenue is below the electricity cost",
    )  # fmt: skip
    profitability.add_argument(
        "--table-prices", default="0,0.02,0.035,0.05,0.07", help="electricity prices, per kWh"
    )
    profitability.add_argument("--table-uptimes", default="20,35,50,60,80,90,100", help="%%")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-mining",
        description="Surplus solar energy into bitcoin mining revenue and useful heat.",
    )
    parser.add_argument("--version", action="version", version=f"edge-mining {__version__}")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_demo(sub)
    _add_emulate(sub)
    _add_probe(sub)
    _add_analysis(sub)
    return parser


def configure_logging(level: str | None) -> None:
    logging.basicConfig(
        level=getattr(logging, (level or "info").upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def print_config_problems(problems: Sequence[str]) -> None:
    """One line per problem on stderr, the contract for a bad configuration (exit 2)."""
    for line in problems:
        print(f"config error: {line}", file=sys.stderr)


def check_config_command(args: argparse.Namespace) -> int:
    from edge_mining.config import ConfigError, load_config

    try:
        site = load_config(args.file)
    except ConfigError as error:
        print_config_problems(error.problems)
        return EXIT_CONFIG
    print(
        f"{args.file}: OK ({site.energy_source.type} energy source, "
        f"{len(site.miners)} miner(s), mode {site.control.mode.value})"
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
