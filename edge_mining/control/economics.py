"""The economics gate: is mining worth more than exporting the same energy?

A miner's revenue per kWh is ``hashprice_per_th_day * hashrate_ths / (power_kw * 24)``, from its
nominal hashrate and power; when its zone wants heat, the heat's value per kWh is added (the
heat replaces other heating). With ``gate_enabled`` a miner may use energy that could be
exported only when that revenue is strictly above ``export_price_per_kwh + margin_per_kwh``.
Energy that cannot be exported (off-grid sites, or PV reported curtailed) is not gated.
"""

from __future__ import annotations

from edge_mining.config import EconomicsConfig, HeatingConfig, MinerConfig


def revenue_per_kwh(miner: MinerConfig, economics: EconomicsConfig) -> float:
    power_kw = miner.nominal_power_w / 1000.0
    return economics.hashprice_per_th_day * miner.nominal_hashrate_ths / (power_kw * 24.0)


def break_even_hashprice(miner: MinerConfig, economics: EconomicsConfig) -> float:
    """The hashprice at which the miner's revenue equals export price plus margin."""
    power_kw = miner.nominal_power_w / 1000.0
    threshold = economics.export_price_per_kwh + economics.margin_per_kwh
    return threshold * power_kw * 24.0 / miner.nominal_hashrate_ths


def beats_export(
    miner: MinerConfig,
    economics: EconomicsConfig,
    heating: HeatingConfig,
    *,
    heat_wanted: bool,
) -> bool:
    """True when the miner may run on exportable energy (always when the gate is off)."""
    if not economics.gate_enabled:
        return True
    revenue = revenue_per_kwh(miner, economics)
    if heat_wanted:
        revenue += heating.heat_value_per_kwh
    return revenue > economics.export_price_per_kwh + economics.margin_per_kwh
