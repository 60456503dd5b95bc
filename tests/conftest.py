"""Shared fixtures. Other test modules may append their own fixtures below."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_mining.config import SiteConfig, parse_config

# A clear summer day at the plant's default latitude (45°N); the plant's solar time is UTC.
JUNE_21 = datetime(2025, 6, 21, tzinfo=UTC).timestamp()

MINER_3KW: dict[str, Any] = {
    "name": "m3k",
    "min_power_w": 1000,
    "max_power_w": 3000,
    "nominal_hashrate_ths": 100,
    "nominal_power_w": 3000,
}


def site_data(state_dir: Path, **sections: Any) -> dict[str, Any]:
    """A minimal valid simulated site as raw data; ``sections`` replace top-level keys."""
    data: dict[str, Any] = {
        "energy_source": {"type": "simulated"},
        "miners": [dict(MINER_3KW)],
        "mqtt": {"enabled": False},
        "state_dir": str(state_dir),
    }
    data.update(sections)
    return data


def make_site(state_dir: Path, **sections: Any) -> SiteConfig:
    return parse_config(site_data(state_dir, **sections), environ={})


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def sim_site(tmp_path: Path) -> SiteConfig:
    """A simulated site with one 3 kW miner, state in a temporary directory."""
    return make_site(tmp_path / "state")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests in the browser run last: Playwright's sync API keeps its event loop marked as
    running in the main thread while the browser is open, which the asyncio tests cannot share.
    One browser then serves them all (``browser`` is session-scoped)."""
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def browser() -> Any:
    """Debian's chromium driven by Playwright, one per test session (``scripts/test`` installs
    both; Playwright cannot download a browser of its own here)."""
    from playwright.sync_api import sync_playwright
    from web_support import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
