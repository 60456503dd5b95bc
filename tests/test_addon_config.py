"""The add-on's files against the Supervisor's and the add-on linter's rules.

The Supervisor's rules are typed in here from its source (supervisor/addons/validate.py and
options.py): the option-type grammar, the defaults of every config key, the deprecated keys.
"""

from __future__ import annotations

import re
import struct
import subprocess
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, SecretStr

from edge_mining.addon.options import normalize_options
from edge_mining.config import EnergySourceConfig, SiteConfig, parse_config

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
SCHEMA = CONFIG["schema"]
OPTIONS = CONFIG["options"]
TRANSLATIONS = yaml.safe_load((ROOT / "translations" / "en.yaml").read_text(encoding="utf-8"))

# The Supervisor's option type grammar (supervisor/addons/options.py, RE_SCHEMA_ELEMENT).
SCHEMA_ELEMENT = re.compile(
    r"^(?:"
    r"|bool|email|url|port"
    r"|device(?:\((?P<filter>subsystem=[a-z]+)\))?"
    r"|str(?:\((?P<s_min>\d+)?,(?P<s_max>\d+)?\))?"
    r"|password(?:\((?P<p_min>\d+)?,(?P<p_max>\d+)?\))?"
    r"|int(?:\((?P<i_min>\d+)?,(?P<i_max>\d+)?\))?"
    r"|float(?:\((?P<f_min>[\d\.]+)?,(?P<f_max>[\d\.]+)?\))?"
    r"|match\((?P<match>.*)\)"
    r"|list\((?P<list>.+)\)"
    r")\??$"
)
REQUIRED_KEYS = ("name", "version", "slug", "description", "arch")
ALLOWED_ARCHS = {"aarch64", "amd64"}
# Every config key with a default in the Supervisor's add-on schema, and that default.
SUPERVISOR_DEFAULTS: dict[str, Any] = {
    "startup": "application",
    "boot": "auto",
    "init": True,
    "advanced": False,
    "stage": "stable",
    "ingress": False,
    "ingress_port": 8099,
    "ingress_stream": False,
    "panel_icon": "mdi:puzzle",
    "panel_admin": True,
    "host_network": False,
    "host_pid": False,
    "host_ipc": False,
    "host_uts": False,
    "host_dbus": False,
    "udev": False,
    "tmpfs": False,
    "map": [],
    "apparmor": True,
    "full_access": False,
    "audio": False,
    "video": False,
    "gpio": False,
    "usb": False,
    "uart": False,
    "devicetree": False,
    "kernel_modules": False,
    "realtime": False,
    "hassio_api": False,
    "hassio_role": "default",
    "homeassistant_api": False,
    "stdin": False,
    "legacy": False,
    "docker_api": False,
    "auth_api": False,
    "backup": "hot",
    "options": {},
    "schema": {},
    "ulimits": {},
    "timeout": 10,
    "journald": False,
    "breaking_versions": [],
}
DEPRECATED_KEYS = {
    "watchdog",
    "auto_uart",
    "codenotary",
    "snapshot",
    "snapshot_exclude",
    "snapshot_pre",
    "snapshot_post",
}
# Settings the add-on fixes itself: counters and state always live in /data; the panel listens on
# the ingress port for the Supervisor's proxy, which authenticates users (no token).
NOT_USER_SETTINGS = {"state_dir", "web.host", "web.port", "web.token"}


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]


