"""The controller's public face. (Contract written first; the implementation follows.)"""

from __future__ import annotations

from collections.abc import Sequence

from edge_mining.config import ControlConfig, EconomicsConfig, HeatingConfig, MinerConfig
from edge_mining.model import Decision, Mode, Snapshot


class Controller:
    """Decides, every tick, which miner runs and how hard.

    Stateful (timers, start counts, last targets) but deterministic: the same sequence of
    snapshots gives the same decisions. Time comes only from ``Snapshot.time``.
    """

    def __init__(
        self,
        control: ControlConfig,
        miners: Sequence[MinerConfig],
        heating: HeatingConfig | None = None,
        economics: EconomicsConfig | None = None,
    ) -> None:
        self.control = control
        self.miners = list(miners)
        self.heating = heating or HeatingConfig()
        self.economics = economics or EconomicsConfig()
        self.mode = control.mode

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode

    def update_control(self, **changes: float) -> None:
        """Change thresholds/delays at run time (from MQTT numbers); validated like config."""
        self.control = ControlConfig.model_validate({**self.control.model_dump(), **changes})

    def manual(
        self, miner: str, *, running: bool | None = None, power_w: float | None = None
    ) -> None:
        """A user's explicit command: the miner goes to manual until released."""
        raise NotImplementedError

    def release(self, miner: str) -> None:
        """Hand a miner back to the controller."""
        raise NotImplementedError

    def tick(self, snapshot: Snapshot) -> Decision:
        raise NotImplementedError
