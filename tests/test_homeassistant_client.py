"""HomeAssistantClient against a Home Assistant REST API served on loopback."""

from __future__ import annotations

import logging

import pytest

from edge_mining.config import HomeAssistantConfig
from edge_mining.devices.base import DeviceAuthError, DeviceError, DeviceUnavailable
from edge_mining.devices.homeassistant.client import (
    SUPERVISOR_API,
    EntityNotFound,
    HomeAssistantClient,
    MalformedReply,
    RequestTimeout,
    resolve_endpoint,
)
from tests.ha_server import running_home_assistant
from tests.loopback_http import Reply

TOKEN = "eyJhbGciOiJIUzI1NiJ9.long-lived.token"


def config(url: str, token: str = TOKEN, **extra) -> HomeAssistantConfig:
    return HomeAssistantConfig(url=url, token=token, **extra)


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/"])
async def test_get_state_with_long_lived_token(suffix):
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("sensor.pv_power", "2.51", "kW", device_class="power", friendly_name="PV")
        client = HomeAssistantClient(config(ha.url + suffix))
        state = await client.get_state("sensor.pv_power")
        await client.close()
    assert state.entity_id == "sensor.pv_power"
    assert state.state == "2.51"
    assert state.unit == "kW"
    assert state.attributes["friendly_name"] == "PV"
    assert state.last_updated is not None
    [request] = ha.requests
    assert request.path == "/api/states/sensor.pv_power"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_inside_the_addon_the_supervisor_proxy_and_its_token_are_used():
    base, token = resolve_endpoint(HomeAssistantConfig(), {"SUPERVISOR_TOKEN": "sup-token"})
    assert (base, token) == (SUPERVISOR_API, "sup-token")
    assert SUPERVISOR_API == "http://supervisor/core/api"


def test_outside_the_addon_without_url_is_a_clear_error():
    with pytest.raises(ValueError, match="SUPERVISOR_TOKEN is missing"):
        resolve_endpoint(HomeAssistantConfig(), {})
    with pytest.raises(ValueError, match="token"):
        resolve_endpoint(HomeAssistantConfig(url="http://ha.local:8123"), {})


async def test_supervisor_token_reaches_the_proxy_path():
    with running_home_assistant(token="sup-token", prefix="/core/api") as ha:
        ha.set("sensor.battery_soc", "81", "%")
        client = HomeAssistantClient(
            HomeAssistantConfig(),
            environ={"SUPERVISOR_TOKEN": "sup-token"},
            base_url=ha.url + "/core/api",
        )
        state = await client.get_state("sensor.battery_soc")
        await client.close()
    assert state.number() == 81.0
    assert ha.requests[0].path == "/core/api/states/sensor.battery_soc"


async def test_call_service_switches_and_returns_changed_states():
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("switch.miner_plug", "off", friendly_name="Miner plug")
        client = HomeAssistantClient(config(ha.url))
        changed = await client.call_service("switch", "turn_on", {"entity_id": "switch.miner_plug"})
        assert ha.state("switch.miner_plug") == "on"
        with pytest.raises(DeviceError, match="HTTP 400.*Service not found"):
            await client.call_service("switch", "explode", {"entity_id": "switch.miner_plug"})
        await client.close()
    assert [s["state"] for s in changed] == ["on"]
    assert ha.service_calls[0] == ("switch", "turn_on", {"entity_id": "switch.miner_plug"})
    assert ha.requests[0].method == "POST"
    assert ha.requests[0].path == "/api/services/switch/turn_on"


async def test_wrong_token_is_auth_error_and_never_logged(caplog):
    caplog.set_level(logging.DEBUG)
    with running_home_assistant(token="the-right-one") as ha:
        ha.set("sensor.x", "1")
        client = HomeAssistantClient(config(ha.url, token=TOKEN))
        with pytest.raises(DeviceAuthError, match="refused the token"):
            await client.get_state("sensor.x")
        await client.close()
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(config(ha.url))


async def test_unknown_entity_is_entity_not_found():
    with running_home_assistant(token=TOKEN) as ha:
        client = HomeAssistantClient(config(ha.url))
        with pytest.raises(EntityNotFound, match="sensor.nope"):
            await client.get_state("sensor.nope")
        await client.close()


async def test_timeout_and_unreachable_are_device_unavailable():
    with running_home_assistant(token=TOKEN) as ha:
        ha.override = lambda request: Reply(200, b"{}", delay_s=0.5)
        client = HomeAssistantClient(config(ha.url, timeout_s=0.1))
        with pytest.raises(RequestTimeout):
            await client.get_state("sensor.x")
        await client.close()
        url = ha.url
    client = HomeAssistantClient(config(url))
    with pytest.raises(DeviceUnavailable, match="cannot reach"):
        await client.get_state("sensor.x")
    await client.close()


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, "<html>proxy error page</html>"),
        Reply(200, {"entity_id": "sensor.x", "attributes": {}}),  # no state
        Reply(200, ["not", "an", "object"]),
    ],
)
async def test_malformed_answers_are_malformed_reply(reply):
    with running_home_assistant(token=TOKEN) as ha:
        ha.override = lambda request: reply
        client = HomeAssistantClient(config(ha.url))
        with pytest.raises(MalformedReply):
            await client.get_state("sensor.x")
        await client.close()
