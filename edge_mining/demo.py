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


def _levels(levels: Any) -> list[dict[str, Any]]:
    return [
        {"name": lv.name, "power_w": lv.power_w, "hashrate_ths": lv.hashrate_ths} for lv in levels
    ]


def _demo_site() -> dict[str, Any]:
    """Three families: a BraiinsOS S19j Pro (power target), an Avalon Q heater-miner with work
    modes in the living room's heating zone, and a Bitaxe Gamma with its frequency levels."""
    from edge_mining.devices.avalon.models import find_model as find_avalon
    from edge_mining.devices.bitaxe.models import find_board

    avalon = find_avalon("Avalon Q")
    bitaxe = find_board("Bitaxe Gamma")
    return {
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
                "name": "heater",
                "min_power_w": avalon.levels[0].power_w,
                "max_power_w": avalon.nominal.power_w,
                "nominal_hashrate_ths": avalon.nominal.hashrate_ths,
                "nominal_power_w": avalon.nominal.power_w,
                "levels": _levels(avalon.power_levels),
                "level_dwell_s": 300,
            },
            {
                "name": "bitaxe",
                "min_power_w": bitaxe.power_levels[0].power_w,
                "max_power_w": bitaxe.power_levels[-1].power_w,
                "nominal_hashrate_ths": bitaxe.hashrate_ths(bitaxe.default_frequency),
                "nominal_power_w": bitaxe.nominal_w,
                "levels": _levels(bitaxe.power_levels),
                "level_dwell_s": 300,
            },
        ],
        # The heater-miner warms the living room (a simulated room, sim/rooms.py) and follows
        # its thermostat: below the setpoint it runs, on the surplus first, else on the
        # battery above 60 %; once the room is warm it stops, surplus or not.
        "heating": {
            "enabled": True,
            "zones": [
                {
                    "name": "living",
                    "setpoint_c": 21.0,
                    "hysteresis_c": 0.5,
                    "miners": ["heater"],
                    "battery_floor_pct": 60.0,
                    "grid_allowance_w": 0.0,
                    "heat_only": True,
                }
            ],
        },
        # Shorter delays than the defaults so that an accelerated half hour shows decisions;
        # more starts a day than the default 4, for the heater's thermostat cycles.
        "control": {
            "start_delay_s": 60,
            "stop_delay_s": 60,
            "min_on_s": 300,
            "min_off_s": 180,
            "max_starts_per_day": 24,
        },
        # The planner plans from the first minute: a day-ahead forecast of the simulated plant
        # (its own PV with a real forecast's error) and a week of house-load history
        # (seed_house_load); the battery is the plant's.
        "forecast": {"type": "simulated"},
        "mqtt": {"enabled": False},
        # See DEMO_SAVE_INTERVAL_S.
        "state_save_interval_s": DEMO_SAVE_INTERVAL_S,
    }


# The counters are published as last saved (service/keeper.py), once a minute of wall time by
# default: at 300x that is five simulated hours without a figure moving on the panel or over
# MQTT. A demo's state is its own (a temporary folder by default), so it saves every second.
DEMO_SAVE_INTERVAL_S = 1.0
DEMO_SITE: dict[str, Any] = _demo_site()


class DemoOptionUnavailable(Exception):
    """A demo option whose parts are not in this build."""


def seed_house_load(site: SiteConfig, plant: Any, now: float) -> str | None:
    """Give the demo's planner the house-load history a week of running would have given it
    (``sim/load_history.py``), in ``state_dir``, so that it plans from the first minute. A
    history already there (a kept ``--state-dir``) is the daemon's own and stays. Returns a
    note for the console, or None when nothing was written."""
    from edge_mining.service.memory_file import LoadProfileFile
    from edge_mining.sim.load_history import house_load_history

    planner = site.planner
    file = LoadProfileFile(site.state_dir)
    if plant is None or not planner.enabled or file.path.exists():
        return None
    days = planner.load_history_days
    profile = house_load_history(plant, now, days)
    site.state_dir.mkdir(parents=True, exist_ok=True)
    file.save(profile.export())
    return f"house load: {days} days of history from the simulated plant's profile"


