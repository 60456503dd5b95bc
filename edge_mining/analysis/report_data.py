"""What the backtest report shows, computed from the traces (pure numpy, JSON-ready).

- ``policies``: net gain versus exporting (the decision a user makes), with its parts;
- ``monthly``: per policy and month, mined from PV, mined from battery, exported, curtailed and
  imported energy (kWh);
- ``typical``: a typical summer and winter day (the three months with the most and the least
  PV; hour-of-day means of PV, house and each policy's miners' power);
- ``cumulative``: each policy's net gain versus exporting, summed day by day.

Times are the scenario's local time written as UTC epoch seconds (``utc_offset_s`` added), so
the page shows the site's clock whatever the reader's time zone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from edge_mining.analysis.engine import Trace
from edge_mining.analysis.kpis import Prices, mining_shares

FLOWS = ("from_pv", "from_battery", "exported", "curtailed", "imported")


def _round(values: np.ndarray, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]


def step_value(trace: Trace, prices: Prices) -> np.ndarray:
    """Mining revenue + export income - import cost of each step (currency)."""
    kwh = trace.scenario.hours_per_step / 1000.0
    return (
        trace.hashrate_ths * trace.scenario.step_s * prices.value_per_th_s
        + trace.grid_export_w * kwh * prices.export_price_per_kwh
        - trace.grid_import_w * kwh * prices.import_price_per_kwh
    )


def _local_times(trace: Trace) -> np.ndarray:
    s = trace.scenario
    return s.start + s.utc_offset_s + np.arange(s.steps) * s.step_s


def _month_keys(times: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Month index of each step, and each month's first moment (local, as UTC epoch)."""
    keys = np.array(
        [d.year * 12 + d.month - 1 for d in (datetime.fromtimestamp(t, UTC) for t in times)]
    )
    months = sorted(set(keys.tolist()))
    index = np.searchsorted(np.array(months), keys)
    starts = [datetime(m // 12, m % 12 + 1, 1, tzinfo=UTC).timestamp() for m in months]
    return index, starts


def _daily(values: np.ndarray, per_day: int) -> np.ndarray:
    days = math.ceil(len(values) / per_day)
    padded = np.zeros(days * per_day)
    padded[: len(values)] = values
    return padded.reshape(days, per_day).sum(axis=1)


def report_data(
    traces: Mapping[str, Trace],
    kpis: Mapping[str, Mapping[str, Any]],
    prices: Prices,
    baseline: Trace,
    colours: Mapping[str, str],
) -> dict[str, Any]:
    first = next(iter(traces.values()))
    s = first.scenario
    kwh = s.hours_per_step / 1000.0
    per_day = max(1, round(86400.0 / s.step_s))
    times = _local_times(first)
    month_index, month_starts = _month_keys(times)
    months = len(month_starts)

    def per_month(values_w: np.ndarray) -> list[float]:
        return _round(np.bincount(month_index, weights=values_w * kwh, minlength=months), 1)

    base_value = step_value(baseline, prices)
    day_starts = [float(times[0]) + d * 86400.0 for d in range(math.ceil(s.steps / per_day))]
    policies: list[dict[str, Any]] = []
    monthly: dict[str, dict[str, list[float]]] = {}
    cumulative: dict[str, list[float]] = {}
    for name, trace in traces.items():
        row = kpis[name]
        policies.append(
            {
                "name": name,
                "colour": colours.get(name, "#495057"),
                "gain": row.get("gain_vs_export"),
                "revenue": row.get("mining_revenue"),
                "lost_export": row.get("lost_export_value"),
                "extra_import_cost": row.get("extra_import_cost"),
                "mined_kwh": row.get("mined_kwh"),
                "battery_kwh": row.get("battery_kwh_for_mining"),
                "unserved_kwh": row.get("unserved_kwh"),
            }
        )
        shares = mining_shares(trace)
        monthly[name] = {
            "from_pv": per_month(shares.from_pv_w),
            "from_battery": per_month(shares.from_battery_w),
            "exported": per_month(trace.grid_export_w),
            "curtailed": per_month(trace.curtailed_w),
            "imported": per_month(trace.grid_import_w),
        }
        gain = _daily(step_value(trace, prices) - base_value, per_day)
        cumulative[name] = _round(np.cumsum(gain), 2)
    return {
        "currency": prices.currency,
        "days": round(s.days, 2),
        "policies": policies,
        "months": month_starts,
        "monthly": monthly,
        "day_starts": day_starts,
        "cumulative": cumulative,
        "typical": _typical_days(traces, month_index, month_starts, per_day),
    }


def _typical_days(
    traces: Mapping[str, Trace],
    month_index: np.ndarray,
    month_starts: Sequence[float],
    per_day: int,
) -> list[dict[str, Any]]:
    """Hour-of-day means over the three sunniest and the three darkest months."""
    first = next(iter(traces.values()))
    s = first.scenario
    months = len(month_starts)
    pv_per_month = np.bincount(month_index, weights=first.pv_w, minlength=months)
    order = np.argsort(pv_per_month)
    count = min(3, max(1, months // 2))
    # Over a year the sunniest months are summer (in either hemisphere); over a shorter period
    # they are only the sunnier part of it, and a "winter" in July would mislead.
    year = months >= 12
    seasons = [("Typical summer day" if year else "Sunniest month", order[::-1][:count])]
    if months > 1:
        seasons.append(("Typical winter day" if year else "Darkest month", order[:count]))
    slot = (np.arange(s.steps) % per_day).astype(int)
    hours = [round(i * s.step_s / 3600.0, 3) for i in range(per_day)]
    result = []
    for title, chosen in seasons:
        mask = np.isin(month_index, chosen)
        if not mask.any():
            continue

        def profile(values: np.ndarray, mask: np.ndarray = mask) -> list[float]:
            sums = np.bincount(slot[mask], weights=values[mask], minlength=per_day)
            counts = np.bincount(slot[mask], minlength=per_day)
            return _round(sums / np.maximum(counts, 1), 0)

        names = [
            datetime.fromtimestamp(month_starts[i], UTC).strftime("%b") for i in sorted(chosen)
        ]
        result.append(
            {
                "title": title,
                "months": [
                    datetime.fromtimestamp(month_starts[i], UTC).strftime("%B")
                    for i in sorted(chosen)
                ],
                "label": ", ".join(names),
                "hours": hours,
                "pv": profile(first.pv_w),
                "house": profile(first.house_w),
                "miners": {name: profile(trace.miners_w) for name, trace in traces.items()},
                "soc": {name: profile(trace.soc_end_pct) for name, trace in traces.items()},
            }
        )
    return result
