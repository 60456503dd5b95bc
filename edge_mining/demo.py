"""``edge-mining demo``: a simulated site, time-accelerated, with a live console view.

The demo runs the real daemon and the real controller against the plant simulator and
simulated miners (``sim/``), on a :class:`~edge_mining.clock.ScaledClock`. Simulated time starts
on the 21st of June of the current year at ``--start-hour`` (UTC, which is also the plant's
solar time). ``--config FILE`` simulates the shape of a site file instead of the built-in demo
site (``demo_shape.py``: its miners and plant sizes, never its real devices or the network).
The state (counters) lives in a temporary folder unless ``--state-dir`` is given.

Options that bring in emulators or a broker (``--inverter emulated``, ``--miners emulated``,
``--solaredge``, ``--mqtt``) go through the ``setup_*`` hooks below: each receives the site and
returns the site to run (for example with the energy source pointed at an emulator it started
inside ``stack``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_mining.clock import Clock, ScaledClock
from edge_mining.config import ConfigError, SiteConfig, load_config, parse_config
from edge_mining.demo_console import LiveConsole, PlainConsole, header_lines
from edge_mining.logs import set_level as set_log_level

# The plain console, under its historical name (tests import it from here).
Console = PlainConsole

DEMO_SITE: dict[str, Any] = {
    "name": "built-in demo site",
    "energy_source": {
        "type": "simulated",
        "plant": {
            "pv_kwp": 5.0,
            "pv_cloud_noise": 0.15,
            "battery_kwh": 10.0,
            "battery_initial_soc_pct": 85.0,
            "house_load_kwh_per_year": 4000.0,
            "latitude": 45.0,
            "grid_connected": True,
        },
    },
    "miners": [
        {
            "name": "s19jpro",
            "min_power_w": 1200,
            "max_power_w": 3300,
            "nominal_hashrate_ths": 100,
            "nominal_power_w": 3050,
        },
        {
            "name": "s9",
            "min_power_w": 700,
            "max_power_w": 1400,
            "nominal_hashrate_ths": 13.5,
            "nominal_power_w": 1300,
        },
        {
            "name": "nano3",
            "min_power_w": 140,
            "max_power_w": 140,
            "nominal_hashrate_ths": 4,
            "nominal_power_w": 140,
            "power_target": False,
        },
    ],
    # Shorter delays than the defaults so that an accelerated half hour shows decisions.
    "control": {"start_delay_s": 60, "stop_delay_s": 60, "min_on_s": 300, "min_off_s": 180},
    "mqtt": {"enabled": False},
}


class DemoOptionUnavailable(Exception):
    """A demo option whose parts are not in this build."""


# ---------------------------------------------------------------------------------- hooks


async def setup_emulated_inverter(
    args: argparse.Namespace, site: SiteConfig, plant: Any, clock: Clock, stack: AsyncExitStack
) -> SiteConfig:
    """``--inverter emulated``: serve the plant through a PI30 emulator on a pseudo-terminal
    and read it with the Voltronic driver (edge_mining/sim/pi30_emulator.py)."""
    from edge_mining.config import VoltronicSourceConfig
    from edge_mining.sim.pi30_emulator import Pi30Emulator

    if plant is None:
        raise DemoOptionUnavailable("--inverter emulated needs a simulated plant to serve")
    # No 2400-baud pacing: the demo's clock runs faster than a real serial line could follow.
    # The emulator steps the shared plant to the clock's now, as the simulated source would.
    emulator = Pi30Emulator(plant, clock=clock, step_plant=True)
    await emulator.start()
    stack.push_async_callback(emulator.stop)
    print(f"emulated PI30 inverter on {emulator.path}", flush=True)
    source = VoltronicSourceConfig(type="voltronic", device=emulator.path, timeout_s=1.0)
    return site.model_copy(update={"energy_source": source})


async def setup_emulated_miners(
    args: argparse.Namespace, site: SiteConfig, plant: Any, clock: Clock, stack: AsyncExitStack
) -> SiteConfig:
    """``--miners emulated``: BraiinsOS emulators on loopback, driven through pyasic
    (edge_mining/sim/braiins_emulator.py).

    Every simulated miner with a power target becomes an emulated BraiinsOS machine on its own
    127.77.N.x address (N drawn per demo, so two demos on one machine do not collide): an S9
    running legacy BOSminer below 2 kW, which is on/off only, else an S19j Pro on BOSer. Each
    runs on the demo's clock and draws from the demo's plant. The site's entries switch to
    ``driver: braiins`` with a per-demo password, so the daemon reaches them through the
    device factory and pyasic exactly as ``edge-mining run`` would.
    """
    import secrets

    from pydantic import SecretStr

    from edge_mining.sim.braiins import EmulatedMiner, EmulatorFleet, loopback_hosts

    chosen = [m for m in site.miners if m.driver == "simulated" and m.power_target]
    if not chosen:
        raise DemoOptionUnavailable("--miners emulated: no simulated miner to emulate")
    password = secrets.token_urlsafe(12)
    hosts = loopback_hosts(f"127.77.{secrets.randbelow(250) + 1}.1", len(chosen))
    emulated: list[EmulatedMiner] = []
    replaced: dict[str, Any] = {}
    for config, host in zip(chosen, hosts, strict=True):
        legacy = config.nominal_power_w < 2000
        model = "S9" if legacy else "S19j Pro"
        emulated.append(
            EmulatedMiner(
                host, model, clock=clock, password=password, name=config.name, mining=False
            )
        )
        replaced[config.name] = config.model_copy(
            update={
                "driver": "braiins",
                "host": host,
                "password": SecretStr(password),
                "power_target": not legacy,  # legacy BOSminer retargets only by restarting
            }
        )
    on_power = plant.set_miner_draw if plant is not None else None
    fleet = EmulatorFleet(emulated, on_power=on_power)
    fleet.feed_interval_s = 0.1
    try:
        await fleet.start()
    except OSError as error:
        await fleet.close()
        raise DemoOptionUnavailable(
            f"--miners emulated: cannot listen on loopback: {error}"
        ) from None
    stack.push_async_callback(fleet.close)
    for miner in emulated:
        print(
            f"emulated BraiinsOS miner {miner.name} ({miner.spec.model}, "
            f"{'BOSminer' if miner.legacy else 'BOSer'}) on {miner.host}",
            flush=True,
        )
    miners = [replaced.get(m.name, m) for m in site.miners]
    return site.model_copy(update={"miners": miners})


async def setup_solaredge(
    args: argparse.Namespace, site: SiteConfig, plant: Any, clock: Clock, stack: AsyncExitStack
) -> SiteConfig:
    """``--solaredge``: serve the plant over Modbus TCP as a SolarEdge inverter
    (edge_mining/sim/solaredge_emulator.py) and read it with the SolarEdge driver."""
    from edge_mining.config import SolarEdgeSourceConfig
    from edge_mining.sim.solaredge_emulator import SolarEdgeEmulator

    if plant is None:
        raise DemoOptionUnavailable("--solaredge needs a simulated plant to serve")
    emulator = SolarEdgeEmulator(plant, clock=clock, host="127.0.0.1", port=0)
    await emulator.start()
    stack.push_async_callback(emulator.stop)
    print(f"emulated SolarEdge on Modbus TCP {emulator.address}", flush=True)
    source = SolarEdgeSourceConfig(type="solaredge", host=emulator.host, port=emulator.port)
    return site.model_copy(update={"energy_source": source})


async def setup_mqtt(
    args: argparse.Namespace, site: SiteConfig, stack: AsyncExitStack
) -> SiteConfig:
    """``--mqtt HOST:PORT|embedded``: publish the demo site to a broker with discovery and obey
    its commands (the daemon starts the bridge when ``site.mqtt`` has a host)."""
    from edge_mining.config import MqttConfig
    from edge_mining.mqtt.broker import BrokerUnavailable, EmbeddedBroker, parse_broker_address

    username, password = args.mqtt_username, args.mqtt_password
    if args.mqtt == "embedded":
        broker = EmbeddedBroker(username=username, password=password)
        try:
            broker.start()
        except BrokerUnavailable as error:
            raise DemoOptionUnavailable(f"--mqtt embedded: {error}") from None
        stack.callback(broker.close)
        host, port = broker.host, broker.port
        print(f"embedded MQTT broker on {host}:{port}", flush=True)
    else:
        try:
            host, port = parse_broker_address(args.mqtt)
        except ValueError as error:
            raise DemoOptionUnavailable(f"--mqtt: {error}") from None
    mqtt = MqttConfig.model_validate(
        {
            **site.mqtt.model_dump(),
            "enabled": True,
            "host": host,
            "port": port,
            "username": username if username is not None else site.mqtt.username,
            "password": password if password is not None else site.mqtt.password,
        }
    )
    print(
        f"publishing to MQTT {host}:{port}, base topic {mqtt.base_topic!r}, "
        f"discovery prefix {mqtt.discovery_prefix!r}",
        flush=True,
    )
    return site.model_copy(update={"mqtt": mqtt})


def setup_web(args: argparse.Namespace, site: SiteConfig) -> SiteConfig:
    """``--web HOST:PORT``: serve the web panel for the demo. Beyond loopback the panel needs a
    token: ``EDGE_MINING_WEB_TOKEN``, else a random one, printed in the panel's address."""
    import os
    import secrets
    import socket

    from edge_mining.config import WebConfig, is_loopback_host
    from edge_mining.web.address import parse_listen_address

    try:
        host, port = parse_listen_address(args.web)
    except ValueError as error:
        raise DemoOptionUnavailable(f"--web: {error}") from None
    # Asked for explicitly: a port already taken stops the demo (the daemon itself would go on
    # without its panel and only log it).
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        raise DemoOptionUnavailable(
            f"--web: cannot listen on {host}:{port}: {error.strerror or error}"
        ) from None
    token = None
    if not is_loopback_host(host):
        token = os.environ.get("EDGE_MINING_WEB_TOKEN") or secrets.token_urlsafe(18)
    web = WebConfig(enabled=True, host=host, port=port, token=token)
    shown = f"[{host}]" if ":" in host else host
    print(f"web panel on http://{shown}:{port}/" + (f"?token={token}" if token else ""), flush=True)
    return site.model_copy(update={"web": web})


