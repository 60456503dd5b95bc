"""The controller's protections on disk (``controller_memory.json`` in ``state_dir``).

Written like the counters file (temporary file in the same directory, fsync, ``os.replace``),
so a crash mid-write leaves the previous version. A file that cannot be read or that the
controller rejects is logged once, moved aside (never deleted), and the daemon starts clean:
a bad file never blocks startup.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path

from edge_mining.control import Controller

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(data, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _move_aside(self, error: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(datetime.now().timestamp())}")
        try:
            os.replace(self.path, aside)
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
