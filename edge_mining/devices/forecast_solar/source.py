"""Forecast.Solar client: today's remaining energy, tomorrow's energy, the next hours' power.

API (https://doc.forecast.solar/api): ``GET /estimate/:lat/:lon/:dec/:az/:kwp`` (public) or
``GET /:apikey/estimate/:lat/:lon/:dec1/:az1/:kwp1[/:dec2/:az2/:kwp2...]`` (with a key; the
plan decides how many planes one call may combine). The answer's ``result`` holds
``watts``, ``watt_hours_period`` (energy of the period ending at each timestamp),
``watt_hours`` and ``watt_hours_day``; ``message`` holds ``info.timezone`` and ``ratelimit``.

Being a good citizen of a free service, as its developer notes ask:
- results are cached for at least ``refresh_s`` (>= 15 min) plus a random jitter, so that
  installations do not all call on the quarter hour;
- ``X-Ratelimit-*`` headers are honoured: no call while the quota is spent;
- a 429 answer's retry-at (body or header) is respected;
- the quarterly maintenance (503) and other failures keep the last good forecast, reported
  once per kind of failure.

The azimuth is configured in Home Assistant's convention (0 = north, 90 = east, 180 =
south, 270 = west) and converted once, here, to the API's (-180..180, 0 = south, -90 = east,
90 = west).
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from edge_mining import __version__
from edge_mining.clock import Clock, WallClock
from edge_mining.config import ForecastConfig, ForecastPlane
from edge_mining.devices.base import DeviceAuthError, DeviceUnavailable
from edge_mining.devices.failures import FailureReporter
from edge_mining.devices.payload import iso_epoch
from edge_mining.devices.redact import redact_in_http_logs
from edge_mining.model import Forecast

# Named for the package (the module's name before it became one): log lines are unchanged.
log = logging.getLogger("edge_mining.devices.forecast_solar")

API_URL = "https://api.forecast.solar"
# Hours of power forecast handed to the controller (limited by what the answer covers).
NEXT_HOURS = 48
# First retry after a failure; doubled per consecutive failure, capped at refresh_s.
RETRY_BASE_S = 60.0


def api_azimuth(ha_azimuth_deg: float) -> int:
    """Home Assistant azimuth (0..360, 180 = south) to Forecast.Solar's (-180..180, 0 = south)."""
    return round(ha_azimuth_deg - 180.0)


def plane_path(planes: Sequence[ForecastPlane]) -> str:
    """The ``:dec/:az/:kwp`` path segments for one or more planes."""
    return "/".join(
        f"{round(p.declination_deg)}/{api_azimuth(p.azimuth_deg)}/{p.kwp:g}" for p in planes
    )


# ----------------------------------------------------------------------- parsed answers


@dataclass(frozen=True, slots=True)
class Period:
    """Energy produced between two instants (epoch seconds)."""

    start: float
    end: float
    wh: float


@dataclass(frozen=True, slots=True)
class Estimate:
    """One answer of the estimate endpoint, parsed."""

    fetched_at: float
    tz: tzinfo
    periods: tuple[Period, ...]
    days: Mapping[date, float]

    def local_date(self, when: float) -> date:
        return datetime.fromtimestamp(when, self.tz).date()

    def covers(self, day: date) -> bool:
        return day in self.days or any(self.local_date(p.end) == day for p in self.periods)

    def remaining_on(self, day: date, now: float) -> float:
        """Energy still to come on ``day`` after ``now`` (the current period pro rata)."""
        total = 0.0
        for period in self.periods:
            if period.end <= now or self.local_date(period.end) != day:
                continue
            if period.start < now:
                total += period.wh * (period.end - now) / (period.end - period.start)
            else:
                total += period.wh
        return total

    def energy_between(self, start: float, end: float) -> float:
        """Energy in [start, end), each period spread evenly over its duration."""
        total = 0.0
        for period in self.periods:
            if period.end <= start or period.start >= end:
                continue
            if period.end == period.start:
                total += period.wh
                continue
            overlap = min(end, period.end) - max(start, period.start)
            total += period.wh * overlap / (period.end - period.start)
        return total

    @property
    def last_end(self) -> float:
        return self.periods[-1].end if self.periods else self.fetched_at


class MalformedAnswer(ValueError):
    """The answer is not the shape the API documents."""


def _timezone(message: Any) -> tzinfo | None:
    try:
        name = message["info"]["timezone"]
    except (KeyError, TypeError):
        return None
    if not isinstance(name, str):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _parse_time(text: str, tz: tzinfo | None) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        # Without ?time=iso8601 the API answers "2024-04-27 06:30:00" in local time.
        when = when.replace(tzinfo=tz or UTC)
    return when


