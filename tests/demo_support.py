"""Run ``edge-mining demo`` until its output shows what a test waits for (or a deadline).

A demo runs in wall time at a speed factor: on a loaded machine it simulates less per wall
second, so a test that stops it after a fixed duration may stop it too early. These tests
read its output as it comes and stop it (SIGTERM, a clean exit) once the condition holds.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable


def run_demo_until(
    args: list[str], done: Callable[[str], bool], *, deadline_s: float = 120.0
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a demo stopped once ``done(stdout so far)``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_mining.cli", "demo", "--duration", str(deadline_s), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    errors: list[str] = []
    readers = [
        threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True),
        threading.Thread(target=lambda: errors.extend(iter(proc.stderr.readline, "")), daemon=True),
    ]
    for reader in readers:
        reader.start()
    end = time.monotonic() + deadline_s + 30
    try:
        while proc.poll() is None and time.monotonic() < end:
            if done("".join(lines)):
                proc.send_signal(signal.SIGTERM)
                break
            time.sleep(0.2)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for reader in readers:
        reader.join(timeout=5)
    return code, "".join(lines), "".join(errors)
