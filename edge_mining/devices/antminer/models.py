"""Antminers on Bitmain's stock firmware: the models emulated and their work modes.

Stock firmware has two ways in: the cgminer API (bmminer) on 4028, read-only, and the web
interface's CGI scripts on 80 behind HTTP Digest authentication (realm "antMiner
Configuration", root/root out of the box): ``get_system_info``, ``get_miner_conf``,
``set_miner_conf``, ``summary``, ``stats``, ``get_blink_status``, ``reboot``. The work mode is
``bitmain-work-mode`` in the configuration (``miner-mode`` when setting it): 0 normal, 1 sleep
(hashboards off, the control board on the network), 3 low power where the model has it.
Applying a new configuration restarts the mining process, so a mode change warms up and ramps
again.

Stock S19-generation firmware measures no power: the driver reports the work mode's rated
draw (an estimate, said so in the probe) while hashing and the sleep draw otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_mining.devices.emulation.bitmain import BitmainHardware
from edge_mining.devices.model_table import FirmwareLevel, by_key, find

SLEEP_MODE = 1
WorkMode = FirmwareLevel  # its value is bitmain-work-mode / miner-mode


@dataclass(frozen=True, slots=True)
class StockModel:
    key: str  # --model name
    hardware: BitmainHardware
    modes: tuple[WorkMode, ...]  # hashing modes, lowest power first
    sleep_w: float
    firmware: str  # CompileTime-style firmware date

    def mode(self, value: int) -> WorkMode | None:
        for mode in self.modes:
            if mode.value == value:
                return mode
        return None

    def mode_named(self, name: str) -> WorkMode | None:
        for mode in self.modes:
            if mode.name == name.strip().lower():
                return mode
        return None

    @property
    def normal(self) -> WorkMode:
        mode = self.mode(0)
        assert mode is not None
        return mode


MODELS: dict[str, StockModel] = by_key(
    StockModel(
        key="Antminer S19j Pro (stock)",
        hardware=BitmainHardware("Antminer S19j Pro", 3, 126, 4, 104.0, 3068.0, 525.0),
        modes=(
            WorkMode("low", 3, 2400.0, 85.0),
            WorkMode("normal", 0, 3068.0, 104.0),
        ),
        sleep_w=20.0,
        firmware="Mon Nov 20 10:46:09 CST 2023",
    ),
    StockModel(
        key="Antminer S21 (stock)",
        hardware=BitmainHardware("Antminer S21", 3, 108, 4, 200.0, 3500.0, 490.0),
        modes=(
            WorkMode("low", 3, 2800.0, 170.0),
            WorkMode("normal", 0, 3500.0, 200.0),
        ),
        sleep_w=20.0,
        firmware="Fri Mar 29 17:21:34 CST 2024",
    ),
)


def find_model(name: str) -> StockModel:
    return find(MODELS, name, what="stock Antminer model")


def model_for_type(miner_type: str | None) -> StockModel | None:
    """The model whose controller says ``Type`` (or ``minertype``) ``miner_type``."""
    for model in MODELS.values():
        if miner_type and miner_type.strip().lower() == model.hardware.type.lower():
            return model
    return None
