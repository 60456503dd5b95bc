"""The controller's protections on disk (``controller_memory.json`` in ``state_dir``).

Written atomically like the counters file (``state_files``), so a crash mid-write leaves the
previous version. A file that cannot be read or that the controller rejects is logged once,
moved aside (never deleted), and the daemon starts clean: a bad file never blocks startup.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from edge_mining.control import Controller
from edge_mining.state_files import move_aside, write_json_atomic

log = logging.getLogger(__name__)

MEMORY_FILE = "controller_memory.json"


class ControllerMemoryFile:
    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / MEMORY_FILE

    def read(self) -> object | None:
        """The parsed document, or None when there is none. Raises ValueError if unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError as error:
            raise ValueError(f"not UTF-8 text ({error.reason})") from None
        return json.loads(text)  # JSONDecodeError is a ValueError

    def restore(self, controller: Controller, now: float) -> bool:
        """Load the file into ``controller``; True if something was restored."""
        try:
            data = self.read()
            if data is None:
                return False
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            controller.import_memory(data, now)
        except (OSError, ValueError) as error:
            self._move_aside(error)
            return False
        return True

    def save(self, data: dict[str, object]) -> None:
        write_json_atomic(self.path, data)

    def _move_aside(self, error: Exception) -> None:
        try:
            aside = move_aside(self.path)
        except OSError as move_error:
            log.warning(
                "controller memory %s is unreadable (%s) and could not be moved aside (%s): "
                "starting without it",
                self.path,
                error,
                move_error,
            )
            return
        log.warning(
            "controller memory %s is unreadable (%s): moved to %s, starting without it",
            self.path,
            error,
            aside,
        )
