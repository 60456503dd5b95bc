"""The controller's protections survive a restart: export, new Controller, import.

Tables of timed rows as in test_controller_timers: (seconds after T0, surplus W, expected
commands). Each scenario runs before a restart, then after it twice: with the exported memory
imported (the protection holds) and without (a fresh controller would start the miner: the
protection is really what the import carried).
"""

from __future__ import annotations

import json
import logging

import pytest
from test_controller_support import T0, Fleet, brief, control, grid_reading, miner, snapshot, step
from test_service import NOON, fast_site, make_daemon, mining, run_until

from edge_mining.clock import ManualClock
from edge_mining.config import ControlConfig
from edge_mining.control import Controller
from edge_mining.control.timers import SECONDS_PER_DAY, local_day, local_midnight
from edge_mining.service.memory_file import MEMORY_FILE

Row = tuple[float, float, list[str]]

PLUG = miner("a", power_target=False, min_w=1500, max_w=1500)


def play(controller: Controller, fleet: Fleet, rows: list[Row]) -> None:
    for offset, surplus, expected in rows:
        now = T0 + offset
        decision = step(controller, fleet, snapshot(now, grid_reading(now, surplus, fleet), fleet))
        assert brief(decision) == expected, (
            f"t={offset:g} surplus={surplus:g}: got {brief(decision)}, expected {expected}; "
            f"{decision.miner_reasons['a']}"
        )


def restarted(
    before: Controller, settings: ControlConfig, now: float, utc_offset_s: float = 0.0
) -> Controller:
    """A new process: the memory goes through JSON, as through the daemon's file."""
    saved = json.loads(json.dumps(before.export_memory()))
    after = Controller(settings, [PLUG], utc_offset_s=utc_offset_s)
    after.import_memory(saved, now)
    return after


# Started at 60, stopped at 130 (min_on_s 0), then the surplus comes back from 140.
START_THEN_STOP: list[Row] = [
    (0, 2000, []),
    (60, 2000, ["a:start"]),
    (70, 0, []),
    (130, 0, ["a:stop"]),
]

