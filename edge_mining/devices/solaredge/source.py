"""SolarEdge inverters over Modbus TCP (SunSpec), with meter and battery.

A SolarEdge inverter accepts one Modbus TCP client at a time, so this driver keeps one
connection open while it works, drops it at the first failure (so another client, or our own
next attempt, can get in) and reconnects with a doubling backoff. After every (re)connect it
checks the "SunS" marker and walks the SunSpec model chain again, because an inverter that
restarted may come back with a different set of meters or batteries.

Mapping into an EnergyReading (our signs: grid > 0 importing, battery > 0 charging):

- grid  = -(meter power): SolarEdge's grid meter counts export as positive.
- load  = inverter AC power + grid: what the house takes from the inverter and the grid.
- PV    = DC power + battery power: a StorEdge battery sits on the DC bus, so the inverter's
          DC input is PV minus what the battery takes (plus what it gives). Without a battery
          PV is the DC power.
- battery SoC: the batteries' state of energy, weighted by their rated energy; power summed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from edge_mining.clock import Clock
from edge_mining.config import SolarEdgeSourceConfig
from edge_mining.devices.base import DeviceError, DeviceUnavailable
from edge_mining.devices.solaredge import sunspec
from edge_mining.devices.solaredge.sunspec import (
    BatteryBlock,
    BatteryIdentity,
    BatteryStatus,
    CommonBlock,
    InverterBlock,
    InverterStatus,
    MeterBlock,
    ModelHeader,
    SunSpecError,
)
from edge_mining.model import EnergyReading

# Named for the package (the module's name before it became one): log lines are unchanged.
log = logging.getLogger("edge_mining.devices.solaredge")
# pymodbus logs every timeout at ERROR with a hex dump of the last frames; this driver reports
# the same failure once, as a DeviceError. Quiet it unless someone configured it on purpose.
_pymodbus_log = logging.getLogger("pymodbus")
if _pymodbus_log.level == logging.NOTSET:
    _pymodbus_log.setLevel(logging.CRITICAL)

MAX_MODELS = 16  # a SolarEdge chain has 2-8 models; more means we are reading garbage
ILLEGAL_ADDRESS = 0x02


class ExceptionReply(DeviceError):
    """The device answered a read with a Modbus exception."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are on this particular inverter, found by walking the model chain."""

    common: CommonBlock
    inverter: ModelHeader
    meters: tuple[tuple[ModelHeader, str], ...]  # (meter model header, its options string)
    batteries: tuple[tuple[int, BatteryIdentity], ...]  # (block address, identity)

    @property
    def grid_meter(self) -> tuple[ModelHeader, str] | None:
        """The meter at the grid connection point ("Export+Import"), else the only meter."""
        for header, option in self.meters:
            lowered = option.lower()
            if "export" in lowered or "import" in lowered:
                return header, option
        if len(self.meters) == 1 and not self.meters[0][1]:
            return self.meters[0]
        return None


@dataclass(frozen=True, slots=True)
class SolarEdgeData:
    """One decoded poll: everything the mapping and the probe need."""

    common: CommonBlock
    inverter: InverterBlock
    grid_meter: MeterBlock | None
    batteries: tuple[tuple[BatteryIdentity, BatteryBlock], ...]


def _battery_soc(batteries: Sequence[tuple[BatteryIdentity, BatteryBlock]]) -> float | None:
    weighted = 0.0
    capacity = 0.0
    for identity, block in batteries:
        if block.state_of_energy_pct is None:
            return None
        weight = identity.rated_energy_wh or block.max_energy_wh or 1.0
        weighted += block.state_of_energy_pct * weight
        capacity += weight
    return weighted / capacity if capacity else None


