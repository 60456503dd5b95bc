"""The controller: pure and synchronous, time passed in, no I/O, no asyncio.

It never imports from devices/, mqtt/ or service/. One module per job; each states the rules
it implements (the installer-facing documentation of the controller's behaviour):

- ``surplus``: the site's energy balance (grid-tied, off-grid, hidden surplus and probing).
- ``battery``: stop SoC from tomorrow's forecast, start SoC priority, allowance, hard floor.
- ``timers``: conditions held for a delay (reset when broken), starts per local day.
- ``following``: power targets in bounded, rate-limited steps (fast cuts, slow raises).
- ``allocation``: priority fill with hysteresis, delays, minimum on/off times.
- ``heating``: zone thermostats with hysteresis and the budget heat may spend.
- ``economics``: mining revenue per kWh against the export price (the gate).
- ``memory`` / ``commands``: per-miner state, telemetry reconciliation, commands without spam.
- ``controller``: modes, manual commands, stale-data safety, wiring.
"""

from edge_mining.control.controller import Controller

__all__ = ["Controller"]
