"""Analysis: what would mining the surplus have earned, and how long to pay for the machine.

- ``weather`` (pvlib: TMY3/TMY2/EPW to PV power), ``load`` (BDEW H25 via demandlib, or CSV),
  ``scenario`` (both on one step grid), ``catalogue`` (miners), ``forecasts`` (perfect or
  noisy day-ahead PV).
- ``engine`` runs a rule-based policy on the plant simulator (``edge_mining.sim.plant``);
  ``policies`` holds ``edge`` (the daemon's own Controller), ``seed``, ``threshold`` and
  ``export``; ``oracle`` is the hindsight linear program (HiGHS).
- ``kpis`` measures every trace against the no-mining baseline; ``report`` prints the table
  and writes the HTML/SVG report; ``backtest`` ties it together for ``backtest_cli``.
- ``economics`` (BTC/day, hashprice, month-by-month projection, break-even table) serves
  ``profitability_cli``.
"""
