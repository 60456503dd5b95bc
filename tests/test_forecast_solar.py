"""ForecastSolarSource against a real HTTP server on loopback answering like api.forecast.solar."""

from __future__ import annotations

import logging
import math
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge_mining.clock import ManualClock
from edge_mining.config import ForecastConfig, ForecastPlane
from edge_mining.devices.base import DeviceAuthError, DeviceUnavailable, ForecastSource
from edge_mining.devices.forecast_solar.source import ForecastSolarSource, api_azimuth
from tests.loopback_http import Reply, Request, serving

TZ = ZoneInfo("Europe/Amsterdam")
DAY1 = date(2024, 4, 27)
NOON = datetime(2024, 4, 27, 12, 0, tzinfo=TZ).timestamp()
KEY = "s3cr3tKey42"


def _day_stamps(day: date) -> list[datetime]:
    """Sunrise, every half hour, sunset: the irregular first/last steps the API sends."""
    start = datetime(day.year, day.month, day.day, 6, 18, 15, tzinfo=TZ)
    stamps = [start]
    when = datetime(day.year, day.month, day.day, 6, 30, tzinfo=TZ)
    while when.hour < 21 or (when.hour == 21 and when.minute == 0):
        stamps.append(when)
        when += timedelta(minutes=30)
    stamps.append(datetime(day.year, day.month, day.day, 21, 1, 7, tzinfo=TZ))
    return stamps


def estimate_answer(kwp: float, days: int = 2, *, remaining: int = 11) -> dict:
    """The estimate endpoint's answer (?time=iso8601) for ``kwp`` on DAY1 and after."""
    watts: dict[str, int] = {}
    period: dict[str, int] = {}
    cumulative: dict[str, int] = {}
    per_day: dict[str, int] = {}
    for offset in range(days):
        day = DAY1 + timedelta(days=offset)
        stamps = _day_stamps(day)
        sunrise, sunset = stamps[0].timestamp(), stamps[-1].timestamp()
        total = 0
        previous: tuple[float, float] | None = None
        for stamp in stamps:
            t = stamp.timestamp()
            w = round(
                kwp
                * 800
                * (1 + offset * 0.1)
                * math.sin(math.pi * (t - sunrise) / (sunset - sunrise))
            )
            wh = 0 if previous is None else round((previous[1] + w) / 2 * (t - previous[0]) / 3600)
            total += wh
            key = stamp.isoformat()
            watts[key], period[key], cumulative[key] = w, wh, total
            previous = (t, w)
        per_day[day.isoformat()] = total
    return {
        "result": {
            "watts": watts,
            "watt_hours_period": period,
            "watt_hours": cumulative,
            "watt_hours_day": per_day,
        },
        "message": {
            "code": 0,
            "type": "success",
            "text": "",
            "pid": "wXG62901",
            "info": {
                "latitude": 52.17,
                "longitude": 4.47,
                "distance": 0,
                "place": "Leiden, Netherlands",
                "timezone": "Europe/Amsterdam",
                "time": "2024-04-27T12:00:00+02:00",
                "time_utc": "2024-04-27T10:00:00+00:00",
            },
            "ratelimit": {"zone": "IP", "period": 3600, "limit": 12, "remaining": remaining},
        },
    }


def ratelimit_headers(remaining: int, limit: int = 12) -> dict[str, str]:
    return {
        "X-Ratelimit-Period": "3600",
        "X-Ratelimit-Limit": str(limit),
        "X-Ratelimit-Remaining": str(remaining),
    }


def rate_limited_reply(retry_at: datetime) -> Reply:
    return Reply(
        429,
        {
            "result": "Rate limit for API calls reached.",
            "message": {
                "code": 429,
                "type": "error",
                "text": "Rate limit for API calls reached.",
                "pid": "0F5m6R53",
                "ratelimit": {
                    "zone": "IP",
                    "period": 3600,
                    "limit": 12,
                    "retry-at": retry_at.isoformat(),
                },
            },
        },
        {"X-Ratelimit-Period": "3600", "X-Ratelimit-Limit": "12"},
    )


