"""``edge-mining`` as a real subprocess, with its log lines collected as they come.

For the field-fault tests: signals (SIGTERM, SIGKILL, SIGSTOP/SIGCONT, Ctrl-C to the process
group), exit codes and what the log says, exactly as an operator would see them.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from edge_mining.config import SiteConfig

ROOT = Path(__file__).resolve().parents[1]


def write_site(path: Path, site: SiteConfig | dict[str, Any]) -> Path:
    """A site as the YAML file ``edge-mining run --config`` reads (secrets included)."""
    if isinstance(site, SiteConfig):
        data = site.model_dump(mode="json")
        if site.mqtt.password is not None:
            data["mqtt"]["password"] = site.mqtt.password.get_secret_value()
    else:
        data = site
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def emulate_miners(*args: str, count: int) -> tuple[list[str], int]:
    """``edge-mining emulate miner ARGS``: its first ``count`` lines, then its exit code once
    SIGTERM stopped it (killed if it does not stop)."""
    command = [sys.executable, "-m", "edge_mining.cli", "emulate", "miner", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(count)]
        proc.send_signal(signal.SIGTERM)
        return lines, proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class CliProcess:
    """One ``python -m edge_mining.cli ARGS`` process in its own process group."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> CliProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edge_mining.cli",
            *self.args,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,  # a process group of its own, as a terminal's job is
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while True:
            raw = await self.process.stdout.readline()
            if not raw:
                break
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            self._changed.set()
        self._changed.set()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_line(self, pattern: str, *, timeout: float = 60.0, after: int = 0) -> int:
        """Index of the first line (from ``after``) matching the regex ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        index = after
        while True:
            while index < len(self.lines):
                if regex.search(self.lines[index]):
                    return index
                index += 1
            if self._reader is not None and self._reader.done():
                raise AssertionError(f"exited before {pattern!r}:\n{self.output}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line {pattern!r} in {timeout} s:\n{self.output}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    def send(self, sig: signal.Signals, *, group: bool = False) -> None:
        if group:
            os.killpg(self.pid, sig)
        else:
            os.kill(self.pid, sig)

    async def wait(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout)
        return code

    async def close(self) -> None:
        """Kill whatever is left of the process group (a test that failed half-way)."""
        if self.process is None:
            return
        if self.process.returncode is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def __aenter__(self) -> CliProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