def planner_note(site: SiteConfig) -> str:
    """What the demo's planner plans with, for the console's header."""
    from edge_mining.service.banner import planner_text

    text = planner_text(site)
    if site.forecast.type == "simulated":
        sigma = site.forecast.error_sigma
        text += (
            f"; the forecast is the simulated plant's PV with a day-ahead error (sigma {sigma:g})"
            if sigma > 0
            else "; the forecast is the simulated plant's PV, exactly"
        )
    return text


def _with_plant_battery(site: SiteConfig, plant: Any) -> SiteConfig:
    """The site read through an emulator: the planner keeps the plant's battery (a real
    inverter does not report its capacity; the demo knows it)."""
    if plant is None:
        return site
    return site.model_copy(update={"planner": site.planner.for_plant(plant.config)})


# ---------------------------------------------------------------------------------- hooks


async def setup_emulated_inverter(
    args: argparse.Namespace, site: SiteConfig, plant: Any, clock: Clock, stack: AsyncExitStack
) -> SiteConfig:
    """``--inverter emulated``: serve the plant through a PI30 emulator on a pseudo-terminal
    and read it with the Voltronic driver (edge_mining/devices/voltronic/emulator.py)."""
    from edge_mining.config import VoltronicSourceConfig
    from edge_mining.devices.voltronic.emulator import Pi30Emulator

    if plant is None:
        raise DemoOptionUnavailable("--inverter emulated needs a simulated plant to serve")
    # No 2400-baud pacing: the demo's clock runs faster than a real serial line could follow.
    # The emulator steps the shared plant to the clock's now, as the simulated source would.
    emulator = Pi30Emulator(plant, clock=clock, step_plant=True)
    await emulator.start()
    stack.push_async_callback(emulator.stop)
    print(f"emulated PI30 inverter on {emulator.path}", flush=True)
    source = VoltronicSourceConfig(type="voltronic", device=emulator.path, timeout_s=1.0)
    return _with_plant_battery(site, plant).model_copy(update={"energy_source": source})


def emulated_model(config: Any) -> tuple[str, str] | None:
    """(family, model) of the emulator that stands in for a simulated miner, or None.

    A miner whose levels are an Avalon's or a Bitaxe's becomes that emulator; a miner with a
    power target a BraiinsOS one (an S9 on legacy BOSminer below 2 kW, on/off only, else an
    S19j Pro on BOSer); an on/off miner stays simulated.
    """
    from edge_mining.devices.avalon.models import MODELS as AVALONS
    from edge_mining.devices.bitaxe.models import BOARDS

    levels = config.power_levels()
    if levels:
        for avalon in AVALONS.values():
            if avalon.power_levels == levels:
                return "avalon", avalon.key
        for board in BOARDS.values():
            if board.power_levels == levels:
                return "bitaxe", board.key
        return None
    if config.power_target:
        return ("braiins", "S9") if config.nominal_power_w < 2000 else ("braiins", "S19j Pro")
    return None


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