def to_reading(data: SolarEdgeData, timestamp: float) -> EnergyReading:
    """Map one poll into our snapshot's units and signs (see the module docstring)."""
    inverter = data.inverter
    warnings: list[str] = []

    battery_power: float | None = None
    if data.batteries:
        powers = [block.power_w for _, block in data.batteries]
        battery_power = None if any(p is None for p in powers) else sum(p or 0.0 for p in powers)
    for index, (_, block) in enumerate(data.batteries, start=1):
        if block.status == BatteryStatus.FAULT:
            warnings.append(f"battery {index} fault")

    pv: float | None = None
    if inverter.dc_power_w is not None and (not data.batteries or battery_power is not None):
        pv = max(0.0, inverter.dc_power_w + (battery_power or 0.0))

    grid: float | None = None
    if data.grid_meter is not None and data.grid_meter.power_w is not None:
        grid = -data.grid_meter.power_w + 0.0  # "+ 0.0": never a -0.0 in the snapshot
    elif data.grid_meter is None:
        warnings.append("no grid meter")

    load: float | None = None
    if grid is not None and inverter.ac_power_w is not None:
        load = max(0.0, inverter.ac_power_w + grid)

    if inverter.status == InverterStatus.FAULT:
        warnings.append("inverter fault")

    voltage = data.grid_meter.voltage_v if data.grid_meter is not None else None
    frequency = inverter.ac_frequency_hz
    if frequency is None and data.grid_meter is not None:
        frequency = data.grid_meter.frequency_hz
    return EnergyReading(
        timestamp=timestamp,
        pv_power_w=pv,
        load_power_w=load,
        battery_soc_pct=_battery_soc(data.batteries) if data.batteries else None,
        battery_power_w=battery_power,
        battery_voltage_v=data.batteries[0][1].voltage_v if data.batteries else None,
        grid_power_w=grid,
        grid_voltage_v=voltage if voltage is not None else inverter.ac_voltage_v,
        grid_frequency_hz=frequency,
        inverter_mode=inverter.status_name,
        warnings=tuple(warnings),
        heatsink_temperature_c=inverter.temperature_c,
        pv_curtailed=None
        if inverter.status is None
        else inverter.status == InverterStatus.THROTTLED,
    )


