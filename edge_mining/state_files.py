"""The daemon's small state files in ``state_dir`` (counters, controller memory, ...).

Written atomically (a temporary file in the same directory, fsync, then ``os.replace``), so a
crash mid-write leaves the previous version intact. A file found unreadable is moved aside,
never deleted, so nothing a user might want to recover is lost.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path


def write_json_atomic(path: Path, data: object, *, indent: int | None = 1) -> None:
    """``indent=None`` writes compact JSON (large files such as the panel's history)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    separators = (",", ":") if indent is None else None
    payload = json.dumps(data, indent=indent, sort_keys=True, separators=separators)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def move_aside(path: Path) -> Path:
    """Rename an unreadable file to ``<name>.corrupt-<epoch>``; returns the new path."""
    aside = path.with_name(f"{path.name}.corrupt-{int(datetime.now().timestamp())}")
    os.replace(path, aside)
    return aside
