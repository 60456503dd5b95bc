"""Shutdown when a library swallows a cancellation.

Python 3.11's ``asyncio.wait_for`` returns its inner result instead of raising when the inner
future completed in the same loop turn as the cancellation (CPython gh-86296), and pyasic
reads every socket through it. Under CPU load that race happens: the daemon's one
cancellation of a miner's poll loop was lost, ``Daemon.run`` never returned after SIGTERM,
and the shutdown action (pause the miners) never ran. This was the cause of the flaky
``test_braiins_faults`` test. The miner below swallows exactly one cancellation, as that race
does, so the regression is reproduced every time instead of under load only.
"""

from __future__ import annotations

import asyncio
import time

from conftest import MINER_3KW, make_site

from edge_mining.clock import WallClock
from edge_mining.model import MinerState, MinerStatus
from edge_mining.service import Daemon
from edge_mining.sim.devices import SimulatedEnergySource, SimulatedMiner
from edge_mining.sim.plant import Plant


class _MinerBehindALossyWaitFor(SimulatedMiner):
    """A simulated miner whose reads go through a library that loses one cancellation."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.swallowed = 0
        self.calls = 0
        self.reading = asyncio.Event()

    async def read(self) -> MinerState:
        state = await super().read()
        self.calls += 1
        if self.calls == 1 or self.swallowed:  # the daemon's first poll, before its loops
            return state
        self.reading.set()
        try:
            await asyncio.sleep(3600)  # a socket read that never answers
        except asyncio.CancelledError:
            # What 3.11's wait_for does when the read completes in the cancel's loop turn.
            self.swallowed += 1
        return state


async def test_shutdown_completes_and_pauses_the_miners_when_a_cancel_is_lost(tmp_path):
    clock = WallClock()
    site = make_site(
        tmp_path,
        miners=[{**MINER_3KW, "name": "lossy"}, {**MINER_3KW, "name": "plain"}],
        control={"tick_s": 0.1, "mode": "manual", "shutdown_action": "pause"},
    )
    plant = Plant(site.energy_source.plant, start_time=clock.now())
    lossy = _MinerBehindALossyWaitFor(site.miner("lossy"), plant, clock, running=True)
    plain = SimulatedMiner(site.miner("plain"), plant, clock, running=True)
    daemon = Daemon(
        site,
        energy=SimulatedEnergySource(plant, clock),
        miners={"lossy": lossy, "plain": plain},
        clock=clock,
        device_timeout_s=3600.0,  # the read must be cut by the shutdown, not by a timeout
    )
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(lossy.reading.wait(), 10)  # the lossy read is in flight
    stop.set()
    started = time.monotonic()
    await asyncio.wait_for(run, 10)  # used to hang forever
    assert time.monotonic() - started < 5.0
    assert lossy.swallowed == 1
    # The shutdown action ran for both miners.
    assert lossy.status in (MinerStatus.STOPPING, MinerStatus.PAUSED)
    assert plain.status in (MinerStatus.STOPPING, MinerStatus.PAUSED)
