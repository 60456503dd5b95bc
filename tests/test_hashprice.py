"""Hashprice refresh from a public JSON endpoint, served on loopback."""

from __future__ import annotations

import logging

import pytest
from conftest import make_site

from edge_mining.clock import ManualClock
from edge_mining.config import EconomicsConfig, HashpriceSourceConfig
from edge_mining.devices.hashprice import HashpriceFetcher
from tests.loopback_http import Reply, serving

# The shape of Braiins Insights' hashrate-stats answer (USD per TH/s per day).
STATS = {
    "current_hashrate": 812.43,
    "hash_price": 0.0495,
    "hash_value": 4.9e-7,
    "rev_usd": 41_230_000,
    "difficulty": 1.1e14,
}


def fetcher(url: str, clock: ManualClock, **fields) -> HashpriceFetcher:
    config = HashpriceSourceConfig(
        url=url + "/api/v1.0/hashrate-stats", **{"json_path": "hash_price", **fields}
    )
    return HashpriceFetcher(config, clock=clock)


async def test_refreshes_economics_and_caches():
    clock = ManualClock(1_700_000_000.0)
    with serving(lambda request: Reply(200, STATS)) as server:
        source = fetcher(server.url, clock, scale=0.92, refresh_s=3600)  # USD -> EUR
        economics = await source.refreshed(EconomicsConfig(hashprice_per_th_day=0.05))
        clock.advance(3599)
        assert await source.current(0.05) == economics.hashprice_per_th_day
        assert len(server.requests) == 1
        clock.advance(2)
        await source.current(0.05)
        assert len(server.requests) == 2
        await source.close()
    assert economics.hashprice_per_th_day == pytest.approx(0.0495 * 0.92)
    assert server.requests[0].path == "/api/v1.0/hashrate-stats"


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply(200, "<html>Cloudflare</html>"), "malformed"),
        (Reply(200, {"hashprice": 0.05}), "malformed"),
        (Reply(200, {**STATS, "hash_price": 49.5}), "implausible"),  # per PH/s: wrong scale
        (Reply(503, "Service Unavailable"), "http"),
        (Reply(200, STATS, delay_s=2.0), "timeout"),
    ],
)
async def test_failures_fall_back_and_are_reported_once(caplog, reply, kind):
    caplog.set_level(logging.WARNING, logger="edge_mining")
    clock = ManualClock(1_700_000_000.0)
    # A short timeout only where the reply is meant to be late: on a loaded machine the
    # other replies may take longer than a few tenths of a second to arrive.
    timeout_s = 0.5 if kind == "timeout" else 10.0
    with serving(lambda request: reply) as server:
        source = fetcher(server.url, clock, timeout_s=timeout_s)
        values = []
        for _ in range(3):
            values.append(await source.current(0.05))
            clock.advance(301)
        await source.close()
    assert values == [0.05, 0.05, 0.05]
    assert len(server.requests) == 3
    assert source.failures.counts[kind] == 3
    assert len(caplog.records) == 1


async def test_last_good_value_kept_when_the_source_fails_later():
    clock = ManualClock(1_700_000_000.0)
    replies = [Reply(200, STATS), Reply(500, "oops")]
    with serving(lambda request: replies.pop(0)) as server:
        source = fetcher(server.url, clock, refresh_s=600)
        assert await source.current(0.05) == pytest.approx(0.0495)
        clock.advance(601)
        assert await source.current(0.05) == pytest.approx(0.0495)
        await source.close()
    assert len(server.requests) == 2


async def test_daemon_hands_the_refreshed_hashprice_to_controller_and_counters(tmp_path):
    import asyncio

    from edge_mining.devices.factory import build_devices
    from edge_mining.service import Daemon

    clock = ManualClock(1_750_500_000.0)
    with serving(lambda request: Reply(200, STATS)) as server:
        site = make_site(
            tmp_path,
            economics={
                "hashprice_per_th_day": 0.07,
                "hashprice_source": {"url": server.url + "/stats", "json_path": "hash_price"},
            },
        )
        devices = build_devices(site, clock=clock)
        source = HashpriceFetcher(site.economics.hashprice_source, clock=clock)
        daemon = Daemon(
            site, energy=devices.energy, miners=devices.miners, clock=clock, hashprice=source
        )
        stop = asyncio.Event()

        def watch(state) -> None:
            # The refresh runs beside the control loop: wait for it (bounded).
            if daemon.integrator.hashprice_per_th_day != 0.07 or daemon.ticks >= 5000:
                stop.set()

        daemon.add_listener(watch)
        await asyncio.wait_for(daemon.run(stop), timeout=30)
        await source.close()
        await devices.close()
    assert daemon.controller.economics.hashprice_per_th_day == pytest.approx(0.0495)
    assert daemon.integrator.hashprice_per_th_day == pytest.approx(0.0495)
