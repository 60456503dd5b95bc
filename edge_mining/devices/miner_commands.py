"""The arguments of ``edge-mining probe miner`` and ``edge-mining emulate miner``, which every
miner family shares (``devices/miner_probe.py``, ``devices/emulation/cli.py``).

Kept apart from both so that building the command line imports neither (nor pyasic); the
registry names these functions.
"""

from __future__ import annotations

import argparse

from edge_mining.arguments import positive_float


def probe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("host", help="the miner's address")
    parser.add_argument("--username", default="root", help="login user (BraiinsOS: root)")
    parser.add_argument(
        "--password", default=None,
        help="the miner's password (default: the environment variable EDGE_MINING_MINER_PASSWORD)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def emulator_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.1.1", help="address of the first miner (a loopback address)"
    )
    parser.add_argument(
        "--count", type=int, default=1, help="miners on consecutive addresses from --host"
    )
    parser.add_argument(
        "--model", default="S19j Pro", help="a model of --list-models (S9: BOSminer)"
    )
    parser.add_argument("--password", default="root", help="the miners' web/API password")
    parser.add_argument(
        "--speed", type=positive_float, default=1.0, help="simulated seconds per wall second"
    )
    parser.add_argument("--faults", default="", help="e.g. unreachable,slow=2.5,auth,refuse_target")
    parser.add_argument(
        "--list-models", action="store_true", help="list the models that can be emulated, and exit"
    )
