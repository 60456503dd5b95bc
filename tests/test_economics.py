"""Mining economics against hand-worked examples and the seed analysis's own figures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge_mining.analysis.economics import (
    DAYS_PER_MONTH,
    Network,
    ProjectionInputs,
    break_even_table,
    btc_per_day,
    project,
)

# Hand-worked: 1 TH/s does 1e12 * 86400 = 8.64e16 hashes a day. At difficulty 25.05 T a
# block takes 25.05e12 * 2**32 = 1.075889e23 hashes on average, so 1 TH/s finds
# 8.64e16 / 1.075889e23 = 8.030565e-7 blocks a day; at 6.25 BTC a block that is
# 5.019103e-6 BTC (501.91 sats) per TH/s per day, worth 0.200764 USD at 40,000 USD.
SEED_DIFFICULTY = 25.05e12
HAND_BTC_PER_TH_DAY = 5.019103e-6


def test_hashprice_at_given_difficulty_and_reward():
    assert btc_per_day(1.0, SEED_DIFFICULTY, 6.25) == pytest.approx(HAND_BTC_PER_TH_DAY, rel=1e-6)
    network = Network(
        difficulty=SEED_DIFFICULTY, subsidy_btc=6.25, fees_per_block_btc=0, pool_fee=0,
        btc_price=40_000,
    )  # fmt: skip
    assert network.sats_per_th_day == pytest.approx(501.9103, rel=1e-6)
    assert network.hashprice_per_th_day == pytest.approx(0.2007641, rel=1e-6)
    # Fees add to the subsidy; the pool keeps its share.
    assert btc_per_day(100.0, SEED_DIFFICULTY, 6.25, 0.25, 0.02) == pytest.approx(
        100 * HAND_BTC_PER_TH_DAY * 6.5 / 6.25 * 0.98, rel=1e-6
    )
    # An S19j Pro-class 30.5 J/TH machine uses 0.732 kWh per TH/s per day.
    assert network.revenue_per_kwh(30.5) == pytest.approx(0.2007641 / 0.732, rel=1e-6)


def test_bad_network_figures_are_refused():
    with pytest.raises(ValueError, match="difficulty"):
        btc_per_day(1.0, 0.0, 6.25)
    with pytest.raises(ValueError, match="pool fee"):
        btc_per_day(1.0, 1e12, 6.25, pool_fee=1.5)
    with pytest.raises(ValueError, match="uptime"):
        ProjectionInputs(hashrate_ths=1, power_w=1, uptime=1.2)


# One 100 TH/s, 3050 W machine at the seed's network figures:
# a month (365/12 days) mines 100 * 5.019103e-6 * 30.416667 = 0.01526644 BTC = 610.66 USD;
# it uses 3.05 kW * 24 h * 30.416667 = 2226.5 kWh = 77.93 USD at 0.035 USD/kWh.
MONTH_BTC = 100 * HAND_BTC_PER_TH_DAY * 365 / 12
MONTH_KWH = 3.05 * 24 * 365 / 12
BASE = ProjectionInputs(
    hashrate_ths=100.0,
    power_w=3050.0,
    btc_price=40_000.0,
    difficulty=SEED_DIFFICULTY,
    difficulty_increment=0.0,
    subsidy_btc=6.25,
    electricity_price_per_kwh=0.035,
    capex=2_000.0,
    months=12,
)


def test_twelve_month_projection_flat_network():
    projection = project(BASE)
    assert len(projection.rows) == 12
    assert DAYS_PER_MONTH == pytest.approx(30.416667, rel=1e-6)
    for row in projection.rows:
        assert row.btc_mined == pytest.approx(MONTH_BTC, rel=1e-6)
        assert row.revenue == pytest.approx(610.6575, rel=1e-5)
        assert row.electricity_cost == pytest.approx(MONTH_KWH * 0.035, rel=1e-6)
    # Twelve months of 365/12 days are one year of mining.
    assert projection.total_btc_mined == pytest.approx(100 * HAND_BTC_PER_TH_DAY * 365, rel=1e-6)
    # Cash per month 610.66 - 77.93 = 532.73: 3 months 1,598 < 2,000 <= 4 months 2,131.
    assert projection.break_even_month == 4
    assert projection.rows[3].net_position == pytest.approx(4 * 532.73 - 2000, abs=0.02)


def test_twelve_month_projection_with_difficulty_increment():
    projection = project(replace(BASE, difficulty_increment=0.06))
    # Month m mines MONTH_BTC / 1.06**(m-1): a geometric series over 12 months.
    expected_total = MONTH_BTC * (1 - 1.06**-12) / (1 - 1 / 1.06)
    assert projection.total_btc_mined == pytest.approx(expected_total, rel=1e-6)
    assert projection.rows[3].btc_mined == pytest.approx(MONTH_BTC / 1.06**3, rel=1e-6)
    # Cash: 532.73, 498.16, 465.56, 434.79 -> 1,931.24 after 4 months, 2,337.01 after 5.
    assert projection.rows[3].cumulative_cash == pytest.approx(1931.24, abs=0.02)
    assert projection.break_even_month == 5


def test_hodl_values_kept_coins_at_the_month_price():
    inputs = replace(BASE, hodl_ratio=0.5, price_increment=0.04)
    row1, row2 = project(inputs).rows[:2]
    assert row1.btc_held == pytest.approx(MONTH_BTC / 2, rel=1e-6)
    # Month 2: sells half at 41,600, pays electricity; holds a full month's coins.
    cash = (MONTH_BTC / 2 * 40_000 - MONTH_KWH * 0.035) + (
        MONTH_BTC / 2 * 41_600 - MONTH_KWH * 0.035
    )
    assert row2.cumulative_cash == pytest.approx(cash, rel=1e-6)
    assert row2.held_value == pytest.approx(MONTH_BTC * 41_600, rel=1e-6)
    assert row2.net_position == pytest.approx(cash + MONTH_BTC * 41_600 - 2_000, rel=1e-6)


def test_halving_and_unprofitable_months():
    halved = project(replace(BASE, halving_months=(7,)))
    assert halved.rows[5].btc_mined == pytest.approx(MONTH_BTC, rel=1e-6)
    assert halved.rows[6].btc_mined == pytest.approx(MONTH_BTC / 2, rel=1e-6)
    # At 0.30 USD/kWh a month costs 668 USD of electricity for 611 USD of coins: switch off.
    dear = project(replace(BASE, electricity_price_per_kwh=0.30))
    assert not any(row.mining for row in dear.rows)
    assert dear.break_even_month is None
    at_loss = project(replace(BASE, electricity_price_per_kwh=0.30, stop_when_unprofitable=False))
    assert at_loss.rows[0].cash_flow == pytest.approx(610.6575 - MONTH_KWH * 0.30, rel=1e-5)


def test_residual_hardware_value_is_linear_and_separate():
    inputs = replace(BASE, residual_fraction=0.25)
    rows = project(inputs).rows
    assert rows[-1].hardware_value == pytest.approx(500.0)
    assert rows[5].hardware_value == pytest.approx(2000 * (1 - 0.75 * 6 / 12))
    assert rows[0].net_with_hardware == pytest.approx(rows[0].net_position + rows[0].hardware_value)


def test_break_even_table_matches_single_projections():
    prices, uptimes = [0.0, 0.035, 0.3], [0.35, 1.0]
    table = break_even_table(BASE, prices, uptimes)
    assert len(table) == 3 and all(len(row) == 2 for row in table)
    for price, row in zip(prices, table, strict=True):
        for uptime, months in zip(uptimes, row, strict=True):
            single = replace(BASE, electricity_price_per_kwh=price, uptime=uptime)
            assert months == project(single).break_even_month
    assert table[1][1] == 4  # the hand-worked case above
    assert table[2] == [None, None]  # dearer than the coins: never


SEED_FARM = ProjectionInputs(
    # The seed analysis's solar farm: 5.449 EH/s at 32.6 W/TH, 35 % uptime, CAPEX 247.68 M,
    # OPEX 30,000 a month, 0.035 USD/kWh, difficulty 25.05 T +6 %/month, BTC 40,000.
    hashrate_ths=5_448_960,
    power_w=5_448_960 * 32.6,
    uptime=0.35,
    capex=247_680_000,
    opex_per_month=30_000,
    residual_fraction=0.05,
    subsidy_btc=6.25,
    electricity_price_per_kwh=0.035,
    months=48,
)


def test_seed_analysis_conclusions_are_reproduced():
    # "this investment performs poorly": no break-even in 48 months at a constant price.
    assert project(SEED_FARM).break_even_month is None
    # +4 %/month price: "paid off near the end of the 3rd year".
    rising = replace(SEED_FARM, price_increment=0.04)
    assert 33 <= project(rising).break_even_month <= 36
    # ... and with a 50 % HODL ratio "less than 2 years", final value above 400 M.
    hodl = project(replace(rising, hodl_ratio=0.5))
    assert hodl.break_even_month < 24
    assert hodl.final.net_with_hardware > 400e6
    # CAPEX would have bought 6,192 BTC at 40,000.
    assert hodl.btc_capex_equivalent == pytest.approx(6192)
