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
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from edge_mining import __version__
from edge_mining.arguments import positive_float
from edge_mining.devices.registry import Command, emulator_commands, load, probe_commands
from edge_mining.logs import configure_logging, pin_root_level

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

Handler = Callable[[argparse.Namespace], int]

# Optional dependencies: the top-level module and the extra that installs it.
OPTIONAL_MODULES = {
    "numpy": "analysis",
    "scipy": "analysis",
    "pandas": "analysis",
    "pvlib": "analysis",
    "demandlib": "analysis",
}


class MissingDependency(Exception):
    """An optional dependency is not installed; the message says what to install."""


def missing_dependency_message(command: str, error: ModuleNotFoundError) -> str | None:
    """One line naming the missing optional module and how to install it, or None when the
    module is not an optional dependency (a real bug: let the traceback show)."""
    module = (error.name or "").partition(".")[0]
    extra = OPTIONAL_MODULES.get(module)
    if extra is None:
        return None
    return (
        f"edge-mining {command}: needs {module}, from the '{extra}' extra: "
        f"pip install 'edge-mining[{extra}]' (in a checkout: .venv/bin/pip install -e '.[{extra}]')"
    )


def _handler(target: str) -> Callable[[argparse.Namespace], int]:
    """A handler that imports ``module:function`` only when it is called. A missing optional
    dependency (at import or later) becomes one line saying what to install."""

    def call(args: argparse.Namespace) -> int:
        module_name, _, function_name = target.partition(":")
        try:
            function: Handler = getattr(importlib.import_module(module_name), function_name)
            return function(args)
        except ModuleNotFoundError as error:
            message = missing_dependency_message(args.command, error)
            if message is None:
                raise
            raise MissingDependency(message) from None

    return call


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default, unless the default is empty (None/False)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or not action.option_strings
            or default is None
            or default is False
            or default is argparse.SUPPRESS
        ):
            return text
        return f"{text} (default: %(default)s)"


def _parser(sub: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=text, description=text, formatter_class=HelpFormatter
    )
    return parser


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = _parser(sub, "run", "run the daemon")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="site configuration (YAML)")
    source.add_argument(
        "--addon", action="store_true", help="read /data/options.json (Home Assistant add-on)"
    )
    run.add_argument("--options", type=Path, default=None, help=argparse.SUPPRESS)
    run.set_defaults(handler=_handler("edge_mining.service:run_command"))

    check = _parser(sub, "check-config", "validate a configuration file and exit")
    check.add_argument("file", type=Path, help="the site configuration (YAML) to check")
    check.set_defaults(handler=_handler("edge_mining.cli:check_config_command"))


def _add_demo(sub: argparse._SubParsersAction) -> None:
    demo = _parser(sub, "demo", "run a simulated site with a live console view")
    demo.add_argument(
        "--speed", type=positive_float, default=300.0, help="simulated seconds per wall second"
    )
    demo.add_argument(
        "--duration", type=positive_float, default=None,
        help="stop after this many wall-clock seconds and exit 0 (default: until Ctrl-C)",
    )  # fmt: skip
    demo.add_argument(
        "--config", type=Path, default=None, metavar="FILE",
        help="simulate the shape of this site (its miners, plant sizes and control settings; "
        "never its real devices or network)",
    )  # fmt: skip
    demo.add_argument(
        "--state-dir", type=Path, default=None, metavar="DIR",
        help="keep the demo's counters here (default: a temporary folder, removed at the end)",
    )  # fmt: skip
    demo.add_argument(
        "--start-hour", type=float, default=7.0, help="simulated time of day to start at (UTC)"
    )
    demo.add_argument(
        "--inverter",
        choices=["sim", "emulated"],
        default="sim",
        help="sim: read the plant directly; emulated: through a PI30 inverter emulator on a "
        "pseudo-terminal and the Voltronic driver",
    )
    demo.add_argument(
        "--solaredge", action="store_true",
        help="read the plant through an emulated SolarEdge (Modbus TCP on loopback)",
    )  # fmt: skip
    demo.add_argument(
        "--miners",
        choices=["sim", "emulated"],
        default="sim",
        help="sim: simulated miners; emulated: BraiinsOS emulators on loopback, driven "
        "through pyasic",
    )
    demo.add_argument(
        "--mqtt", default=None, metavar="HOST:PORT|embedded",
        help="publish to this MQTT broker with Home Assistant discovery, or start a private "
        "Mosquitto on loopback with 'embedded' (default: no MQTT)",
    )  # fmt: skip
    demo.add_argument("--mqtt-username", default=None, help="user name for --mqtt")
    demo.add_argument("--mqtt-password", default=None, help="password for --mqtt (never shown)")
    demo.add_argument(
        "--plain", action="store_true",
        help="print plain status lines even on a terminal (default: a live view on a terminal, "
        "plain lines otherwise)",
    )  # fmt: skip
    demo.add_argument(
        "--web", default=None, metavar="HOST:PORT",
        help="serve the web panel there, e.g. 127.0.0.1:8099 (default: no panel)",
    )  # fmt: skip
    demo.set_defaults(handler=_handler("edge_mining.demo:main"))