def leaves(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """(dotted path, value) of every leaf; list elements are addressed as their parent."""
    if isinstance(node, dict):
        out: list[tuple[str, Any]] = []
        for key, value in node.items():
            out.extend(leaves(value, f"{path}.{key}" if path else key))
        return out
    if isinstance(node, list) and node and isinstance(node[0], dict | list):
        out = []
        for element in node:
            out.extend(leaves(element, path))
        return out
    return [(path, node)]


# --------------------------------------------------------------------------- config keys


def test_required_keys_and_slug() -> None:
    for key in REQUIRED_KEYS:
        assert CONFIG.get(key), f"config.yaml lacks {key}"
    assert re.fullmatch(r"[-_.A-Za-z0-9]+", CONFIG["slug"])
    assert CONFIG["url"].startswith("https://")


def test_versions_are_equal_everywhere() -> None:
    version = pyproject_version()
    assert CONFIG["version"] == version
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(rf"^ARG BUILD_VERSION={re.escape(version)}$", dockerfile, re.M)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## \[?(\d+\.\d+\.\d+)", changelog, re.M)
    assert first is not None and first.group(1) == version


def test_architectures_are_the_supported_64_bit_ones() -> None:
    assert set(CONFIG["arch"]) == ALLOWED_ARCHS
    # build.yaml is deprecated (Supervisor 2026.04 no longer passes BUILD_FROM from it): the
    # Dockerfile names one multi-arch base image that serves every architecture.
    assert not (ROOT / "build.yaml").exists()
    assert not (ROOT / "build.json").exists()


def test_no_key_is_set_to_its_default() -> None:
    at_default = [
        k for k, v in CONFIG.items() if k in SUPERVISOR_DEFAULTS and v == SUPERVISOR_DEFAULTS[k]
    ]
    assert at_default == []


def test_no_deprecated_keys() -> None:
    assert not DEPRECATED_KEYS & set(CONFIG)
    assert CONFIG.get("startup") not in ("before", "after")
    assert not any(":" in d for d in CONFIG.get("devices", []))


def test_the_keys_this_add_on_needs() -> None:
    assert CONFIG["init"] is False  # the base image's s6-overlay is PID 1
    assert CONFIG["uart"] is True  # the serial inverter
    assert CONFIG["services"] == ["mqtt:want"]
    assert all(re.fullmatch(r"(mqtt|mysql):(provide|want|need)", s) for s in CONFIG["services"])
    # homeassistant_api only because the Home Assistant energy source and forecast use it.
    assert CONFIG.get("homeassistant_api") is True
    ha_source = (ROOT / "edge_mining" / "devices" / "homeassistant" / "client.py").read_text()
    assert "http://supervisor/core/api" in ha_source


def test_the_supervisor_waits_long_enough_for_a_clean_stop() -> None:
    """After SIGTERM the Supervisor kills the add-on once ``timeout`` has passed (default 10 s).
    The stop pauses the miners (a command waits up to its timeout on a miner that does not
    answer), reads them back and publishes their last state: all of it must fit."""
    import inspect

    from edge_mining.mqtt.bridge import FINAL_PUBLISH_TIMEOUT_S
    from edge_mining.service.daemon import SHUTDOWN_READ_TIMEOUT_S, Daemon

    command_timeout_s = inspect.signature(Daemon).parameters["command_timeout_s"].default
    worst_stop_s = command_timeout_s + SHUTDOWN_READ_TIMEOUT_S + FINAL_PUBLISH_TIMEOUT_S
    assert CONFIG["timeout"] >= worst_stop_s + 5, (CONFIG["timeout"], worst_stop_s)


# --------------------------------------------------------------------------- options schema


def test_every_schema_type_is_in_the_supervisors_grammar() -> None:
    def check(node: Any, path: str) -> None:
        if isinstance(node, dict):
            assert node, f"{path}: empty dict"
            for key, value in node.items():
                check(value, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            assert len(node) == 1, f"{path}: a list schema has exactly one element"
            assert not isinstance(node[0], list), f"{path}: a list may not contain a list"
            check(node[0], path)
        else:
            assert isinstance(node, str) and SCHEMA_ELEMENT.match(node), f"{path}: {node!r}"
            if node.startswith("match("):
                re.compile(SCHEMA_ELEMENT.match(node).group("match"))  # type: ignore[union-attr]

    check(SCHEMA, "")


def test_every_option_is_in_the_schema_and_optional_ones_have_no_default() -> None:
    def check(options: Any, schema: Any, path: str) -> None:
        if isinstance(schema, dict):
            assert isinstance(options, dict), f"{path}: options must be a mapping"
            for key, value in options.items():
                assert key in schema, f"option {path}.{key} is not in the schema"
                check(value, schema[key], f"{path}.{key}")
            for key, typ in schema.items():
                if isinstance(typ, str) and typ.endswith("?"):
                    assert key not in options, f"{path}.{key} is optional: no default"
                elif isinstance(typ, list) and isinstance(typ[0], str) and typ[0].endswith("?"):
                    continue
                else:
                    # The Supervisor refuses to start an add-on with a required option missing.
                    assert key in options, f"{path}.{key} is required: it needs a default"
        elif isinstance(schema, list):
            assert isinstance(options, list), f"{path}: options must be a list"
            for element in options:
                check(element, schema[0], path)
        else:
            match = SCHEMA_ELEMENT.match(schema)
            assert match is not None
            if schema.startswith("bool"):
                assert isinstance(options, bool), path
            elif schema.startswith("int") or schema.startswith("port"):
                assert isinstance(options, int) and not isinstance(options, bool), path
            elif schema.startswith("float"):
                assert isinstance(options, int | float) and not isinstance(options, bool), path
            elif schema.startswith("list("):
                assert str(options) in match.group("list").split("|"), path
            elif schema.startswith("match("):
                assert re.match(match.group("match"), str(options)), path
            else:
                assert isinstance(options, str), path

    check(OPTIONS, SCHEMA, "options")


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    found = []
    for arg in typing.get_args(annotation) or (annotation,):
        for inner in typing.get_args(arg) or (arg,):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found.append(inner)
    return found


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _field_kinds(annotation: Any) -> set[Any]:
    kinds: set[Any] = set()
    for arg in _union_members(annotation):
        if arg is type(None):
            continue
        if typing.get_origin(arg) is Literal:
            kinds.add(("literal", frozenset(str(a) for a in typing.get_args(arg))))
        elif typing.get_origin(arg) is list:
            kinds.add(("list", typing.get_args(arg)[0]))
        elif isinstance(arg, type) and issubclass(arg, str) and arg is not str:  # StrEnum
            kinds.add(("literal", frozenset(m.value for m in arg)))  # type: ignore[attr-defined]
        else:
            kinds.add(arg)
    return kinds


def _compatible(schema_type: str | list[str], annotation: Any) -> bool:
    kinds = _field_kinds(annotation)
    if isinstance(schema_type, list):  # a list of simple values
        inner = [k[1] for k in kinds if isinstance(k, tuple) and k[0] == "list"]
        return len(inner) == 1 and _compatible(schema_type[0], inner[0])
    base = schema_type.rstrip("?")
    if base.startswith("list("):
        choices = frozenset(base[5:-1].split("|"))
        return ("literal", choices) in kinds
    if base.startswith("password"):
        return SecretStr in kinds
    if base.startswith("bool"):
        return bool in kinds
    if base.startswith("int") or base == "port":
        return int in kinds
    if base.startswith("float"):
        return float in kinds
    return bool(kinds & {str, Path})  # str, match(), url, device


def _schema_paths_of_model(model: type[BaseModel], prefix: str) -> dict[str, Any]:
    """Dotted path -> annotation of every leaf setting under ``model``."""
    paths: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        nested = _models_of(field.annotation)
        if nested:
            for sub in nested:
                paths.update(_schema_paths_of_model(sub, path))
        else:
            paths.setdefault(path, field.annotation)
    return paths


def site_settings() -> dict[str, Any]:
    settings = _schema_paths_of_model(SiteConfig, "")
    # The energy source is a union: its settings are every variant's.
    settings = {k: v for k, v in settings.items() if not k.startswith("energy_source.")}
    union = typing.get_args(EnergySourceConfig)[0]
    for variant in typing.get_args(union):
        for path, annotation in _schema_paths_of_model(variant, "energy_source").items():
            if path in settings and path != "energy_source.type":
                settings[path] = annotation | settings[path]  # the same name, two shapes
            else:
                settings.setdefault(path, annotation)
    settings["energy_source.type"] = Literal[
        tuple(typing.get_args(v.model_fields["type"].annotation)[0] for v in typing.get_args(union))
    ]
    return {k: v for k, v in settings.items() if k not in NOT_USER_SETTINGS}


def schema_leaves() -> dict[str, str | list[str]]:
    return dict(leaves(SCHEMA))


def test_the_schema_covers_every_site_setting_and_nothing_else() -> None:
    settings = site_settings()
    schema = schema_leaves()
    missing = sorted(set(settings) - set(schema))
    unknown = sorted(set(schema) - set(settings))
    assert missing == [], f"site settings the add-on's schema lacks: {missing}"
    assert unknown == [], f"schema keys that are no site setting: {unknown}"


def test_schema_types_fit_the_settings_types() -> None:
    settings = site_settings()
    wrong = [
        f"{path}: {typ} for {settings[path]}"
        for path, typ in schema_leaves().items()
        if path in settings and not _compatible(typ, settings[path])
    ]
    assert wrong == []


def test_default_options_are_the_models_defaults() -> None:
    data = normalize_options(OPTIONS)
    # What a user adds before the add-on can run: an inverter and a miner.
    data["energy_source"]["device"] = "/dev/ttyUSB0"
    data["miners"] = [
        {
            "name": "s9",
            "driver": "braiins",
            "host": "192.168.1.50",
            "min_power_w": 700,
            "max_power_w": 1400,
            "nominal_hashrate_ths": 13.5,
            "nominal_power_w": 1300,
        }
    ]
    site = parse_config({**data, "state_dir": "/data"}, environ={})
    defaults = SiteConfig.model_construct()
    for section in ("control", "mqtt", "forecast", "heating", "economics", "homeassistant"):
        assert getattr(site, section) == getattr(defaults, section), section
    assert site.log_level == "info" and site.name == "Edge Mining"
    assert site.energy_source.type == "voltronic"  # the seed's inverter


# ------------------------------------------------------------------------------ translations


def test_every_translation_key_is_in_the_schema_and_every_option_is_translated() -> None:
    def check(translated: dict[str, Any], schema: dict[str, Any], path: str) -> None:
        assert set(translated) == set(schema), (
            f"{path}: translated {sorted(set(translated) - set(schema))} not in the schema, "
            f"untranslated {sorted(set(schema) - set(translated))}"
        )
        for key, entry in translated.items():
            assert isinstance(entry.get("name"), str) and entry["name"], f"{path}.{key}: name"
            assert isinstance(entry.get("description", ""), str)
            sub = schema[key][0] if isinstance(schema[key], list) else schema[key]
            if isinstance(sub, dict):
                check(entry.get("fields", {}), sub, f"{path}.{key}")
            else:
                assert "fields" not in entry, f"{path}.{key} has no fields"

    assert set(TRANSLATIONS) <= {"configuration", "network"}
    check(TRANSLATIONS["configuration"], SCHEMA, "configuration")


# ------------------------------------------------------------------------- image and files


def test_run_sh_passes_shellcheck() -> None:
    run_sh = ROOT / "run.sh"
    assert run_sh.stat().st_mode & 0o111, "run.sh must be executable"
    assert run_sh.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    result = subprocess.run(
        ["shellcheck", "--severity=style", str(run_sh)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exec edge-mining run --addon" in run_sh.read_text(encoding="utf-8")


def test_dockerfile_builds_from_the_base_python_image_with_pins_and_labels() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    froms = re.findall(r"^FROM (\S+)$", text, re.M)
    # One explicit multi-arch base (no per-architecture prefix, no BUILD_FROM to fall back on).
    assert len(froms) == 1, froms
    assert re.fullmatch(r"ghcr\.io/home-assistant/base-python:3\.1[1-9]-alpine3\.\d+", froms[0])
    assert "BUILD_FROM" not in text and "amd64-base" not in text
    arches = re.search(r'io\.hass\.arch="([^"]+)"', text)
    assert arches is not None and set(arches.group(1).split("|")) == set(CONFIG["arch"])
    for label in ("io.hass.type", "io.hass.version", "io.hass.arch"):
        assert f"{label}=" in text
    assert 'io.hass.type="addon"' in text
    assert re.search(r"pip install --no-cache-dir --constraint requirements-addon\.txt \.", text)
    assert 'CMD ["/run.sh"]' in text
    assert "pip" not in (ROOT / "run.sh").read_text(encoding="utf-8")  # never at run time


def test_requirements_pin_the_whole_tree_consistently_with_pyproject() -> None:
    lines = [
        line
        for line in (ROOT / "requirements-addon.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    pins = {}
    for line in lines:
        name, sep, version = line.partition("==")
        assert sep and version, f"not pinned: {line}"
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for requirement in project["dependencies"]:
        name, _, version = requirement.partition("==")
        assert pins.get(re.sub(r"[-_.]+", "-", name).lower()) == version, requirement


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_icon_and_logo() -> None:
    assert _png_size(ROOT / "icon.png") == (128, 128)
    width, height = _png_size(ROOT / "logo.png")
    assert width > height and height <= 250


@pytest.mark.parametrize("name", ["repository.yaml", "DOCS.md", "apparmor.txt", ".dockerignore"])
def test_the_other_add_on_files_exist(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    assert text.strip()
    if name == "repository.yaml":
        repository = yaml.safe_load(text)
        assert repository["name"] and repository["url"].startswith("https://")
    if name == "apparmor.txt":
        assert re.search(
            r"^profile \S+ flags=\(attach_disconnected,mediate_deleted\) \{", text, re.M
        )
        assert text.count("{") == text.count("}")
        assert "/data/** rwk," in text


def test_docs_describe_every_top_level_option() -> None:
    docs = (ROOT / "DOCS.md").read_text(encoding="utf-8")
    for key in SCHEMA:
        assert f"`{key}`" in docs, f"DOCS.md does not describe the option {key}"
    for topic in ("Installation", "Entities", "Troubleshooting", "automation"):
        assert topic.lower() in docs.lower()
