"""Efficiency curves: hashrate as a function of power, from the config, the catalogue or the
miner; the controller shares power by marginal hashrate per watt; the backtest counts it."""

from __future__ import annotations

import numpy as np
import pytest
from test_controller_support import T0, Fleet, control, grid_reading, snapshot, step

from edge_mining.analysis.catalogue import CATALOGUE, TUNING_GAIN, find_model, miner_configs
from edge_mining.analysis.engine import Fleet as BacktestFleet
from edge_mining.analysis.scenario import Scenario
from edge_mining.config import ConfigError, MinerConfig, parse_config
from edge_mining.control import Controller
from edge_mining.control.allocation import fill_order
from edge_mining.model import HashrateCurve

# Hashrate with a fixed overhead: not concave through the origin, as a real profile may be.
OVERHEAD = HashrateCurve(((1000.0, 20.0), (2000.0, 60.0), (3000.0, 90.0)))


def test_curve_interpolates_and_extrapolates_as_documented() -> None:
    curve = HashrateCurve(((1000.0, 40.0), (2000.0, 70.0), (3000.0, 90.0)))
    assert curve.hashrate_at(1500.0) == pytest.approx(55.0)
    assert curve.hashrate_at(500.0) == pytest.approx(20.0)  # at minimum half the time
    assert curve.hashrate_at(0.0) == 0.0
    assert curve.hashrate_at(4000.0) == 90.0  # more power buys nothing
    assert curve.marginal_ths_per_w(1000.0) == pytest.approx(0.03)
    assert curve.marginal_ths_per_w(2500.0) == pytest.approx(0.02)
    assert curve.marginal_ths_per_w(3000.0) == 0.0
    assert curve.start_ths_per_w == pytest.approx(0.04)
    assert (curve.min_power_w, curve.max_power_w) == (1000.0, 3000.0)


@pytest.mark.parametrize(
    "points",
    [
        (),
        ((1000.0, 40.0), (1000.0, 50.0)),  # power not ascending
        ((1000.0, 50.0), (2000.0, 40.0)),  # hashrate falls
        ((0.0, 0.0), (1000.0, 10.0)),  # power must be above 0
        ((1000.0, float("nan")),),
        ((1000.0, 0.0),),  # no hashrate at all
    ],
)
def test_bad_curves_are_refused(points: tuple[tuple[float, float], ...]) -> None:
    with pytest.raises(ValueError):
        HashrateCurve(points)


def test_hull_is_concave_through_the_origin() -> None:
    # The overhead curve's first point lies under the chord from 0 to 2000 W: dropped.
    assert OVERHEAD.hull() == ((0.0, 0.0), (3000.0, 90.0))
    concave = HashrateCurve(((1000.0, 40.0), (2000.0, 70.0), (3000.0, 90.0), (3500.0, 90.0)))
    assert concave.hull() == ((0.0, 0.0), (1000.0, 40.0), (2000.0, 70.0), (3000.0, 90.0))
    slopes = [slope for _, slope in concave.segments()]
    assert slopes == sorted(slopes, reverse=True)
    assert sum(width for width, _ in concave.segments()) == 3000.0


def test_config_curve_is_validated_and_named_in_the_error() -> None:
    base = {
        "name": "s19",
        "min_power_w": 1200,
        "max_power_w": 3000,
        "nominal_hashrate_ths": 100,
        "nominal_power_w": 3000,
    }
    points = [{"power_w": 1200, "hashrate_ths": 50}, {"power_w": 3000, "hashrate_ths": 100}]
    good = MinerConfig.model_validate({**base, "efficiency_curve": points})
    assert good.curve().source == "config"
    assert good.curve().hashrate_at(2100) == pytest.approx(75.0)
    assert MinerConfig.model_validate(base).curve().hashrate_at(1500) == pytest.approx(50.0)
    with pytest.raises(ConfigError) as error:
        parse_config(
            {
                "energy_source": {"type": "simulated"},
                "miners": [
                    {
                        **base,
                        "efficiency_curve": [
                            {"power_w": 2000, "hashrate_ths": 80},
                            {"power_w": 1200, "hashrate_ths": 50},
                        ],
                    }
                ],
            }
        )
    assert error.value.problems == [
        "miners.0: efficiency_curve: hashrate curve powers must be above 0 and strictly ascending"
    ]