def _add_device_commands(
    sub: argparse._SubParsersAction, name: str, text: str, commands: Sequence[Command]
) -> None:
    """``edge-mining probe|emulate <device>``: one subcommand per command of the device
    registry, its arguments from the device's package, its handler imported when it runs."""
    parser = _parser(sub, name, text)
    kinds = parser.add_subparsers(dest="device", required=True)
    for command in commands:
        device = _parser(kinds, command.name, command.help)
        load(command.arguments)(device)
        device.set_defaults(handler=_handler(command.main))


def _add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """The bitcoin network and market, with the same defaults for every analysis command.

    Kept here rather than imported from analysis/economics.py so ``--help`` stays fast; a test
    checks they equal ``economics.Network``'s defaults.
    """
    parser.add_argument(
        "--btc-price", type=positive_float, default=100_000.0, help="in --currency per BTC"
    )
    parser.add_argument(
        "--difficulty", type=positive_float, default=1.2e14, help="network difficulty"
    )
    parser.add_argument(
        "--subsidy", type=float, default=3.125, help="block subsidy at the start, BTC per block"
    )
    parser.add_argument(
        "--fees-per-block", type=float, default=0.025, help="transaction fees, BTC per block"
    )
    parser.add_argument("--pool-fee", type=float, default=2.0, help="%%")
    parser.add_argument(
        "--currency", default="USD", help="currency of every price and amount (a label)"
    )


