"""The SolarEdge driver against the emulator, over real Modbus TCP on loopback.

The emulator is served by pymodbus's own server and read by pymodbus's own client; raw reads
with a plain client check the bytes on the wire independently of our decoders.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge_mining.clock import ManualClock
from edge_mining.config import PlantConfig, SolarEdgeSourceConfig
from edge_mining.devices.base import DeviceError, DeviceUnavailable, EnergySource
from edge_mining.devices.solaredge.emulator import Figures, SolarEdgeEmulator, figures_from_plant
from edge_mining.devices.solaredge.source import SolarEdgeSource
from edge_mining.devices.solaredge.sunspec import InverterStatus
from edge_mining.sim.plant import Plant

# 2024-06-21 10:00 UTC: the plant's sun is up, the battery is charging.
MORNING = 1718964000.0


def source_for(emulator: SolarEdgeEmulator, **kwargs: float) -> SolarEdgeSource:
    config = SolarEdgeSourceConfig(
        type="solaredge", host=emulator.host, port=emulator.port, timeout_s=1.0
    )
    return SolarEdgeSource(
        config,
        clock=emulator.clock,
        backoff_initial_s=kwargs.get("backoff_initial_s", 0.05),
        backoff_max_s=kwargs.get("backoff_max_s", 0.2),
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MORNING)


@pytest.fixture
def plant() -> Plant:
    return Plant(PlantConfig(pv_kwp=6.0, battery_initial_soc_pct=55.0), start_time=MORNING)


@pytest.fixture
async def emulator(plant: Plant, clock: ManualClock) -> AsyncIterator[SolarEdgeEmulator]:
    emu = SolarEdgeEmulator(plant, clock=clock)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def source(emulator: SolarEdgeEmulator) -> AsyncIterator[SolarEdgeSource]:
    src = source_for(emulator)
    yield src
    await src.close()


def pinned(emulator: SolarEdgeEmulator, **changes: float) -> Figures:
    base = figures_from_plant(emulator.plant.state, emulator.plant.config)
    return replace(base, **changes)


async def raw_read(emulator: SolarEdgeEmulator, address: int, count: int) -> list[int]:
    client = AsyncModbusTcpClient(emulator.host, port=emulator.port, timeout=1, retries=0)
    await client.connect()
    try:
        response = await client.read_holding_registers(address, count=count, device_id=1)
        assert not response.isError(), response
        return list(response.registers)
    finally:
        client.close()


def int16(raw: int) -> int:
    return raw - 0x10000 if raw >= 0x8000 else raw


# ------------------------------------------------------------------------------ values


async def test_reading_follows_the_plant(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource, clock: ManualClock, plant: Plant
) -> None:
    assert isinstance(source, EnergySource)
    for _ in range(3):
        clock.advance(300)
        reading = await source.read()
        truth = plant.reading()
        assert reading.timestamp == clock.now()
        assert truth.pv_power_w is not None and truth.pv_power_w > 500  # a sunny morning
        # 16-bit registers at the finest fitting scale factor: within a watt or two.
        assert reading.pv_power_w == pytest.approx(truth.pv_power_w, abs=2.0)
        assert reading.load_power_w == pytest.approx(truth.load_power_w, abs=2.0)
        assert reading.grid_power_w == pytest.approx(truth.grid_power_w, abs=2.0)
        assert reading.battery_power_w == pytest.approx(truth.battery_power_w, abs=0.01)
        assert reading.battery_soc_pct == pytest.approx(truth.battery_soc_pct, abs=1e-4)
        assert reading.battery_voltage_v == pytest.approx(truth.battery_voltage_v, abs=1e-4)
        assert reading.grid_frequency_hz == 50.0
        assert reading.inverter_mode == "mppt"
        assert reading.warnings == ()
    layout = source.layout
    assert layout is not None
    assert layout.common.manufacturer == "SolarEdge"
    assert layout.common.serial == "7E1A2B3C"
    assert layout.inverter.address == 40069 and layout.inverter.model_id == 101
    assert [(h.address, h.model_id, opt) for h, opt in layout.meters] == [
        (40188, 201, "Export+Import")
    ]
    assert [address for address, _ in layout.batteries] == [0xE100]
    assert layout.batteries[0][1].rated_energy_wh == 10000.0


async def test_scale_factors_change_with_the_value_and_are_applied(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource
) -> None:
    seen_sf = set()
    for ac_power in (123.45, -87.6, 2345.6, 31000.0, 45678.0):
        emulator.pinned = pinned(emulator, ac_power_w=ac_power, grid_w=0.0)
        data = await source.read_data()
        raw_power, raw_sf = await raw_read(emulator, 40083, 2)
        sf = int16(raw_sf)
        seen_sf.add(sf)
        assert int16(raw_power) * 10.0**sf == pytest.approx(ac_power, abs=10.0**sf / 2)
        assert data.inverter.ac_power_w == pytest.approx(ac_power, abs=10.0**sf / 2)
    assert seen_sf == {-2, -1, 0, 1}


async def test_meter_sign_export_is_positive_on_the_wire_and_negative_in_the_snapshot(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource
) -> None:
    emulator.pinned = pinned(emulator, ac_power_w=3000.0, grid_w=-1800.0)
    reading = await source.read()
    raw_power, *_, raw_sf = await raw_read(emulator, 40206, 5)
    assert int16(raw_power) * 10.0 ** int16(raw_sf) == pytest.approx(1800.0)  # export > 0
    assert reading.grid_power_w == pytest.approx(-1800.0)
    assert reading.load_power_w == pytest.approx(1200.0)  # 3000 from the inverter, 1800 out

    emulator.pinned = pinned(emulator, ac_power_w=500.0, grid_w=700.0)
    reading = await source.read()
    raw_power, *_, raw_sf = await raw_read(emulator, 40206, 5)
    assert int16(raw_power) < 0  # import reads negative on a SolarEdge meter
    assert reading.grid_power_w == pytest.approx(700.0)
    assert reading.load_power_w == pytest.approx(1200.0)


async def test_battery_floats_are_word_little_endian_on_the_wire(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource
) -> None:
    emulator.pinned = pinned(emulator, battery_soc_pct=73.25, battery_power_w=-1234.5)
    reading = await source.read()
    low, high = await raw_read(emulator, 0xE184, 2)
    assert struct.unpack(">f", struct.pack(">HH", high, low))[0] == 73.25
    assert struct.unpack(">f", struct.pack(">HH", low, high))[0] != pytest.approx(73.25)
    low, high = await raw_read(emulator, 0xE174, 2)
    assert struct.unpack(">f", struct.pack(">HH", high, low))[0] == -1234.5
    assert reading.battery_soc_pct == 73.25
    assert reading.battery_power_w == -1234.5


async def test_pv_adds_back_what_the_dc_coupled_battery_takes(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource
) -> None:
    # 5 kW of PV: 2 kW into the battery, 3 kW through the inverter's DC input.
    emulator.pinned = pinned(
        emulator, dc_power_w=3000.0, battery_power_w=2000.0, ac_power_w=3000.0, grid_w=-500.0
    )
    reading = await source.read()
    assert reading.pv_power_w == pytest.approx(5000.0)
    # At night the battery feeds the DC input: no PV.
    emulator.pinned = pinned(
        emulator, dc_power_w=800.0, battery_power_w=-800.0, ac_power_w=800.0, grid_w=100.0
    )
    reading = await source.read()
    assert reading.pv_power_w == pytest.approx(0.0)
    assert reading.load_power_w == pytest.approx(900.0)


async def test_two_batteries_are_weighted_and_summed(plant: Plant, clock: ManualClock) -> None:
    async with SolarEdgeEmulator(plant, clock=clock, batteries=2) as emulator:
        source = source_for(emulator)
        try:
            emulator.pinned = pinned(emulator, battery_soc_pct=40.0, battery_power_w=3000.0)
            reading = await source.read()
            layout = source.layout
            assert layout is not None
            assert [address for address, _ in layout.batteries] == [0xE100, 0xE200]
            assert reading.battery_power_w == pytest.approx(3000.0)  # 1500 W each
            assert reading.battery_soc_pct == pytest.approx(40.0)
        finally:
            await source.close()


async def test_off_grid_plant_has_no_meter(clock: ManualClock) -> None:
    plant = Plant(PlantConfig(grid_connected=False), start_time=MORNING)
    async with SolarEdgeEmulator(plant, clock=clock) as emulator:
        source = source_for(emulator)
        try:
            reading = await source.read()
        finally:
            await source.close()
    assert reading.grid_power_w is None
    assert reading.load_power_w is None  # unknown without a meter, never guessed
    assert "no grid meter" in reading.warnings
    assert reading.pv_power_w is not None and reading.battery_soc_pct is not None


# --------------------------------------------------------------------------- sentinels


@pytest.mark.parametrize(
    ("field", "expect_none"),
    [
        ("ac_power", {"load_power_w"}),
        ("ac_power_sf", {"load_power_w"}),
        ("meter_power", {"load_power_w", "grid_power_w"}),
        ("dc_power", {"pv_power_w"}),
        ("battery_power", {"battery_power_w", "pv_power_w"}),
        ("battery_soe", {"battery_soc_pct"}),
        ("temperature", {"heatsink_temperature_c"}),
        ("status", {"inverter_mode", "pv_curtailed"}),
    ],
)
async def test_not_implemented_values_read_as_unknown_never_as_numbers(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource, field: str, expect_none: set[str]
) -> None:
    measured = (
        "pv_power_w",
        "load_power_w",
        "grid_power_w",
        "battery_power_w",
        "battery_soc_pct",
        "heatsink_temperature_c",
        "inverter_mode",
        "pv_curtailed",
    )
    emulator.faults.not_implemented = {field}
    reading = await source.read()
    nones = {name for name in measured if getattr(reading, name) is None}
    assert nones == expect_none


async def test_sentinel_fault_on_every_read_is_survived(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource
) -> None:
    emulator.faults.sentinel = 1.0
    reading = await source.read()
    assert reading.pv_power_w is None and reading.grid_power_w is None
    assert reading.battery_soc_pct is None and reading.load_power_w is None
    emulator.faults.sentinel = 0.0
    reading = await source.read()
    assert reading.pv_power_w is not None
    assert emulator.connections_opened == 1  # sentinels are data, not failures


# ------------------------------------------------------------- connection and failures


async def test_one_connection_is_kept_across_reads(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource
) -> None:
    for _ in range(10):
        await source.read()
    assert emulator.connections_opened == 1
    assert source.connects == 1


async def test_reconnects_after_the_server_restarts(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource
) -> None:
    first = await source.read()
    await emulator.stop()
    with pytest.raises(DeviceUnavailable):
        await source.read()
    assert not source.connected
    # While down: failures, each one dropping the slot, with a growing backoff.
    for _ in range(3):
        await asyncio.sleep(0.25)
        with pytest.raises(DeviceUnavailable):
            await source.read()
    await emulator.start()  # same port
    reading = None
    for _ in range(20):  # bounded: the backoff is capped at 0.2 s
        await asyncio.sleep(0.05)
        try:
            reading = await source.read()
            break
        except DeviceUnavailable:
            continue
    assert reading is not None
    assert reading.battery_soc_pct == pytest.approx(first.battery_soc_pct, abs=1e-3)
    assert source.connects == 2
    assert emulator.connections_open == 1


async def test_exception_reply_drops_the_connection_then_recovers(
    emulator: SolarEdgeEmulator, source: SolarEdgeSource
) -> None:
    await source.read()
    emulator.faults.exception = 1.0
    with pytest.raises(DeviceError, match="exception reply 0x06"):
        await source.read()
    assert not source.connected
    assert source.exception_replies == 1
    # Backing off: the next read does not even knock.
    opened = emulator.connections_opened
    with pytest.raises(DeviceUnavailable, match="waiting"):
        await source.read()
    assert emulator.connections_opened == opened
    emulator.faults.exception = 0.0
    await asyncio.sleep(0.06)
    reading = await source.read()
    assert reading.pv_power_w is not None
    assert emulator.connections_opened == opened + 1
    await asyncio.sleep(0.05)
    assert emulator.connections_open == 1  # the failed connection was released


async def test_no_reply_times_out_and_recovers(
    emulator: SolarEdgeEmulator, plant: Plant, clock: ManualClock
) -> None:
    config = SolarEdgeSourceConfig(
        type="solaredge", host=emulator.host, port=emulator.port, timeout_s=0.2
    )
    source = SolarEdgeSource(config, clock=clock, backoff_initial_s=0.01, backoff_max_s=0.01)
    try:
        await source.read()
        emulator.faults.silent = 1.0
        with pytest.raises(DeviceUnavailable, match="no reply"):
            await source.read()
        emulator.faults.silent = 0.0
        await asyncio.sleep(0.02)
        assert (await source.read()).battery_soc_pct is not None
        assert emulator.faults_injected["silent"] == 1
    finally:
        await source.close()


async def test_random_faults_are_survived_in_a_bounded_loop(emulator: SolarEdgeEmulator) -> None:
    source = source_for(emulator, backoff_initial_s=0.001, backoff_max_s=0.001)
    emulator.faults.exception = 0.05
    emulator.faults.sentinel = 0.2
    good = failed = 0
    try:
        for _ in range(60):
            try:
                await source.read()
                good += 1
            except DeviceError:
                failed += 1
                await asyncio.sleep(0.002)
    finally:
        await source.close()
    assert good > 0 and failed > 0
    assert source.failures == failed
    assert emulator.faults_injected["sentinel"] > 0


async def test_nothing_listening_is_unavailable(unused_tcp_port: int) -> None:
    config = SolarEdgeSourceConfig(
        type="solaredge", host="127.0.0.1", port=unused_tcp_port, timeout_s=0.5
    )
    source = SolarEdgeSource(config)
    with pytest.raises(DeviceUnavailable, match="cannot connect"):
        await source.read()
    await source.close()


async def test_a_modbus_device_without_sunspec_is_refused() -> None:
    device = SimDevice(
        id=1, simdata=[SimData(40000, count=200, values=0, datatype=DataType.REGISTERS)]
    )
    server = ModbusTcpServer(device, address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    try:
        port = server.transport.sockets[0].getsockname()[1]
        config = SolarEdgeSourceConfig(type="solaredge", host="127.0.0.1", port=port)
        source = SolarEdgeSource(config)
        with pytest.raises(DeviceError, match="no SunSpec marker"):
            await source.read()
        assert not source.connected
    finally:
        await server.shutdown()


def test_status_names_are_the_snapshot_mode() -> None:
    assert InverterStatus(4).name.lower() == "mppt"
    assert InverterStatus(5).name.lower() == "throttled"
