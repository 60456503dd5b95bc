"""A small catalogue of miners, and the ``MODEL[:COUNT]`` syntax of the backtest's ``--miner``.

Nominal figures are the manufacturers' stock ratings. The power-target range is what
BraiinsOS-class firmware roughly accepts when tuning down (about 40 % of nominal); it is an
approximation, so a miner can also be given explicitly as ``<W>W@<TH>TH`` (for example
``3250W@95TH:2``), which runs on/off only, at its nominal power.

In the backtest, hashrate is taken proportional to power (constant J/TH). Tuned-down ASICs
are in fact somewhat more efficient, so partial-power revenue is slightly understated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from edge_mining.config import MinerConfig


@dataclass(frozen=True, slots=True)
class MinerModel:
    name: str
    nominal_power_w: float
    nominal_hashrate_ths: float
    min_power_w: float
    max_power_w: float
    power_target: bool = True
    price_usd: float | None = None  # indicative street price, for a CAPEX default

    @property
    def efficiency_j_per_th(self) -> float:
        return self.nominal_power_w / self.nominal_hashrate_ths


CATALOGUE: dict[str, MinerModel] = {
    model.name: model
    for model in (
        MinerModel("S9", 1323.0, 13.5, 600.0, 1323.0, price_usd=50.0),
        MinerModel("S19", 3250.0, 95.0, 1300.0, 3250.0, price_usd=600.0),
        MinerModel("S19j Pro", 3050.0, 100.0, 1220.0, 3050.0, price_usd=800.0),
        MinerModel("S21", 3500.0, 200.0, 1400.0, 3500.0, price_usd=3500.0),
        # Bitaxe-class open-source single-chip miner: a USB-C powered board, on/off only.
        MinerModel("Bitaxe", 17.0, 1.2, 17.0, 17.0, power_target=False, price_usd=150.0),
    )
}

_EXPLICIT = re.compile(r"^(?P<w>\d+(?:\.\d+)?)W@(?P<th>\d+(?:\.\d+)?)TH$", re.IGNORECASE)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_model(name: str) -> MinerModel:
    """A catalogue model by name (case, spaces and dashes ignored) or an explicit spec."""
    match = _EXPLICIT.match(name.strip())
    if match:
        watts, ths = float(match["w"]), float(match["th"])
        if watts <= 0 or ths <= 0:
            raise ValueError(f"miner {name!r}: power and hashrate must be above 0")
        return MinerModel(name.strip(), watts, ths, watts, watts, power_target=False)
    wanted = _normalise(name)
    for model in CATALOGUE.values():
        if _normalise(model.name) == wanted:
            return model
    known = ", ".join(CATALOGUE)
    raise ValueError(f"unknown miner model {name!r} (known: {known}, or e.g. 3250W@95TH)")


def parse_miner_spec(spec: str) -> tuple[MinerModel, int]:
    """``MODEL[:COUNT]`` into a model and a count."""
    model_name, sep, count_text = spec.rpartition(":")
    if not sep:
        model_name, count_text = spec, "1"
    try:
        count = int(count_text)
    except ValueError:
        raise ValueError(f"miner {spec!r}: COUNT must be a whole number") from None
    if not 1 <= count <= 1000:
        raise ValueError(f"miner {spec!r}: COUNT must be between 1 and 1000")
    return find_model(model_name), count


def miner_configs(specs: Iterable[str]) -> list[MinerConfig]:
    """Miner configurations for a list of ``MODEL[:COUNT]`` specs, named ``<model>-<n>``."""
    configs: list[MinerConfig] = []
    for spec in specs:
        model, count = parse_miner_spec(spec)
        stem = re.sub(r"[^A-Za-z0-9_-]", "", model.name.replace(" ", "-").replace("@", "-"))
        for _ in range(count):
            configs.append(
                MinerConfig(
                    name=f"{stem}-{len(configs) + 1}"[:40],
                    min_power_w=model.min_power_w,
                    max_power_w=model.max_power_w,
                    nominal_hashrate_ths=model.nominal_hashrate_ths,
                    nominal_power_w=model.nominal_power_w,
                    power_target=model.power_target,
                )
            )
    return configs