SCENARIOS = {
    # min_off_s 300 from the stop at 130: not before 430, although the start delay held at 200.
    "min_off_s": (
        control(min_on_s=0, min_off_s=300),
        [(140, 2000, []), (200, 2000, []), (429, 2000, []), (430, 2000, ["a:start"])],
        [(140, 2000, []), (200, 2000, ["a:start"])],
    ),
    # One start a day, already used: no start for the rest of the UTC day.
    "max_starts_per_day": (
        control(min_on_s=0, min_off_s=0, max_starts_per_day=1),
        [(140, 2000, []), (200, 2000, []), (3600, 2000, []), (7200, 2000, [])],
        [(140, 2000, []), (200, 2000, ["a:start"])],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_restart_keeps_the_protection(name: str) -> None:
    settings, with_memory, without_memory = SCENARIOS[name]
    before = Controller(settings, [PLUG])
    fleet = Fleet([PLUG])
    play(before, fleet, START_THEN_STOP)

    after = restarted(before, settings, T0 + 135)
    play(after, Fleet([PLUG]), with_memory)

    fresh = Controller(settings, [PLUG])
    play(fresh, Fleet([PLUG]), without_memory)


@pytest.mark.parametrize("utc_offset_h", [0.0, -5.0])
def test_the_daily_limit_is_per_local_day_after_a_restart(utc_offset_h: float) -> None:
    settings = control(min_on_s=0, min_off_s=0, max_starts_per_day=1)
    offset_s = utc_offset_h * 3600.0
    before = Controller(settings, [PLUG], utc_offset_s=offset_s)
    play(before, Fleet([PLUG]), START_THEN_STOP)
    day = local_day(T0, offset_s)
    utc_midnight = local_midnight(local_day(T0) + 1) - T0
    if utc_midnight < local_midnight(day + 1, offset_s) - T0:
        # Restarted after 00:00 UTC but before local midnight: still today, still counted.
        after = restarted(before, settings, T0 + utc_midnight, offset_s)
        play(after, Fleet([PLUG]), [(utc_midnight, 2000, []), (utc_midnight + 60, 2000, [])])
    # Restarted the next local day: yesterday's start does not count.
    next_day = local_midnight(day + 1, offset_s) - T0
    after = restarted(before, settings, T0 + next_day, offset_s)
    play(after, Fleet([PLUG]), [(next_day, 2000, []), (next_day + 60, 2000, ["a:start"])])


def test_a_miner_running_at_export_and_found_stopped_waits_min_off_s() -> None:
    """It stopped at an unknown moment after the last save: its off-time counts from there."""
    settings = control(min_on_s=0, min_off_s=300)
    before = Controller(settings, [PLUG])
    fleet = Fleet([PLUG])
    play(before, fleet, [(0, 2000, []), (60, 2000, ["a:start"]), (100, 2000, [])])
    after = restarted(before, settings, T0 + 110)
    play(
        after,
        Fleet([PLUG]),  # found paused (the shutdown action, a power cut)
        [(110, 2000, []), (170, 2000, []), (399, 2000, []), (400, 2000, ["a:start"])],
    )


def test_a_miner_running_across_the_restart_keeps_its_min_on_time() -> None:
    settings = control(min_on_s=600, min_off_s=0)
    before = Controller(settings, [PLUG])
    fleet = Fleet([PLUG])
    play(before, fleet, [(0, 2000, []), (60, 2000, ["a:start"])])
    after = restarted(before, settings, T0 + 100)
    # Still mining after the restart (the daemon left it running); the surplus goes at 100.
    play(after, fleet, [(100, 0, []), (300, 0, []), (659, 0, []), (660, 0, ["a:stop"])])


def test_export_is_plain_json_data_and_round_trips() -> None:
    settings = control(min_on_s=0, min_off_s=0)
    before = Controller(settings, [PLUG, miner("b", priority=5)])
    play(before, Fleet([PLUG, miner("b", priority=5)]), [(0, 0, [])])
    exported = before.export_memory()
    assert json.loads(json.dumps(exported)) == exported
    after = Controller(settings, [PLUG, miner("b", priority=5)])
    after.import_memory(exported, T0 + 10)
    assert after.export_memory()["miners"] == exported["miners"]


GOOD = {
    "version": 1,
    "time": T0 + 130,
    "miners": {"a": {"off_since": T0 + 130, "starts_day": int(T0 // SECONDS_PER_DAY), "starts": 3}},
}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({**GOOD, "version": 99}, "version 99"),
        ({**GOOD, "miners": []}, "'miners' must be an object"),
        ({**GOOD, "miners": {"a": 5}}, "miner 'a' must be an object"),
        ({**GOOD, "miners": {"a": {"off_since": "noon"}}}, "a.off_since"),
        ({**GOOD, "miners": {"a": {"on_since": float("nan")}}}, "a.on_since"),
        ({**GOOD, "miners": {"a": {"starts": -1}}}, "a.starts"),
        ({**GOOD, "miners": {"a": {"starts": True}}}, "a.starts"),
        ({**GOOD, "miners": {"a": {"starts_day": "today"}}}, "a.starts_day"),
        ({**GOOD, "time": "yesterday"}, "time"),
    ],
)
def test_malformed_memory_raises_a_clear_error_and_changes_nothing(
    data: object, message: str
) -> None:
    controller = Controller(control(), [PLUG])
    untouched = controller.export_memory()
    with pytest.raises(ValueError, match=message):
        controller.import_memory(data, T0 + 135)  # type: ignore[arg-type]
    assert controller.export_memory() == untouched


def test_unknown_miners_are_ignored_and_future_times_are_clamped() -> None:
    settings = control(min_on_s=0, min_off_s=300)
    controller = Controller(settings, [PLUG])
    data = {
        "version": 1,
        "time": T0,
        "miners": {
            "gone": {"off_since": T0, "starts": 2},
            # A clock that jumped back: an off-time a year ahead must not block for a year.
            "a": {"off_since": T0 + 365 * SECONDS_PER_DAY, "rest_until": T0 + 1e9},
        },
    }
    controller.import_memory(data, T0)
    miners = controller.export_memory()["miners"]
    assert set(miners) == {"a"}
    assert miners["a"]["off_since"] == T0
    assert miners["a"]["rest_until"] == T0 + 3600  # at most the handover rest
    rows: list[Row] = [(0, 2000, []), (300, 2000, []), (3599, 2000, []), (3600, 2000, ["a:start"])]
    play(controller, Fleet([PLUG]), rows)


# ------------------------------------------------------------------------------ the daemon


async def test_the_daemon_keeps_the_daily_start_count_across_a_restart(tmp_path) -> None:
    site = fast_site(tmp_path, max_starts_per_day=1)
    clock = ManualClock(NOON)
    first = make_daemon(site, clock)
    await run_until(first, mining)  # its one start today; the shutdown action pauses it
    saved = json.loads((site.state_dir / MEMORY_FILE).read_text())
    assert saved["miners"]["m3k"]["starts"] == 1

    # A new process on the same state_dir: the surplus is still there, the start is not.
    second = make_daemon(site, clock)
    state = await run_until(second, lambda s: second.ticks >= 100)
    assert not mining(state)
    assert [c for c in second.miners["m3k"].commands if c[1] == "start"] == []
    assert state.decision is not None
    assert "daily limit" in state.decision.miner_reasons["m3k"]


async def test_a_corrupt_memory_file_is_logged_once_moved_aside_and_ignored(
    tmp_path, caplog
) -> None:
    site = fast_site(tmp_path, max_starts_per_day=1)
    site.state_dir.mkdir(parents=True)
    path = site.state_dir / MEMORY_FILE
    path.write_text('{"version": 1, "miners": {"m3k": {"starts": "many"}}}')
    with caplog.at_level(logging.WARNING):
        await run_until(make_daemon(site, ManualClock(NOON)), mining)  # starts clean
    lines = [r.getMessage() for r in caplog.records if "controller memory" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "m3k.starts" in lines[0] and "moved to" in lines[0]
    assert [p.name.startswith(f"{MEMORY_FILE}.corrupt-") for p in site.state_dir.iterdir()].count(
        True
    ) == 1
    assert json.loads(path.read_text())["miners"]["m3k"]["starts"] == 1  # a good file again
