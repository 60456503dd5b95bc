"""Logging through the real ``edge-mining run`` process with an emulated BraiinsOS miner.

pyasic sets the root logger to WARNING when imported: the program's INFO lines (running,
detected, stopped) and ``--log-level debug`` must survive it. A refused password is one
ERROR line naming the miner and the user, never the password; wire loggers stay quiet unless
``--log-wire``, and then the login token never shows either.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from braiins_support import FAST, fresh_host

from edge_mining.devices.braiins.emulator import EmulatedMiner

CLI = [sys.executable, "-m", "edge_mining.cli"]
RIGHT = "R1ght-Secr3t-pw"
WRONG = "Wr0ng-Secr3t-pw"
WIRE = re.compile(r"^\S+ \S+ (DEBUG|INFO) (hpack|h2|grpclib|httpx|httpcore|asyncssh)[.:]", re.M)


def _site(tmp_path: Path, host: str, password: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(
        f"""
state_dir: {tmp_path / "state"}
energy_source: {{type: simulated}}
miners:
  - name: bos
    driver: braiins
    host: {host}
    password: "{password}"
    min_power_w: 500
    max_power_w: 4000
    nominal_hashrate_ths: 104
    nominal_power_w: 3068
control: {{tick_s: 0.5, mode: manual, shutdown_action: leave}}
mqtt: {{enabled: false}}
""",
        encoding="utf-8",
    )
    return path


async def _run_until(
    config: Path, *extra: str, wanted: str, then_s: float = 0.0, timeout_s: float = 60.0
) -> tuple[int, str]:
    """Run ``edge-mining [extra] run`` until ``wanted`` shows in its log (plus ``then_s``),
    then SIGTERM it; its exit code and whole log."""
    process = await asyncio.create_subprocess_exec(
        *CLI, *extra, "run", "--config", str(config), stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines: list[str] = []

    async def collect() -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            lines.append(line.decode(errors="replace"))

    reader = asyncio.create_task(collect())
    try:
        deadline = time.monotonic() + timeout_s
        while not any(wanted in line for line in lines):
            assert process.returncode is None, "".join(lines)
            assert time.monotonic() < deadline, f"no {wanted!r} in:\n" + "".join(lines)
            await asyncio.sleep(0.05)
        await asyncio.sleep(then_s)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        await asyncio.wait_for(reader, 10)
    return code, "".join(lines)


@pytest.mark.timeout(120)
async def test_braiins_site_logs_at_info_and_a_refused_password_once(tmp_path):
    host = fresh_host()
    async with _miner(host) as miner:
        config = _site(tmp_path, host, WRONG)
        # Wait through several polls after the refusal: it is still one line.
        code, log = await _run_until(config, wanted="refused the credentials", then_s=2.0)
        assert miner.credentials.tokens == {}  # never logged in
    assert code == 0, log
    assert "INFO edge_mining.service.daemon: edge-mining running:" in log
    assert f"INFO edge_mining.devices.braiins: miner bos ({host}) detected" in log
    assert "INFO edge_mining.service.startup: edge-mining stopped" in log  # the last line
    # One error line from the driver, however many polls were refused (and the one line of
    # the miner's state change, unknown -> error, that names the reason).
    refusals = [line for line in log.splitlines() if "refused the credentials" in line]
    errors = [line for line in refusals if " ERROR edge_mining.devices.braiins: " in line]
    assert len(errors) == 1, log
    assert f"miner bos ({host}) refused the credentials of user 'root'" in errors[0]
    assert len(refusals) <= 2, log
    assert WRONG not in log
    assert "Traceback" not in log


@pytest.mark.timeout(120)
async def test_log_level_debug_works_and_wire_loggers_stay_quiet(tmp_path):
    host = fresh_host()
    async with _miner(host) as miner:
        config = _site(tmp_path, host, RIGHT)
        code, log = await _run_until(
            config, "--log-level", "debug", wanted="DEBUG edge_mining.devices.braiins: miner bos"
        )
        assert miner.credentials.tokens  # logged in: gRPC with the authorization header
    assert code == 0, log
    assert "INFO edge_mining.service.daemon: edge-mining running:" in log
    assert not WIRE.search(log), log
    assert RIGHT not in log


@pytest.mark.timeout(120)
async def test_log_wire_shows_the_wire_but_no_password_nor_token(tmp_path):
    host = fresh_host()
    async with _miner(host) as miner:
        config = _site(tmp_path, host, RIGHT)
        code, log = await _run_until(
            config,
            "--log-level",
            "debug",
            "--log-wire",
            wanted="DEBUG edge_mining.devices.braiins: miner bos",
            then_s=1.0,
        )
        tokens = list(miner.credentials.tokens)
    assert code == 0, log
    assert WIRE.search(log), log  # the wire is logged when asked for...
    assert tokens
    for secret in (RIGHT, *tokens):  # ...without the password or the session token
        assert secret not in log


class _miner:
    """An emulated BraiinsOS miner on ``host`` that accepts RIGHT, for one test."""

    def __init__(self, host: str) -> None:
        self.miner = EmulatedMiner(host, password=RIGHT, name="bos", **FAST)

    async def __aenter__(self) -> EmulatedMiner:
        await self.miner.start()
        return self.miner

    async def __aexit__(self, *exc: object) -> None:
        await self.miner.close()