# ----------------------------------------------------------------------------------- main


def demo_start(start_hour: float, now: datetime | None = None) -> float:
    """Epoch seconds of the 21st of June (this year) at ``start_hour`` UTC."""
    year = (now or datetime.now(UTC)).year
    return datetime(year, 6, 21, tzinfo=UTC).timestamp() + start_hour * 3600.0


def demo_site(state_dir: Path) -> SiteConfig:
    return parse_config({**DEMO_SITE, "state_dir": str(state_dir)}, environ={})


def main(args: argparse.Namespace) -> int:
    if not 0 <= args.start_hour < 24:
        print("demo: --start-hour must be between 0 and 24", file=sys.stderr)
        return 2
    if getattr(args, "log_level", None) is None:
        # The console view already shows every command; keep the log for warnings.
        set_log_level("warning")
    with tempfile.TemporaryDirectory(prefix="edge-mining-demo-") as scratch:
        state_dir = args.state_dir if args.state_dir is not None else Path(scratch)
        notes: list[str] = []
        try:
            if args.config is None:
                site = demo_site(state_dir)
            else:
                from edge_mining.demo_shape import simulated_shape

                shape = simulated_shape(load_config(args.config), state_dir)
                site = shape.site
                notes = [f"demo of {args.config}: " + "; ".join(shape.notes)]
        except ConfigError as error:
            from edge_mining.cli import print_config_problems

            print_config_problems(error.problems)
            return 2
        clock = ScaledClock(start=demo_start(args.start_hour), speed=args.speed)
        return asyncio.run(_run(args, site, clock, notes))


