"""The demo's house-load history: the week a daemon would have learned from the simulated
plant, written once into ``state_dir`` so that the planner plans from the first minute."""

from __future__ import annotations

import json
from pathlib import Path

from edge_mining.config import SiteConfig, parse_config
from edge_mining.control.load_forecast import HouseLoadProfile
from edge_mining.demo import DEMO_SITE, demo_start, seed_house_load
from edge_mining.devices.factory import build_plant
from edge_mining.service.memory_file import LoadProfileFile


def demo_site(state_dir: Path, **changes: object) -> SiteConfig:
    return parse_config({**DEMO_SITE, "state_dir": str(state_dir), **changes}, environ={})


def test_the_demo_starts_with_a_week_of_the_plant_s_house_load(tmp_path: Path) -> None:
    site = demo_site(tmp_path / "state")
    now = demo_start(6.0)
    plant = build_plant(site, now)
    note = seed_house_load(site, plant, now)
    assert note == "house load: 7 days of history from the simulated plant's profile"
    path = LoadProfileFile(site.state_dir).path
    profile = HouseLoadProfile(site.planner.load_history_days)
    profile.restore(json.loads(path.read_text()), now)
    means = profile.profile()
    assert means is not None and len(means) == 96
    # The learned day is the plant's: its mean load over the week before now (per minute).
    week = [plant.house_load_w(now - k * 60.0) for k in range(1, 7 * 1440 + 1)]
    learned_kwh = float(means.sum()) * 0.25 / 1000.0
    plant_kwh = sum(week) / len(week) * 24.0 / 1000.0
    assert abs(learned_kwh - plant_kwh) <= 0.05 * plant_kwh, (learned_kwh, plant_kwh)
    assert means.max() > 1.5 * means.min()  # a daily shape, not one flat value
    # A history already there (a kept --state-dir) is the daemon's own: it stays.
    before = path.read_bytes()
    assert seed_house_load(site, plant, now + 86400.0) is None
    assert path.read_bytes() == before


def test_no_history_is_made_up_without_a_planner_or_a_plant(tmp_path: Path) -> None:
    now = demo_start(6.0)
    off = demo_site(tmp_path / "off", planner={"enabled": False})
    assert seed_house_load(off, build_plant(off, now), now) is None
    on = demo_site(tmp_path / "on")
    assert seed_house_load(on, None, now) is None
    assert not (tmp_path / "off").exists() and not (tmp_path / "on").exists()