def parse_estimate(data: Any, fetched_at: float) -> Estimate:
    """Parse the estimate endpoint's JSON; MalformedAnswer when the shape is wrong."""
    try:
        result = data["result"]
        periods_raw = result["watt_hours_period"]
        days_raw = result.get("watt_hours_day", {})
        if not isinstance(periods_raw, Mapping) or not isinstance(days_raw, Mapping):
            raise TypeError("watt_hours_period/watt_hours_day are not objects")
        zone = _timezone(data.get("message"))
        stamps = sorted(
            (_parse_time(key, zone), float(value)) for key, value in periods_raw.items()
        )
        days = {date.fromisoformat(key): float(value) for key, value in days_raw.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedAnswer(f"unexpected estimate answer: {error}") from None
    if any(not math.isfinite(wh) or wh < 0 for _, wh in stamps):
        raise MalformedAnswer("unexpected estimate answer: negative or non-finite energy")
    tz: tzinfo = zone or (stamps[0][0].tzinfo if stamps else None) or UTC
    periods = []
    previous: float | None = None
    for when, wh in stamps:
        end = when.timestamp()
        periods.append(Period(start=end if previous is None else previous, end=end, wh=wh))
        previous = end
    return Estimate(fetched_at=fetched_at, tz=tz, periods=tuple(periods), days=days)


def combine(estimates: Sequence[Estimate], now: float) -> Forecast:
    """Sum the planes' estimates into one Forecast as seen at ``now``."""
    if not estimates:
        raise ValueError("no estimates")
    tz = estimates[0].tz
    today = datetime.fromtimestamp(now, tz).date()
    tomorrow = today + timedelta(days=1)

    remaining: float | None = None
    if all(e.covers(today) for e in estimates):
        remaining = sum(e.remaining_on(today, now) for e in estimates)
    tomorrow_wh: float | None = None
    if all(tomorrow in e.days for e in estimates):
        tomorrow_wh = sum(e.days[tomorrow] for e in estimates)

    local_now = datetime.fromtimestamp(now, tz)
    hour_start = now - (local_now.minute * 60 + local_now.second + local_now.microsecond / 1e6)
    covered_until = min(e.last_end for e in estimates)
    hours = []
    for k in range(NEXT_HOURS):
        start = hour_start + k * 3600.0
        if start >= covered_until:
            break
        watts = sum(e.energy_between(start, start + 3600.0) for e in estimates)
        hours.append((start, round(watts, 1)))

    return Forecast(
        timestamp=min(e.fetched_at for e in estimates),
        today_remaining_wh=remaining,
        tomorrow_wh=tomorrow_wh,
        next_hours_w=tuple(hours),
    )


# ---------------------------------------------------------------------------- rate limit


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What the API said about our quota in its last answer."""

    limit: int | None
    remaining: int | None
    period_s: float | None
    retry_at: float | None


def _header_float(headers: httpx.Headers, name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def rate_limit_from(response: httpx.Response, body: Any, now: float) -> RateLimit:
    headers = response.headers
    limit = _header_float(headers, "X-Ratelimit-Limit")
    remaining = _header_float(headers, "X-Ratelimit-Remaining")
    period = _header_float(headers, "X-Ratelimit-Period")
    retry_at = iso_epoch(headers.get("X-Ratelimit-Retry-At"))
    body_limit: Any = None
    if isinstance(body, Mapping) and isinstance(body.get("message"), Mapping):
        body_limit = body["message"].get("ratelimit")
    if isinstance(body_limit, Mapping):
        retry_at = retry_at or iso_epoch(body_limit.get("retry-at"))
        if period is None and isinstance(body_limit.get("period"), int | float):
            period = float(body_limit["period"])
        if limit is None and isinstance(body_limit.get("limit"), int | float):
            limit = float(body_limit["limit"])
        if remaining is None and isinstance(body_limit.get("remaining"), int | float):
            remaining = float(body_limit["remaining"])
    retry_after = _header_float(headers, "Retry-After")
    if retry_at is None and retry_after is not None:
        retry_at = now + retry_after
    return RateLimit(
        limit=None if limit is None else int(limit),
        remaining=None if remaining is None else int(remaining),
        period_s=period,
        retry_at=retry_at,
    )


# -------------------------------------------------------------------------------- source


class _RequestFailed(Exception):
    def __init__(self, kind: str, message: str, *, auth: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.auth = auth


class ForecastSolarSource:
    """ForecastSource for api.forecast.solar; one request per plane, or per group of planes
    as the API key's plan allows (``max_planes_per_request``), summed."""

    def __init__(
        self,
        config: ForecastConfig,
        *,
        base_url: str = API_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if config.latitude is None or config.longitude is None or not config.planes:
            raise ValueError("forecast_solar needs latitude, longitude and at least one plane")
        self.name = "forecast.solar"
        self._config = config
        self._clock = clock or WallClock()
        self._rng = rng or random.Random()
        self._api_key = config.api_key.get_secret_value() if config.api_key else None
        if self._api_key:
            redact_in_http_logs(self._api_key)
        per_request = config.max_planes_per_request if self._api_key else 1
        planes = list(config.planes)
        self._groups = [planes[i : i + per_request] for i in range(0, len(planes), per_request)]
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=config.timeout_s,
            headers={"User-Agent": f"edge-mining/{__version__}", "Accept": "application/json"},
        )
        self._estimates: list[Estimate | None] = [None] * len(self._groups)
        self._next_fetch_at = 0.0
        self._blocked_until = 0.0
        self._consecutive_failures = 0
        self._last_error: _RequestFailed | None = None
        self.rate_limit: RateLimit | None = None
        self.failures = FailureReporter(self.name, log)
        self.requests_made = 0

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"ForecastSolarSource(planes={len(self._config.planes)}, key={key})"

    @property
    def next_fetch_at(self) -> float:
        """Epoch seconds of the next allowed call (cache expiry, backoff or rate limit)."""
        return max(self._next_fetch_at, self._blocked_until)

    def _path(self, planes: Sequence[ForecastPlane]) -> str:
        lat = f"{self._config.latitude:.4f}"
        lon = f"{self._config.longitude:.4f}"
        prefix = f"/{self._api_key}" if self._api_key else ""
        return f"{prefix}/estimate/{lat}/{lon}/{plane_path(planes)}"

    async def read(self) -> Forecast:
        now = self._clock.now()
        if now >= self.next_fetch_at:
            await self._refresh(now)
        if any(e is None for e in self._estimates):
            error = self._last_error
            if error is not None and error.auth:
                raise DeviceAuthError(f"{self.name}: {error}")
            if error is not None:
                raise DeviceUnavailable(f"{self.name}: no forecast yet ({error})")
            raise DeviceUnavailable(f"{self.name}: no forecast yet")
        return combine([e for e in self._estimates if e is not None], now)

    async def _refresh(self, now: float) -> None:
        for index, planes in enumerate(self._groups):
            if self._clock.now() < self._blocked_until:
                break  # the quota was spent by an earlier group: keep what we have
            try:
                self._estimates[index] = await self._fetch(planes)
            except _RequestFailed as failure:
                self._failed(failure)
                return
        else:
            self._last_error = None
            self._consecutive_failures = 0
            self.failures.recovered()
            jitter = self._rng.uniform(0.0, self._config.refresh_jitter_s)
            self._next_fetch_at = now + self._config.refresh_s + jitter
            return
        # Stopped by the rate limit part-way: try again when it allows.
        self._next_fetch_at = self._blocked_until

    def _failed(self, failure: _RequestFailed) -> None:
        self._last_error = failure
        self._consecutive_failures += 1
        kept = " (keeping the last forecast)" if all(self._estimates) else ""
        self.failures.report(failure.kind, f"{failure}{kept}")
        delay = min(self._config.refresh_s, RETRY_BASE_S * 2 ** (self._consecutive_failures - 1))
        if failure.kind in ("auth", "rejected"):
            delay = self._config.refresh_s  # retrying sooner cannot help
        self._next_fetch_at = self._clock.now() + delay + self._rng.uniform(0.0, 30.0)

    async def _fetch(self, planes: Sequence[ForecastPlane]) -> Estimate:
        self.requests_made += 1
        try:
            response = await self._client.get(self._path(planes), params={"time": "iso8601"})
        except httpx.TimeoutException:
            raise _RequestFailed("timeout", "request timed out") from None
        except httpx.TransportError as error:
            raise _RequestFailed("unreachable", f"cannot connect: {error}") from None
        now = self._clock.now()
        body = _json_or_none(response)
        self.rate_limit = rate_limit_from(response, body, now)
        self._honour_rate_limit(now, response.status_code)
        status = response.status_code
        if status == 200:
            if body is None:
                raise _RequestFailed("malformed", "answer is not JSON")
            try:
                return parse_estimate(body, now)
            except MalformedAnswer as error:
                raise _RequestFailed("malformed", str(error)) from None
        text = _message_text(body)
        if self._api_key:
            text = text.replace(self._api_key, "***")
        if status == 429:
            until = datetime.fromtimestamp(self._blocked_until, UTC).isoformat()
            raise _RequestFailed("rate_limited", f"rate limit reached, retrying at {until}")
        if status in (401, 403):
            raise _RequestFailed("auth", f"API key refused (HTTP {status}) {text}", auth=True)
        if status == 503:
            raise _RequestFailed("maintenance", "service unavailable (HTTP 503, maintenance)")
        if status >= 500:
            raise _RequestFailed("server_error", f"server error (HTTP {status})")
        raise _RequestFailed("rejected", f"request rejected (HTTP {status}) {text}")

    def _honour_rate_limit(self, now: float, status: int) -> None:
        limit = self.rate_limit
        if limit is None:
            return
        if status == 429:
            fallback = limit.period_s or 3600.0
            self._blocked_until = max(
                self._blocked_until, limit.retry_at if limit.retry_at else now + fallback
            )
        elif limit.remaining is not None and limit.remaining <= 0:
            wait_until = limit.retry_at or now + (limit.period_s or 3600.0)
            self._blocked_until = max(self._blocked_until, wait_until)

    async def close(self) -> None:
        await self._client.aclose()


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _message_text(body: Any) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("message"), Mapping):
        text = body["message"].get("text")
        if isinstance(text, str):
            return text[:200]
    return ""
