"""Secrets on unusual paths stay out of the log, in the real process: a Home Assistant (or a
proxy) that echoes our headers in an error body, a library logging a secret or an
authorization header, an exception whose text holds one, a stack; and a library that sets
the root logger's level (as pyasic does) changes nothing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ha_server import running_home_assistant
from tests.loopback_http import Reply, Request

CLI = [sys.executable, "-m", "edge_mining.cli"]
ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ha-T0ken-never-in-the-log-0123456789"


def _echo_headers(request: Request) -> Reply:
    # A debugging proxy's error page: every request header on its own line.
    lines = ["<html><body><h1>502 Bad Gateway</h1><pre>"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    lines += ["</pre></body></html>"]
    return Reply(500, "\n".join(lines * 4))


@pytest.mark.timeout(120)
async def test_home_assistant_error_body_echoing_the_token(tmp_path):
    with running_home_assistant(token=TOKEN) as ha:
        ha.set("sensor.pv_power", 1500, "W")
        ha.override = _echo_headers
        config = tmp_path / "site.yaml"
        config.write_text(
            f"""
state_dir: {tmp_path / "state"}
energy_source:
  type: homeassistant
  pv_power: {{entity_id: sensor.pv_power}}
  poll_interval_s: 0.2
homeassistant: {{url: "{ha.url}", token: "{TOKEN}"}}
miners:
  - {{name: m1, min_power_w: 500, max_power_w: 1400, nominal_hashrate_ths: 50,
      nominal_power_w: 1400}}
control: {{tick_s: 0.5}}
mqtt: {{enabled: false}}
""",
            encoding="utf-8",
        )
        process = await asyncio.create_subprocess_exec(
            *CLI, "run", "--config", str(config), stderr=asyncio.subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 30
            while len(ha.requests) < 10:  # several polls answered with the echo
                assert process.returncode is None
                assert time.monotonic() < deadline, "Home Assistant was never polled"
                await asyncio.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), 30)
    log = err.decode()
    assert process.returncode == 0, log
    assert TOKEN not in log
    # Once per kind of failure and per reporter (the source, the daemon for the reading, the
    # change log for "energy data stale"), each on one line, the token masked where cut too.
    errors = [line for line in log.splitlines() if "answered HTTP 500" in line]
    reporters = [line.split()[3] for line in errors]
    assert errors and len(reporters) == len(set(reporters)), log
    for line in errors:
        assert "Bad Gateway" in line and len(line) < 400
        assert "authorization: Bearer ***" in line
    assert not any(line.startswith(("user-agent", "</pre>")) for line in log.splitlines())


SCRIPT = """
import logging

from edge_mining.devices.redact import add_secret
from edge_mining.logs import configure_logging, pin_root_level

pin_root_level()
configure_logging("info")
add_secret("S3cr3t-value")
logging.getLogger("some.library").warning("connecting with password=%s", "S3cr3t-value")
try:
    raise RuntimeError("login failed for S3cr3t-value")
except RuntimeError:
    logging.getLogger("other.library").exception("boom")
logging.getLogger("x").warning("where", stack_info=True)  # S3cr3t-value in the stack
logging.getLogger("edge_mining.x").warning("got Authorization: Bearer abcdefgh12345678")
logging.getLogger("hpack.hpack").info("Decoded %s", (b"authorization", b"tok-12345678"))
logging.getLogger().setLevel(logging.WARNING)  # what pyasic does at import
logging.basicConfig(level=logging.ERROR, format="%(message)s")  # and this
logging.getLogger("edge_mining.x").info("still at info")
"""


def test_every_record_is_redacted_and_the_level_is_ours(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    log = result.stderr
    assert "S3cr3t-value" not in log
    assert "WARNING some.library: connecting with password=***" in log
    assert "RuntimeError: login failed for ***" in log  # the traceback, redacted
    assert "stack_info=True)  # *** in the stack" in log
    assert "Authorization: Bearer ***" in log and "abcdefgh12345678" not in log
    assert "hpack" not in log and "tok-12345678" not in log  # wire loggers stay quiet
    assert "INFO edge_mining.x: still at info" in log
