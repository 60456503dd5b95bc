"""The controller's memory on disk, in ``state_dir``: its protections
(``controller_memory.json``) and the house-load profile the planner learned
(``house_load.json``).

Written atomically like the counters file (``state_files``), so a crash mid-write leaves the
previous version. A file that cannot be read or that the controller rejects is logged once,
moved aside (never deleted), and the daemon starts clean: a bad file never blocks startup.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from edge_mining.control import Controller
from edge_mining.state_files import move_aside, write_json_atomic

log = logging.getLogger(__name__)

MEMORY_FILE = "controller_memory.json"
LOAD_PROFILE_FILE = "house_load.json"


class JsonStateFile:
    """One JSON document the controller restores from and saves to."""

    what = "state"

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> object | None:
        """The parsed document, or None when there is none. Raises ValueError if unreadable."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError as error:
            raise ValueError(f"not UTF-8 text ({error.reason})") from None
        return json.loads(text)  # JSONDecodeError is a ValueError

    def _restore(self, load: Callable[[dict[str, object]], None]) -> bool:
        try:
            data = self.read()
            if data is None:
                return False
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            load(data)
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
                "%s %s is unreadable (%s) and could not be moved aside (%s): starting without it",
                self.what,
                self.path,
                error,
                move_error,
            )
            return
        log.warning(
            "%s %s is unreadable (%s): moved to %s, starting without it",
            self.what,
            self.path,
            error,
            aside,
        )


class ControllerMemoryFile(JsonStateFile):
    what = "controller memory"

    def __init__(self, directory: Path) -> None:
        super().__init__(Path(directory) / MEMORY_FILE)

    def restore(self, controller: Controller, now: float) -> bool:
        """Load the file into ``controller``; True if something was restored."""
        return self._restore(lambda data: controller.import_memory(data, now))


class LoadProfileFile(JsonStateFile):
    what = "house-load profile"

    def __init__(self, directory: Path) -> None:
        super().__init__(Path(directory) / LOAD_PROFILE_FILE)

    def restore(self, controller: Controller, now: float) -> bool:
        """Load the learned profile into ``controller``'s planner; True if restored."""
        return self._restore(lambda data: controller.restore_load_profile(data, now))
