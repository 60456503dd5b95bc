"""Hashprice refreshed from a public JSON endpoint (``economics.hashprice_source``).

The endpoint and the path to the number are configured (e.g. Braiins Insights'
``hashrate-stats`` with ``hash_price``, in USD per TH/s per day; ``scale`` converts units or
currency). The value is cached for ``refresh_s``; a failure (timeout, HTTP error, malformed
JSON, an implausible number) is reported once per kind and the last good value, or the
configured ``hashprice_per_th_day``, is used instead.
"""

from __future__ import annotations

import logging

import httpx

from edge_mining import __version__
from edge_mining.clock import Clock, WallClock
from edge_mining.config import EconomicsConfig, HashpriceSourceConfig
from edge_mining.devices.base import DeviceError, DeviceUnavailable
from edge_mining.devices.failures import FailureReporter
from edge_mining.devices.payload import PayloadError, extract_number

log = logging.getLogger(__name__)

RETRY_S = 300.0


class HashpriceFetcher:
    def __init__(
        self,
        config: HashpriceSourceConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self._clock = clock or WallClock()
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=config.timeout_s,
            headers={"User-Agent": f"edge-mining/{__version__}", "Accept": "application/json"},
            follow_redirects=True,
        )
        self.last_value: float | None = None
        self.last_fetched_at: float | None = None
        self._next_fetch_at = 0.0
        self.failures = FailureReporter("hashprice source", log)

    async def fetch(self) -> float:
        """One request: currency per TH/s per day. Raises DeviceError on any failure."""
        try:
            response = await self._client.get(self.config.url)
        except httpx.TimeoutException:
            raise DeviceUnavailable("hashprice source timed out") from None
        except httpx.TransportError as error:
            raise DeviceUnavailable(f"hashprice source unreachable: {error}") from None
        if response.status_code != 200:
            raise DeviceError(f"hashprice source answered HTTP {response.status_code}")
        try:
            value = extract_number(response.content, self.config.json_path) * self.config.scale
        except PayloadError as error:
            raise DeviceError(f"hashprice source: {error}") from None
        if not 0 < value <= self.config.max_per_th_day:
            raise DeviceError(
                f"hashprice source: {value:g} per TH/s per day is implausible "
                f"(expected above 0 and at most {self.config.max_per_th_day:g})"
            )
        return value

    async def current(self, fallback: float) -> float:
        """The hashprice to use now: fresh, cached, last good, or ``fallback``."""
        now = self._clock.now()
        if now >= self._next_fetch_at:
            try:
                value = await self.fetch()
            except DeviceError as error:
                self.failures.report(_kind(error), str(error))
                self._next_fetch_at = now + min(RETRY_S, self.config.refresh_s)
            else:
                self.failures.recovered()
                self.last_value, self.last_fetched_at = value, now
                self._next_fetch_at = now + self.config.refresh_s
        return self.last_value if self.last_value is not None else fallback

    async def refreshed(self, economics: EconomicsConfig) -> EconomicsConfig:
        """``economics`` with its hashprice replaced by the current one."""
        value = await self.current(economics.hashprice_per_th_day)
        return economics.model_copy(update={"hashprice_per_th_day": value})

    async def close(self) -> None:
        await self._client.aclose()


def _kind(error: DeviceError) -> str:
    text = str(error)
    if "timed out" in text:
        return "timeout"
    if isinstance(error, DeviceUnavailable):
        return "unreachable"
    if "HTTP" in text:
        return "http"
    if "implausible" in text:
        return "implausible"
    return "malformed"
