"""Settings changed at run time survive a restart (``user_settings.json``), and a change of the
configuration file's own value wins over them, field by field. Through the real daemon and
its files; the MQTT round trip with kill -9 is in test_daemon_faults."""

from __future__ import annotations

import asyncio
import json
import logging

from test_service import NOON, fast_site, make_daemon

from edge_mining.clock import ManualClock
from edge_mining.config import SiteConfig
from edge_mining.model import Mode
from edge_mining.service import Daemon
from edge_mining.service.settings_file import SETTINGS_FILE


async def started(site: SiteConfig) -> Daemon:
    """A daemon that ran its start-up (files read, first tick) and stopped again."""
    daemon = make_daemon(site, ManualClock(NOON))
    stop = asyncio.Event()
    daemon.add_listener(lambda state: stop.set())
    await asyncio.wait_for(daemon.run(stop), 30)
    return daemon


async def changed_then_restarted(site: SiteConfig, change) -> Daemon:
    """Run, apply ``change(daemon)`` (as the bridge would), stop; then a new daemon."""
    daemon = make_daemon(site, ManualClock(NOON))
    stop = asyncio.Event()

    def on_first_tick(state) -> None:
        if not stop.is_set():
            change(daemon)
            stop.set()

    daemon.add_listener(on_first_tick)
    await asyncio.wait_for(daemon.run(stop), 30)
    return daemon


async def test_mode_control_and_manual_control_survive_a_restart(tmp_path):
    site = fast_site(tmp_path)

    def change(daemon: Daemon) -> None:
        daemon.update_control(start_soc_pct=90, min_off_s=45)
        daemon.command_miner("m3k", running=True, power_w=1500)

    await changed_then_restarted(site, change)
    saved = json.loads((site.state_dir / SETTINGS_FILE).read_text())
    assert saved["control"]["start_soc_pct"] == {"value": 90.0, "config": 50.0}
    assert saved["miners"] == {"m3k": {"running": True, "power_w": 1500.0}}
    again = await started(site)
    assert again.control.start_soc_pct == 90 and again.control.min_off_s == 45
    assert again.controller.manual_override("m3k") is not None
    assert again.state.manual_miners == frozenset({"m3k"})

    # Back to auto for the miner and to the configured value: nothing is left to keep.
    def undo(daemon: Daemon) -> None:
        daemon.release_miner("m3k")
        daemon.update_control(start_soc_pct=50, min_off_s=30)

    await changed_then_restarted(site, undo)
    assert json.loads((site.state_dir / SETTINGS_FILE).read_text()) == {"version": 1}
    third = await started(site)
    assert third.state.manual_miners == frozenset() and third.control.start_soc_pct == 50


async def test_the_config_files_new_value_wins_for_that_field_only(tmp_path, caplog):
    site = fast_site(tmp_path)

    def change(daemon: Daemon) -> None:
        daemon.set_mode(Mode.OFF)
        daemon.update_control(stop_delay_s=99, start_soc_pct=90)

    await changed_then_restarted(site, change)
    edited = fast_site(tmp_path, start_soc_pct=60, mode="manual")
    caplog.set_level(logging.INFO, logger="edge_mining")
    again = await started(edited)
    assert again.mode is Mode.MANUAL  # the file's mode changed: it wins
    assert again.control.start_soc_pct == 60  # likewise
    assert again.control.stop_delay_s == 99  # untouched in the file: the MQTT value stays
    text = caplog.text
    assert "mode: the configuration changed (auto -> manual) since off was set" in text
    assert "control.start_soc_pct: the configuration changed (50.0 -> 60.0)" in text


async def test_settings_that_no_longer_fit_the_configuration_give_way_with_a_warning(
    tmp_path, caplog
):
    site = fast_site(tmp_path)

    def change(daemon: Daemon) -> None:
        daemon.update_control(stop_soc_pct=45)  # below the configured start_soc_pct 50

    await changed_then_restarted(site, change)
    # The new file keeps stop_soc_pct 20 but lowers the start SoC under the MQTT value.
    edited = fast_site(tmp_path, start_soc_pct=40, stop_soc_sunny_pct=20, stop_soc_cloudy_pct=30)
    caplog.set_level(logging.INFO, logger="edge_mining")
    again = await started(edited)
    assert again.control.stop_soc_pct == 20 and again.control.start_soc_pct == 40
    warning = [r for r in caplog.records if "no longer fit" in r.getMessage()]
    assert len(warning) == 1 and "stop_soc_pct=45" in warning[0].getMessage()


async def test_an_unreadable_settings_file_is_moved_aside_and_the_config_used(tmp_path, caplog):
    site = fast_site(tmp_path)
    site.state_dir.mkdir(parents=True)
    path = site.state_dir / SETTINGS_FILE
    for bad in (
        "{garbage",
        "[1, 2]",
        '{"version": 7}',
        '{"version": 1, "mode": {"value": "turbo", "config": "auto"}}',
        '{"version": 1, "control": {"tick_x": {"value": 1, "config": 2}}}',
        '{"version": 1, "miners": {"m3k": {"running": "yes"}}}',
    ):
        path.write_text(bad, encoding="utf-8")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            daemon = await started(site)
        assert daemon.mode is Mode.AUTO and daemon.state.manual_miners == frozenset()
        lines = [r.getMessage() for r in caplog.records if "settings file" in r.getMessage()]
        assert len(lines) == 1 and "moved to" in lines[0], (bad, lines)
        assert not path.exists()
    aside = [p for p in site.state_dir.iterdir() if p.name.startswith(f"{SETTINGS_FILE}.corrupt")]
    assert aside  # kept for the user, never deleted


async def test_a_removed_miner_and_a_limit_that_moved_drop_its_manual_control(tmp_path, caplog):
    site = fast_site(tmp_path)
    path = site.state_dir / SETTINGS_FILE
    site.state_dir.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "miners": {
                    "gone": {"running": True, "power_w": None},
                    "m3k": {"running": True, "power_w": 9000},  # above its max_power_w now
                },
            }
        ),
        encoding="utf-8",
    )
    caplog.set_level(logging.INFO, logger="edge_mining")
    daemon = await started(site)
    assert daemon.state.manual_miners == frozenset()
    assert "manual control of gone dropped: the miner is no longer configured" in caplog.text
    assert "manual control of m3k not restored: power_w 9000 W is outside" in caplog.text
    assert json.loads(path.read_text()) == {"version": 1}
