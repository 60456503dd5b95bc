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
        "simulated-forecast-of-a-real-source",
        {
            "energy_source": {"type": "voltronic", "device": "/dev/ttyUSB0"},
            "forecast": {"type": "simulated"},
        },
        "forecast: type simulated forecasts the simulated plant: it needs "
        "energy_source type simulated",
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


STATUS_LINE = re.compile(
    r"^\d\d:\d\d:\d\d PV \d+\.\d\d kW \| house \d+\.\d\d kW \| battery \d+% [+-]\d+\.\d\d kW"
    r" \| grid [+-]\d+\.\d\d kW$",
    re.MULTILINE,
)
DECISION_LINE = re.compile(r"^ {9}auto: surplus \d+ W, available \d+ W, SoC", re.MULTILINE)
COMMAND_LINE = re.compile(r"^\d\d:\d\d:\d\d >> \S+: (start|stop|set_power)\b.*\(", re.MULTILINE)


def test_demo_runs_and_prints_decisions_with_reasons():
    # 5 wall seconds at 300x: 25 simulated minutes from 09:00, enough to see miners start.
    result = _cli("demo", "--duration", "5", "--speed", "300", "--start-hour", "9", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len(STATUS_LINE.findall(result.stdout)) >= 5, result.stdout
    assert len(DECISION_LINE.findall(result.stdout)) >= 5, result.stdout
    assert COMMAND_LINE.search(result.stdout), result.stdout
    assert "demo ended after" in result.stdout


def test_demo_plain_output_fits_80_columns_and_says_its_units():
    result = _cli("demo", "--duration", "6", "--speed", "900", "--start-hour", "7", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if len(line) > 80] == []
    assert lines[0] == "Edge Mining demo: built-in demo site, 3 miner(s)"  # no repeated name
    assert "(1 s = 15 simulated min), for 6 s" in lines[1]
    assert "battery + charging / - discharging; grid + import / - export" in lines
    assert "[auto]" not in result.stdout and "auto: auto" not in result.stdout
    assert re.search(r"estimated\s+earnings \d+\.\d{4} EUR", result.stdout)
    # A start with a target sets the target first: no unexplained retry 30 s later.
    assert ">> heater: start" in result.stdout or ">> s19jpro: start" in result.stdout
    assert "retry" not in result.stdout
    # Every miner shows its state, a running one its power in kW; names are never split.
    for line in lines:
        for name in ("s19jpro", "heater", "bitaxe"):
            assert not line.rstrip().endswith(name[:2]) or line.rstrip().endswith(name)
    # (The plan of the demo's morning runs the heater and the Bitaxe, not the S19j Pro.)
    assert re.search(r"(heater|bitaxe) (mining|starting) \d+\.\d\d kW", result.stdout)
    assert re.search(r"s19jpro (paused|mining \d+\.\d\d kW)", result.stdout)


def test_plain_lines_wrap_between_items_never_inside_a_name():
    from edge_mining.demo_console import wrap

    names = [f"miner-with-a-long-name-{i} mining 3.30 kW" for i in range(6)]
    lines = wrap(names, " " * 9)
    assert all(len(line) <= 80 for line in lines) and len(lines) == 6
    assert [line.strip().rstrip(",") for line in lines] == names


def test_available_power_says_why_it_is_below_the_surplus(tmp_path):
    path = write_yaml(
        tmp_path / "low.yaml",
        {
            "energy_source": {
                "type": "simulated",
                "plant": {"battery_kwh": 10, "battery_initial_soc_pct": 60},
            },
            "miners": [miner()],
            # The rules' summary (a plan keeps the battery power it plans instead).
            "planner": {"enabled": False},
        },
    )
    result = _cli("demo", "--config", str(path), "--duration", "2", "--start-hour", "11")
    assert result.returncode == 0, result.stderr
    assert "planner off (planner.enabled: false)" in result.stdout
    text = " ".join(result.stdout.split())
    # The demo's forecast of a sunny June day sets the sunny stop SoC (30 %).
    assert re.search(
        r"available 0 W, SoC 6\d% \(start 80%, stop 30%\): \d+ W charge the battery first "
        r"\(below the start SoC\)",
        text,
    ), result.stdout


def test_demo_live_view_redraws_in_place_on_a_terminal():
    import fcntl
    import pty
    import struct
    import termios

    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_mining.cli", "demo", "--duration", "4", "--speed", "600"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        cwd=ROOT,
        env={**env, "TERM": "xterm-256color"},
    )
    os.close(secondary)
    output = b""
    try:
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    text = output.decode("utf-8", "replace")
    assert "\x1b[2K" in text and "\x1b[1A" in text  # lines erased and redrawn in place
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # without colours and cursor moves
    assert text.count("┃ miner") >= 3  # the miners' table, drawn several times
    for heading in ("PV", "house", "battery", "grid", "mined today", "hashrate", "temp."):
        assert heading in text
    assert "decisions:" in text and re.search(r"s19jpro\s+│ (mining|starting|paused)", text)
    assert "demo ended after" in text


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
    assert "09:00:00 energy data STALE" in capsys.readouterr().out


