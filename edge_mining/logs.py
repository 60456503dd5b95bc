"""Logging for the command line: one handler, a level no library can change, quiet wire
loggers, and secrets redacted from every record.

- The handler writes ``time LEVEL logger: message`` lines to stderr and carries two filters:
  the wire policy below and ``devices.redact.SECRET_FILTER`` (every configured secret and
  every authorization header value become ``***``, in messages and exception text alike).
- The root logger's level is the one the command line (``--log-level``) or the site file
  (``log_level``) asks for. Some libraries set it when imported: pyasic calls
  ``logging.basicConfig`` and sets the root logger to WARNING, which silenced every INFO line
  (running, MQTT connected, recovery, shutdown) as soon as a BraiinsOS miner was configured.
  In the program's own process (``pin_root_level``) a library's ``setLevel`` on the root
  logger changes nothing; only ``set_level`` here does.
- Wire loggers (protocol libraries that log frames, headers and bodies at debug or info:
  hpack and h2 log gRPC headers, BraiinsOS's authorization token among them) are kept at
  WARNING, whatever the level, unless ``--log-wire`` asks for them.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from edge_mining.devices.redact import SECRET_FILTER

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("debug", "info", "warning", "error")
WIRE_LOGGERS = (
    "hpack",
    "h2",
    "grpclib",
    "httpx",
    "httpcore",
    "pymodbus",
    "asyncssh",
    "mqtt",  # paho-mqtt through aiomqtt
    "websockets",
    "urllib3",
)


def is_wire_logger(name: str) -> bool:
    return any(name == wire or name.startswith(wire + ".") for wire in WIRE_LOGGERS)


class WirePolicy(logging.Filter):
    """Drops wire loggers' records below WARNING unless wire logging was asked for. A filter
    on the handler, so that a library lowering its own logger's level changes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.wire = False

    def filter(self, record: logging.LogRecord) -> bool:
        return self.wire or record.levelno >= logging.WARNING or not is_wire_logger(record.name)


WIRE_POLICY = WirePolicy()


class _PinnedRootLogger(logging.RootLogger):
    """The root logger of the program's own process: its level is ours (see set_level)."""

    def setLevel(self, level: int | str) -> None:
        # A library configuring logging at import (pyasic) must not silence the program.
        return


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The command line's handler (a class of its own, to find it again)."""


def configure_logging(
    level: str | None, *, wire: bool = False, stream: TextIO | None = None
) -> None:
    """Set up the command line's logging: our handler on the root logger, the level, the wire
    policy and the secret filter. Like ``logging.basicConfig``, nothing changes when the root
    logger already has handlers of someone else's (a test runner's, an embedding program's)."""
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if isinstance(handler, _Handler)]
    if root.handlers and not ours:
        return
    if not ours:
        handler = _Handler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(WIRE_POLICY)
        handler.addFilter(SECRET_FILTER)
        root.addHandler(handler)
    WIRE_POLICY.wire = wire
    for name in WIRE_LOGGERS:
        # Spare the libraries the work of building records nobody will see.
        logging.getLogger(name).setLevel(logging.NOTSET if wire else logging.WARNING)
    set_level(level or "info")


def set_level(level: str) -> None:
    """The level of every logger that has none of its own: debug, info, warning or error."""
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    logging.Logger.setLevel(logging.getLogger(), level.upper())


def pin_root_level() -> None:
    """From now on, only ``set_level`` changes the root logger's level (the program's own
    process only: a test runner's logging stays the runner's)."""
    root = logging.getLogger()
    if not isinstance(root, _PinnedRootLogger):
        root.__class__ = _PinnedRootLogger
