"""Mining economics: expected bitcoin per day, hashprice, and a month-by-month projection.

The expected reward of hashrate ``H`` (TH/s) at difficulty ``D``::

    BTC/day = H * 1e12 * 86400 * (subsidy + fees per block) / (D * 2**32) * (1 - pool fee)

(one block is found per ``D * 2**32`` hashes on average). Hashprice is that figure for
1 TH/s, in BTC, sats or currency per TH/s per day. A month is 365/12 days.

The projection follows the seed analysis (Braiins' mining profitability calculator): month
``m`` (1-based) mines at difficulty ``D0 * (1 + difficulty_increment)**(m-1)`` and sells at
price ``P0 * (1 + price_increment)**(m-1)``; the subsidy halves from each of
``halving_months`` on (:func:`halving_months` finds them from a start date). A
``hodl_ratio`` of the mined coins is kept, the rest is sold that month; electricity and OPEX
are paid in cash. The net position at the end of a month is

    -CAPEX + cumulative cash + (coins held) * (that month's price)

and the break-even month is the first month it is >= 0. The hardware's residual value is
reported beside it (linear depreciation from CAPEX to ``residual_fraction * CAPEX`` over the
horizon) but does not count towards break-even: a CAPEX break-even means the mining paid for
the machines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

SECONDS_PER_DAY = 86_400
HASHES_PER_DIFFICULTY = 2**32
DAYS_PER_MONTH = 365 / 12
SATS_PER_BTC = 100_000_000

# The block height schedule: the subsidy halves every 210,000 blocks, and difficulty keeps one
# block per 600 s on average. Block 840,000 (the fourth halving) was mined at this time.
HALVING_INTERVAL_BLOCKS = 210_000
BLOCK_INTERVAL_S = 600.0
ANCHOR_HEIGHT = 840_000
ANCHOR_TIME = datetime(2024, 4, 20, 0, 9, 27, tzinfo=UTC)


def btc_per_day(
    hashrate_ths: float,
    difficulty: float,
    subsidy_btc: float,
    fees_per_block_btc: float = 0.0,
    pool_fee: float = 0.0,
) -> float:
    """Expected BTC per day for ``hashrate_ths`` TH/s (see the module doc)."""
    if difficulty <= 0:
        raise ValueError(f"difficulty must be above 0, got {difficulty!r}")
    if not 0.0 <= pool_fee < 1.0:
        raise ValueError(f"pool fee is a fraction in [0, 1), got {pool_fee!r}")
    reward = subsidy_btc + fees_per_block_btc
    return (
        hashrate_ths * 1e12 * SECONDS_PER_DAY * reward / (difficulty * HASHES_PER_DIFFICULTY)
    ) * (1.0 - pool_fee)


@dataclass(frozen=True, slots=True)
class Network:
    """The bitcoin network and market a miner sees (price in the report's currency)."""

    difficulty: float = 1.2e14
    subsidy_btc: float = 3.125
    fees_per_block_btc: float = 0.025
    pool_fee: float = 0.02
    btc_price: float = 100_000.0

    @property
    def btc_per_th_day(self) -> float:
        return btc_per_day(
            1.0, self.difficulty, self.subsidy_btc, self.fees_per_block_btc, self.pool_fee
        )

    @property
    def sats_per_th_day(self) -> float:
        return self.btc_per_th_day * SATS_PER_BTC

    @property
    def hashprice_per_th_day(self) -> float:
        """Currency per TH/s per day."""
        return self.btc_per_th_day * self.btc_price

    def revenue_per_kwh(self, efficiency_j_per_th: float) -> float:
        """Currency earned per kWh by a miner of this efficiency (J/TH = W per TH/s)."""
        kwh_per_th_day = efficiency_j_per_th * 24 / 1000
        return self.hashprice_per_th_day / kwh_per_th_day


# ------------------------------------------------------------------------------- halvings


def estimated_block_height(when: datetime) -> int:
    """The block height at ``when`` on the 10-minute schedule from a known block."""
    elapsed = (when - ANCHOR_TIME).total_seconds()
    return max(0, ANCHOR_HEIGHT + math.floor(elapsed / BLOCK_INTERVAL_S))


def halving_months(start: datetime, months: int, height: int | None = None) -> tuple[int, ...]:
    """The projection months (1-based) from which each coming halving's subsidy applies.

    ``height`` is the block height at ``start`` (default: estimated from the schedule); each
    halving's date is estimated at one block per 600 s. A halving that falls inside month
    ``m`` counts from month ``m`` (the month is treated as halved throughout).
    """
    if height is None:
        height = estimated_block_height(start)
    if height < 0:
        raise ValueError(f"block height must not be negative, got {height}")
    result: list[int] = []
    month_s = DAYS_PER_MONTH * SECONDS_PER_DAY
    next_halving = (height // HALVING_INTERVAL_BLOCKS + 1) * HALVING_INTERVAL_BLOCKS
    while True:
        month = math.floor((next_halving - height) * BLOCK_INTERVAL_S / month_s) + 1
        if month > months:
            return tuple(result)
        result.append(month)
        next_halving += HALVING_INTERVAL_BLOCKS


# ----------------------------------------------------------------------------- projection


@dataclass(frozen=True, slots=True)
class ProjectionInputs:
    hashrate_ths: float
    power_w: float
    uptime: float = 1.0  # fraction of the time mining at full power
    btc_price: float = 40_000.0
    difficulty: float = 25.05e12
    difficulty_increment: float = 0.06  # per month, fraction
    price_increment: float = 0.0  # per month, fraction
    subsidy_btc: float = 3.125
    fees_per_block_btc: float = 0.0
    pool_fee: float = 0.0
    electricity_price_per_kwh: float = 0.0
    capex: float = 0.0
    opex_per_month: float = 0.0
    residual_fraction: float = 0.0  # hardware value left at the end of the horizon
    hodl_ratio: float = 0.0
    months: int = 48
    halving_months: tuple[int, ...] = ()  # first month with each halved subsidy
    # A rational miner switches off in a month whose revenue is below its electricity cost.
    stop_when_unprofitable: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.hashrate_ths <= 0 or self.power_w <= 0:
            problems.append("hashrate and power must be above 0")
        if not 0.0 <= self.uptime <= 1.0:
            problems.append(f"uptime is a fraction in [0, 1], got {self.uptime!r}")
        if not 0.0 <= self.hodl_ratio <= 1.0:
            problems.append(f"hodl ratio is a fraction in [0, 1], got {self.hodl_ratio!r}")
        if not 0.0 <= self.residual_fraction <= 1.0:
            problems.append(f"residual fraction must be in [0, 1], got {self.residual_fraction!r}")
        if self.months < 1:
            problems.append(f"months must be at least 1, got {self.months!r}")
        if self.difficulty <= 0 or self.btc_price < 0:
            problems.append("difficulty must be above 0 and price not negative")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: int
    difficulty: float
    btc_price: float
    subsidy_btc: float
    mining: bool
    btc_mined: float
    revenue: float  # value of the coins mined, at this month's price
    electricity_cost: float
    opex: float
    btc_sold: float
    cash_flow: float  # coins sold minus electricity and OPEX
    cumulative_cash: float
    btc_held: float
    held_value: float
    net_position: float  # -CAPEX + cumulative cash + held value
    hardware_value: float
    net_with_hardware: float


@dataclass(frozen=True, slots=True)
class Projection:
    inputs: ProjectionInputs
    rows: tuple[MonthRow, ...]
    break_even_month: int | None
    total_btc_mined: float = field(default=0.0)

    @property
    def final(self) -> MonthRow:
        return self.rows[-1]

    @property
    def btc_capex_equivalent(self) -> float:
        """Coins the CAPEX would have bought outright at the starting price."""
        return self.inputs.capex / self.inputs.btc_price if self.inputs.btc_price else math.inf


def project(inputs: ProjectionInputs) -> Projection:
    """The month-by-month projection (see the module doc)."""
    p = inputs
    rows: list[MonthRow] = []
    cumulative_cash = 0.0
    btc_held = 0.0
    total_mined = 0.0
    break_even: int | None = None
    energy_kwh = p.power_w / 1000 * 24 * DAYS_PER_MONTH * p.uptime
    for month in range(1, p.months + 1):
        difficulty = p.difficulty * (1 + p.difficulty_increment) ** (month - 1)
        price = p.btc_price * (1 + p.price_increment) ** (month - 1)
        halvings = sum(1 for first in p.halving_months if month >= first)
        subsidy = p.subsidy_btc / 2**halvings
        mined = (
            btc_per_day(
                p.hashrate_ths * p.uptime, difficulty, subsidy, p.fees_per_block_btc, p.pool_fee
            )
            * DAYS_PER_MONTH
        )
        electricity = energy_kwh * p.electricity_price_per_kwh
        mining = not (p.stop_when_unprofitable and mined * price < electricity)
        if not mining:
            mined, electricity = 0.0, 0.0
        sold = mined * (1 - p.hodl_ratio)
        btc_held += mined - sold
        total_mined += mined
        cash_flow = sold * price - electricity - p.opex_per_month
        cumulative_cash += cash_flow
        held_value = btc_held * price
        net = -p.capex + cumulative_cash + held_value
        hardware = p.capex * (1 - (1 - p.residual_fraction) * month / p.months)
        if break_even is None and net >= 0:
            break_even = month
        rows.append(
            MonthRow(
                month=month,
                difficulty=difficulty,
                btc_price=price,
                subsidy_btc=subsidy,
                mining=mining,
                btc_mined=mined,
                revenue=mined * price,
                electricity_cost=electricity,
                opex=p.opex_per_month,
                btc_sold=sold,
                cash_flow=cash_flow,
                cumulative_cash=cumulative_cash,
                btc_held=btc_held,
                held_value=held_value,
                net_position=net,
                hardware_value=hardware,
                net_with_hardware=net + hardware,
            )
        )
    return Projection(p, tuple(rows), break_even, total_mined)


def break_even_table(
    inputs: ProjectionInputs, prices: Sequence[float], uptimes: Sequence[float]
) -> list[list[int | None]]:
    """Months to break even for each (electricity price, uptime): rows follow ``prices``,
    columns follow ``uptimes``; None when it does not happen within the horizon."""
    return [
        [
            project(
                replace(inputs, electricity_price_per_kwh=price, uptime=uptime)
            ).break_even_month
            for uptime in uptimes
        ]
        for price in prices
    ]