def _add_analysis(sub: argparse._SubParsersAction) -> None:
    backtest = _parser(sub, "backtest", "replay a period of weather through the controller")
    backtest.add_argument(
        "--weather", type=Path, default=None, metavar="FILE",
        help="TMY3, TMY2 or EPW file, or 'sample': a typical year in Greensboro, NC (36 N), "
        "shipped with pvlib",
    )  # fmt: skip
    backtest.add_argument(
        "--pv-csv", type=Path, default=None, metavar="FILE",
        help="measured PV power CSV instead of --weather",
    )  # fmt: skip
    backtest.add_argument("--pv-kwp", type=positive_float, default=5.0, help="PV peak power, kWp")
    backtest.add_argument("--tilt", type=float, default=30.0, help="panel tilt, degrees")
    backtest.add_argument(
        "--azimuth", type=float, default=180.0, help="panel azimuth, degrees (180 = south)"
    )
    backtest.add_argument("--losses", type=float, default=14.0, help="system losses, %%")
    backtest.add_argument("--battery-kwh", type=float, default=10.0, help="battery capacity, kWh")
    backtest.add_argument(
        "--load-kwh-per-year", type=float, default=4000.0, help="household consumption, kWh/year"
    )
    backtest.add_argument(
        "--load-csv", type=Path, default=None, metavar="FILE",
        help="measured household load CSV (default: a standard profile)",
    )  # fmt: skip
    backtest.add_argument(
        "--miner", action="append", default=None, metavar="MODEL[:COUNT]",
        help="a model of `edge-mining catalogue` or <W>W@<TH>TH, repeatable "
        "(default: S19j Pro)",
    )  # fmt: skip
    backtest.add_argument(
        "--policies", default="edge,seed,threshold,export,oracle",
        help="comma-separated: edge (this controller), seed, threshold, export, oracle",
    )  # fmt: skip
    backtest.add_argument("--step-min", type=int, default=5, help="simulation step, minutes")
    backtest.add_argument(
        "--json", action="store_true", help="print the KPIs as JSON (one object per policy)"
    )
    backtest.add_argument(
        "--report", type=Path, default=None, metavar="DIR", help="write an HTML report to DIR"
    )
    backtest.add_argument(
        "--battery-kw", type=float, default=5.0, help="battery max charge/discharge power, kW"
    )
    backtest.add_argument(
        "--initial-soc", type=float, default=50.0, help="battery SoC at the start, %%"
    )
    backtest.add_argument(
        "--inverter-kw", type=positive_float, default=8.0, help="inverter limit, kW"
    )
    backtest.add_argument(
        "--export-limit-w", type=float, default=None, help="grid export limit, W (default: none)"
    )
    backtest.add_argument("--off-grid", action="store_true", help="no grid connection")
    backtest.add_argument(
        "--export-price", type=float, default=0.04, help="paid for exported energy, per kWh"
    )
    backtest.add_argument(
        "--import-price", type=float, default=0.15, help="cost of imported energy, per kWh"
    )
    _add_network_arguments(backtest)
    backtest.add_argument(
        "--reserve-soc", type=float, default=30.0, help="battery %% never mined below"
    )
    backtest.add_argument(
        "--forecast-noise", type=float, default=0.3,
        help="day-ahead forecast error: log-normal sigma per day and per hour (0: perfect)",
    )  # fmt: skip
    backtest.add_argument("--seed", type=int, default=1, help="random seed")
    backtest.add_argument("--start-day", type=int, default=0, help="first day (0 = 1 Jan)")
    backtest.add_argument(
        "--days", type=int, default=None, help="number of days (default: to the end of the year)"
    )
    backtest.add_argument(
        "--control", action="append", default=None, metavar="KEY=VALUE",
        help="override a control setting of the edge policy, repeatable",
    )  # fmt: skip
    backtest.add_argument(
        "--planner", action="append", default=None, metavar="KEY=VALUE",
        help="override a planner setting of the edge policy (enabled=false: rules only)",
    )  # fmt: skip
    backtest.set_defaults(handler=_handler("edge_mining.analysis.backtest_cli:main"))

    profitability = _parser(
        sub, "profitability", "month-by-month mining projection and break-even table"
    )
    profitability.set_defaults(handler=_handler("edge_mining.analysis.profitability_cli:main"))
    profitability.add_argument("--json", action="store_true", help="print JSON instead of text")
    profitability.add_argument(
        "--miner", default=None, metavar="MODEL[:COUNT]",
        help="a model of `edge-mining catalogue` (default: S19j Pro, unless --hashrate-ths "
        "and --power-w are given)",
    )  # fmt: skip
    profitability.add_argument(
        "--hashrate-ths", type=positive_float, default=None, help="hashrate, TH/s"
    )
    profitability.add_argument(
        "--power-w", type=positive_float, default=None, help="power draw at that hashrate, W"
    )
    profitability.add_argument(
        "--uptime", type=float, default=None,
        help="%% of the time mining at full power (default: 15, typical of solar-surplus "
        "mining, 12-20 %%; 100 for a grid-powered miner)",
    )  # fmt: skip
    profitability.add_argument(
        "--uptime-from", type=Path, default=None, metavar="BACKTEST.json",
        help="take the uptime from a `backtest --json` output (the edge policy's effective "
        "uptime)",
    )  # fmt: skip
    _add_network_arguments(profitability)
    profitability.add_argument(
        "--difficulty-increment", type=float, default=2.0, help="difficulty growth, %%/month"
    )
    profitability.add_argument(
        "--price-increment", type=float, default=0.0, help="BTC price growth, %%/month"
    )
    profitability.add_argument(
        "--start-date", default=None, metavar="YYYY-MM-DD",
        help="first day of month 1, for the halving schedule (default: today)",
    )  # fmt: skip
    profitability.add_argument(
        "--block-height", type=int, default=None,
        help="block height at the start date (default: estimated from the 10-minute schedule)",
    )  # fmt: skip
    profitability.add_argument(
        "--halving-month", type=int, default=None,
        help="first month with the halved subsidy; 0: no halving (default: computed from the "
        "start date and the block height schedule)",
    )  # fmt: skip
    profitability.add_argument(
        "--electricity-price", type=float, default=0.035,
        help="cost of the energy mined, per kWh (for surplus: the export price it replaces)",
    )  # fmt: skip
    profitability.add_argument(
        "--capex", type=float, default=None,
        help="hardware cost (default: the catalogue's indicative price)",
    )  # fmt: skip
    profitability.add_argument("--opex", type=float, default=0.0, help="other costs per month")
    profitability.add_argument(
        "--residual", type=float, default=10.0, help="hardware value at the end, %% of CAPEX"
    )
    profitability.add_argument(
        "--hodl", type=float, default=0.0, help="%% of the mined coins kept instead of sold"
    )
    profitability.add_argument("--months", type=int, default=48, help="horizon, months")
    profitability.add_argument(
        "--keep-mining-at-loss", action="store_true",
        help="mine even in months whose revenue is below the electricity cost",
    )  # fmt: skip
    profitability.add_argument(
        "--table-prices", default="0,0.02,0.035,0.05,0.07",
        help="break-even table rows: electricity prices per kWh",
    )  # fmt: skip
    profitability.add_argument(
        "--table-uptimes", default="10,15,20,35,50,80,100",
        help="break-even table columns: uptimes, %%",
    )  # fmt: skip

    catalogue = _parser(
        sub, "catalogue", "list the miner models that --miner accepts (backtest, profitability)"
    )
    catalogue.add_argument("--json", action="store_true", help="print JSON instead of a table")
    catalogue.set_defaults(handler=_handler("edge_mining.analysis.catalogue:main"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-mining",
        description="Surplus solar energy into bitcoin mining revenue and useful heat.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edge-mining {__version__}")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], default=None,
        help="default: the site's log_level for run, warning for the demo, info otherwise",
    )  # fmt: skip
    parser.add_argument(
        "--log-wire", action="store_true",
        help="also log what protocol libraries log at debug level (HTTP, gRPC frames, Modbus, "
        "SSH, MQTT): noisy; known secrets are still replaced by ***",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_demo(sub)
    _add_device_commands(
        sub, "emulate", "serve an emulated device until SIGTERM or Ctrl-C", emulator_commands()
    )
    _add_device_commands(
        sub, "probe", "read a real device once and print what we see", probe_commands()
    )
    _add_analysis(sub)
    return parser


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
    configure_logging(args.log_level, wire=args.log_wire)
    try:
        return args.handler(args)
    except MissingDependency as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_OK


def program() -> None:
    """The ``edge-mining`` program: this process's logging is ours alone (see logs)."""
    pin_root_level()
    sys.exit(main())


if __name__ == "__main__":
    program()
