"""The STARTING/STOPPING transition tracker, as timed tables (time passed in)."""

from __future__ import annotations

import pytest

from edge_mining.devices.miner_state import Observation, TransitionTracker
from edge_mining.model import MinerStatus

M = MinerStatus
UP = Observation(True, 100.0)
ZERO = Observation(True, 0.0)
GONE = Observation(False)
WARMING = Observation(True, 0.0, mining_flag=True)
PAUSED_FLAG = Observation(True, 0.0, mining_flag=False)


def run(steps, tracker=None):
    """steps: (time, command or None, observation or None, expected status or None)."""
    tracker = tracker or TransitionTracker(start_timeout_s=60, stop_timeout_s=20)
    seen = []
    for now, command, obs, expected in steps:
        if command is not None:
            tracker.command(command, now)
        if obs is not None:
            status, reason = tracker.observe(obs, now)
            seen.append((now, status, reason))
            if expected is not None:
                assert status == expected, (now, status, reason)
    return seen


def test_start_is_starting_until_the_5s_hashrate_is_above_zero():
    run(
        [
            (0, None, ZERO, M.PAUSED),
            (1, True, ZERO, M.STARTING),
            (30, None, ZERO, M.STARTING),
            (31, None, UP, M.MINING),
            (40, None, UP, M.MINING),
        ]
    )


def test_stop_is_stopping_while_the_5s_window_still_holds_hashes():
    run(
        [
            (0, None, UP, M.MINING),
            (1, False, UP, M.STOPPING),
            (4, None, Observation(True, 12.0), M.STOPPING),
            (6, None, ZERO, M.PAUSED),
        ]
    )


def test_start_timeout_is_an_error_until_telemetry_confirms():
    seen = run(
        [
            (0, True, ZERO, M.STARTING),
            (60, None, ZERO, M.STARTING),
            (61, None, ZERO, M.ERROR),
            (90, None, ZERO, M.ERROR),
            (95, None, UP, M.MINING),  # late confirmation clears the error
        ]
    )
    assert seen[2][2] == "did not start mining within 60 s"


def test_stop_timeout_is_an_error_and_a_new_command_clears_it():
    run(
        [
            (0, False, UP, M.STOPPING),
            (21, None, UP, M.ERROR),
            (22, True, UP, M.MINING),
        ]
    )


def test_a_miner_that_says_it_mines_without_hashrate_is_starting_then_error():
    run(
        [
            (0, None, WARMING, M.STARTING),
            (30, None, Observation(True, 0.0), M.STARTING),
            (61, None, Observation(True, 0.0), M.ERROR),
        ]
    )


def test_implicit_warm_up_ends_when_the_miner_says_paused():
    run([(0, None, WARMING, M.STARTING), (5, None, PAUSED_FLAG, M.PAUSED)])


def test_unreachable_keeps_the_pending_transition():
    run(
        [
            (0, True, ZERO, M.STARTING),
            (10, None, GONE, M.UNREACHABLE),
            (20, None, UP, M.MINING),
        ]
    )


def test_the_miner_flag_keeps_stopping_while_it_still_says_mining():
    run([(0, False, UP, M.STOPPING), (6, None, WARMING, M.STOPPING)])


def test_timeouts_must_be_positive():
    with pytest.raises(ValueError):
        TransitionTracker(start_timeout_s=0)
