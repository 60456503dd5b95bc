"""The command line: bad configurations give one clear line per problem and exit code 2, through
``check-config`` and ``run``; the demo runs and prints decisions with reasons."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MINER_3KW, site_data, write_yaml

from edge_mining.cli import main
from edge_mining.demo import Console  # imported before capsys replaces sys.stdout

ROOT = Path(__file__).resolve().parents[1]
SECRET = "hunter2-very-secret"


def miner(**changes: Any) -> dict[str, Any]:
    return {**MINER_3KW, **changes}


# (id, raw YAML text or data, fragment expected in a "config error: <field>: <problem>" line)
BAD_CONFIGS: list[tuple[str, Any, str]] = [
    ("yaml-syntax", "miners: [\n  - name: a\n    min_power_w: 1\n  oops", "line"),
    ("not-a-mapping", "- just\n- a list\n", "(top level): the configuration must be a mapping"),
    ("no-miners", {"miners": []}, "miners: List should have at least 1 item"),
    ("missing-miner-field", {"miners": [{"name": "a", "max_power_w": 10}]}, "miners.0.min_power_w"),
    ("unknown-key", {"minerz": 1}, "minerz: Extra inputs are not permitted"),
    (
        "unknown-source-type",
        {"energy_source": {"type": "windmill"}},
        "energy_source.type: unknown type 'windmill'",
    ),
    (
        "voltronic-without-device",
        {"energy_source": {"type": "voltronic"}},
        "energy_source.device: Field required",
    ),
    (
        "min-above-max",
        {"miners": [miner(min_power_w=4000)]},
        "miners.0: min_power_w (4000) is above max_power_w (3000)",
    ),
    ("duplicate-names", {"miners": [miner(), miner()]}, "miners: miner name 'm3k' is used twice"),
    (
        "braiins-without-host",
        {"miners": [miner(driver="braiins")]},
        "miners.0: host is required for driver braiins",
    ),
    ("bad-miner-name", {"miners": [miner(name="my miner!")]}, "miners.0.name: String should match"),
    (
        "stop-above-start-soc",
        {"control": {"stop_soc_pct": 90, "start_soc_pct": 80}},
        "control: stop_soc_pct (90) must be below start_soc_pct (80)",
    ),
    ("tick-not-a-number", {"control": {"tick_s": "fast"}}, "control.tick_s: Input should be"),
    ("negative-delay", {"control": {"start_delay_s": -5}}, "control.start_delay_s"),
    ("unknown-mode", {"control": {"mode": "turbo"}}, "control.mode: Input should be"),
    ("mqtt-port", {"mqtt": {"port": 70000}}, "mqtt.port: Input should be less than or equal"),
    (
        "forecast-without-location",
        {"forecast": {"type": "forecast_solar"}},
        "forecast: forecast_solar needs latitude and longitude",
    ),
    (
        "heating-unknown-miner",
        {"heating": {"enabled": True, "zones": [{"name": "z", "miners": ["ghost"]}]}},
        "heating zone 'z' names unknown miners ['ghost']",
    ),
    (
        "plant-soc-bounds",
        {
            "energy_source": {
                "type": "simulated",
                "plant": {"battery_min_soc_pct": 90, "battery_max_soc_pct": 80},
            }
        },
        "energy_source.plant: battery_min_soc_pct must be below battery_max_soc_pct",
    ),
    (
        "secret-of-wrong-type",
        {"mqtt": {"host": "h", "password": {"value": SECRET}}},
        "mqtt.password: Input should be a valid string",
    ),
]


def write_bad(tmp_path: Path, spec: Any) -> Path:
    path = tmp_path / "site.yaml"
    if isinstance(spec, str):
        path.write_text(spec, encoding="utf-8")
    else:
        data = site_data(tmp_path / "state")
        data.update(spec)
        write_yaml(path, data)
    return path


def assert_clear_error(err: str, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no error printed"
    assert all(line.startswith("config error: ") for line in lines), err
    assert any(fragment in line for line in lines), err
    assert "Traceback" not in err
    assert SECRET not in err


@pytest.mark.parametrize(("case", "spec", "fragment"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_check_config(tmp_path, capsys, case, spec, fragment):
    path = write_bad(tmp_path, spec)
    assert main(["check-config", str(path)]) == 2
    captured = capsys.readouterr()
    assert_clear_error(captured.err, fragment)
    assert captured.out == ""


@pytest.mark.parametrize(("case", "spec", "fragment"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_run(tmp_path, capsys, case, spec, fragment):
    path = write_bad(tmp_path, spec)
    assert main(["run", "--config", str(path)]) == 2
    assert_clear_error(capsys.readouterr().err, fragment)


def test_missing_file(tmp_path, capsys):
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 2
    assert_clear_error(capsys.readouterr().err, "cannot read")


def test_run_addon_with_bad_options(tmp_path, capsys):
    options = tmp_path / "options.json"
    options.write_text('{"miners": []}')
    assert main(["run", "--addon", "--options", str(options)]) == 2
    assert_clear_error(capsys.readouterr().err, "miners: List should have at least 1 item")


def test_check_config_ok(tmp_path, capsys):
    path = write_yaml(tmp_path / "site.yaml", site_data(tmp_path / "state"))
    assert main(["check-config", str(path)]) == 0
    assert "OK (simulated energy source, 1 miner(s), mode auto)" in capsys.readouterr().out


def _cli(*args: str, timeout: float = 60.0, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "edge_mining.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_bad_config_through_the_real_process(tmp_path):
    path = write_bad(tmp_path, {"miners": [miner(min_power_w=4000)]})
    for args in (["check-config", str(path)], ["run", "--config", str(path)]):
        result = _cli(*args)
        assert result.returncode == 2
        assert_clear_error(result.stderr, "miners.0: min_power_w (4000) is above max_power_w")


DECISION_LINE = re.compile(r"^\d\d:\d\d:\d\d .*\| \[auto\] \S.*$", re.MULTILINE)
COMMAND_LINE = re.compile(
    r"^\d\d:\d\d:\d\d  >> \S+: (start|stop|set_power)\b.*\(.+\)$", re.MULTILINE
)


def test_demo_runs_and_prints_decisions_with_reasons():
    # 5 wall seconds at 300x: 25 simulated minutes from 09:00, enough to see miners start.
    result = _cli("demo", "--duration", "5", "--speed", "300", "--start-hour", "9", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = DECISION_LINE.findall(result.stdout)
    assert len(lines) >= 5, result.stdout
    assert COMMAND_LINE.search(result.stdout), result.stdout
    assert "demo ended after" in result.stdout


def test_demo_console_writes_to_the_stdout_in_use_when_it_is_made(capsys):
    from edge_mining.config import ControlConfig
    from edge_mining.counters import EnergyCounters
    from edge_mining.model import Mode
    from edge_mining.service import SiteState

    state = SiteState(
        time=9 * 3600.0,
        mode=Mode.AUTO,
        control=ControlConfig(),
        energy=None,
        energy_age_s=None,
        energy_stale=True,
        energy_error=None,
        miners={},
        forecast=None,
        decision=None,
        counters=EnergyCounters(),
    )
    Console().on_state(state)  # made after capsys replaced sys.stdout
    assert "09:00:00 | energy data STALE" in capsys.readouterr().out
