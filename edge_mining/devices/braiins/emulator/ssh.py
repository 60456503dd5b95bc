"""The legacy BOSminer's SSH shell on TCP 22, as far as clients use it.

Legacy BraiinsOS (pre-gRPC) has no API for its configuration: pyasic reads
``/etc/bosminer.toml`` over SSH (``cat /etc/bosminer.toml``) whenever ``get_data`` asks for
the config, which is the default, and fails the whole call without it. So an emulated legacy
miner runs an SSH server (asyncssh, password login with the miner's credentials) that answers
the read-only commands clients send; anything else fails like a missing command does in a shell.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

import asyncssh

from edge_mining.devices.braiins.emulator.machine import (
    DANGEROUS_TEMP_C,
    HOT_TEMP_C,
    POOL_URL,
    TARGET_TEMP_C,
)

if TYPE_CHECKING:
    from edge_mining.devices.braiins.emulator.server import EmulatedMiner

log = logging.getLogger(__name__)


@functools.cache
def host_key() -> asyncssh.SSHKey:
    """One RSA host key per process (pyasic offers only ``ssh-rsa``); generating it is slow."""
    return asyncssh.generate_private_key("ssh-rsa", key_size=2048)


def bosminer_toml(miner: EmulatedMiner) -> str:
    """``/etc/bosminer.toml`` as BOSminer 22.x writes it, from the miner's saved settings."""
    m = miner.machine
    return (
        "[format]\n"
        'version = "2.0"\n'
        f'model = "{miner.spec.model}"\n'
        'generator = "BOSminer+ 0.4.0"\n'
        "\n"
        "[[group]]\n"
        'name = "default"\n'
        "quota = 1\n"
        "\n"
        "[[group.pool]]\n"
        "enabled = true\n"
        f'url = "{POOL_URL}"\n'
        f'user = "edgemining.{miner.hostname}"\n'
        'password = "x"\n'
        "\n"
        "[autotuning]\n"
        "enabled = true\n"
        'mode = "power_target"\n'
        f"power_target = {m.saved_target_w}\n"
        "\n"
        "[temp_control]\n"
        'mode = "auto"\n'
        f"target_temp = {TARGET_TEMP_C}\n"
        f"hot_temp = {HOT_TEMP_C}\n"
        f"dangerous_temp = {DANGEROUS_TEMP_C}\n"
        "\n"
        "[fan_control]\n"
        "min_fans = 1\n"
    )


def run_command(miner: EmulatedMiner, command: str) -> tuple[str, str, int]:
    """(stdout, stderr, exit status) of one shell command on the miner."""
    files = {
        "/etc/bosminer.toml": lambda: bosminer_toml(miner),
        "/proc/sys/kernel/hostname": lambda: miner.hostname + "\n",
        "/sys/class/net/eth0/address": lambda: miner.machine.mac.lower() + "\n",
    }
    words = command.split()
    if len(words) == 2 and words[0] == "cat":
        read = files.get(words[1])
        if read is None:
            return "", f"cat: can't open '{words[1]}': No such file or directory\n", 1
        return read(), "", 0
    name = words[0] if words else ""
    return "", f"sh: {name}: not found\n", 127


class _MinerSSHServer(asyncssh.SSHServer):
    """Password login against the miner's credentials (and its auth fault)."""

    def __init__(self, miner: EmulatedMiner) -> None:
        self.miner = miner

    def begin_auth(self, username: str) -> bool:
        return True  # a password is always required

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        credentials = self.miner.credentials
        return (
            not self.miner.faults.auth
            and username == credentials.username
            and password == credentials.password
        )


async def _session(miner: EmulatedMiner, process: asyncssh.SSHServerProcess[str]) -> None:
    try:
        if miner.faults.slow_s:
            await asyncio.sleep(miner.faults.slow_s)
        stdout, stderr, status = run_command(miner, process.command or "")
        process.stdout.write(stdout)
        process.stderr.write(stderr)
        process.exit(status)
    except (asyncssh.Error, ConnectionError, OSError) as exc:
        log.debug("%s: ssh session lost: %s", miner.host, exc)
        process.close()


async def start_server(miner: EmulatedMiner, port: int, backlog: int) -> asyncssh.SSHAcceptor:
    return await asyncssh.create_server(
        lambda: _MinerSSHServer(miner),
        miner.host,
        port,
        server_host_keys=[host_key()],
        process_factory=functools.partial(_session, miner),
        backlog=backlog,
        reuse_address=True,
        login_timeout=10,
    )