def test_catalogue_curves_match_the_published_point_and_the_rating() -> None:
    s19j = find_model("S19j Pro")
    curve = s19j.curve()
    assert curve.hashrate_at(s19j.nominal_power_w) == pytest.approx(s19j.nominal_hashrate_ths)
    # The calibration pair (S19j Pro 96T): 29.7 J/TH stock, 25.6 J/TH at 67 % power.
    ratio = (1905.0 / 74.5) / (2850.0 / 96.0)
    assert 1.0 - TUNING_GAIN * (1.0 - 1905.0 / 2850.0) == pytest.approx(ratio, abs=0.01)
    for model in CATALOGUE.values():
        c = model.curve()
        if len(c.points) > 1:
            slopes = [s for _, s in c.segments()]
            assert slopes == sorted(slopes, reverse=True), model.name  # concave
            assert c.points[0][0] == model.min_power_w and c.points[-1][0] == model.max_power_w
    (config,) = miner_configs(["S19j Pro"])
    assert config.curve().points == curve.points


def test_catalogue_home_miners_come_from_the_driver_tables_with_their_levels() -> None:
    from edge_mining.devices.avalon.models import MODELS

    q = find_model("Avalon Q")
    assert q.levels == MODELS["AVALON Q"].power_levels
    assert [lv.name for lv in q.levels] == ["eco", "standard", "super"]
    assert q.curve().points == tuple((lv.power_w, lv.hashrate_ths) for lv in q.levels)
    assert "Canaan" in q.source
    for name in ("Avalon Nano 3S", "Bitaxe Gamma", "NerdQAxe++", "Whatsminer M30S+"):
        assert len(find_model(name).levels) >= 2, name
    config, _ = miner_configs(["Avalon Q:2"])
    assert [lv.name for lv in config.levels or []] == ["eco", "standard", "super"]
    assert config.efficiency_curve is None
    assert config.curve().points == q.curve().points


def test_fill_order_uses_hashrate_per_watt_at_minimum_power() -> None:
    tuned = MinerConfig(
        name="tuned",
        min_power_w=1000,
        max_power_w=3000,
        nominal_hashrate_ths=90,  # 33 J/TH at full power ...
        nominal_power_w=3000,
        efficiency_curve=[
            {"power_w": 1000, "hashrate_ths": 45},  # ... 22 J/TH at its minimum
            {"power_w": 3000, "hashrate_ths": 90},
        ],
    )
    flat = MinerConfig(
        name="flat", min_power_w=1000, max_power_w=3000, nominal_hashrate_ths=100,
        nominal_power_w=3000,
    )  # fmt: skip
    assert [m.name for m in fill_order([flat, tuned])] == ["tuned", "flat"]


def test_running_miners_share_power_by_marginal_hashrate() -> None:
    """Two running miners and 4 kW: the better one at full power would buy 0.01 TH/s per watt
    at the top, the other 0.04 from its minimum: the power goes where it buys more."""
    a = MinerConfig(
        name="a", min_power_w=1000, max_power_w=3000, nominal_hashrate_ths=120,
        nominal_power_w=3000, efficiency_curve=[
            {"power_w": 1000, "hashrate_ths": 60}, {"power_w": 2000, "hashrate_ths": 110},
            {"power_w": 3000, "hashrate_ths": 120},
        ],
    )  # fmt: skip
    b = MinerConfig(
        name="b", min_power_w=1000, max_power_w=3000, nominal_hashrate_ths=100,
        nominal_power_w=3000, efficiency_curve=[
            {"power_w": 1000, "hashrate_ths": 50}, {"power_w": 2000, "hashrate_ths": 90},
            {"power_w": 3000, "hashrate_ths": 100},
        ],
    )  # fmt: skip
    miners = [a, b]
    controller = Controller(control(), miners)
    fleet = Fleet(miners, running={"a": True, "b": True}, target={"a": 1000.0, "b": 1000.0})
    for tick in range(40):
        now = T0 + tick * 30.0
        step(controller, fleet, snapshot(now, grid_reading(now, 4000.0, fleet), fleet))
    # a: 1000 -> 2000 (0.05/W), then b: 1000 -> 2000 (0.04/W): 4000 W, 200 TH/s. Filling a
    # to its maximum first would give 120 + 50 = 170 TH/s.
    assert fleet.target == {"a": 2000.0, "b": 2000.0}


def test_backtest_fleet_counts_hashrate_from_the_curve() -> None:
    configs = miner_configs(["S19j Pro"])
    scenario = Scenario(0.0, 300.0, np.zeros(4), np.zeros(4))
    fleet = BacktestFleet(configs, scenario)
    fleet.start(0, 1830.0)
    expected = configs[0].curve().hashrate_at(1830.0)
    assert fleet.hashrate_ths() == pytest.approx(expected)
    assert expected > 100.0 * 1830.0 / 3050.0 * 1.1  # more than the nominal J/TH gives
    assert fleet.states(0.0)[configs[0].name].hashrate_ths == pytest.approx(expected)