def kwp_of(request: Request) -> float:
    """Total kWp named in an estimate path (one or more :dec/:az/:kwp triples)."""
    parts = request.path.split("/estimate/")[1].split("/")[2:]
    return sum(float(parts[i + 2]) for i in range(0, len(parts), 3))


def ok_handler(request: Request) -> Reply:
    return Reply(200, estimate_answer(kwp_of(request)), ratelimit_headers(11))


def make_source(url: str, clock: ManualClock, **changes) -> ForecastSolarSource:
    fields = {
        "type": "forecast_solar",
        "latitude": 52.17,
        "longitude": 4.47,
        "planes": [ForecastPlane(declination_deg=30, azimuth_deg=180, kwp=5)],
        **changes,
    }
    return ForecastSolarSource(
        ForecastConfig(**fields), base_url=url, clock=clock, rng=random.Random(7)
    )


def expected_remaining(answer: dict, now: float) -> float:
    total = 0.0
    for key, wh in answer["result"]["watt_hours_period"].items():
        when = datetime.fromisoformat(key)
        if when.date() == DAY1 and when.timestamp() > now:
            total += wh
    return total


@pytest.mark.parametrize(
    ("ha", "api"), [(180, 0), (90, -90), (270, 90), (0, -180), (360, 180), (135, -45)]
)
def test_azimuth_converted_from_home_assistant_convention(ha, api):
    assert api_azimuth(ha) == api


async def test_public_estimate_gives_remaining_tomorrow_and_next_hours():
    clock = ManualClock(NOON)
    with serving(ok_handler) as server:
        source = make_source(
            server.url, clock, planes=[ForecastPlane(declination_deg=35, azimuth_deg=90, kwp=4.5)]
        )
        assert isinstance(source, ForecastSource)
        forecast = await source.read()
        await source.close()
    [request] = server.requests
    assert request.method == "GET"
    assert request.path == "/estimate/52.1700/4.4700/35/-90/4.5"
    assert request.query == {"time": ["iso8601"]}
    assert request.headers["user-agent"].startswith("edge-mining/")

    answer = estimate_answer(4.5)
    assert forecast.today_remaining_wh == pytest.approx(expected_remaining(answer, NOON))
    assert forecast.tomorrow_wh == answer["result"]["watt_hours_day"]["2024-04-28"]
    # First hour is 12:00-13:00 local: the periods ending 12:30 and 13:00.
    first_start, first_w = forecast.next_hours_w[0]
    assert first_start == NOON
    periods = answer["result"]["watt_hours_period"]
    assert first_w == pytest.approx(
        periods["2024-04-27T12:30:00+02:00"] + periods["2024-04-27T13:00:00+02:00"]
    )
    # Night hours are zero; hours run until the end of the data (sunset of day 2).
    starts = [start for start, _ in forecast.next_hours_w]
    assert starts == [NOON + 3600 * k for k in range(len(starts))]
    night = datetime(2024, 4, 28, 2, 0, tzinfo=TZ).timestamp()
    assert dict(forecast.next_hours_w)[night] == 0
    assert datetime.fromtimestamp(starts[-1], TZ).date() == date(2024, 4, 28)


async def test_remaining_shrinks_as_the_day_goes_on_without_new_calls():
    clock = ManualClock(NOON)
    with serving(ok_handler) as server:
        source = make_source(server.url, clock)
        first = await source.read()
        clock.advance(600)
        later = await source.read()
        await source.close()
    assert len(server.requests) == 1
    assert later.today_remaining_wh < first.today_remaining_wh
    # Pro rata within the current half-hour period: 10 of its 30 minutes are gone.
    answer = estimate_answer(5)
    period = answer["result"]["watt_hours_period"]["2024-04-27T12:30:00+02:00"]
    assert first.today_remaining_wh - later.today_remaining_wh == pytest.approx(period / 3)


