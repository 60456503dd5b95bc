"""A private Mosquitto broker on loopback, for ``edge-mining demo --mqtt embedded`` and tests.

It runs the system ``mosquitto`` binary (Debian/Ubuntu: ``apt install mosquitto``) with a
temporary configuration: one listener on 127.0.0.1, a free port, no persistence, optionally a
password file (written with ``mosquitto_passwd``) and TLS. Nothing is installed at run time.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from edge_mining.address import parse_host_port

LOOPBACK = "127.0.0.1"
_SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin", "/usr/bin")


class BrokerUnavailable(RuntimeError):
    """Mosquitto is not installed, or did not start."""


def find_mosquitto() -> str | None:
    """Path of the ``mosquitto`` binary, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for directory in _SEARCH_PATH:
        candidate = Path(directory) / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """PEM files for a TLS listener. ``require_certificate``: clients must present one."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False


class EmbeddedBroker:
    """Start/stop/restart one Mosquitto process; the port stays the same across restarts."""

    def __init__(
        self,
        *,
        host: str = LOOPBACK,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: BrokerTls | None = None,
        binary: str | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.username = username
        self._password = password
        self.tls = tls
        self.binary = binary or find_mosquitto()
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (tests freeze it with SIGSTOP)."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def log_path(self) -> Path | None:
        return Path(self._dir.name) / "mosquitto.log" if self._dir else None

    def _write_config(self, directory: Path) -> Path:
        lines = [
            f"listener {self.port} {self.host}",
            "persistence false",
            # Small messages go out at once (no Nagle delay against delayed ACKs).
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            # Started as root, mosquitto drops to user "mosquitto", who cannot read our temp dir.
            lines.append("user root")
        if self.username is not None:
            passwords = directory / "passwords"
            passwords.touch(mode=0o600)
            passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
            subprocess.run(
                [passwd, "-b", str(passwords), self.username, self._password or ""],
                check=True,
                capture_output=True,
                timeout=10,
            )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca_file}",
                f"certfile {self.tls.cert_file}",
                f"keyfile {self.tls.key_file}",
                f"require_certificate {'true' if self.tls.require_certificate else 'false'}",
            ]
        config = directory / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return config

    def start(self, timeout_s: float = 10.0) -> None:
        if self.binary is None:
            raise BrokerUnavailable(
                "mosquitto is not installed (Debian/Ubuntu: sudo apt install mosquitto)"
            )
        if self.running:
            return
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="edge-mining-mosquitto-")
        directory = Path(self._dir.name)
        config = self._write_config(directory)
        log = open(directory / "mosquitto.log", "ab")  # the child keeps its own copy
        try:
            self._process = subprocess.Popen(
                [self.binary, "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Its own session: Ctrl-C in a terminal signals the whole foreground process
                # group, and a broker that died with the demo left the bridge's final publish
                # waiting. Whoever started the broker stops it, after the bridge.
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerUnavailable(f"mosquitto exited: {self._tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise BrokerUnavailable(f"mosquitto did not listen on {self.host}:{self.port}")

    def _tail(self) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return "(no log)"
        return path.read_text(encoding="utf-8", errors="replace").strip()[-500:] or "(empty log)"

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout_s)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EmbeddedBroker({self.host}:{self.port}, running={self.running})"


def parse_broker_address(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` (port 1883 when omitted; ``[v6]:PORT`` for IPv6). ValueError if bad."""
    return parse_host_port(text, 1883, what="broker address")
