"""``edge-mining probe inverter --device PATH [--transport serial|hidraw] [--json]``.

Reads a PI30 inverter once: identity (QPI, QID), firmware (QVFW), rated information (QPIRI),
mode (QMOD), warnings (QPIWS) and one QPIGS reading, and prints them.

The ``--json`` shape (stable; fields absent from the inverter's firmware are null)::

    {
      "device": "/dev/ttyUSB0", "transport": "serial",
      "protocol": "PI30" | null, "serial_number": "..." | null, "firmware": "..." | null,
      "rated": {QPIRI fields by name} | null,
      "mode": "line" | "battery" | ... | null,
      "warnings": {"faults": [...], "warnings": [...], "bits": "0000..."} | null,
      "status": {QPIGS fields by name, status bit groups as objects} | null,
      "reading": {EnergyReading fields in SI units} | null,
      "errors": {"<command>": "<why it failed>"},
      "fault_counts": {"<kind>": n}
    }

Exit code 0 when QPIGS was read, 1 when the inverter could not be read at all.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from edge_mining.devices.base import DeviceError, DeviceUnavailable
from edge_mining.devices.voltronic import pi30
from edge_mining.devices.voltronic.source import Pi30Client, to_energy_reading

T = TypeVar("T")


async def probe(device: str, transport: str = "serial", timeout_s: float = 2.0) -> dict[str, Any]:
    """Everything the probe prints, as the documented JSON-ready dict."""
    if transport == "serial" and device.startswith("/dev/hidraw"):
        transport = "hidraw"
    client = Pi30Client(device, transport=transport, timeout_s=timeout_s, retries=1)
    errors: dict[str, str] = {}

    unreachable: list[str] = []

    async def ask(command: str, parser: Callable[[bytes], T]) -> T | None:
        if unreachable:
            # The device cannot be opened or does not answer at all: do not wait for each
            # remaining command to time out too.
            errors[command] = "skipped: the device did not answer"
            return None
        try:
            return await client.query(command, parser)
        except DeviceUnavailable as error:
            errors[command] = str(error)
            unreachable.append(str(error))
            return None
        except DeviceError as error:
            errors[command] = str(error)
            return None

    try:
        protocol = await ask("QPI", pi30.parse_qpi)
        serial_number = await ask("QID", pi30.parse_qid)
        firmware = await ask("QVFW", pi30.parse_qvfw)
        rated = await ask("QPIRI", pi30.parse_qpiri)
        mode = await ask("QMOD", pi30.parse_qmod)
        warnings = await ask("QPIWS", pi30.parse_qpiws)
        status = await ask("QPIGS", pi30.parse_qpigs)
    finally:
        await client.close()
    reading = (
        to_energy_reading(time.time(), status, mode=mode, warnings=warnings)
        if status is not None
        else None
    )
    return {
        "device": device,
        "transport": transport,
        "protocol": protocol,
        "serial_number": serial_number,
        "firmware": firmware,
        "rated": _plain(rated),
        "mode": mode,
        "warnings": (
            {
                "faults": list(warnings.faults),
                "warnings": list(warnings.warnings),
                "bits": warnings.bits,
            }
            if warnings is not None
            else None
        ),
        "status": _plain(status),
        "reading": _plain(reading),
        "errors": errors,
        "fault_counts": dict(client.fault_counts),
    }


def _plain(value: object) -> Any:
    if value is None:
        return None
    assert dataclasses.is_dataclass(value) and not isinstance(value, type)
    data = dataclasses.asdict(value)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def as_text(result: dict[str, Any]) -> str:
    lines = [
        f"device        {result['device']} ({result['transport']})",
        f"protocol      {result['protocol'] or '?'}",
        f"serial        {result['serial_number'] or '?'}",
        f"firmware      {result['firmware'] or '?'}",
        f"mode          {result['mode'] or '?'}",
    ]
    warnings = result["warnings"]
    if warnings is not None:
        active = warnings["faults"] + warnings["warnings"]
        lines.append(f"warnings      {', '.join(active) if active else 'none'}")
    rated = result["rated"]
    if rated is not None:
        lines.append(
            f"rated         {rated['output_rating_active_power_w']:.0f} W, battery "
            f"{rated['battery_rating_voltage_v']:g} V {rated['battery_type']}, output "
            f"priority {rated['output_source_priority']}, charger priority "
            f"{rated['charger_source_priority']}"
        )
    reading = result["reading"]
    if reading is not None:
        r = reading
        lines += [
            f"pv            {r['pv_power_w']:.0f} W",
            f"load          {r['load_power_w']:.0f} W / {r['load_apparent_va']:.0f} VA",
            f"battery       {r['battery_soc_pct']:.0f} %, {r['battery_voltage_v']:.2f} V,"
            f" {r['battery_power_w']:+.0f} W (+ charging)",
            f"grid          {r['grid_voltage_v']:.1f} V {r['grid_frequency_hz']:.1f} Hz",
            f"heatsink      {r['heatsink_temperature_c']:.0f} °C",
        ]
    for command, error in result["errors"].items():
        lines.append(f"error         {command}: {error}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    transport = args.transport or "serial"
    result = asyncio.run(probe(args.device, transport))
    print(json.dumps(result, indent=2) if args.json else as_text(result))
    if result["status"] is None:
        print(f"edge-mining probe inverter: could not read {args.device}", file=sys.stderr)
        return 1
    return 0
