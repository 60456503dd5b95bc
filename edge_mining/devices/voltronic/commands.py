"""The arguments of ``edge-mining probe inverter`` and ``edge-mining emulate inverter``.

Kept apart from the probe and the emulator so that building the command line imports neither
(nor the serial stack); the registry names these functions.
"""

from __future__ import annotations

import argparse

from edge_mining.arguments import positive_float


def probe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", required=True, help="serial port, e.g. /dev/ttyUSB0 or /dev/hidraw0"
    )
    parser.add_argument(
        "--transport", choices=["serial", "hidraw"], default=None,
        help="default: hidraw for /dev/hidraw*, serial otherwise",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def emulator_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speed", type=positive_float, default=1.0, help="simulated seconds per wall second"
    )
    parser.add_argument(
        "--faults", default="",
        help="fault rates per reply, e.g. crc=0.05,nak=0.05 (kinds: crc, nak, truncated, "
        "garbage, slow, vanish)",
    )  # fmt: skip
    parser.add_argument("--pacing", action="store_true", help="pace bytes at 2400 baud")
