"""Argument types shared by the command line and the device packages' subcommands."""

from __future__ import annotations

import argparse


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value
