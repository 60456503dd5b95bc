"""The plan in the daemon and on MQTT, through the real daemon, bridge and Mosquitto: a sensor
whose attributes hold the next 24 h of planned mining power and SoC, decision reasons that
cite the plan, and the learned house-load profile kept in state_dir across a restart."""

from __future__ import annotations

import asyncio
import json
import math
import time

import aiomqtt

from edge_mining.clock import ScaledClock
from edge_mining.control.load_forecast import BINS_PER_DAY
from edge_mining.model import Forecast
from edge_mining.service.memory_file import LOAD_PROFILE_FILE
from edge_mining.sim.plant import Plant, clear_sky_pv_w
from tests.mqtt_broker import mosquitto
from tests.mqtt_site import START, running_site, site_config

__all__ = ["mosquitto"]  # fixture


class PlantForecast:
    """A forecast service for the simulated plant: its own clear-sky PV, hour by hour for the
    next 48 hours, refreshed every hour."""

    name = "plant forecast"

    def __init__(self, plant: Plant, clock: ScaledClock) -> None:
        self.plant = plant
        self.clock = clock

    async def read(self) -> Forecast:
        now = self.clock.now()
        hour = now - now % 3600.0
        c = self.plant.config
        hours = tuple(
            (hour + k * 3600.0, clear_sky_pv_w(hour + k * 3600.0 + 1800.0, c.latitude, c.pv_kwp))
            for k in range(48)
        )
        return Forecast(timestamp=hour, next_hours_w=hours)

    async def close(self) -> None:
        return None


def yesterday_profile(watts: float) -> dict[str, object]:
    """A house-load profile file as the daemon saves it: yesterday, flat at ``watts``."""
    day = int(START // 86400.0) - 1
    cells = [[watts * 900.0, 900.0] for _ in range(BINS_PER_DAY)]
    return {"version": 1, "days": {str(day): cells}}


async def test_the_plan_is_published_with_its_next_24_hours_and_cited(mosquitto, tmp_path):
    (tmp_path / LOAD_PROFILE_FILE).write_text(json.dumps(yesterday_profile(400.0)))
    site = site_config(mosquitto, tmp_path, "plantest", "hass_plan")
    assert site.planner.enabled and site.planner.battery_kwh is None  # the plant's is used
    state_topic = "plantest/controller/state"
    discovery_topic = "hass_plan/device/plantest_controller/config"
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        await client.subscribe(state_topic)
        await client.subscribe(discovery_topic)
        async with running_site(site, forecast=PlantForecast) as running:
            discovery: dict[str, object] | None = None
            state: dict[str, object] | None = None
            deadline = time.monotonic() + 30.0
            async for message in client.messages:
                payload = json.loads(message.payload)
                if message.topic.matches(discovery_topic):
                    discovery = payload
                elif payload.get("planned_mining_power") is not None:
                    state = payload
                if (discovery and state) or time.monotonic() > deadline:
                    break
            assert discovery is not None and state is not None, "no plan published"
            daemon_plan = running.daemon.state.plan
            # A few more ticks: today's load joins the profile before the daemon stops.
            ticks = running.daemon.ticks
            while running.daemon.ticks < ticks + 3 and time.monotonic() < deadline + 10.0:
                await asyncio.sleep(0.05)
    sensor = discovery["cmps"]["planned_mining_power"]
    assert sensor["json_attributes_topic"] == state_topic
    assert sensor["json_attributes_template"] == "{{ value_json.plan | tojson }}"
    assert sensor["unit_of_measurement"] == "W" and sensor["device_class"] == "power"
    plan = state["plan"]
    assert plan["status"] == "planned"
    assert plan["summary"].startswith("plan: ")
    steps = plan["next_24h"]
    # Four quarter hours, then hours: 24 h of steps, each with a start, power and SoC.
    assert 24 <= len(steps) <= 28
    assert all(isinstance(s["mining_w"], int) and 0 <= s["soc"] <= 100 for s in steps)
    assert steps[0]["start"].endswith("+00:00")
    assert math.isclose(state["planned_mining_power"], steps[0]["mining_w"], abs_tol=1)
    assert "plan: " in state["decision"] and "reserve" in state["decision"]
    assert daemon_plan is not None and len(daemon_plan["steps"]) == len(steps)
    # The profile learned (and restored) is saved for the next start.
    saved = json.loads((tmp_path / LOAD_PROFILE_FILE).read_text())
    assert saved["version"] == 1 and len(saved["days"]) >= 2


async def test_a_corrupt_profile_file_is_moved_aside_and_the_rules_decide(mosquitto, tmp_path):
    (tmp_path / LOAD_PROFILE_FILE).write_text("{not json")
    site = site_config(mosquitto, tmp_path, "plantest2", "hass_plan2")
    async with running_site(site, forecast=PlantForecast) as running:
        deadline = time.monotonic() + 10.0
        while running.daemon.state.decision is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        decision = running.daemon.state.decision
        assert decision is not None
        assert "rules (no house-load history yet)" in decision.reason
        assert running.daemon.state.plan["status"] == "no house-load history yet"
    assert list(tmp_path.glob(f"{LOAD_PROFILE_FILE}.*"))  # the bad file, moved aside
