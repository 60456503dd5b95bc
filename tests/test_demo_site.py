"""The built-in demo site: three families (a BraiinsOS S19j Pro, an Avalon Q heater-miner with
work modes in a heating zone, a Bitaxe Gamma), every one of them running some of the time, and
the heater holding its room around the setpoint."""

from __future__ import annotations

import re

from demo_support import run_demo_until

from edge_mining.demo import DEMO_SITE

ZONE = DEMO_SITE["heating"]["zones"][0]


def seen_enough(out: str) -> bool:
    """Every miner mined, and the heater went round its thermostat at least twice."""
    mined = all(re.search(rf"{n} mining \d", out) for n in ("s19jpro", "heater", "bitaxe"))
    return mined and out.count(">> heater: start") >= 3


def test_the_three_family_site_runs_every_miner_and_the_heater_follows_its_setpoint():
    code, out, err = run_demo_until(["--speed", "1200", "--start-hour", "6"], seen_enough)
    assert code == 0, err
    assert seen_enough(out), out
    setpoint, band = ZONE["setpoint_c"], ZONE["hysteresis_c"]
    temperatures = [float(t) for t in re.findall(r"living (\d+\.\d) °C", out)]
    assert temperatures[0] < setpoint - band  # a cold morning
    warm = next(i for i, t in enumerate(temperatures) if t >= setpoint - band)
    # Once warmed up, the room stays around the setpoint: the thermostat's band, with the
    # room's lag (a reading every few simulated minutes) and the level dwell as slack.
    assert all(setpoint - band - 0.8 <= t <= setpoint + band + 0.5 for t in temperatures[warm:])
    # It follows the thermostat: it stops when the room is warm and starts again when cool.
    assert "(heat only: living is warm)" in out