async def test_several_planes_are_summed_one_call_per_plane_without_key():
    clock = ManualClock(NOON)
    planes = [
        ForecastPlane(declination_deg=30, azimuth_deg=90, kwp=3),
        ForecastPlane(declination_deg=30, azimuth_deg=270, kwp=2),
    ]
    with serving(ok_handler) as server:
        source = make_source(server.url, clock, planes=planes)
        forecast = await source.read()
        await source.close()
    assert [r.path for r in server.requests] == [
        "/estimate/52.1700/4.4700/30/-90/3",
        "/estimate/52.1700/4.4700/30/90/2",
    ]
    east, west = estimate_answer(3), estimate_answer(2)
    assert forecast.tomorrow_wh == (
        east["result"]["watt_hours_day"]["2024-04-28"]
        + west["result"]["watt_hours_day"]["2024-04-28"]
    )
    assert forecast.today_remaining_wh == pytest.approx(
        expected_remaining(east, NOON) + expected_remaining(west, NOON)
    )


async def test_key_combines_planes_in_one_call_when_the_plan_allows():
    clock = ManualClock(NOON)
    planes = [
        ForecastPlane(declination_deg=30, azimuth_deg=90, kwp=3),
        ForecastPlane(declination_deg=30, azimuth_deg=270, kwp=2),
        ForecastPlane(declination_deg=10, azimuth_deg=180, kwp=1),
    ]
    with serving(ok_handler) as server:
        source = make_source(
            server.url, clock, planes=planes, api_key=KEY, max_planes_per_request=2
        )
        forecast = await source.read()
        await source.close()
    assert [r.path for r in server.requests] == [
        f"/{KEY}/estimate/52.1700/4.4700/30/-90/3/30/90/2",
        f"/{KEY}/estimate/52.1700/4.4700/10/0/1",
    ]
    expected = (
        estimate_answer(5)["result"]["watt_hours_day"]["2024-04-28"]
        + estimate_answer(1)["result"]["watt_hours_day"]["2024-04-28"]
    )
    assert forecast.tomorrow_wh == expected


async def test_cached_at_least_15_minutes_with_random_jitter():
    clock = ManualClock(NOON)
    with serving(ok_handler) as server:
        sources = [
            ForecastSolarSource(
                ForecastConfig(
                    type="forecast_solar",
                    latitude=52.17,
                    longitude=4.47,
                    planes=[ForecastPlane(kwp=5)],
                ),
                base_url=server.url,
                clock=clock,
                rng=random.Random(seed),
            )
            for seed in (1, 2)
        ]
        for source in sources:
            await source.read()
        due = [source.next_fetch_at for source in sources]
        for at in due:
            assert NOON + 900 <= at <= NOON + 900 + 300
        assert due[0] != due[1]
        clock.advance(899)
        for source in sources:
            await source.read()
        assert len(server.requests) == 2
        clock.advance(max(due) - clock.now() + 1)
        for source in sources:
            await source.read()
        assert len(server.requests) == 4
        for source in sources:
            await source.close()


async def test_spent_quota_waits_for_ratelimit_retry_at_header():
    clock = ManualClock(NOON)
    retry_at = datetime(2024, 4, 27, 13, 30, tzinfo=TZ)

    def handler(request: Request) -> Reply:
        headers = {**ratelimit_headers(0), "X-Ratelimit-Retry-At": retry_at.isoformat()}
        return Reply(200, estimate_answer(5, remaining=0), headers)

    with serving(handler) as server:
        source = make_source(server.url, clock)
        await source.read()
        assert source.rate_limit.remaining == 0
        assert source.next_fetch_at == retry_at.timestamp()
        clock.advance(3600)  # cache expired, but the quota is spent until 13:30
        forecast = await source.read()
        assert len(server.requests) == 1
        assert forecast.tomorrow_wh is not None
        clock.advance(retry_at.timestamp() - clock.now() + 1)
        await source.read()
        assert len(server.requests) == 2
        await source.close()


