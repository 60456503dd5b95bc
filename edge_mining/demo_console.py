"""The demo's console: a live view on a terminal, plain lines (at most 80 columns) otherwise.

Both views read the daemon's :class:`~edge_mining.service.SiteState` after every tick, print
every command the controller sends with its reason, and show every number with its unit.
Sign conventions follow ``model.py``: battery power > 0 charging, grid power > 0 importing.

- :class:`PlainConsole`: one status block per simulated minute (at most two per wall second),
  each line wrapped at 80 columns between items, never inside a miner's name; a new plan is
  shown once, with the next block, and the planner starting to plan or falling back to the
  rules is a line of its own, like a command.
- :class:`LiveConsole`: ``rich`` redraws a table of the plant and one of the miners in place,
  the controller's summary and the latest plan, with the decision log scrolling below them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from edge_mining.model import Command, Decision, MinerState, MinerStatus
from edge_mining.service.banner import PlannerWatch

WIDTH = 80
LINE_EVERY_SIM_S = 60.0
LINE_EVERY_WALL_S = 0.5
LIVE_REFRESH_S = 0.25
INDENT = " " * 9  # under the "HH:MM:SS " stamp
LEGEND = "battery + charging / - discharging; grid + import / - export"


def stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def kw(watts: float | None) -> str:
    return "? kW" if watts is None else f"{watts / 1000:.2f} kW"


def battery_text(soc_pct: float | None, power_w: float | None) -> str:
    soc = "?" if soc_pct is None else f"{soc_pct:.0f}%"
    if power_w is None:
        return soc
    return f"{soc} {'+' if power_w >= 0 else '-'}{abs(power_w) / 1000:.2f} kW"


def grid_text(power_w: float | None) -> str:
    if power_w is None:
        return "?"
    return f"{'+' if power_w >= 0 else '-'}{abs(power_w) / 1000:.2f} kW"


def miner_text(name: str, state: MinerState) -> str:
    if state.status in (MinerStatus.MINING, MinerStatus.STARTING, MinerStatus.STOPPING):
        return f"{name} {state.status.value} {kw(state.power_w)}"
    return f"{name} {state.status.value}"


def command_reason(command: Command) -> str:
    """The reason without the action it repeats ("start: surplus for 60 s" -> "surplus ...")."""
    prefix = f"{command.action.value}: "
    return command.reason.removeprefix(prefix)


def command_text(command: Command) -> str:
    target = f" {command.power_w:.0f} W" if command.power_w is not None else ""
    return f"{command.miner}: {command.action.value}{target} ({command_reason(command)})"


def wrap(items: Iterable[str], first: str, rest: str = INDENT, sep: str = ", ") -> list[str]:
    """``items`` joined by ``sep`` in lines of at most WIDTH columns; a line breaks only
    between items (an item longer than a line stands alone)."""
    lines: list[str] = []
    current = first
    fresh = True
    for item in items:
        piece = item if fresh else sep + item
        if not fresh and len(current + piece.rstrip()) > WIDTH:
            lines.append(current.rstrip())
            current, piece = rest, item
        current += piece
        fresh = False
    lines.append(current.rstrip())
    return lines


def words(text: str) -> list[str]:
    return text.split(" ")


def header_lines(
    site_name: str, miners: int, speed: float, begin: float, duration: float | None
) -> list[str]:
    start = datetime.fromtimestamp(begin, UTC)
    minutes = speed / 60.0
    pace = f"1 s = {minutes:g} simulated min" if minutes >= 1 else f"{speed:g}x"
    until = f"for {duration:g} s" if duration else "Ctrl-C to stop"
    return [
        *wrap(words(f"Edge Mining demo: {site_name}, {miners} miner(s)"), "", "  ", " "),
        *wrap(
            words(f"simulated from {start:%Y-%m-%d %H:%M} UTC at {speed:g}x ({pace}), {until}"),
            "",
            "  ",
            " ",
        ),
    ]


def status_lines(state: Any) -> list[str]:
    """One status block: energy, miners, decision, each wrapped at 80 columns."""
    head = f"{stamp(state.time)} "
    e = state.energy
    if e is None or state.energy_stale:
        energy = ["energy data STALE"]
    else:
        energy = [
            f"PV {kw(e.total_pv_power_w)}",
            f"house {kw(e.load_power_w)}",
            f"battery {battery_text(e.battery_soc_pct, e.battery_power_w)}",
        ]
        if e.grid_power_w is not None:
            energy.append(f"grid {grid_text(e.grid_power_w)}")
    lines = wrap(energy, head, sep=" | ")
    rooms = [f"{zone} {celsius:.1f} °C" for zone, celsius in state.room_temperatures_c.items()]
    lines += wrap([miner_text(n, m) for n, m in state.miners.items()] + rooms, INDENT)
    decision: Decision | None = state.decision
    reason = decision.reason if decision else "no decision yet"
    if state.mode.value and not reason.startswith(f"{state.mode.value}:"):
        reason = f"{state.mode.value}: {reason}"
    lines += wrap(words(reason), INDENT, sep=" ")
    return lines


def plan_text(plan: Any) -> str | None:
    """The planner's latest plan in one sentence (None without one): when it was made, the
    mining it plans over the next 24 h and now, the SoC it expects at the lowest, the reserve."""
    if not isinstance(plan, Mapping) or not plan.get("steps"):
        return None
    steps = plan["steps"]
    mined_kwh = sum(s["mining_w"] * (s["end"] - s["start"]) for s in steps) / 3.6e6
    lowest = min(steps, key=lambda s: s["soc_pct"])
    day = " tomorrow" if lowest["end"] // 86400 > plan["created"] // 86400 else ""
    return (
        f"plan of {stamp(plan['created'])[:5]}: mining {mined_kwh:.1f} kWh in the next 24 h, "
        f"{kw(plan['mining_w'])} now; battery lowest {lowest['soc_pct']:.0f}% at "
        f"{stamp(lowest['end'])[:5]}{day}, reserve {plan['reserve_soc_pct']:.0f}%"
    )


def summary_line(state: Any, sim_hours: float, commands: int, currency: str) -> list[str]:
    c = state.counters
    return wrap(
        words(
            f"demo ended after {sim_hours:.1f} simulated hours: PV {c.pv_kwh:.1f} kWh, "
            f"mined {c.mined_kwh:.2f} kWh, estimated earnings {c.earnings:.4f} {currency}, "
            f"{commands} command(s)"
        ),
        "",
        "  ",
        " ",
    )


class PlainConsole:
    """Plain lines: a status block per simulated minute (at most two per wall second), plus
    every command the controller sends, with its reason."""

    def __init__(self, out: TextIO | None = None, *, currency: str = "EUR") -> None:
        # Looked up now, not at import: pytest's capsys and redirect_stdout replace sys.stdout.
        self.out = out if out is not None else sys.stdout
        self.currency = currency
        self.lines = 0
        self.commands = 0
        self._last_sim: float | None = None
        self._last_wall = 0.0
        self._last_decision: Decision | None = None
        self._planner = PlannerWatch()
        self._plan_shown: object = None
        self.daemon: Any = None
        self.reader_gone = False

    def attach(self, daemon: Any) -> None:
        self.daemon = daemon
        daemon.add_listener(self.on_state)

    def _print(self, lines: Iterable[str]) -> None:
        if self.reader_gone:
            return
        try:
            for line in lines:
                print(line, file=self.out, flush=True)
        except BrokenPipeError:
            # The reader left (``edge-mining demo | head``): stop printing, quietly.
            self.reader_gone = True
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.out.fileno())

    def header(self, lines: list[str], notes: Iterable[str] = ()) -> None:
        """The title lines, what the demo assumed (``notes``) and the sign conventions."""
        self._print(lines)
        for text in notes:
            self._print(wrap(words(text), "", "  ", " "))
        self._print([LEGEND])

    def on_state(self, state: Any) -> None:
        decision: Decision | None = state.decision
        if decision is not None and decision is not self._last_decision:
            self._last_decision = decision
            for command in decision.commands:
                self.commands += 1
                self._print(wrap(words(command_text(command)), f"{stamp(state.time)} >> ", sep=" "))
        change = self._planner.change(getattr(state, "plan", None))
        if change is not None:
            self._print(wrap(words(change[1]), f"{stamp(state.time)} >> ", sep=" "))
        wall = time.monotonic()
        if self._last_sim is not None and (
            state.time - self._last_sim < LINE_EVERY_SIM_S
            or wall - self._last_wall < LINE_EVERY_WALL_S
        ):
            return
        self._last_sim = state.time
        self._last_wall = wall
        self.lines += 1
        lines = status_lines(state)
        plan = getattr(state, "plan", None)
        created = plan.get("created") if isinstance(plan, Mapping) else None
        text = plan_text(plan)
        if text is not None and created != self._plan_shown:
            # A new plan: shown once, with the status block that follows it.
            self._plan_shown = created
            lines += wrap(words(text), INDENT, sep=" ")
        self._print(lines)

    def close(self) -> None:
        return None

    def summary(self, state: Any, sim_hours: float) -> None:
        self._print(summary_line(state, sim_hours, self.commands, self.currency))


class LiveConsole(PlainConsole):
    """A ``rich`` live view: the plant and the miners in tables redrawn in place, the decision
    log (every command with its reason) scrolling below."""

    def __init__(self, out: TextIO | None = None, *, currency: str = "EUR") -> None:
        super().__init__(out, currency=currency)
        from rich.console import Console as RichConsole
        from rich.live import Live

        self.rich = RichConsole(file=self.out)
        self.log: deque[str] = deque(maxlen=200)
        self._title = "Edge Mining demo"
        self._state: Any = None
        self._last_draw = 0.0
        self.live = Live(self._render(), console=self.rich, auto_refresh=False, transient=False)
        self.live.start()

    def header(self, lines: list[str], notes: Iterable[str] = ()) -> None:
        self._title = "\n".join([*(line.strip() for line in lines), *notes])
        self.live.update(self._render(), refresh=True)

    def on_state(self, state: Any) -> None:
        self._state = state
        decision: Decision | None = state.decision
        if decision is not None and decision is not self._last_decision:
            self._last_decision = decision
            for command in decision.commands:
                self.commands += 1
                self.log.append(f"{stamp(state.time)}  {command_text(command)}")
        change = self._planner.change(getattr(state, "plan", None))
        if change is not None:
            self.log.append(f"{stamp(state.time)}  {change[1]}")
        wall = time.monotonic()
        if wall - self._last_draw >= LIVE_REFRESH_S:
            self._last_draw = wall
            self.lines += 1
            self.live.update(self._render(), refresh=True)

    def close(self) -> None:
        if self._state is not None:
            self.live.update(self._render(), refresh=True)
        self.live.stop()

    def summary(self, state: Any, sim_hours: float) -> None:
        for line in summary_line(state, sim_hours, self.commands, self.currency):
            self.rich.print(line, markup=False, highlight=False)

    # ------------------------------------------------------------------------ drawing

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        state = self._state
        parts: list[Any] = [Text(self._title, style="bold")]
        if state is None:
            parts.append(Text("waiting for the first reading..."))
            return Group(*parts)
        plant = Table(
            title=f"Plant at {stamp(state.time)} UTC (simulated time)",
            title_justify="left",
            expand=True,
        )
        for column in ("PV", "house", "battery", "grid", "mined today"):
            plant.add_column(column, justify="right")
        e = state.energy
        c = state.counters
        mined = f"{c.mined_today_kwh:.2f} kWh, {c.earnings_today:.4f} {self.currency}"
        if e is None or state.energy_stale:
            plant.add_row("STALE", "-", "-", "-", mined)
        else:
            plant.add_row(
                kw(e.total_pv_power_w),
                kw(e.load_power_w),
                battery_text(e.battery_soc_pct, e.battery_power_w),
                grid_text(e.grid_power_w),
                mined,
            )
        miners = Table(expand=True)
        miners.add_column("miner")
        miners.add_column("state")
        miners.add_column("power", justify="right")
        miners.add_column("target", justify="right")
        miners.add_column("hashrate", justify="right")
        miners.add_column("temp.", justify="right")
        for name, m in state.miners.items():
            miners.add_row(
                name,
                m.status.value + (" (manual)" if name in state.manual_miners else ""),
                kw(m.power_w),
                "-" if m.power_target_w is None else f"{m.power_target_w:.0f} W",
                "-" if m.hashrate_ths is None else f"{m.hashrate_ths:.1f} TH/s",
                "-" if m.temperature_c is None else f"{m.temperature_c:.0f} °C",
            )
        decision: Decision | None = state.decision
        reason = decision.reason if decision else "no decision yet"
        plan = plan_text(getattr(state, "plan", None))
        parts += [
            plant,
            miners,
            Text(f"controller {state.mode.value}: " + reason.removeprefix(f"{state.mode.value}: ")),
            *([Text(plan)] if plan else []),
            Text(LEGEND, style="dim"),
            Text("decisions:", style="bold"),
        ]
        title_lines = sum(
            1 + len(line) // max(20, self.rich.size.width) for line in self._title.split("\n")
        )
        used = title_lines + 6 + 4 + max(1, len(state.miners)) + 4 + (2 if plan else 0)
        room = max(3, self.rich.size.height - used)
        parts += [Text(line, overflow="fold") for line in list(self.log)[-room:]]
        return Group(*parts)
