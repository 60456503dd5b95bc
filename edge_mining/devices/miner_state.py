"""Miner status from commands plus telemetry: STARTING/STOPPING until telemetry confirms.

A command is not a state. After ``start`` a miner is STARTING until its 5 s hashrate is above
zero (BraiinsOS itself reports "mining" only then); after ``stop`` it is STOPPING until the 5 s
hashrate is back to zero. A transition that telemetry does not confirm in time becomes ERROR,
which the controller sees (``MinerStatus.is_available`` is False) until telemetry agrees with
the last command or a new command is given. Pure logic, time passed in: any driver can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_mining.model import MinerStatus


@dataclass(frozen=True, slots=True)
class Observation:
    """What one poll saw."""

    reachable: bool
    hashrate_5s_ths: float = 0.0
    # The miner's own "mining enabled" flag when the protocol tells it (None: unknown).
    mining_flag: bool | None = None

    @property
    def hashing(self) -> bool:
        return self.hashrate_5s_ths > 0.0


@dataclass(slots=True)
class _Pending:
    running: bool  # the state we are waiting for
    since: float
    implicit: bool = False  # seen on the miner, not commanded by us


class TransitionTracker:
    """Resolves each observation to a status; remembers pending transitions and failures."""

    def __init__(self, *, start_timeout_s: float = 180.0, stop_timeout_s: float = 60.0) -> None:
        if start_timeout_s <= 0 or stop_timeout_s <= 0:
            raise ValueError("transition timeouts must be above 0")
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._pending: _Pending | None = None
        self._failed: _Pending | None = None
        self._failure: str | None = None

    @property
    def pending(self) -> bool | None:
        """True/False while waiting for running/stopped; None when nothing is pending."""
        return None if self._pending is None else self._pending.running

    def command(self, running: bool, now: float) -> None:
        """A start (True) or stop (False) was accepted by the miner at ``now``."""
        self._pending = _Pending(running, now)
        self._failed = None
        self._failure = None

    def forget(self) -> None:
        """Drop pending and failed transitions (e.g. after the miner was re-detected)."""
        self._pending = self._failed = None
        self._failure = None

    def observe(self, obs: Observation, now: float) -> tuple[MinerStatus, str | None]:
        """The status for this observation, and the reason when it is ERROR."""
        if not obs.reachable:
            return MinerStatus.UNREACHABLE, None
        pending = self._pending
        if pending is None and self._failed is None and not obs.hashing and obs.mining_flag:
            # The miner says it mines but has no hashrate yet: it is warming up.
            pending = self._pending = _Pending(True, now, implicit=True)
        if pending is not None:
            return self._resolve_pending(pending, obs, now)
        if self._failed is not None:
            if self._confirms(self._failed.running, obs):
                self._failed = None
                self._failure = None
            else:
                return MinerStatus.ERROR, self._failure
        return (MinerStatus.MINING if obs.hashing else MinerStatus.PAUSED), None

    def _resolve_pending(
        self, pending: _Pending, obs: Observation, now: float
    ) -> tuple[MinerStatus, str | None]:
        if self._confirms(pending.running, obs):
            self._pending = None
            return (MinerStatus.MINING if pending.running else MinerStatus.PAUSED), None
        if pending.running and obs.mining_flag is False and pending.implicit:
            # It stopped warming up on its own: nothing to wait for any more.
            self._pending = None
            return MinerStatus.PAUSED, None
        timeout = self.start_timeout_s if pending.running else self.stop_timeout_s
        if now - pending.since > timeout:
            self._pending = None
            self._failed = pending
            what = "start mining" if pending.running else "stop mining"
            self._failure = f"did not {what} within {timeout:g} s"
            return MinerStatus.ERROR, self._failure
        return (MinerStatus.STARTING if pending.running else MinerStatus.STOPPING), None

    @staticmethod
    def _confirms(running: bool, obs: Observation) -> bool:
        if running:
            return obs.hashing
        return not obs.hashing and obs.mining_flag is not True