async def test_429_retry_at_respected_then_recovers(caplog):
    clock = ManualClock(NOON)
    retry_at = datetime(2024, 4, 27, 12, 48, 53, tzinfo=TZ)
    replies = [rate_limited_reply(retry_at)]

    def handler(request: Request) -> Reply:
        return replies.pop(0) if replies else ok_handler(request)

    caplog.set_level(logging.INFO, logger="edge_mining")
    with serving(handler) as server:
        source = make_source(server.url, clock)
        with pytest.raises(DeviceUnavailable, match="rate limit"):
            await source.read()
        assert source.next_fetch_at == retry_at.timestamp()
        clock.advance(600)
        with pytest.raises(DeviceUnavailable):
            await source.read()
        assert len(server.requests) == 1  # no call before retry-at
        clock.advance(retry_at.timestamp() - clock.now())
        forecast = await source.read()
        await source.close()
    assert len(server.requests) == 2
    assert forecast.tomorrow_wh is not None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "rate limit" in warnings[0].getMessage()
    assert any("recovered" in r.getMessage() for r in caplog.records)


async def test_maintenance_503_keeps_last_good_forecast_and_logs_once(caplog):
    clock = ManualClock(NOON)
    state = {"maintenance": False}

    def handler(request: Request) -> Reply:
        if state["maintenance"]:
            return Reply(503, "<html><body>Maintenance</body></html>")
        return ok_handler(request)

    caplog.set_level(logging.INFO, logger="edge_mining")
    with serving(handler) as server:
        source = make_source(server.url, clock)
        good = await source.read()
        state["maintenance"] = True
        for _ in range(4):
            clock.advance(1300)
            survived = await source.read()
            assert survived.tomorrow_wh == good.tomorrow_wh
            assert survived.timestamp == good.timestamp  # the age of the data shows
        failed_calls = len(server.requests) - 1
        state["maintenance"] = False
        clock.advance(1300)
        fresh = await source.read()
        await source.close()
    assert failed_calls >= 3
    assert fresh.timestamp > good.timestamp
    assert source.failures.counts["maintenance"] == failed_calls
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "forecast.solar: service unavailable (HTTP 503, maintenance) (keeping the last forecast)"
    ]
    assert any("recovered (maintenance)" in r.getMessage() for r in caplog.records)


async def test_invalid_key_is_an_auth_error_and_the_key_never_reaches_the_log(caplog):
    clock = ManualClock(NOON)

    def handler(request: Request) -> Reply:
        return Reply(
            401,
            {"result": None, "message": {"code": 401, "type": "error", "text": "Invalid API key"}},
        )

    caplog.set_level(logging.DEBUG)
    with serving(handler) as server:
        source = make_source(server.url, clock, api_key=KEY)
        with pytest.raises(DeviceAuthError, match="Invalid API key"):
            await source.read()
        await source.close()
    assert server.requests[0].path.startswith(f"/{KEY}/estimate/")
    assert KEY not in caplog.text
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log
    assert KEY not in repr(source)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply(200, "this is not json"), "malformed"),
        (Reply(200, {"result": {"watts": {}}, "message": {}}), "malformed"),
        (Reply(200, b"", delay_s=0.5), "timeout"),
        (Reply(500, "Internal Server Error"), "server_error"),
    ],
)
async def test_failures_reported_once_per_kind_and_survived(caplog, reply, kind):
    clock = ManualClock(NOON)
    caplog.set_level(logging.WARNING, logger="edge_mining")
    with serving(lambda request: reply) as server:
        # A short timeout only where the server is slow on purpose: under CPU load a healthy
        # reply can take longer than 0.2 s, and would then be counted as a timeout.
        source = make_source(server.url, clock, timeout_s=0.2 if kind == "timeout" else 10.0)
        for _ in range(3):
            with pytest.raises(DeviceUnavailable):
                await source.read()
            clock.advance(1000)
        await source.close()
    assert len(server.requests) == 3
    assert source.failures.counts[kind] == 3
    assert len(caplog.records) == 1


async def test_unreachable_server_is_device_unavailable():
    clock = ManualClock(NOON)
    with serving(ok_handler) as server:
        url = server.url
    source = make_source(url, clock)  # server stopped: connection refused
    with pytest.raises(DeviceUnavailable, match="cannot connect"):
        await source.read()
    assert source.failures.failing == {"unreachable"}
    await source.close()
