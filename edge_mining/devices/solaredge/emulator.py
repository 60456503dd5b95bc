"""An emulated SolarEdge inverter: SunSpec over Modbus TCP, served by pymodbus's own server.

The register map is what a SolarEdge with a grid meter and a StorEdge battery serves (see
``edge_mining.devices.solaredge.sunspec`` for the layout), filled from a shared
:class:`~edge_mining.sim.plant.Plant`: every read request steps the plant to the clock's now
and rewrites the registers, so the real pymodbus client sees a live plant.

How the plant's flows become inverter figures (lossless inverter; the plant already counts
battery losses):

- DC power  = PV actually produced - battery power (the battery is on the DC bus)
- AC power  = house load + miners - grid import (what the inverter delivers)
- meter     = -grid (SolarEdge: export positive)
- battery   = the plant's battery, split evenly between ``batteries`` blocks

Power scale factors change with the value (finest that fits 16 bits), as on real units.

Faults, for tests and ``edge-mining emulate solaredge --faults``:

- ``exception=P``: a read is answered with Modbus exception 0x06 (device busy)
- ``sentinel=P``: a read returns the not-implemented sentinels for the measured values
- ``silent=P``: a read gets no reply at all (the client times out)
- ``not_implemented``: a set of field names that always read as sentinels
- unreachable: ``await emulator.stop()`` (connection refused), ``start()`` again later
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge_mining.clock import Clock, ScaledClock, WallClock
from edge_mining.config import PlantConfig
from edge_mining.devices.solaredge import sunspec
from edge_mining.devices.solaredge.sunspec import (
    BatteryOffset,
    BatteryStatus,
    CommonOffset,
    InverterOffset,
    InverterStatus,
    MeterOffset,
)
from edge_mining.sim.plant import Plant, PlantState

log = logging.getLogger(__name__)

READ_FUNCTION_CODES = (3, 4)
AC_VOLTAGE_V = 230.0
DC_VOLTAGE_V = 380.0
FREQUENCY_HZ = 50.0
LIFETIME_AC_WH = 12_345_678.0  # what a few years of production leave on the counter
LIFETIME_IMPORT_WH = 4_567_890.0
LIFETIME_EXPORT_WH = 6_789_012.0

# Field names accepted by ``Faults.not_implemented``.
SENTINEL_FIELDS = frozenset(
    {
        "ac_power",
        "ac_power_sf",
        "dc_power",
        "ac_energy",
        "temperature",
        "status",
        "meter_power",
        "battery_power",
        "battery_soe",
    }
)


@dataclass
class Faults:
    """Fault injection; probabilities per read request, drawn from a seeded generator."""

    exception: float = 0.0
    sentinel: float = 0.0
    silent: float = 0.0
    not_implemented: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, text: str) -> Faults:
        """``"exception=0.05,sentinel=0.02,silent=0.01"``; raises ValueError on bad input."""
        faults = cls()
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, value = item.partition("=")
            if not sep or name not in ("exception", "sentinel", "silent"):
                raise ValueError(
                    f"unknown fault {item!r} (expected exception=P, sentinel=P, silent=P)"
                )
            try:
                probability = float(value)
            except ValueError:
                raise ValueError(f"fault {name}: {value!r} is not a number") from None
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"fault {name}: {probability:g} is not within 0..1")
            setattr(faults, name, probability)
        return faults


@dataclass(frozen=True, slots=True)
class Figures:
    """What the inverter, its meter and battery measure (our signs: grid > 0 import)."""

    ac_power_w: float
    dc_power_w: float
    grid_w: float
    battery_power_w: float  # > 0 charging
    battery_soc_pct: float
    battery_voltage_v: float
    temperature_c: float
    ac_energy_wh: float
    grid_import_wh: float
    grid_export_wh: float
    status: InverterStatus


def figures_from_plant(state: PlantState, config: PlantConfig) -> Figures:
    pv_produced = state.pv_w - state.curtailed_w
    load_served = state.house_load_w + state.miners_w - state.unserved_w
    ac_power = load_served - state.grid_w
    if state.curtailed_w > 1.0:
        status = InverterStatus.THROTTLED
    elif pv_produced > 1.0 or abs(ac_power) > 1.0:
        status = InverterStatus.MPPT
    else:
        status = InverterStatus.SLEEPING
    served_wh = state.house_load_wh + state.miners_wh - state.unserved_wh
    return Figures(
        ac_power_w=ac_power,
        dc_power_w=pv_produced - state.battery_power_w,
        grid_w=state.grid_w,
        battery_power_w=state.battery_power_w,
        battery_soc_pct=state.battery_soc_pct,
        battery_voltage_v=state.battery_voltage_v,
        temperature_c=30.0 + 25.0 * min(1.0, abs(ac_power) / config.inverter_max_w),
        ac_energy_wh=LIFETIME_AC_WH
        + max(0.0, served_wh - state.grid_import_wh + state.grid_export_wh),
        grid_import_wh=LIFETIME_IMPORT_WH + state.grid_import_wh,
        grid_export_wh=LIFETIME_EXPORT_WH + state.grid_export_wh,
        status=status,
    )


def _inverter_model_name(inverter_max_w: float) -> str:
    return f"SE{inverter_max_w / 1000:g}K-RWS48BEN4"


class RegisterImage:
    """Builds the register contents, address by address, for one set of figures."""

    def __init__(
        self,
        *,
        unit: int,
        meter: bool,
        batteries: int,
        battery_kwh: float,
        battery_max_charge_w: float,
        battery_max_discharge_w: float,
        inverter_max_w: float,
        three_phase: bool,
    ) -> None:
        self.unit = unit
        self.meter = meter
        self.batteries = batteries
        self.battery_kwh = battery_kwh
        self.battery_max_charge_w = battery_max_charge_w
        self.battery_max_discharge_w = battery_max_discharge_w
        self.inverter_max_w = inverter_max_w
        self.three_phase = three_phase
        self.inverter_address = sunspec.SOLAREDGE_INVERTER_ADDRESS
        self.meter_common_address = sunspec.SOLAREDGE_METER_COMMON_ADDRESSES[0]
        self.meter_address = self.meter_common_address + 2 + sunspec.COMMON_LENGTH
        end = self.meter_address + 2 + sunspec.METER_LENGTH if meter else self.meter_common_address
        self.end_marker_address = end
        self.sunspec_count = end + 2 - sunspec.SUNSPEC_BASE

    # The SunSpec region, [SUNSPEC_BASE, SUNSPEC_BASE + sunspec_count).
    def sunspec_registers(self, f: Figures, sentinels: set[str]) -> list[int]:
        regs = [0] * self.sunspec_count
        base = sunspec.SUNSPEC_BASE

        def put(address: int, values: list[int]) -> None:
            regs[address - base : address - base + len(values)] = values

        put(base, list(sunspec.SUNS_MARKER))
        self._common(
            put,
            sunspec.FIRST_MODEL_ADDRESS,
            manufacturer="SolarEdge",
            model=_inverter_model_name(self.inverter_max_w),
            options="",
            version="0004.0020.0036",
            serial="7E1A2B3C",
            device_address=self.unit,
        )
        self._inverter(put, f, sentinels)
        if self.meter:
            self._common(
                put,
                self.meter_common_address,
                manufacturer="WattNode",
                model="WNC-3Y-400-MB",
                options="Export+Import",
                version="31",
                serial="5021234",
                device_address=2,
            )
            self._meter(put, f, sentinels)
        put(self.end_marker_address, [sunspec.END_MODEL_ID, 0])
        return regs

    @staticmethod
    def _common(
        put: Callable[[int, list[int]], None],
        address: int,
        *,
        manufacturer: str,
        model: str,
        options: str,
        version: str,
        serial: str,
        device_address: int,
    ) -> None:
        put(address + CommonOffset.ID, [sunspec.COMMON_MODEL_ID, sunspec.COMMON_LENGTH])
        put(address + CommonOffset.MANUFACTURER, sunspec.encode_string(manufacturer, 16))
        put(address + CommonOffset.MODEL, sunspec.encode_string(model, 16))
        put(address + CommonOffset.OPTIONS, sunspec.encode_string(options, 8))
        put(address + CommonOffset.VERSION, sunspec.encode_string(version, 8))
        put(address + CommonOffset.SERIAL, sunspec.encode_string(serial, 16))
        put(address + CommonOffset.DEVICE_ADDRESS, [device_address])

    def _inverter(
        self, put: Callable[[int, list[int]], None], f: Figures, sentinels: set[str]
    ) -> None:
        a = self.inverter_address
        o = InverterOffset
        not_phase = sunspec.UINT16_NOT_IMPLEMENTED
        model_id = 103 if self.three_phase else 101
        put(a + o.ID, [model_id, sunspec.INVERTER_LENGTH])
        current = abs(f.ac_power_w) / AC_VOLTAGE_V / (3 if self.three_phase else 1)
        raw_current = round(current * 100)
        phase_currents = (
            [raw_current] * 3 if self.three_phase else [raw_current, not_phase, not_phase]
        )
        put(a + o.AC_CURRENT, [round(abs(f.ac_power_w) / AC_VOLTAGE_V * 100), *phase_currents])
        put(a + o.AC_CURRENT_SF, [sunspec.encode_int16(-2)])
        line = round(AC_VOLTAGE_V * 1.732 * 10) if self.three_phase else not_phase
        phase = round(AC_VOLTAGE_V * 10)
        phases = [phase] * 3 if self.three_phase else [phase, not_phase, not_phase]
        put(a + o.AC_VOLTAGE_AB, [line, line, line, *phases])
        put(a + o.AC_VOLTAGE_SF, [sunspec.encode_int16(-1)])
        power, power_sf = sunspec.fit_scaled(f.ac_power_w, signed=True)
        if "ac_power" in sentinels:
            power = sunspec.INT16_NOT_IMPLEMENTED
        if "ac_power_sf" in sentinels:
            power_sf = sunspec.SUNSSF_NOT_IMPLEMENTED
        put(a + o.AC_POWER, [power, power_sf])
        put(a + o.AC_FREQUENCY, [round(FREQUENCY_HZ * 100), sunspec.encode_int16(-2)])
        va, va_sf = sunspec.fit_scaled(abs(f.ac_power_w), signed=True)
        put(a + o.AC_VA, [va, va_sf, 0, 0])  # VAr 0 with scale factor 0
        put(a + o.AC_PF, [sunspec.encode_int16(10000), sunspec.encode_int16(-2)])
        energy = (
            [0, 0] if "ac_energy" in sentinels else sunspec.encode_uint32(round(f.ac_energy_wh))
        )
        put(a + o.AC_ENERGY, [*energy, 0])
        dc_current = abs(f.dc_power_w) / DC_VOLTAGE_V
        put(a + o.DC_CURRENT, [round(dc_current * 1000), sunspec.encode_int16(-3)])
        put(a + o.DC_VOLTAGE, [round(DC_VOLTAGE_V * 10), sunspec.encode_int16(-1)])
        dc, dc_sf = sunspec.fit_scaled(f.dc_power_w, signed=True)
        if "dc_power" in sentinels:
            dc = sunspec.INT16_NOT_IMPLEMENTED
        put(a + o.DC_POWER, [dc, dc_sf])
        temperature = (
            sunspec.INT16_NOT_IMPLEMENTED
            if "temperature" in sentinels
            else sunspec.encode_int16(round(f.temperature_c * 100))
        )
        not16 = sunspec.INT16_NOT_IMPLEMENTED
        put(a + o.TEMP_CABINET, [not16, temperature, not16, not16, sunspec.encode_int16(-2)])
        status = sunspec.UINT16_NOT_IMPLEMENTED if "status" in sentinels else int(f.status)
        put(a + o.STATUS, [status, 0])
        # Event bitfields (offsets 40..51) stay 0: no events.

    def _meter(
        self, put: Callable[[int, list[int]], None], f: Figures, sentinels: set[str]
    ) -> None:
        a = self.meter_address
        o = MeterOffset
        model_id = 203 if self.three_phase else 201
        put(a + o.ID, [model_id, sunspec.METER_LENGTH])
        export_w = -f.grid_w  # SolarEdge's meter: positive = export
        not16 = sunspec.INT16_NOT_IMPLEMENTED
        amps = sunspec.encode_int16(round(export_w / AC_VOLTAGE_V * 100))
        put(a + o.AC_CURRENT, [amps, amps, not16, not16, sunspec.encode_int16(-2)])
        volts = round(AC_VOLTAGE_V * 10)
        put(a + o.VOLTAGE_LN, [volts, volts, not16, not16, not16, not16, not16, not16])
        put(a + o.VOLTAGE_SF, [sunspec.encode_int16(-1)])
        put(a + o.FREQUENCY, [round(FREQUENCY_HZ * 100), sunspec.encode_int16(-2)])
        power, power_sf = sunspec.fit_scaled(export_w, signed=True)
        if "meter_power" in sentinels:
            power = not16
        put(a + o.POWER, [power, power, not16, not16, power_sf])
        # VA (23..27), VAR (28..32), PF (33..37): not implemented by this meter.
        put(a + 23, [not16] * 15)
        for offset in (27, 32, 37):
            put(a + offset, [sunspec.SUNSSF_NOT_IMPLEMENTED])
        exported = sunspec.encode_uint32(round(f.grid_export_wh))
        imported = sunspec.encode_uint32(round(f.grid_import_wh))
        put(a + o.EXPORTED, [*exported, *exported, 0, 0, 0, 0])
        put(a + o.IMPORTED, [*imported, *imported, 0, 0, 0, 0])
        put(a + o.ENERGY_SF, [0])
        # The apparent and reactive energy counters (55..104) read as not accumulated (0).

    # The battery region, [0xE100, 0xE300).
    def battery_registers(self, f: Figures, sentinels: set[str]) -> list[int]:
        regs = [0xFFFF] * 0x200  # an absent battery block reads 0xFFFF everywhere
        if self.battery_kwh <= 0:
            return regs
        n = self.batteries
        for index in range(n):
            start = index * 0x100

            def put(offset: int, values: list[int], start: int = start) -> None:
                regs[start + offset : start + offset + len(values)] = values

            o = BatteryOffset
            rated_wh = self.battery_kwh * 1000.0 / n
            power = f.battery_power_w / n
            put(o.MANUFACTURER, sunspec.encode_string("LG", 16))
            put(o.MODEL, sunspec.encode_string("RESU10H", 16))
            put(o.FIRMWARE, sunspec.encode_string("DCDC 1.2.3", 16))
            put(o.SERIAL, sunspec.encode_string(f"BAT{index + 1:05d}", 16))
            put(o.DEVICE_ID, [15 + index, 0xFFFF])
            put(o.RATED_ENERGY, sunspec.encode_float32_le(rated_wh))
            put(o.MAX_CHARGE_POWER, sunspec.encode_float32_le(self.battery_max_charge_w / n))
            put(o.MAX_DISCHARGE_POWER, sunspec.encode_float32_le(self.battery_max_discharge_w / n))
            put(o.AVERAGE_TEMPERATURE, sunspec.encode_float32_le(25.0))
            put(o.MAX_TEMPERATURE, sunspec.encode_float32_le(27.5))
            voltage = f.battery_voltage_v or 51.2
            put(o.VOLTAGE, sunspec.encode_float32_le(voltage))
            put(o.CURRENT, sunspec.encode_float32_le(power / voltage))
            nan = [0xFFFF, 0xFFFF]
            put(o.POWER, nan if "battery_power" in sentinels else sunspec.encode_float32_le(power))
            put(0x76, [0] * 8)  # lifetime counters (uint64), not emulated
            put(o.MAX_ENERGY, sunspec.encode_float32_le(rated_wh))
            put(o.AVAILABLE_ENERGY, sunspec.encode_float32_le(rated_wh * f.battery_soc_pct / 100))
            put(o.STATE_OF_HEALTH, sunspec.encode_float32_le(100.0))
            soe = (
                nan if "battery_soe" in sentinels else sunspec.encode_float32_le(f.battery_soc_pct)
            )
            put(o.STATE_OF_ENERGY, soe)
            if power > 10.0:
                status = BatteryStatus.CHARGE
            elif power < -10.0:
                status = BatteryStatus.DISCHARGE
            else:
                status = BatteryStatus.IDLE
            put(o.STATUS, sunspec.encode_uint32(int(status), word_order="little"))
            put(0x88, [0, 0])  # internal status
        return regs


class SolarEdgeEmulator:
    """A SolarEdge on loopback. Start and stop it inside a running event loop."""

    def __init__(
        self,
        plant: Plant,
        *,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        unit: int = 1,
        faults: Faults | None = None,
        batteries: int = 1,
        meter: bool | None = None,
        three_phase: bool = False,
        seed: int = 1,
    ) -> None:
        if batteries not in (1, 2):
            raise ValueError("batteries must be 1 or 2")
        self.plant = plant
        self.clock: Clock = clock or WallClock()
        self.host = host
        self.port = port
        self.unit = unit
        self.faults = faults or Faults()
        self.pinned: Figures | None = None  # figures to serve instead of the plant's
        self.image = RegisterImage(
            unit=unit,
            meter=plant.config.grid_connected if meter is None else meter,
            batteries=batteries,
            battery_kwh=plant.config.battery_kwh,
            battery_max_charge_w=plant.config.battery_max_charge_w,
            battery_max_discharge_w=plant.config.battery_max_discharge_w,
            inverter_max_w=plant.config.inverter_max_w,
            three_phase=three_phase,
        )
        self._random = random.Random(seed)
        self._server: ModbusTcpServer | None = None
        self._drop_next_reply = False
        # Counters for tests and the console.
        self.requests = 0
        self.connections_opened = 0
        self.connections_open = 0
        self.faults_injected: dict[str, int] = {"exception": 0, "sentinel": 0, "silent": 0}

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def figures(self) -> Figures:
        if self.pinned is not None:
            return self.pinned
        state = self.plant.step(max(self.clock.now(), self.plant.state.time))
        return figures_from_plant(state, self.plant.config)

    async def start(self) -> None:
        """Listen (again, on the same port after a stop). Port 0 picks a free one."""
        if self._server is not None:
            return
        device = SimDevice(
            id=self.unit,
            simdata=[
                SimData(
                    sunspec.SUNSPEC_BASE,
                    count=self.image.sunspec_count,
                    values=0,
                    datatype=DataType.REGISTERS,
                ),
                SimData(
                    sunspec.BATTERY_ADDRESSES[0], count=0x200, values=0, datatype=DataType.REGISTERS
                ),
            ],
            action=self._on_request,
        )
        server = ModbusTcpServer(
            device,
            address=(self.host, self.port),
            trace_packet=self._trace_packet,
            trace_connect=self._trace_connect,
        )
        await server.serve_forever(background=True)
        transport = server.transport
        sockets = getattr(transport, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._server = server
        log.info("emulated SolarEdge listening on %s", self.address)

    async def stop(self) -> None:
        """Stop listening and drop every client connection (the inverter is unreachable)."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            # Let the closed transports' callbacks run before anyone rebinds the port.
            await asyncio.sleep(0)

    async def __aenter__(self) -> SolarEdgeEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ server hooks

    def _roll(self, probability: float) -> bool:
        return probability > 0 and self._random.random() < probability

    async def _on_request(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests += 1
        if set_values is not None:
            return ExcCodes.ILLEGAL_ADDRESS  # nothing here is writable in this emulator
        if self._roll(self.faults.silent):
            self.faults_injected["silent"] += 1
            self._drop_next_reply = True
            return None
        if self._roll(self.faults.exception):
            self.faults_injected["exception"] += 1
            return ExcCodes.DEVICE_BUSY
        sentinels = set(self.faults.not_implemented)
        if self._roll(self.faults.sentinel):
            self.faults_injected["sentinel"] += 1
            sentinels |= SENTINEL_FIELDS
        figures = self.figures()
        # Rewrite only the region the request reads (a request never spans both).
        if address >= sunspec.BATTERY_ADDRESSES[0]:
            region_start = sunspec.BATTERY_ADDRESSES[0]
            values = self.image.battery_registers(figures, sentinels)
        else:
            region_start = sunspec.SUNSPEC_BASE
            values = self.image.sunspec_registers(figures, sentinels)
        offset = region_start - start_address
        registers[offset : offset + len(values)] = values
        return None

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        if sending and self._drop_next_reply:
            self._drop_next_reply = False
            return b""  # no reply: asyncio writes nothing for an empty buffer
        return data

    def _trace_connect(self, connected: bool) -> None:
        if connected:
            self.connections_opened += 1
            self.connections_open += 1
        else:
            self.connections_open = max(0, self.connections_open - 1)


# ------------------------------------------------------------------------------------ CLI


async def _serve(args: argparse.Namespace, faults: Faults) -> int:
    start = time.time()
    clock = ScaledClock(start, args.speed) if args.speed != 1.0 else WallClock()
    plant = Plant(PlantConfig(), start_time=start)
    emulator = SolarEdgeEmulator(plant, clock=clock, host=args.host, port=args.port, faults=faults)
    try:
        await emulator.start()
    except (OSError, RuntimeError) as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"MODBUS {emulator.address}", flush=True)
    try:
        await stop.wait()
    finally:
        await emulator.stop()
    return 0


def main(args: argparse.Namespace) -> int:
    """``edge-mining emulate solaredge``: serve until SIGTERM, then exit 0."""
    try:
        faults = Faults.parse(args.faults)
    except ValueError as error:
        print(f"--faults: {error}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(args, faults))
