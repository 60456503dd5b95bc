"""pyasic's full get_data (as hass-miner asks for it) against the emulator, config included.

BOSer reports its configuration over gRPC; legacy BOSminer only in ``/etc/bosminer.toml``,
which pyasic reads over SSH, so the emulated legacy miner runs an SSH shell.
"""

from __future__ import annotations

import asyncssh
import pytest
from braiins_support import fresh_host
from pyasic.errors import APIError
from pyasic.miners.backends import BOSMiner
from pyasic.miners.factory import miner_factory

from edge_mining.devices.braiins.emulator import EmulatedMiner, Faults

# An unprivileged port, so the test does not need root; pyasic is pointed at it below.
SSH_PORT = 2222


async def test_full_get_data_of_a_boser_miner_includes_pools_and_temperatures():
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro") as emulated:
        miner = await miner_factory.get_miner(host)
        data = await miner.get_data()
        (group,) = data.config.pools.groups
        assert [(str(p.url), p.user) for p in group.pools] == [
            (str(data.pools[0].url), f"edgemining.{emulated.hostname}")
        ]
        temperature = data.config.temperature
        assert (temperature.target, temperature.hot, temperature.danger) == (75, 85, 95)
        assert data.config.fan_mode.minimum_fans == 1
        assert data.config.mining_mode.power == 3068


async def legacy_miner(host: str) -> BOSMiner:
    miner = await miner_factory.get_miner(host)
    assert isinstance(miner, BOSMiner)
    miner.ssh.port = SSH_PORT
    return miner


async def test_full_get_data_of_a_legacy_miner_includes_its_config():
    host = fresh_host()
    async with EmulatedMiner(host, "S9", ssh_port=SSH_PORT) as emulated:
        emulated.machine.set_power_target(1200, apply=False, force=False)  # saved only
        miner = await legacy_miner(host)

        data = await miner.get_data()  # everything, as hass-miner and pyasic's default ask

        assert data.config is not None
        assert data.config.mining_mode.mode == "power_tuning"
        assert data.config.mining_mode.power == 1200  # the saved target, not the active one
        (group,) = data.config.pools.groups
        assert [(str(p.url), p.user) for p in group.pools] == [
            (str(data.pools[0].url), f"edgemining.{emulated.hostname}")
        ]
        assert (data.config.temperature.target, data.config.temperature.danger) == (75, 95)
        assert float(data.hashrate) == pytest.approx(13.5, rel=0.02)
        assert len(data.hashboards) == 3 and len(data.fans) == 2


async def test_wrong_password_or_auth_fault_is_refused():
    host = fresh_host()
    async with EmulatedMiner(host, "S9", ssh_port=SSH_PORT, faults=Faults(auth=True)):
        miner = await legacy_miner(host)
        with pytest.raises(APIError, match="config"):
            await miner.get_data()
    with pytest.raises(asyncssh.PermissionDenied):
        async with EmulatedMiner(host, "S9", ssh_port=SSH_PORT):
            await asyncssh.connect(
                host, SSH_PORT, username="root", password="wrong", known_hosts=None
            )


async def test_shell_answers_known_files_and_fails_other_commands():
    host = fresh_host()
    async with EmulatedMiner(host, "S9", ssh_port=SSH_PORT) as emulated:
        async with asyncssh.connect(
            host, SSH_PORT, username="root", password="root", known_hosts=None
        ) as conn:
            hostname = await conn.run("cat /proc/sys/kernel/hostname")
            missing = await conn.run("cat /etc/shadow")
            reboot = await conn.run("/sbin/reboot")
    assert (hostname.stdout, hostname.exit_status) == (emulated.hostname + "\n", 0)
    assert missing.exit_status == 1 and "No such file" in missing.stderr
    assert reboot.exit_status == 127 and emulated.machine.running


async def test_boser_models_run_no_ssh_server():
    host = fresh_host()
    async with EmulatedMiner(host, "S19j Pro", ssh_port=SSH_PORT) as emulated:
        assert emulated.ssh_port is None
        with pytest.raises(OSError):
            await asyncssh.connect(
                host, SSH_PORT, username="root", password="root", known_hosts=None
            )
