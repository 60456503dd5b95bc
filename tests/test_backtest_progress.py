"""The backtest's progress bars: on a real terminal (a pseudo-terminal), never otherwise."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time

from edge_mining.analysis.weather import pvlib_sample

ARGS = [
    sys.executable, "-m", "edge_mining.cli", "backtest", "--weather", str(pvlib_sample()),
    "--policies", "export,oracle", "--step-min", "15", "--start-day", "170", "--days", "2",
]  # fmt: skip


def run_on_terminal(args: list[str]) -> tuple[str, str]:
    """Run with stderr on a pseudo-terminal and stdout on a pipe; return both."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the follower side closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0
    return out.decode(), b"".join(chunks).decode(errors="replace")


def test_a_terminal_gets_a_bar_per_policy_and_the_oracle_counts_windows():
    out, terminal = run_on_terminal(ARGS)
    assert "export" in terminal and "oracle (windows)" in terminal
    assert "windows" in terminal.split("oracle (windows)")[-1]
    assert "━" in terminal  # rich's bar
    assert "mined energy, kWh" in out  # the table still goes to stdout, bar-free
    assert "━" not in out


def test_json_on_a_terminal_and_piped_output_get_no_bar():
    out, terminal = run_on_terminal([*ARGS, "--json"])
    assert [row["policy"] for row in json.loads(out)] == ["export", "oracle"]
    assert "━" not in terminal and "oracle (windows)" not in terminal
    piped = subprocess.run(ARGS, capture_output=True, text=True, timeout=90, check=True)
    assert "━" not in piped.stderr and "oracle (windows)" not in piped.stderr
