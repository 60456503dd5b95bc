"""``edge-mining probe solaredge HOST[:PORT] [--unit N] [--json]``: read once, print what we see.

Exit codes: 0 read, 1 the inverter could not be read, 2 a bad address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict
from enum import Enum
from typing import Any

from edge_mining.address import parse_host_port
from edge_mining.config import SolarEdgeSourceConfig
from edge_mining.devices.base import DeviceError
from edge_mining.devices.solaredge.source import SolarEdgeData, SolarEdgeSource, to_reading
from edge_mining.model import EnergyReading

DEFAULT_PORT = 1502


def parse_address(text: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port``; raises ValueError with a one-line reason."""
    return parse_host_port(text, DEFAULT_PORT)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def as_json(data: SolarEdgeData, reading: EnergyReading, host: str, port: int, unit: int) -> str:
    return json.dumps(
        {
            "address": f"{host}:{port}",
            "unit": unit,
            "device": asdict(data.common),
            "inverter": _plain(asdict(data.inverter)),
            "grid_meter": None if data.grid_meter is None else asdict(data.grid_meter),
            "batteries": [
                {"identity": asdict(identity), "state": _plain(asdict(block))}
                for identity, block in data.batteries
            ],
            "reading": _plain(asdict(reading)),
        },
        indent=2,
    )


def _w(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} W"


def _num(value: float | None, unit: str, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} {unit}"


def _kwh(wh: float | None) -> str:
    return "n/a" if wh is None else f"{wh / 1000:.1f} kWh"


def as_text(data: SolarEdgeData, reading: EnergyReading, host: str, port: int, unit: int) -> str:
    c, inv = data.common, data.inverter
    lines = [
        f"{c.manufacturer} {c.model} at {host}:{port} unit {unit} "
        f"(version {c.version}, serial {c.serial})",
        f"inverter model {inv.model_id}: status {inv.status_name or 'n/a'}, "
        f"AC {_w(inv.ac_power_w)}, DC {_w(inv.dc_power_w)}, "
        f"{_num(inv.ac_voltage_v, 'V')}, {_num(inv.ac_frequency_hz, 'Hz', 2)}, "
        f"heatsink {_num(inv.temperature_c, '°C')}, "
        f"lifetime {_kwh(inv.ac_energy_wh)}",
    ]
    meter = data.grid_meter
    if meter is None:
        lines.append("grid meter: none found")
    else:
        lines.append(
            f"grid meter model {meter.model_id} ({meter.option or 'no option'}): "
            f"{_w(meter.power_w)} (positive = export), "
            f"imported {_kwh(meter.imported_wh)}, exported {_kwh(meter.exported_wh)}"
        )
    for index, (identity, block) in enumerate(data.batteries, start=1):
        lines.append(
            f"battery {index}: {identity.manufacturer} {identity.model} (serial {identity.serial}, "
            f"{_kwh(identity.rated_energy_wh)}): SoE {_num(block.state_of_energy_pct, '%')}, "
            f"{_w(block.power_w)} "
            f"(positive = charging), {_num(block.voltage_v, 'V')}, "
            f"status {block.status_name or 'n/a'}"
        )
    if not data.batteries:
        lines.append("batteries: none found")
    soc = _num(reading.battery_soc_pct, "%")
    lines.append(
        f"snapshot: PV {_w(reading.pv_power_w)}, load {_w(reading.load_power_w)}, "
        f"grid {_w(reading.grid_power_w)} (positive = import), battery {soc} "
        f"{_w(reading.battery_power_w)}"
        + (f", warnings: {', '.join(reading.warnings)}" if reading.warnings else "")
    )
    return "\n".join(lines)


async def probe(host: str, port: int, unit: int) -> tuple[SolarEdgeData, EnergyReading]:
    source = SolarEdgeSource(
        SolarEdgeSourceConfig(type="solaredge", host=host, port=port, unit=unit)
    )
    try:
        data = await source.read_data()
    finally:
        await source.close()
    return data, to_reading(data, time.time())


def main(args: argparse.Namespace) -> int:
    try:
        host, port = parse_address(args.address)
    except ValueError as error:
        print(f"probe solaredge: {error}", file=sys.stderr)
        return 2
    unit = getattr(args, "unit", 1)
    if not 0 <= unit <= 247:
        print(f"probe solaredge: --unit {unit} is not a Modbus unit id (0-247)", file=sys.stderr)
        return 2
    try:
        data, reading = asyncio.run(probe(host, port, unit))
    except DeviceError as error:
        print(f"probe solaredge: {error}", file=sys.stderr)
        return 1
    render = as_json if args.json else as_text
    print(render(data, reading, host, port, unit))
    return 0
