"""Run a HiGHS solver on one thread, whatever else in the process sized HiGHS's thread pool.

HiGHS keeps one thread pool per process, sized at the first solve; a later solver that asks
for another size does not solve at all (``run`` returns an error and the model status stays
"not set"). Our programs are small and their simplex is serial, so they ask for one thread:
the daemon shares a Raspberry Pi with Home Assistant, and a pool of one keeps the backtest's
figures the same whatever ran before in the process. Where something else already sized the
pool otherwise, they run on that pool rather than fail (a planner that cannot solve leaves
the controller on its rules: measured, 91 % -> 71 % of the oracle's net gain).
"""

from __future__ import annotations

import highspy


def run_on_one_thread(highs: highspy.Highs) -> highspy.HighsStatus:
    """``highs.run()`` on one thread, or on the process's pool if it has another size."""
    highs.setOptionValue("threads", 1)
    status = highs.run()
    if (
        status == highspy.HighsStatus.kError
        and highs.getModelStatus() == highspy.HighsModelStatus.kNotset
    ):
        highs.setOptionValue("threads", 0)  # 0: whatever the pool has
        status = highs.run()
    return status
