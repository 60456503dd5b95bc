"""The Voltronic driver against the PI30 emulator through a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import tty

import pytest

from edge_mining.config import PlantConfig, VoltronicSourceConfig
from edge_mining.devices.base import CommandRejected, DeviceError, DeviceUnavailable, EnergySource
from edge_mining.devices.voltronic import pi30
from edge_mining.devices.voltronic import source as voltronic
from edge_mining.devices.voltronic.emulator import FaultSpec, Pi30Emulator
from edge_mining.devices.voltronic.source import HidrawLink, VoltronicSource
from edge_mining.sim.plant import Plant

NOON = 1_750_000_000.0 - (1_750_000_000.0 % 86400) + 12 * 3600  # a June day at 12:00 UTC


@pytest.fixture
def plant():
    plant = Plant(PlantConfig(latitude=45.0), start_time=NOON - 3600)
    plant.set_miner_draw("s19", 1400.0)
    plant.step(NOON)
    return plant


def _config(device, **changes):
    values = {"type": "voltronic", "device": device, "timeout_s": 0.25, "retries": 2}
    values.update(changes)
    return VoltronicSourceConfig(**values)


@pytest.fixture
async def emulator(plant):
    emulator = Pi30Emulator(plant, faults=FaultSpec(slow_s=0.4))
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def source(emulator):
    source = VoltronicSource(_config(emulator.path))
    yield source
    await source.close()


async def test_reading_maps_the_plant_state(plant, emulator, source):
    assert isinstance(source, EnergySource)
    reading = await source.read()
    state = plant.state
    assert reading.pv_power_w == pytest.approx(state.pv_w - state.curtailed_w, abs=1.0)
    assert reading.pv_power_w > 500  # noon in June: the sign and scale are right
    assert reading.load_power_w == pytest.approx(state.house_load_w + state.miners_w, abs=1.0)
    assert reading.load_apparent_va == pytest.approx(reading.load_power_w / 0.95, abs=2.0)
    assert reading.battery_soc_pct == pytest.approx(state.battery_soc_pct, abs=0.5)
    assert reading.battery_voltage_v == pytest.approx(state.battery_voltage_v, abs=0.01)
    # PI30 reports whole amps: the power is exact to one amp times the voltage.
    assert reading.battery_power_w == pytest.approx(
        state.battery_power_w, abs=state.battery_voltage_v
    )
    assert reading.grid_voltage_v == pytest.approx(230.0, abs=3.0)
    assert reading.grid_frequency_hz == pytest.approx(50.0, abs=0.1)
    assert reading.inverter_mode in ("line", "battery")
    assert reading.heatsink_temperature_c is not None and reading.heatsink_temperature_c >= 30
    assert reading.warnings == ()
    assert source.fault_counts == {}


async def test_miner_draw_shows_in_load_and_battery(plant, source):
    before = await source.read()
    plant.set_miner_draw("s19", 3400.0)
    plant.step(NOON + 1)
    after = await source.read()
    assert after.load_power_w - before.load_power_w == pytest.approx(2000.0, abs=2.0)
    assert after.battery_power_w < before.battery_power_w


async def test_discharging_battery_has_negative_power(plant, source):
    plant.set_miner_draw("s19", 7000.0)
    plant.step(NOON + 2)
    reading = await source.read()
    assert plant.state.battery_power_w < 0
    assert reading.battery_power_w < 0


async def test_dual_mppt_reads_pv2(plant):
    async with Pi30Emulator(plant, dual_mppt=True) as emulator:
        source = VoltronicSource(_config(emulator.path, dual_mppt=True))
        try:
            reading = await source.read()
        finally:
            await source.close()
    total = plant.state.pv_w - plant.state.curtailed_w
    assert reading.pv2_power_w == pytest.approx(0.4 * total, abs=1.0)
    assert reading.total_pv_power_w == pytest.approx(total, abs=2.0)


async def test_hidraw_transport_reads_through_a_pty(plant):
    async with Pi30Emulator(plant, hid_reports=True) as emulator:
        source = VoltronicSource(_config(emulator.path, transport="hidraw"))
        try:
            reading = await source.read()
            serial = await source.client.query("QID", pi30.parse_qid)
        finally:
            await source.close()
    assert reading.load_power_w == pytest.approx(
        plant.state.house_load_w + plant.state.miners_w, abs=1.0
    )
    assert serial == "96332309100452"
    assert source.fault_counts == {}


async def test_hidraw_writes_8_byte_reports_padded():
    master, slave = os.openpty()
    tty.setraw(slave)
    link = HidrawLink(os.ttyname(slave))
    try:
        await link.open()
        await link.write(pi30.encode_command("QMOD"))  # 7 bytes: one padded report
        await link.write(pi30.encode_command("QPIGS2"))  # 9 bytes: two reports
        await asyncio.sleep(0.05)
        written = os.read(master, 64)
        assert written == b"QMOD\x49\xc1\r\0" + b"QPIGS2\x68\x2d" + b"\r" + b"\0" * 7
        # Replies are read across reports until CR.
        os.write(master, b"(PI")
        os.write(master, b"30\x9a\x0b\r\0\0\0")
        data = b""
        while b"\r" not in data:
            data += await link.read(1.0)
        assert data.startswith(b"(PI30\x9a\x0b\r")
    finally:
        await link.close()
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize(
    ("fault", "counted_as"),
    [
        ("crc", "crc"),
        ("nak", "nak"),
        ("truncated", "truncated"),
        ("garbage", "garbage"),
        ("slow", "timeout"),
    ],
)
async def test_each_fault_kind_is_survived_and_counted(emulator, source, fault, counted_as):
    emulator.inject(fault)
    reading = await source.read()  # the retry recovers
    assert reading.load_power_w is not None
    assert emulator.injected[fault] == 1
    # A late reply (slow) arrives after the retry was written: it answers the retry, and the
    # retry's own reply is discarded as stray before the next command is written.
    await source.read()
    counts = source.fault_counts
    assert counts[counted_as] == 1
    assert set(counts) <= {counted_as, "stray"}
    assert counts.get("stray", 0) <= (1 if fault == "slow" else 0)


async def test_persistent_faults_raise_device_errors(emulator, source):
    emulator.inject("nak", 3)
    with pytest.raises(CommandRejected):
        await source.read()
    emulator.inject("crc", 3)
    with pytest.raises(DeviceError):
        await source.read()
    assert source.fault_counts == {"nak": 3, "crc": 3}
    assert (await source.read()).load_power_w is not None


async def test_silent_device_times_out():
    master, slave = os.openpty()
    tty.setraw(slave)
    source = VoltronicSource(_config(os.ttyname(slave), timeout_s=0.1, retries=2))
    try:
        with pytest.raises(DeviceUnavailable, match="no reply"):
            await source.read()
    finally:
        await source.close()
        os.close(master)
        os.close(slave)
    assert source.fault_counts == {"timeout": 3}


async def test_device_vanishes_and_returns(plant, tmp_path):
    path = tmp_path / "ttyINV"
    async with Pi30Emulator(plant, link_path=path) as emulator:
        source = VoltronicSource(_config(str(path), retries=1))
        try:
            await source.read()
            unplug = asyncio.create_task(emulator.vanish(0.6))
            await asyncio.sleep(0.05)
            assert not path.exists()
            with pytest.raises(DeviceUnavailable):
                await source.read()
            await unplug
            reading = await source.read()
            assert reading.load_power_w is not None
        finally:
            await source.close()
    counts = source.fault_counts
    assert counts["disconnect"] >= 1
    assert counts["unavailable"] >= 1


async def test_missing_device_is_unavailable(tmp_path):
    source = VoltronicSource(_config(str(tmp_path / "nothing"), retries=1))
    with pytest.raises(DeviceUnavailable, match="nothing"):
        await source.read()
    assert source.fault_counts == {"unavailable": 2}


async def test_setters_ack_and_nak(emulator, source):
    await source.set_output_priority("solar_first")
    await source.set_charger_priority("solar_only")
    assert (emulator.output_priority, emulator.charger_priority) == (1, 3)
    rated = await source.client.query("QPIRI", pi30.parse_qpiri)
    assert rated.output_source_priority == "solar_first"
    assert rated.charger_source_priority == "solar_only"
    with pytest.raises(CommandRejected):
        await source.client.set("POP07")  # the inverter refuses; no retry for setters
    assert emulator.commands["POP07"] == 1


async def test_one_command_in_flight(plant):
    async with Pi30Emulator(plant, pacing_baud=2400) as emulator:
        source = VoltronicSource(_config(emulator.path, timeout_s=1.0))
        try:
            results = await asyncio.gather(
                *(
                    source.client.query(command, parser)
                    for _ in range(3)
                    for command, parser in (("QPI", pi30.parse_qpi), ("QMOD", pi30.parse_qmod))
                )
            )
        finally:
            await source.close()
    assert results[0::2] == ["PI30"] * 3
    assert all(mode in ("line", "battery") for mode in results[1::2])
    assert source.fault_counts == {}


async def test_garbage_lines_between_replies_are_skipped(emulator, source):
    assert await source.client.query("QPI", pi30.parse_qpi) == "PI30"
    # Noise with its own CR arrives between two exchanges.
    os.write(emulator._pty.master, b"\x13\x99noise\r")
    assert await source.client.query("QPI", pi30.parse_qpi) == "PI30"
    assert source.fault_counts == {"garbage": 1}


async def test_vanish_fault_mid_command_then_reopen(plant, tmp_path):
    path = tmp_path / "ttyUSB-pi30"
    faults = FaultSpec(vanish_s=0.3)
    async with Pi30Emulator(plant, link_path=path, faults=faults) as emulator:
        source = VoltronicSource(_config(str(path), retries=1))
        try:
            await source.read()
            emulator.inject("vanish")  # the next command's reply never comes: unplugged
            with pytest.raises(DeviceUnavailable):
                await source.client.query("QPIGS", pi30.parse_qpigs)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5.0
            while True:
                try:
                    reading = await source.read()
                    break
                except DeviceUnavailable:
                    assert loop.time() < deadline, "never reconnected"
                    await asyncio.sleep(0.1)
        finally:
            await source.close()
    assert reading.battery_soc_pct is not None
    assert emulator.injected["vanish"] == 1
    assert source.fault_counts["disconnect"] == 1
    assert source.fault_counts["unavailable"] >= 1


async def _until(condition, what: str, timeout_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("toward", ["inverter", "driver"])
@pytest.mark.parametrize("lines", [3000, 30000])
async def test_a_burst_of_line_noise_costs_no_reading_after_it(emulator, toward, lines):
    """However long the burst, the first poll after it gets fresh data on its first attempt."""
    # A generous timeout: under CPU load a reply may take long, and a retry would hide a miss.
    source = VoltronicSource(_config(emulator.path, timeout_s=5.0))
    try:
        await source.read()
        await emulator.line_noise(b"junk\r" * lines, toward=toward)
        if toward == "inverter":
            # The noise stops for the driver when the inverter has refused the last junk line.
            await _until(lambda: emulator.commands["?"] == lines, "the inverter to answer it")
        # What waits to be read is bounded, however much arrived.
        assert len(source.client._link._inbox.data) <= voltronic.MAX_INBOX_BYTES
        queries = emulator.commands["QPIGS"]
        reading = await source.read()
        assert emulator.commands["QPIGS"] == queries + 1  # answered on the first attempt
        assert reading.load_power_w is not None
    finally:
        await source.close()
    counts = source.fault_counts
    noise_kind = "nak" if toward == "inverter" else "garbage"
    assert counts[noise_kind] >= 1
    # Dropping the oldest bytes of a burst cuts a line: its rest is garbage or truncated.
    assert set(counts) <= {noise_kind, "overflow", "garbage", "truncated"}
    if lines * 5 > 2 * voltronic.MAX_INBOX_BYTES:
        assert counts["overflow"] >= 1


async def test_refusals_of_noise_ahead_of_the_command_do_not_fail_it(emulator, source):
    assert await source.client.query("QPI", pi30.parse_qpi) == "PI30"
    # Noise reaches the inverter just before the command: its ten NAKs arrive after the
    # command was written, followed by the real reply. The reply is the last frame: it wins.
    fd = os.open(emulator.path, os.O_WRONLY | os.O_NOCTTY)
    try:
        os.write(fd, b"junk\r" * 10)
    finally:
        os.close(fd)
    assert await source.client.query("QPI", pi30.parse_qpi) == "PI30"
    assert emulator.commands["?"] == 10
    assert emulator.commands["QPI"] == 2  # no retry
    assert source.fault_counts == {"nak": 10}


async def test_a_refusal_of_the_command_itself_still_fails_without_waiting(emulator):
    source = VoltronicSource(_config(emulator.path, timeout_s=5.0))
    emulator.inject("nak")
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(CommandRejected):
            await source.client.set("POP01")
    finally:
        await source.close()
    # A NAK that no further frame follows is the answer: refused after the short settle time
    # (0.17 s at 2400 baud), long before the 5 s timeout.
    assert loop.time() - started < 2.5
    assert emulator.commands["POP01"] == 1