class SolarEdgeSource:
    """EnergySource for a SolarEdge inverter on Modbus TCP (SunSpec + proprietary battery)."""

    def __init__(
        self,
        config: SolarEdgeSourceConfig,
        *,
        clock: Clock | None = None,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
    ) -> None:
        self.config = config
        self.name = f"solaredge {config.host}:{config.port}"
        self._clock = clock
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._client: AsyncModbusTcpClient | None = None
        self._layout: Layout | None = None
        self._lock = asyncio.Lock()
        self._consecutive_failures = 0
        self._retry_at = 0.0  # time.monotonic() before which we do not reconnect
        self._last_error: str | None = None
        # Counters for diagnostics and tests.
        self.connects = 0
        self.failures = 0
        self.exception_replies = 0

    def __repr__(self) -> str:
        return f"SolarEdgeSource({self.config.host}:{self.config.port}, unit {self.config.unit})"

    @property
    def layout(self) -> Layout | None:
        """What the last (re)connect discovered; None while disconnected."""
        return self._layout

    @property
    def connected(self) -> bool:
        return self._client is not None

    # ------------------------------------------------------------------ EnergySource

    async def read(self) -> EnergyReading:
        data = await self.read_data()
        now = self._clock.now() if self._clock is not None else time.time()
        return to_reading(data, now)

    async def close(self) -> None:
        async with self._lock:
            self._disconnect()

    # ------------------------------------------------------------------------ polling

    async def read_data(self) -> SolarEdgeData:
        """One poll over the kept connection, (re)connecting first when needed."""
        async with self._lock:
            if self._client is None:
                wait = self._retry_at - time.monotonic()
                if wait > 0:
                    raise DeviceUnavailable(
                        f"{self.name}: waiting {wait:.1f} s before reconnecting "
                        f"(last error: {self._last_error})"
                    )
            try:
                if self._client is None:
                    await self._connect()
                data = await self._poll()
            except DeviceError as error:
                self._fail(error)
                raise
            if self._consecutive_failures:
                log.info("%s: reading again after %d failure(s)", self.name, self.failures)
            self._consecutive_failures = 0
            return data

    def _fail(self, error: DeviceError) -> None:
        # Never hold the inverter's single Modbus slot across a failure.
        self.failures += 1
        self._consecutive_failures += 1
        self._last_error = str(error)
        delay = min(
            self._backoff_max_s,
            self._backoff_initial_s * 2 ** (self._consecutive_failures - 1),
        )
        self._retry_at = time.monotonic() + delay
        # One warning per outage; the rest of the streak at debug, so a dead inverter does
        # not flood the log every poll.
        level = logging.WARNING if self._consecutive_failures == 1 else logging.DEBUG
        log.log(level, "%s; reconnecting in %.1f s", error, delay)
        self._disconnect()

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        self._layout = None

    async def _connect(self) -> None:
        client = AsyncModbusTcpClient(
            self.config.host,
            port=self.config.port,
            timeout=self.config.timeout_s,
            retries=0,
            reconnect_delay=0,  # reconnection is ours, with our backoff
            name=self.name,
        )
        self._client = client
        try:
            connected = await client.connect()
        except (ModbusException, OSError) as error:
            raise DeviceUnavailable(f"{self.name}: cannot connect: {error}") from None
        if not connected:
            raise DeviceUnavailable(f"{self.name}: cannot connect")
        self.connects += 1
        self._layout = await self._discover()
        log.info(
            "%s: %s %s (version %s, serial %s), inverter model %d, %d meter(s), %d battery(ies)",
            self.name,
            self._layout.common.manufacturer,
            self._layout.common.model,
            self._layout.common.version,
            self._layout.common.serial,
            self._layout.inverter.model_id,
            len(self._layout.meters),
            len(self._layout.batteries),
        )

    async def _read(self, address: int, count: int) -> list[int]:
        client = self._client
        if client is None:
            raise DeviceUnavailable(f"{self.name}: not connected")
        try:
            response = await client.read_holding_registers(
                address, count=count, device_id=self.config.unit
            )
        except ModbusException as error:
            raise DeviceUnavailable(f"{self.name}: no reply reading {address}: {error}") from None
        if response.isError():
            code = int(getattr(response, "exception_code", 0))
            self.exception_replies += 1
            raise ExceptionReply(
                f"{self.name}: exception reply {code:#04x} reading {count} registers at {address}",
                code,
            )
        registers = list(response.registers)
        if len(registers) < count:
            raise DeviceError(
                f"{self.name}: short reply at {address}: {len(registers)} of {count} registers"
            )
        return registers[:count]

    async def _discover(self) -> Layout:
        head = await self._read(sunspec.SUNSPEC_BASE, 2 + 2 + sunspec.COMMON_LENGTH)
        if not sunspec.is_sunspec_marker(head):
            raise DeviceError(f"{self.name}: no SunSpec marker 'SunS' at {sunspec.SUNSPEC_BASE}")
        try:
            common = sunspec.decode_common(head[2:])
            header = sunspec.decode_header(head[2:4], sunspec.FIRST_MODEL_ADDRESS)
            inverter: ModelHeader | None = None
            meters: list[tuple[ModelHeader, str]] = []
            pending_option = ""
            address = header.end
            for _ in range(MAX_MODELS):
                try:
                    header = sunspec.decode_header(await self._read(address, 2), address)
                except ExceptionReply as reply:
                    if reply.code != ILLEGAL_ADDRESS:
                        raise
                    break  # past the end of the map without an end marker
                if header.model_id in (sunspec.END_MODEL_ID, 0):
                    break
                if header.model_id == sunspec.COMMON_MODEL_ID:
                    block = await self._read(address, 2 + header.length)
                    pending_option = sunspec.decode_common(block).options
                elif header.model_id in sunspec.INVERTER_MODEL_IDS and inverter is None:
                    if header.length < sunspec.INVERTER_LENGTH:
                        raise SunSpecError(f"inverter model length {header.length} < 50")
                    inverter = header
                elif header.model_id in sunspec.METER_MODEL_IDS:
                    if header.length < sunspec.METER_LENGTH:
                        raise SunSpecError(f"meter model length {header.length} < 105")
                    meters.append((header, pending_option))
                    pending_option = ""
                address = header.end
        except SunSpecError as error:
            raise DeviceError(f"{self.name}: {error}") from None
        if inverter is None:
            raise DeviceError(f"{self.name}: no inverter model (101-103) in the SunSpec chain")
        batteries = []
        for base in sunspec.BATTERY_ADDRESSES:
            start, end = sunspec.BATTERY_IDENTITY_SPAN
            try:
                registers = await self._read(base + start, end - start)
            except ExceptionReply:
                continue  # inverters without a battery refuse the block
            identity = sunspec.decode_battery_identity(registers)
            if identity is not None:
                batteries.append((base, identity))
        return Layout(common, inverter, tuple(meters), tuple(batteries))

    async def _poll(self) -> SolarEdgeData:
        layout = self._layout
        if layout is None:
            raise DeviceUnavailable(f"{self.name}: not connected")
        # Each block in one request: SolarEdge changes scale factors between reads, so a
        # value and its scale factor must come from the same reply.
        try:
            inverter = sunspec.decode_inverter(
                await self._read(layout.inverter.address, sunspec.InverterOffset.STATUS_VENDOR + 1)
            )
            meter: MeterBlock | None = None
            grid = layout.grid_meter
            if grid is not None:
                header, option = grid
                meter = sunspec.decode_meter(
                    await self._read(header.address, sunspec.MeterOffset.ENERGY_SF + 1), option
                )
            batteries = []
            start, end = sunspec.BATTERY_LIVE_SPAN
            for base, identity in layout.batteries:
                block = sunspec.decode_battery(await self._read(base + start, end - start))
                batteries.append((identity, block))
        except SunSpecError as error:
            raise DeviceError(f"{self.name}: {error}") from None
        return SolarEdgeData(layout.common, inverter, meter, tuple(batteries))
