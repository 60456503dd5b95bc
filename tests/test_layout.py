"""The source tree's layout: one package per device, no device prefixes, a light start-up.

Everything about one device lives in ``edge_mining/devices/<device>/`` (driver or source,
probe, emulator); a file named after a device outside its package is the old flat layout
creeping back. ``sim/`` holds the plant simulator and the simulated devices, not protocol
emulators. Importing a device package (or the command line) must not pull in the protocol
stacks: only the drivers a site uses are imported, when it uses them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import edge_mining

PACKAGE = Path(edge_mining.__file__).parent
DEVICES = PACKAGE / "devices"
SIM = PACKAGE / "sim"
# The prefixes of the flat layout (issue 13), whatever packages exist today.
OLD_PREFIXES = ("voltronic", "braiins", "solaredge", "pi30")
HEAVY_MODULES = ("pyasic", "pymodbus", "grpclib", "betterproto", "asyncssh", "serial_asyncio_fast")


def device_packages() -> list[str]:
    return sorted(
        path.name
        for path in DEVICES.iterdir()
        if path.is_dir() and (path / "__init__.py").exists() and path.name != "emulation"
    )


def test_device_packages_exist():
    packages = device_packages()
    for name in ("voltronic", "braiins", "solaredge", "homeassistant", "mqtt", "avalon"):
        assert name in packages


def test_no_file_name_carries_a_device_prefix():
    prefixes = set(OLD_PREFIXES) | set(device_packages())
    offenders = []
    for path in PACKAGE.rglob("*"):
        if "__pycache__" in path.parts:
            continue
        stem = path.stem if path.is_file() else path.name
        if any(stem.startswith(prefix + "_") for prefix in prefixes):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == [], f"name the module by its job inside its device package: {offenders}"


def test_sim_holds_no_protocol_emulator():
    subpackages = [p.name for p in SIM.iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert subpackages == []
    for module in SIM.glob("*.py"):
        assert "emulat" not in module.name
        text = module.read_text()
        for protocol in ("pymodbus", "grpclib", "asyncssh", "import pty", "start_server"):
            assert protocol not in text, f"{module.name} serves a protocol ({protocol})"


def _imported_after(code: str) -> set[str]:
    """The heavy modules imported by running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


def test_importing_every_device_package_and_the_command_line_is_light():
    imports = "\n".join(f"import edge_mining.devices.{name}" for name in device_packages())
    code = f"{imports}\nfrom edge_mining.cli import build_parser\nbuild_parser()"
    assert _imported_after(code) == set()


def test_the_factory_imports_only_the_drivers_a_site_uses(tmp_path):
    site = (
        "from edge_mining.config import SiteConfig\n"
        "from edge_mining.clock import ManualClock\n"
        "from edge_mining.devices.factory import build_devices\n"
        "site = SiteConfig.model_validate({"
        f"'state_dir': {str(tmp_path)!r},"
        "'energy_source': {'type': 'solaredge', 'host': '127.0.0.1'},"
        "'miners': [{'name': 'm', 'driver': 'simulated', 'min_power_w': 0,"
        " 'max_power_w': 1000, 'nominal_hashrate_ths': 10, 'nominal_power_w': 1000}]})\n"
        "build_devices(site, clock=ManualClock(0.0))\n"
    )
    imported = _imported_after(site)
    assert "pymodbus" in imported  # the site's own driver
    assert not imported & {"pyasic", "grpclib", "asyncssh", "serial_asyncio_fast"}
