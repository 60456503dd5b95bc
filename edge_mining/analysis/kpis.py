"""Key figures of one policy's trace, measured against the no-mining baseline.

Attribution of the miners' energy, step by step: the house has priority on every source. PV
serves the house first, then the miners; the battery serves what PV leaves of the house, and
only what it gives beyond that goes to the miners; the miners' rest comes from the grid.
"Battery energy used for mining" and "grid import caused by mining" are those two shares.
(Flows are taken as net per step: the plant never charges and discharges in one step, and
the oracle's trace is netted the same way.)

- ``surplus_kwh``: what the baseline (``export``: no mining) exports or curtails: the energy
  that would leave the site or be wasted. ``surplus_captured_pct`` is the part of it the
  policy no longer exports or curtails.
- ``reserve_violations``: steps in which the miners draw on the battery (the share above)
  although the SoC at the start of the step is below the reserve: a decision to mine from
  the battery made below the reserve. The same rule for every policy. Not counted: the SoC
  falling under the reserve because of the house alone (off-grid at night that is
  unavoidable and no fault of mining), miners running below the reserve on PV surplus or
  grid power, and the SoC sliding under the reserve during the step in which a policy stops.
- ``starts_per_day_per_miner``: mean over days and miners; ``max_starts_per_day``: the worst
  single miner-day. ``None`` (not applicable) for a plan of continuous power, the oracle's:
  its miners switch whenever that is worth nothing either way, which is no schedule.
- ``grid_import_for_mining_kwh`` counts import in the very step the miners draw it;
  ``extra_import_kwh`` is the import beyond the baseline's, which also counts the battery the
  miners emptied and the house then had to refill from the grid.
- ``gain_vs_export``: (mining revenue + export income - import cost) minus the same for the
  baseline: what mining earned net of the export it gave up and the import it caused.
- ``unserved_by_mining_kwh``: the house load the policy left unserved minus what the
  baseline (no mining) left unserved: load the house would have had without mining. It
  must be 0 for any policy that keeps the house first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_mining.analysis.economics import Network
from edge_mining.analysis.engine import Trace


@dataclass(frozen=True)
class Prices:
    network: Network
    export_price_per_kwh: float
    import_price_per_kwh: float
    currency: str = "USD"

    @property
    def value_per_th_s(self) -> float:
        """Currency earned by 1 TH/s during one second."""
        return self.network.btc_per_th_day * self.network.btc_price / 86400.0


@dataclass(frozen=True)
class MiningShares:
    from_pv_w: np.ndarray
    from_battery_w: np.ndarray
    from_grid_w: np.ndarray


def mining_shares(trace: Trace) -> MiningShares:
    """Per-step split of the miners' draw into PV, battery and grid (mean W)."""
    return attribute_mining(
        trace.pv_w, trace.house_w, trace.miners_w, trace.battery_in_w, trace.battery_out_w,
        trace.grid_export_w, trace.grid_import_w, trace.curtailed_w,
    )  # fmt: skip


def attribute_mining(
    pv_w: np.ndarray,
    house_w: np.ndarray,
    miners_w: np.ndarray,
    battery_in_w: np.ndarray,
    battery_out_w: np.ndarray,
    export_w: np.ndarray,
    import_w: np.ndarray,
    curtailed_w: np.ndarray,
) -> MiningShares:
    """The attribution of the module doc on plain arrays (the oracle checks its plan with
    it). The house has priority on every source: the battery feeds the miners only with
    what it gives beyond the house's unmet part."""
    pv_to_loads = np.maximum(pv_w - curtailed_w - battery_in_w - export_w, 0.0)
    from_pv = np.clip(pv_to_loads - house_w, 0.0, miners_w)
    house_left = np.maximum(house_w - pv_to_loads, 0.0)
    battery_to_miners = np.maximum(battery_out_w - house_left, 0.0)
    from_battery = np.minimum(miners_w - from_pv, battery_to_miners)
    from_grid = np.minimum(miners_w - from_pv - from_battery, import_w)
    return MiningShares(from_pv, from_battery, from_grid)


def site_value(trace: Trace, prices: Prices) -> float:
    kwh = trace.scenario.hours_per_step / 1000.0
    btc = float(trace.hashrate_ths.sum()) * trace.scenario.step_s / 86400.0
    revenue = btc * prices.network.btc_per_th_day * prices.network.btc_price
    return (
        revenue
        + float(trace.grid_export_w.sum()) * kwh * prices.export_price_per_kwh
        - float(trace.grid_import_w.sum()) * kwh * prices.import_price_per_kwh
    )


