"""The arguments of ``edge-mining probe solaredge`` and ``edge-mining emulate solaredge``.

Kept apart from the probe and the emulator so that building the command line imports neither
(nor pymodbus); the registry names these functions.
"""

from __future__ import annotations

import argparse

from edge_mining.arguments import positive_float


def probe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address", metavar="HOST[:PORT]", help="the inverter's address (port default 1502)"
    )
    parser.add_argument("--unit", type=int, default=1, help="Modbus unit id")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def emulator_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=1502, help="TCP port (0: any free one)")
    parser.add_argument(
        "--speed", type=positive_float, default=1.0, help="simulated seconds per wall second"
    )
    parser.add_argument(
        "--faults", default="", help="fault probabilities, e.g. exception=0.05,silent=0.05"
    )
