"""Faults injected into an emulated device, whatever its protocol."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Faults:
    """Faults injected into an emulated miner; all can be changed while it runs."""

    unreachable: bool = False  # listeners closed: connections are refused
    slow_s: float = 0.0  # every reply delayed this many wall seconds
    auth: bool = False  # logins fail and every issued token is rejected
    refuse_target: bool = False  # power target changes are refused

    @classmethod
    def parse(cls, text: str) -> Faults:
        """``"unreachable,slow=2.5,auth,refuse_target"`` (empty: no fault)."""
        faults = cls()
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            if name == "unreachable":
                faults.unreachable = True
            elif name == "slow":
                faults.slow_s = float(value or "5")
            elif name == "auth":
                faults.auth = True
            elif name == "refuse_target":
                faults.refuse_target = True
            else:
                raise ValueError(
                    f"unknown fault {name!r}; known: unreachable, slow=S, auth, refuse_target"
                )
        return faults
