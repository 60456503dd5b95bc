"""Hostile configuration files: binary, huge, endless, deeply nested, duplicated keys,
infinite numbers, secrets that YAML takes for syntax. Each one is exit code 2 and one line
naming the problem, through ``check-config`` and ``run``, in the real process too."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import MINER_3KW, site_data, write_yaml
from pydantic import BaseModel

from edge_mining.cli import main
from edge_mining.config import ConfigError, SiteConfig, load_addon_options, load_config

ROOT = Path(__file__).resolve().parents[1]
SECRET = "Secr3t-never-shown"


def _site_text(tmp_path: Path, **sections: Any) -> str:
    return yaml.safe_dump(site_data(tmp_path / "state", **sections), sort_keys=False)


def _binary(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    return path


def _latin1(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_bytes((_site_text(tmp_path) + "name: Café\n").encode("latin-1"))
    return path


def _deep(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text("miners: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    return path


def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(_site_text(tmp_path) + "# padding\n" * 120_000, encoding="utf-8")
    return path


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    os.mkfifo(path)  # nobody ever writes: reading it would hang forever
    return path


def _dev_zero(tmp_path: Path) -> Path:
    return Path("/dev/zero")


def _directory(tmp_path: Path) -> Path:
    return tmp_path


def _duplicate_key(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    text = _site_text(tmp_path, control={"stop_soc_pct": 30})
    path.write_text(text + "control:\n  stop_soc_pct: 50\n", encoding="utf-8")
    return path


def _duplicate_nested_key(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    text = _site_text(tmp_path, control={"stop_soc_pct": 30})
    path.write_text(text.replace("  stop_soc_pct: 30\n", "  stop_soc_pct: 30\n  stop_soc_pct: 5\n"))
    return path


def _infinite_stale_after(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    text = _site_text(tmp_path, control={"stale_after_s": 60})
    path.write_text(text.replace("stale_after_s: 60", "stale_after_s: .inf"), encoding="utf-8")
    return path


def _huge_stale_after(tmp_path: Path) -> Path:
    """Finite but as good as infinite: it would switch the stale-data safety off too."""
    data = site_data(tmp_path / "state", control={"stale_after_s": 1e300})
    return write_yaml(tmp_path / "site.yaml", data)


def _nan_threshold(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    text = _site_text(tmp_path, control={"start_surplus_w": 300})
    path.write_text(text.replace("start_surplus_w: 300", "start_surplus_w: .NaN"))
    return path


def _secret_led_by(first: str) -> Callable[[Path], Path]:
    """A site whose MQTT password, unquoted, starts with ``first`` (a YAML indicator)."""

    def make(tmp_path: Path) -> Path:
        path = tmp_path / "site.yaml"
        text = _site_text(tmp_path, mqtt={"host": "127.0.0.1", "password": "PLACEHOLDER"})
        path.write_text(text.replace("PLACEHOLDER", f"{first}{SECRET}"), encoding="utf-8")
        return path

    return make


def _alias_bomb(tmp_path: Path) -> Path:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = tmp_path / "site.yaml"
    path.write_text(_site_text(tmp_path) + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _full_width_digits(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    text = _site_text(tmp_path, control={"stop_soc_pct": 12})
    path.write_text(text.replace("stop_soc_pct: 12", "stop_soc_pct: １２"), encoding="utf-8")
    return path


# (id, file maker, the one line expected on stderr after "config error: <path>: ")
HOSTILE: list[tuple[str, Any, str]] = [
    ("binary", _binary, "binary data (NUL bytes): not a text file"),
    ("latin-1", _latin1, "not UTF-8 text (byte 0xe9 at offset"),
    ("3000-levels", _deep, "nested deeper than 64 levels at line 1"),
    ("over-1-MiB", _huge, "larger than 1 MiB: a configuration file is a few kilobytes"),
    ("fifo", _fifo, "not a regular file (a FIFO): name a YAML file"),
    ("dev-zero", _dev_zero, "not a regular file (a character device)"),
    ("directory", _directory, "not a regular file (a directory)"),
    ("duplicate-section", _duplicate_key, "key 'control' appears twice in one mapping (first at"),
    ("duplicate-field", _duplicate_nested_key, "key 'stop_soc_pct' appears twice in one mapping"),
    ("inf-duration", _infinite_stale_after, "control.stale_after_s: Input should be a finite"),
    ("huge-stale-after", _huge_stale_after, "control.stale_after_s: Input should be less than or"),
    ("nan-threshold", _nan_threshold, "control.start_surplus_w: Input should be a finite number"),
    ("secret-as-alias", _secret_led_by("*"), "a value starts with '*', which YAML reads as an"),
    ("secret-as-tag", _secret_led_by("!"), "a value starts with '!', which YAML reads as a tag"),
    ("secret-reserved", _secret_led_by("@"), "a value starts with a character YAML reserves"),
    ("alias-bomb", _alias_bomb, "more than 100000 values once aliases are expanded"),
    ("full-width-digits", _full_width_digits, "control.stop_soc_pct: Input should be a valid"),
]


def _assert_one_clear_line(err: str, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("config error: "), err
    assert fragment in lines[0], err
    assert "Traceback" not in err
    assert SECRET not in err


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("case", "make", "fragment"), HOSTILE, ids=[c[0] for c in HOSTILE])
@pytest.mark.parametrize("command", ["check-config", "run"])
def test_hostile_file_is_one_line_and_exit_2(tmp_path, capsys, case, make, fragment, command):
    path = make(tmp_path)
    args = (
        ["check-config", str(path)] if command == "check-config" else ["run", "--config", str(path)]
    )
    assert main(args) == 2
    captured = capsys.readouterr()
    _assert_one_clear_line(captured.err, fragment)
    assert captured.out == ""


def test_hostile_files_through_the_real_process(tmp_path):
    """Every hostile file at once, each in its own ``edge-mining`` process: none hangs (the
    FIFO, /dev/zero), none prints a traceback."""
    runs = []
    for case, make, fragment in HOSTILE:
        folder = tmp_path / case
        folder.mkdir()
        path = make(folder)
        for args in (["check-config", str(path)], ["run", "--config", str(path)]):
            process = subprocess.Popen(
                [sys.executable, "-m", "edge_mining.cli", *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            runs.append((case, fragment, process))
    try:
        for case, fragment, process in runs:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 2, (case, err)
            _assert_one_clear_line(err, fragment)
            assert out == "", case
    finally:
        for _, _, process in runs:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_negative_zero_is_zero(tmp_path):
    path = tmp_path / "site.yaml"
    text = _site_text(tmp_path, control={"stop_soc_pct": 1.5, "margin_w": 1.5})
    text = text.replace("stop_soc_pct: 1.5", "stop_soc_pct: -0.0").replace("1.5", "-0")
    path.write_text(text, encoding="utf-8")
    site = load_config(path, environ={})
    for value in (site.control.stop_soc_pct, site.control.margin_w):
        assert value == 0 and math.copysign(1.0, value) == 1.0
        assert f"{value:g}" == "0"


def test_addon_options_duplicate_keys_and_deep_nesting(tmp_path):
    options = tmp_path / "options.json"
    options.write_text('{"miners": [], "miners": [{"name": "a"}]}', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_addon_options(options, environ={})
    assert caught.value.problems == [f"{options}: key 'miners' appears twice in one object"]
    options.write_text('{"miners": ' + "[" * 3000 + "]" * 3000 + "}", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_addon_options(options, environ={})
    assert caught.value.problems == [f"{options}: nested deeper than 64 levels"]


# ------------------------------------------------------------ every float field, inf and nan

# Where each section with float fields sits in a site file, with what it needs to be valid:
# (model, the site's sections, the path of the section's mapping in the site).
ENERGY = "energy_source"
FORECAST_SOLAR = {"type": "forecast_solar", "latitude": 45, "longitude": 9, "planes": [{"kwp": 5}]}
ZONE = {"name": "z", "miners": ["m3k"], "temperature_entity": "sensor.t"}
CURVE = [{"power_w": 2000, "hashrate_ths": 70}]
LEVELS = [{"name": "eco", "power_w": 2000, "hashrate_ths": 70}]
HASHPRICE = {"url": "https://example.org/x", "json_path": "a"}
PLACES: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = [
    ("PlantConfig", {ENERGY: {"type": "simulated", "plant": {}}}, (ENERGY, "plant")),
    ("VoltronicSourceConfig", {ENERGY: {"type": "voltronic", "device": "/dev/x"}}, (ENERGY,)),
    ("SolarEdgeSourceConfig", {ENERGY: {"type": "solaredge", "host": "h"}}, (ENERGY,)),
    ("HomeAssistantSourceConfig", {ENERGY: {"type": "homeassistant"}}, (ENERGY,)),
    ("MqttSourceConfig", {ENERGY: {"type": "mqtt"}}, (ENERGY,)),
    (
        "TopicQuantity",
        {ENERGY: {"type": "mqtt", "pv_power": {"topic": "pv"}}},
        (ENERGY, "pv_power"),
    ),
    ("MinerConfig", {"miners": [dict(MINER_3KW)]}, ("miners", 0)),
    (
        "CurvePoint",
        {"miners": [{**MINER_3KW, "efficiency_curve": CURVE}]},
        ("miners", 0, "efficiency_curve", 0),
    ),
    (
        "LevelConfig",
        {"miners": [{**MINER_3KW, "levels": LEVELS}]},
        ("miners", 0, "levels", 0),
    ),
    ("ControlConfig", {"control": {}}, ("control",)),
    ("ForecastConfig", {"forecast": {}}, ("forecast",)),
    ("PlannerConfig", {"planner": {}}, ("planner",)),
    ("ForecastPlane", {"forecast": FORECAST_SOLAR}, ("forecast", "planes", 0)),
    ("HeatingConfig", {"heating": {}}, ("heating",)),
    ("HeatingZone", {"heating": {"zones": [ZONE]}}, ("heating", "zones", 0)),
    ("EconomicsConfig", {"economics": {}}, ("economics",)),
    (
        "HashpriceSourceConfig",
        {"economics": {"hashprice_source": HASHPRICE}},
        ("economics", "hashprice_source"),
    ),
    ("HomeAssistantConfig", {"homeassistant": {}}, ("homeassistant",)),
    ("SiteConfig", {}, ()),
]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _is_float(annotation: Any) -> bool:
    if annotation is float:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return float in typing.get_args(annotation)
    return False


def _float_fields() -> set[tuple[str, str]]:
    """Every (model, field) of type float reachable from SiteConfig."""
    found: set[tuple[str, str]] = set()
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [SiteConfig]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            if _is_float(field.annotation):
                found.add((model.__name__, name))
            todo.extend(_models_in(field.annotation))
    return found


def _cases() -> list[tuple[str, str, dict[str, Any], tuple[str | int, ...]]]:
    models = {cls.__name__: cls for cls in _all_models()}
    cases = []
    for model_name, sections, place in PLACES:
        for name, field in models[model_name].model_fields.items():
            if _is_float(field.annotation):
                cases.append((model_name, name, sections, place))
    return cases


def _all_models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [SiteConfig]
    while todo:
        model = todo.pop()
        if model not in seen:
            seen.append(model)
            for field in model.model_fields.values():
                todo.extend(_models_in(field.annotation))
    return seen


def test_every_float_field_is_exercised():
    exercised = {(model, name) for model, name, _, _ in _cases()}
    assert exercised == _float_fields()
    assert len(exercised) >= 60


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_every_float_field_refuses_non_finite_numbers(tmp_path, value):
    failures = []
    for model, name, sections, place in _cases():
        data = site_data(tmp_path / "state", **_copy(sections))
        target: Any = data
        for key in place:
            target = target[key]
        target[name] = value
        path = write_yaml(tmp_path / "site.yaml", data)  # .inf / -.inf / .nan in the file
        assert (".nan" if math.isnan(value) else ".inf") in path.read_text()
        dotted = ".".join(str(key) for key in (*place, name))
        try:
            load_config(path, environ={})
        except ConfigError as error:
            expected = [f"{dotted}: Input should be a finite number"]
            if error.problems != expected:
                failures.append((model, name, error.problems))
        else:
            failures.append((model, name, "accepted"))
    assert failures == []


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