def _subparsers(parser: Any) -> Any:
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _all_parsers() -> list[tuple[str, Any]]:
    from edge_mining.cli import build_parser

    found, queue = [], [("edge-mining", build_parser())]
    while queue:
        name, parser = queue.pop()
        found.append((name, parser))
        queue.extend((f"{name} {sub}", p) for sub, p in _subparsers(parser))
    return found


def test_every_option_has_help_and_shows_its_default():
    import argparse

    for name, parser in _all_parsers():
        text = parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
            shown = action.default not in (None, False, argparse.SUPPRESS)
            if shown and action.option_strings and action.dest != "help":
                assert f"(default: {action.default})" in " ".join(text.split()), (
                    f"{name} {action.option_strings}: default {action.default!r} not shown"
                )


def test_catalogue_lists_the_models_that_miner_accepts(capsys):
    from edge_mining.analysis.catalogue import CATALOGUE, find_model

    assert main(["catalogue"]) == 0
    out = capsys.readouterr().out
    for model in CATALOGUE.values():
        assert re.search(rf"^{re.escape(model.name)}\s+{model.nominal_power_w:.0f} W", out, re.M)
    assert main(["catalogue", "--json"]) == 0
    import json

    listed = json.loads(capsys.readouterr().out)
    assert [find_model(m["name"]).name for m in listed] == list(CATALOGUE)


def test_a_missing_optional_dependency_is_one_line_saying_what_to_install():
    # sys.modules[name] = None is how Python marks a module as not importable.
    code = (
        "import sys; sys.modules['numpy'] = None; from edge_mining.cli import main; "
        "sys.exit(main(['backtest', '--weather', 'sample', '--days', '1']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "edge-mining backtest: needs numpy, from the 'analysis' extra: pip install "
        "'edge-mining[analysis]' (in a checkout: .venv/bin/pip install -e '.[analysis]')"
    ]


def test_a_missing_module_that_is_not_optional_still_shows_its_traceback():
    code = (
        "import sys; sys.modules['yaml'] = None; from edge_mining.cli import main; "
        "sys.exit(main(['check-config', 'x.yaml']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_the_package_metadata_uses_an_spdx_license_string():
    # A license table makes setuptools print a 13-line deprecation warning at every install.
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    requires = project["build-system"]["requires"]
    assert "setuptools>=77" in requires  # the first to accept an SPDX string


def test_a_site_with_real_miners_and_no_energy_source_is_refused(tmp_path, capsys):
    # It used to run on a simulated source: "OK (simulated energy source, 1 miner(s))".
    path = tmp_path / "site.yaml"
    real = miner(name="garage", driver="braiins", host="192.0.2.50")
    write_yaml(path, {"miners": [real], "mqtt": {"enabled": False}})
    for args in (["check-config", str(path)], ["run", "--config", str(path)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.splitlines() == [
            "config error: energy_source: required: where the readings come from (type "
            "voltronic, solaredge, homeassistant or mqtt; simulated only to try without hardware)"
        ]
    # Asked for explicitly, the simulated source is accepted.
    write_yaml(path, {"energy_source": {"type": "simulated"}, "miners": [miner()]})
    assert main(["check-config", str(path)]) == 0
    assert "OK (simulated energy source, 1 miner(s)" in capsys.readouterr().out


def test_demo_piped_into_a_reader_that_leaves_ends_quietly():
    # `edge-mining demo | head -3`: the reader closes the pipe after three lines.
    command = (
        f"{sys.executable} -m edge_mining.cli demo --duration 3 --speed 600 | head -3 >/dev/null;"
        " echo ${PIPESTATUS[0]}"
    )
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.stdout.strip() == "0"
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
