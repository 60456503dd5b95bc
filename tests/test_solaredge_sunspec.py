"""Pure SunSpec/SolarEdge register decoding: documented addresses, sentinels, word order."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_mining.devices.solaredge import sunspec
from edge_mining.devices.solaredge.sunspec import (
    BatteryOffset,
    CommonOffset,
    InverterOffset,
    MeterOffset,
)


def test_offsets_land_on_solaredges_documented_addresses() -> None:
    # Addresses from SolarEdge's SunSpec technical note (zero-based protocol addresses), typed
    # in independently of the offset tables so a shared mistake in the tables cannot hide.
    inverter = sunspec.SOLAREDGE_INVERTER_ADDRESS
    assert sunspec.FIRST_MODEL_ADDRESS + CommonOffset.MANUFACTURER == 40004
    assert sunspec.FIRST_MODEL_ADDRESS + CommonOffset.SERIAL == 40052
    assert inverter + 2 + sunspec.INVERTER_LENGTH == 40121  # first meter's common model
    assert inverter + InverterOffset.AC_CURRENT == 40071
    assert inverter + InverterOffset.AC_POWER == 40083
    assert inverter + InverterOffset.AC_POWER_SF == 40084
    assert inverter + InverterOffset.AC_ENERGY == 40093
    assert inverter + InverterOffset.DC_POWER == 40100
    assert inverter + InverterOffset.TEMP_SINK == 40103
    assert inverter + InverterOffset.STATUS == 40107
    meter1 = sunspec.SOLAREDGE_METER_COMMON_ADDRESSES[0] + 2 + sunspec.COMMON_LENGTH
    assert meter1 == 40188
    assert sunspec.SOLAREDGE_METER_COMMON_ADDRESSES[0] + CommonOffset.OPTIONS == 40155
    assert meter1 + MeterOffset.POWER == 40206
    assert meter1 + MeterOffset.POWER_SF == 40210
    assert meter1 + MeterOffset.EXPORTED == 40226
    assert meter1 + MeterOffset.IMPORTED == 40234
    assert meter1 + MeterOffset.ENERGY_SF == 40242
    assert meter1 + 2 + sunspec.METER_LENGTH == sunspec.SOLAREDGE_METER_COMMON_ADDRESSES[1]
    battery1, battery2 = sunspec.BATTERY_ADDRESSES
    assert (battery1, battery2) == (57600, 57856)
    assert battery1 + BatteryOffset.RATED_ENERGY == 0xE142
    assert battery1 + BatteryOffset.POWER == 0xE174
    assert battery1 + BatteryOffset.STATE_OF_ENERGY == 0xE184
    assert battery2 + BatteryOffset.STATUS == 0xE286


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [(0x0000, 0), (0x7FFF, 32767), (0xFFFF, -1), (0x8001, -32767), (0x8000, None)],
)
def test_int16_and_its_sentinel(raw: int, decoded: int | None) -> None:
    assert sunspec.int16([raw], 0) == decoded


def test_other_sentinels_read_as_none() -> None:
    assert sunspec.uint16([0xFFFF], 0) is None
    assert sunspec.uint16([0xFFFE], 0) == 0xFFFE
    assert sunspec.sunssf([0x8000], 0) is None
    assert sunspec.sunssf([sunspec.encode_int16(11)], 0) is None  # outside -10..10
    assert sunspec.acc32([0, 0], 0) is None
    assert sunspec.acc32([0x0001, 0x0002], 0) == 0x10002
    assert sunspec.uint32([0xFFFF, 0xFFFF], 0) is None
    assert sunspec.float32_le([0xFFFF, 0xFFFF], 0) is None  # NaN
    assert sunspec.float32_le([0x0000, 0x7F80], 0) is None  # +inf


def test_scale_factor_applies_a_power_of_ten_and_needs_both_registers() -> None:
    assert sunspec.scaled_at([12345, sunspec.encode_int16(-2)], 0, 1, signed=True) == pytest.approx(
        123.45
    )
    assert sunspec.scaled_at([sunspec.encode_int16(-150), 1], 0, 1, signed=True) == -1500.0
    assert sunspec.scaled_at([0x8000, 0], 0, 1, signed=True) is None
    assert sunspec.scaled_at([100, 0x8000], 0, 1, signed=True) is None


def test_battery_floats_are_word_little_endian() -> None:
    big_endian_words = struct.unpack(">HH", struct.pack(">f", 87.5))
    low_word_first = [big_endian_words[1], big_endian_words[0]]
    assert sunspec.float32_le(low_word_first, 0) == 87.5
    assert sunspec.encode_float32_le(87.5) == low_word_first
    # Read in the wrong order the same registers are a different (tiny) number.
    assert sunspec.float32_le(list(big_endian_words), 0) != 87.5


def test_strings_stop_at_padding() -> None:
    regs = sunspec.encode_string("SolarEdge", 16)
    assert len(regs) == 16
    assert sunspec.string(regs, 0, 16) == "SolarEdge"
    assert sunspec.string([0xFFFF] * 4, 0, 4) == ""
    assert sunspec.string([0x4142, 0x4300, 0x4444], 0, 3) == "ABC"


def test_reading_past_the_registers_is_a_clear_error() -> None:
    with pytest.raises(sunspec.SunSpecError, match="outside the 1 registers"):
        sunspec.acc32([1], 0)


@given(st.floats(min_value=-3e5, max_value=3e5, allow_nan=False))
def test_fit_scaled_round_trips_within_half_a_step(value: float) -> None:
    raw, sf_raw = sunspec.fit_scaled(value, signed=True)
    sf = sunspec.sunssf([sf_raw], 0)
    assert sf is not None
    decoded = sunspec.scaled_at([raw, sf_raw], 0, 1, signed=True)
    assert decoded is not None
    assert math.isclose(decoded, value, abs_tol=10.0**sf / 2 + 1e-9)
    assert raw != sunspec.INT16_NOT_IMPLEMENTED


def test_decoders_refuse_the_wrong_model() -> None:
    with pytest.raises(sunspec.SunSpecError, match="inverter model"):
        sunspec.decode_inverter([201, 105] + [0] * 50)
    with pytest.raises(sunspec.SunSpecError, match="common model"):
        sunspec.decode_common([101] + [0] * 66)
    absent = [0xFFFF] * (sunspec.BATTERY_IDENTITY_SPAN[1])
    assert sunspec.decode_battery_identity(absent) is None
