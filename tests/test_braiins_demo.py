"""``edge-mining demo --miners emulated``: each demo miner is an emulator of its family (a
BraiinsOS S19j Pro, an Avalon Q heater-miner, a Bitaxe Gamma), driven through pyasic."""

from __future__ import annotations

import re

from demo_support import run_demo_until

MINERS = ("s19jpro", "heater", "bitaxe")


def all_mining(out: str) -> bool:
    return all(re.search(rf"{name} mining \d", out) for name in MINERS)


def test_demo_drives_emulated_miners_of_three_families_through_pyasic():
    code, out, err = run_demo_until(
        ["--miners", "emulated", "--speed", "360", "--start-hour", "10"], all_mining
    )
    assert code == 0, err
    assert re.search(r"emulated BraiinsOS miner s19jpro \(Antminer S19j Pro, BOSer\)", out)
    assert re.search(r"emulated Avalon Q heater on 127\.77\.", out)
    assert re.search(r"emulated Bitaxe Gamma bitaxe on 127\.77\.", out)
    # The controller's commands reached the emulators and telemetry confirmed them.
    assert all_mining(out), out
    for name in MINERS:
        assert f">> {name}: start" in out
        assert f"{name} unreachable" not in out and f"{name} error" not in out
