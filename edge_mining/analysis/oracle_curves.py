"""Miners as the oracle's linear program sees them: concave piecewise-linear hashrate curves.

A curve is a plain sequence of ``(power_w, hashrate_ths)`` breakpoints, increasing in power.
Its marginal hashrate per watt must not increase from one segment to the next (the curve is
concave): then the program fills a miner's segments in order by itself, and the hashrate
stays a linear function of the segment variables, so the program stays an LP.

A curve that does not start at 0 W is extended by a straight line to ``(0, 0)``: the program's
power is a mean over the step, and a miner below its lowest breakpoint is one that runs at
that breakpoint for part of the step (the same time-sharing that makes power continuous).
Without a curve a miner has the 2-point line through its nominal rating, which is the
constant J/TH of the rule-based backtest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edge_mining.config import MinerConfig

Curve = Sequence[tuple[float, float]]

# Relative slack when checking that slopes do not increase: breakpoints read from firmware or
# a catalogue are rounded.
_CONCAVITY_SLACK = 1e-9


@dataclass(frozen=True)
class MinerGroup:
    """Identical miners (same curve) pooled into one set of segment variables."""

    names: tuple[str, ...]
    max_power_w: float  # one machine: the curve's last breakpoint
    segment_w: tuple[float, ...]  # one machine's segment widths, in fill order
    segment_ths_per_w: tuple[float, ...]  # marginal hashrate per watt, non-increasing

    @property
    def count(self) -> int:
        return len(self.names)


def nominal_curve(miner: MinerConfig) -> tuple[tuple[float, float], ...]:
    """The constant-J/TH line up to the miner's maximum power."""
    ths_per_w = miner.nominal_hashrate_ths / miner.nominal_power_w
    return ((0.0, 0.0), (miner.max_power_w, miner.max_power_w * ths_per_w))


def curve_segments(curve: Curve, name: str = "miner") -> tuple[tuple[float, ...], ...]:
    """Validate a curve and return its ``(widths, slopes)`` from 0 W (see the module doc)."""
    points = [(float(p), float(h)) for p, h in curve]
    if not points:
        raise ValueError(f"{name}: a hashrate curve needs at least one breakpoint")
    if any(p < 0 or h < 0 for p, h in points):
        raise ValueError(f"{name}: curve breakpoints must not be negative")
    if points[0][0] == 0.0:
        if points[0][1] != 0.0:
            raise ValueError(f"{name}: a miner hashes nothing at 0 W (first breakpoint)")
    else:
        points.insert(0, (0.0, 0.0))
    if len(points) < 2:
        raise ValueError(f"{name}: a hashrate curve needs a breakpoint above 0 W")
    widths: list[float] = []
    slopes: list[float] = []
    for (p0, h0), (p1, h1) in zip(points, points[1:], strict=False):
        if p1 <= p0:
            raise ValueError(f"{name}: curve powers must increase ({p0:g} W then {p1:g} W)")
        if h1 < h0:
            raise ValueError(f"{name}: hashrate must not fall as power rises (at {p1:g} W)")
        slope = (h1 - h0) / (p1 - p0)
        if slopes and slope > slopes[-1] * (1 + _CONCAVITY_SLACK) + 1e-15:
            raise ValueError(
                f"{name}: the curve must be concave (hashrate per extra watt must not rise; "
                f"it does at {p0:g} W)"
            )
        widths.append(p1 - p0)
        slopes.append(min(slope, slopes[-1]) if slopes else slope)
    return tuple(widths), tuple(slopes)


def group_miners(
    miners: Sequence[MinerConfig], curves: Mapping[str, Curve] | None = None
) -> list[MinerGroup]:
    """Pool miners with the same curve (given per miner name, else the nominal line)."""
    curves = curves or {}
    unknown = set(curves) - {m.name for m in miners}
    if unknown:
        raise ValueError(f"hashrate curves for unknown miners: {', '.join(sorted(unknown))}")
    groups: dict[tuple[tuple[float, ...], ...], list[str]] = {}
    for m in miners:
        curve = curves.get(m.name)
        key = curve_segments(nominal_curve(m) if curve is None else curve, m.name)
        groups.setdefault(key, []).append(m.name)
    return [
        MinerGroup(
            names=tuple(names),
            max_power_w=float(sum(widths)),
            segment_w=widths,
            segment_ths_per_w=slopes,
        )
        for (widths, slopes), names in groups.items()
    ]