async def setup_emulated_miners(
    args: argparse.Namespace, site: SiteConfig, plant: Any, clock: Clock, stack: AsyncExitStack
) -> SiteConfig:
    """``--miners emulated``: each simulated miner becomes an emulator of its family on its own
    127.77.N.x address (N drawn per demo, so two demos on one machine do not collide), driven
    through the family's driver and pyasic exactly as ``edge-mining run`` would, on the
    demo's clock and drawing from the demo's plant (see :func:`emulated_model`).

    A Bitaxe is only reachable on port 80; where the demo may not bind it (not root, no
    CAP_NET_BIND_SERVICE) that miner stays simulated and the demo says so.
    """
    import secrets

    from pydantic import SecretStr

    from edge_mining.devices.emulation.cli import emulated_models
    from edge_mining.devices.emulation.server import EmulatorFleet, loopback_hosts

    chosen = [
        (m, emulated_model(m)) for m in site.miners if m.driver == "simulated" and emulated_model(m)
    ]
    if not chosen:
        raise DemoOptionUnavailable("--miners emulated: no simulated miner to emulate")
    password = secrets.token_urlsafe(12)
    hosts = loopback_hosts(f"127.77.{secrets.randbelow(250) + 1}.1", len(chosen))
    makers = emulated_models()
    emulated: list[Any] = []
    replaced: dict[str, Any] = {}
    notes: list[str] = []
    for (config, found), host in zip(chosen, hosts, strict=True):
        assert found is not None
        family, model = found
        if family == "bitaxe" and not _port_free(host, 80):
            notes.append(f"{config.name} stays simulated: port 80 cannot be bound here")
            continue
        make = makers[model.upper()].make
        emulated.append(make(host, clock=clock, password=password, name=config.name, mining=False))
        legacy = model == "S9"
        replaced[config.name] = config.model_copy(
            update={
                "driver": family,
                "host": host,
                "password": SecretStr(password),
                # Legacy BOSminer retargets only by restarting: on/off only.
                "power_target": config.power_target and not legacy,
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
        print(f"emulated {describe_emulated(miner)} on {miner.host}", flush=True)
    for note in notes:
        print(f"--miners emulated: {note}", flush=True)
    miners = [replaced.get(m.name, m) for m in site.miners]
    return site.model_copy(update={"miners": miners})


def describe_emulated(miner: Any) -> str:
    """ "BraiinsOS miner s19jpro (Antminer S19j Pro, BOSer)", "Avalon Q heater"..."""
    spec = getattr(miner, "spec", None)
    if spec is not None and hasattr(miner, "legacy"):
        firmware = "BOSminer" if miner.legacy else "BOSer"
        return f"BraiinsOS miner {miner.name} ({spec.model}, {firmware})"
    model = getattr(miner, "model", None) or getattr(miner, "board", None)
    return f"{getattr(model, 'key', type(miner).__name__)} {miner.name}"


async def setup_solaredge(
    args: argparse.Namespace, site: SiteConfig, plant: Any, clock: Clock, stack: AsyncExitStack
) -> SiteConfig:
    """``--solaredge``: serve the plant over Modbus TCP as a SolarEdge inverter
    (edge_mining/devices/solaredge/emulator.py) and read it with the SolarEdge driver."""
    from edge_mining.config import SolarEdgeSourceConfig
    from edge_mining.devices.solaredge.emulator import SolarEdgeEmulator

    if plant is None:
        raise DemoOptionUnavailable("--solaredge needs a simulated plant to serve")
    emulator = SolarEdgeEmulator(plant, clock=clock, host="127.0.0.1", port=0)
    await emulator.start()
    stack.push_async_callback(emulator.stop)
    print(f"emulated SolarEdge on Modbus TCP {emulator.address}", flush=True)
    source = SolarEdgeSourceConfig(type="solaredge", host=emulator.host, port=emulator.port)
    return _with_plant_battery(site, plant).model_copy(update={"energy_source": source})


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
                site = shape.site.model_copy(update={"state_save_interval_s": DEMO_SAVE_INTERVAL_S})
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
    # Two stacks: the embedded broker (``broker_stack``) is stopped last, after the bridge's
    # final publish and after the emulators.
    async with AsyncExitStack() as broker_stack, AsyncExitStack() as stack:
        try:
            if args.inverter == "emulated":
                site = await setup_emulated_inverter(args, site, plant, clock, stack)
            if args.solaredge:
                site = await setup_solaredge(args, site, plant, clock, stack)
            if args.miners == "emulated":
                site = await setup_emulated_miners(args, site, plant, clock, stack)
            if args.mqtt:
                site = await setup_mqtt(args, site, broker_stack)
            if getattr(args, "web", None):
                site = setup_web(args, site)
        except DemoOptionUnavailable as error:
            print(f"demo: {error}", file=sys.stderr)
            return 2
        seeded = seed_house_load(site, plant, clock.now())
        notes = [*notes, planner_note(site), *([seeded] if seeded else [])]
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
        rooms = None
        if plant is not None and site.heating.enabled and site.heating.zones:
            from edge_mining.sim.rooms import SimulatedRooms

            rooms = SimulatedRooms(site, plant, clock)
        try:
            await serve(
                site,
                clock=clock,
                stop=stop,
                plant=plant,
                on_daemon=console.attach,
                temperatures=rooms,
            )
        except ConfigError as error:
            console.close()
            print_config_problems(error.problems)
            return 2
        console.close()
        if console.daemon is not None:
            console.summary(console.daemon.state, (clock.now() - started) / 3600.0)
    return 0
