"""Composition and start-up: build the drivers from the site, run the daemon with the MQTT
bridge beside it until a signal, close everything; ``edge-mining run`` (``run_command``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from edge_mining.cancel import cancel_and_wait
from edge_mining.clock import Clock, WallClock
from edge_mining.config import ADDON_OPTIONS_PATH, ConfigError, SiteConfig, load_config
from edge_mining.devices.redact import add_secret
from edge_mining.logs import set_level as set_log_level
from edge_mining.service.daemon import Daemon, RoomTemperatureReader

log = logging.getLogger(__name__)

# The bridge's own final publish is bounded (3 s); this bounds everything else a companion
# (bridge, web panel) might do once asked to stop.
COMPANION_STOP_TIMEOUT_S = 10.0

# ------------------------------------------------------------------------------- hooks


BridgeRunner = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def mqtt_bridge_hook(daemon: Daemon, site: SiteConfig) -> BridgeRunner | None:
    """The MQTT bridge to run alongside the daemon, when MQTT is enabled and has a host.

    Contract with ``edge_mining.mqtt.bridge``: ``run_bridge(site, daemon, stop)`` is a
    coroutine that runs until ``stop`` is set, then publishes the final state and ``offline``
    and returns. ``stop`` is set only after the daemon has shut down, so the miners'
    shutdown state is what the broker sees last.
    """
    if not (site.mqtt.enabled and site.mqtt.host):
        return None
    try:
        from edge_mining.mqtt.bridge import run_bridge
    except ImportError as error:
        log.error("MQTT is configured but the bridge is not available: %s", error)
        return None

    def runner(stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        return run_bridge(site, daemon, stop)

    return runner


def web_panel_hook(daemon: Daemon, site: SiteConfig) -> BridgeRunner | None:
    """The web panel to serve alongside the daemon, when ``web.enabled``.

    Same contract as the MQTT bridge: ``run_panel(site, daemon, stop)`` serves until ``stop``
    is set (after the daemon has shut down), saves the panel's history and returns.
    """
    if not site.web.enabled:
        return None
    from edge_mining.web.server import run_panel

    def runner(stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        return run_panel(site, daemon, stop)

    return runner


def addon_site_hook(site: SiteConfig) -> SiteConfig:
    """Inside the Home Assistant add-on: fill in what the Supervisor provides (the MQTT
    broker's address and credentials when ``mqtt.host`` is unset).

    ``edge_mining.addon.supervisor.apply_supervisor_services(site) -> SiteConfig`` runs at
    start-up only, so it may block briefly. A build without it runs the site as configured.
    """
    try:
        from edge_mining.addon.supervisor import apply_supervisor_services as apply
    except ImportError:
        log.info("Supervisor service discovery not available in this build")
        return site
    return apply(site)


# --------------------------------------------------------------------------------- serve


async def serve(
    site: SiteConfig,
    *,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    plant: Any | None = None,
    install_signals: bool = True,
    on_daemon: Callable[[Daemon], None] | None = None,
    temperatures: RoomTemperatureReader | None = None,
) -> None:
    """Build the drivers, run the daemon (and the MQTT bridge) until stopped, close all.

    ``temperatures`` replaces the heating zones' thermometers (the demo's simulated rooms).
    Raises ConfigError when a configured driver is not available.
    """
    from edge_mining.devices.factory import build_devices

    clock = clock or WallClock()
    stop = stop or asyncio.Event()
    from edge_mining.devices.temperature import room_temperatures

    devices = build_devices(site, clock=clock, plant=plant)
    try:
        if temperatures is None:
            temperatures = room_temperatures(site, clock=clock)
    except ValueError as error:
        await devices.close()
        raise ConfigError([f"heating.zones: cannot read room temperatures: {error}"]) from None
    hashprice = None
    if site.economics.hashprice_source is not None:
        from edge_mining.devices.hashprice import HashpriceFetcher

        hashprice = HashpriceFetcher(site.economics.hashprice_source, clock=clock)
    loop = asyncio.get_running_loop()
    signals: list[signal.Signals] = []
    companions: dict[str, asyncio.Task[None]] = {}
    companions_stop = asyncio.Event()
    failures: list[tuple[str, BaseException]] = []

    def start_companion(
        what: str, coroutine: Coroutine[Any, Any, None], *, may_return: bool = False
    ) -> None:
        """The MQTT bridge and the web panel run until asked to stop (after the daemon); one
        that fails stops the whole daemon, so its death cannot go unnoticed while the miners
        run on with Home Assistant blind. ``may_return``: returning early is the companion's
        own decision, which it logs (the panel on a port it cannot bind: the daemon goes on)."""

        def ended(task: asyncio.Task[None]) -> None:
            if companions_stop.is_set() or task.cancelled():
                return
            if task.exception() is None and may_return:
                return
            error = task.exception() or RuntimeError("it returned before being asked to stop")
            failures.append((what, error))
            log.error(
                "%s failed: %s: stopping edge-mining",
                what,
                _describe(error),
                exc_info=error if task.exception() is not None else None,
            )
            stop.set()

        task = asyncio.create_task(coroutine, name=what)
        task.add_done_callback(ended)
        companions[what] = task

    try:
        daemon = Daemon(
            site,
            energy=devices.energy,
            miners=devices.miners,
            forecast=devices.forecast,
            clock=clock,
            temperatures=temperatures,
            hashprice=hashprice,
        )
        if on_daemon is not None:
            on_daemon(daemon)
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
                signals.append(sig)
        bridge = mqtt_bridge_hook(daemon, site)
        if bridge is not None:
            start_companion("MQTT bridge", bridge(companions_stop))
        panel = web_panel_hook(daemon, site)
        if panel is not None:
            start_companion("web panel", panel(companions_stop), may_return=True)
        await daemon.run(stop)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        # After the daemon: the final state the bridge publishes is the shutdown state.
        companions_stop.set()
        for what, task in companions.items():
            if task.done():
                continue
            try:
                async with asyncio.timeout(COMPANION_STOP_TIMEOUT_S):
                    await task
            except TimeoutError:
                log.warning("%s did not stop within %g s", what, COMPANION_STOP_TIMEOUT_S)
                await cancel_and_wait([task], logger=log)
            except Exception:
                log.exception("%s failed while stopping", what)
        if temperatures is not None:
            await temperatures.close()
        if hashprice is not None:
            await hashprice.close()
        await devices.close()
        log.info("edge-mining stopped")
    if failures:
        what, error = failures[0]
        raise RuntimeError(f"{what} failed: {_describe(error)}")


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_command(args: argparse.Namespace) -> int:
    """``edge-mining run --config FILE`` or ``edge-mining run --addon``."""
    from edge_mining.cli import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, print_config_problems
    from edge_mining.service.banner import ChangeLog, banner

    try:
        if getattr(args, "addon", False):
            # The add-on's form offers every energy source's fields; keep the chosen type's.
            from edge_mining.addon.options import load_addon_site

            options = load_addon_site(args.options or ADDON_OPTIONS_PATH)
            site = addon_site_hook(options)
            supervised = bool(site.mqtt.host) and not options.mqtt.host
            origin = "from the Supervisor" if supervised else "from the options"
        else:
            site = load_config(args.config)
            origin = f"from {args.config}"
    except ConfigError as error:
        print_config_problems(error.problems)
        return EXIT_CONFIG
    if getattr(args, "log_level", None) is None:
        set_log_level(site.log_level)
    for secret in site.secret_values():
        add_secret(secret)
    from edge_mining.service.memory_file import LoadProfileFile

    history = LoadProfileFile(site.state_dir).path.is_file()
    log.info("%s", banner(site, broker_origin=origin, load_history=history))
    try:
        asyncio.run(serve(site, on_daemon=lambda daemon: daemon.add_listener(ChangeLog())))
    except ConfigError as error:
        print_config_problems(error.problems)
        return EXIT_CONFIG
    except RuntimeError as error:
        log.error("edge-mining stopped after a failure: %s", error)
        return EXIT_FAILURE
    return EXIT_OK
