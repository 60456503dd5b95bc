"""Tables of the hardware models a family knows (its driver reads them, its emulator answers as
them), and the power setting most firmwares store as a number.

A table is keyed by the model's upper-cased name; :func:`find` looks a name up the way every
``--model`` option does (case and spacing ignored, the family's name optional in front).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from edge_mining.model import PowerLevel


class Named(Protocol):
    @property
    def key(self) -> str: ...


M = TypeVar("M", bound=Named)


def by_key(*models: M) -> dict[str, M]:
    """``models`` by their upper-cased ``key``."""
    return {model.key.upper(): model for model in models}


def find(table: Mapping[str, M], name: str, *, what: str, prefix: str = "") -> M:
    """The model called ``name`` (or ``prefix`` and ``name``: "Q" is "Avalon Q"); a ValueError
    naming ``what`` and the known models otherwise."""
    key = " ".join(name.strip().upper().split())
    for candidate in (key, f"{prefix} {key}" if prefix else key):
        if candidate in table:
            return table[candidate]
    known = ", ".join(model.key for model in table.values())
    raise ValueError(f"unknown {what} {name!r}; known: {known}")


@dataclass(frozen=True, slots=True)
class FirmwareLevel:
    """A power setting as the firmware names and stores it, and what the model draws and
    hashes there."""

    name: str
    value: int  # what the firmware's field holds (Avalon WORKMODE/WORKLEVEL, bitmain-work-mode)
    power_w: float
    hashrate_ths: float

    @property
    def level(self) -> PowerLevel:
        return PowerLevel(self.name, self.power_w, self.hashrate_ths)
