"""50 emulated miners on distinct loopback addresses, polled and commanded concurrently."""

from __future__ import annotations

import asyncio

from braiins_support import FAST, fresh_host, miner_config

from edge_mining.devices.braiins.driver import BraiinsMiner
from edge_mining.devices.braiins.emulator import EmulatorFleet
from edge_mining.model import MinerStatus

COUNT = 50
M = MinerStatus


async def _poll(drivers):
    return await asyncio.gather(*(asyncio.wait_for(d.read(), 5.0) for d in drivers))


async def _poll_until(drivers, status, timeout_s=15.0):
    async with asyncio.timeout(timeout_s):
        while True:
            states = await _poll(drivers)
            if all(s.status == status for s in states):
                return states
            await asyncio.sleep(0.1)


async def test_fifty_miners_polled_and_commanded_concurrently():
    fleet = EmulatorFleet.on_loopback(fresh_host(), COUNT, "S19j Pro", password="pw", **FAST)
    async with fleet:
        hosts = {m.host for m in fleet}
        assert len(hosts) == COUNT
        drivers = [
            BraiinsMiner(miner_config(m.host, name=f"m{i}", password="pw"))
            for i, m in enumerate(fleet)
        ]
        states = await _poll(drivers)
        assert [s.status for s in states] == [M.MINING] * COUNT
        assert all(s.power_target_w == 3068 for s in states)

        # Pause every other miner and retarget the rest, all at once.
        paused, retargeted = drivers[::2], drivers[1::2]
        targets = [1500 + 40 * i for i in range(len(retargeted))]
        results = await asyncio.gather(
            *(d.stop() for d in paused),
            *(d.set_power_target(t) for d, t in zip(retargeted, targets, strict=True)),
        )
        assert results[len(paused) :] == [float(t) for t in targets]
        await _poll_until(paused, M.PAUSED)
        for emulated, driver in zip(fleet, drivers, strict=True):
            machine = emulated.machine
            if driver in paused:
                assert not machine.mining_enabled
            else:
                assert machine.mining_enabled and machine.counters.restarts == 0
        retarget_states = await _poll(retargeted)
        assert [s.power_target_w for s in retarget_states] == targets
        assert all(s.status == M.MINING for s in retarget_states)

        await asyncio.gather(*(d.start() for d in paused))
        await _poll_until(drivers, M.MINING)
        assert all(d.detections == 1 for d in drivers)