def compute_kpis(
    trace: Trace, baseline: Trace, prices: Prices, reserve_soc_pct: float
) -> dict[str, Any]:
    """Every KPI of ``trace`` as a flat, JSON-ready mapping."""
    s = trace.scenario
    kwh = s.hours_per_step / 1000.0
    days = s.days
    count = max(1, len(trace.miner_names))
    shares = mining_shares(trace)

    mined_kwh = float(trace.miners_w.sum()) * kwh
    th_days = float(trace.hashrate_ths.sum()) * s.step_s / 86400.0
    btc = th_days * prices.network.btc_per_th_day
    revenue = btc * prices.network.btc_price
    export_kwh = float(trace.grid_export_w.sum()) * kwh
    import_kwh = float(trace.grid_import_w.sum()) * kwh
    curtailed_kwh = float(trace.curtailed_w.sum()) * kwh
    base_export_kwh = float(baseline.grid_export_w.sum()) * kwh
    base_import_kwh = float(baseline.grid_import_w.sum()) * kwh
    surplus_kwh = base_export_kwh + float(baseline.curtailed_w.sum()) * kwh
    left_kwh = export_kwh + curtailed_kwh
    captured = 100.0 * (1.0 - left_kwh / surplus_kwh) if surplus_kwh > 0 else 0.0

    violating = (shares.from_battery_w > 0.5) & (trace.soc_start_pct < reserve_soc_pct - 1e-6)
    starts_total = int(trace.starts.sum())
    # A continuous-power plan (the oracle) has no schedule to count starts of.
    schedule = not trace.notes.get("continuous_power")
    running_fraction = float(trace.running.mean()) if trace.running.size else 0.0
    capacity_w = trace.fleet_max_w
    value = site_value(trace, prices)
    base_value = site_value(baseline, prices)

    return {
        "policy": trace.policy,
        "days": round(days, 3),
        "miners": len(trace.miner_names),
        "pv_kwh": round(float(trace.pv_w.sum()) * kwh, 3),
        "house_kwh": round(float(trace.house_w.sum()) * kwh, 3),
        "mined_kwh": round(mined_kwh, 3),
        "surplus_kwh": round(surplus_kwh, 3),
        "surplus_captured_pct": round(captured, 2),
        "uptime_pct": round(100.0 * running_fraction, 2),
        "effective_uptime_pct": round(
            100.0 * mined_kwh / (capacity_w / 1000.0 * days * 24.0) if capacity_w else 0.0, 2
        ),
        "hashrate_th_days": round(th_days, 3),
        "btc_mined": round(btc, 8),
        "sats_mined": round(btc * 1e8),
        "mining_revenue": round(revenue, 2),
        "export_value_of_mined_energy": round(mined_kwh * prices.export_price_per_kwh, 2),
        "revenue_per_mined_kwh": round(revenue / mined_kwh, 4) if mined_kwh else 0.0,
        "lost_export_value": _r((base_export_kwh - export_kwh) * prices.export_price_per_kwh, 2),
        "extra_import_cost": _r((import_kwh - base_import_kwh) * prices.import_price_per_kwh, 2),
        "gain_vs_export": _r(value - base_value, 2),
        "mined_from_pv_kwh": round(float(shares.from_pv_w.sum()) * kwh, 3),
        "battery_kwh_for_mining": round(float(shares.from_battery_w.sum()) * kwh, 3),
        "grid_import_for_mining_kwh": round(float(shares.from_grid_w.sum()) * kwh, 3),
        "extra_import_kwh": _r(import_kwh - base_import_kwh, 3),
        "reserve_violations": int(violating.sum()),
        "reserve_violation_hours": round(float(violating.sum()) * s.hours_per_step, 2),
        "starts": starts_total if schedule else None,
        "starts_per_day_per_miner": (
            (round(starts_total / days / count, 3) if days else 0.0) if schedule else None
        ),
        "max_starts_per_day": (
            (int(trace.starts.max()) if trace.starts.size else 0) if schedule else None
        ),
        "heat_kwh": round(mined_kwh, 3),
        "export_kwh": round(export_kwh, 3),
        "import_kwh": round(import_kwh, 3),
        "curtailed_kwh": round(curtailed_kwh, 3),
        "unserved_kwh": round(float(trace.unserved_w.sum()) * kwh, 3),
        "unserved_by_mining_kwh": _r(
            float(trace.unserved_w.sum() - baseline.unserved_w.sum()) * kwh, 3
        ),
        "min_soc_pct": round(float(trace.soc_end_pct.min()), 2),
        "max_balance_error_w": float(np.abs(trace.balance_error_w).max()),
        "elapsed_s": round(trace.elapsed_s, 3),
        "currency": prices.currency,
    }


def _r(value: float, digits: int) -> float:
    """Rounded, without a negative zero for differences that are nil up to solver noise."""
    return round(value, digits) + 0.0
