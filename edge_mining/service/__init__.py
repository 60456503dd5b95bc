"""The asyncio service behind ``edge-mining run`` and the demo, one job per module:

- ``state``: ``SiteState``, what the daemon knows at one moment, and its listeners;
- ``commands``: validation of users' commands (mode, manual miner commands, control changes);
- ``actuation``: sending the controller's commands to the drivers, the shutdown action;
- ``daemon``: ``Daemon``, the pollers, the control tick, counters and shutdown;
- ``keeper``: the state files and when they are written (counters published as saved);
- ``memory_file``: the controller's protections on disk, so they survive a restart;
- ``settings_file``: settings changed over MQTT on disk, and which wins over the config file;
- ``startup``: ``serve`` (drivers from the site, daemon plus MQTT bridge, signals, closing)
  and ``run_command`` for ``edge-mining run``.

Other code imports these names from ``edge_mining.service``.
"""

from edge_mining.service.daemon import (
    FORECAST_POLL_S,
    HASHPRICE_POLL_S,
    LISTENER_TIMEOUT_S,
    TEMPERATURE_POLL_S,
    TEMPERATURE_STALE_S,
    Daemon,
    HashpriceReader,
    RoomTemperatureReader,
)
from edge_mining.service.startup import (
    BridgeRunner,
    addon_site_hook,
    mqtt_bridge_hook,
    run_command,
    serve,
)
from edge_mining.service.state import Listener, SiteState

__all__ = [
    "FORECAST_POLL_S",
    "HASHPRICE_POLL_S",
    "LISTENER_TIMEOUT_S",
    "TEMPERATURE_POLL_S",
    "TEMPERATURE_STALE_S",
    "BridgeRunner",
    "Daemon",
    "HashpriceReader",
    "Listener",
    "RoomTemperatureReader",
    "SiteState",
    "addon_site_hook",
    "mqtt_bridge_hook",
    "run_command",
    "serve",
]