async def _run(
    args: argparse.Namespace, site: SiteConfig, clock: ScaledClock, notes: list[str]
) -> int:
    from edge_mining.cli import print_config_problems
    from edge_mining.devices.factory import build_plant, needs_plant
    from edge_mining.service import serve

    plant = build_plant(site, clock.now()) if needs_plant(site) else None
    async with AsyncExitStack() as stack:
        try:
            if args.inverter == "emulated":
                site = await setup_emulated_inverter(args, site, plant, clock, stack)
            if args.solaredge:
                site = await setup_solaredge(args, site, plant, clock, stack)
            if args.miners == "emulated":
                site = await setup_emulated_miners(args, site, plant, clock, stack)
            if args.mqtt:
                site = await setup_mqtt(args, site, stack)
            if getattr(args, "web", None):
                site = setup_web(args, site)
        except DemoOptionUnavailable as error:
            print(f"demo: {error}", file=sys.stderr)
            return 2
        live = sys.stdout.isatty() and not getattr(args, "plain", False)
        currency = site.economics.currency
        console = LiveConsole(currency=currency) if live else PlainConsole(currency=currency)
        stack.callback(console.close)
        console.header(
            header_lines(site.name, len(site.miners), clock.speed, clock.now(), args.duration),
            notes,
        )
        stop = asyncio.Event()
        if args.duration:
            asyncio.get_running_loop().call_later(args.duration, stop.set)
        started = clock.now()
        try:
            await serve(site, clock=clock, stop=stop, plant=plant, on_daemon=console.attach)
        except ConfigError as error:
            console.close()
            print_config_problems(error.problems)
            return 2
        console.close()
        if console.daemon is not None:
            console.summary(console.daemon.state, (clock.now() - started) / 3600.0)
    return 0
