"""The MQTT topic layout, in one place.

    <base>/status                         bridge availability: online / offline (retained, will)
    <base>/bridge/devices                 retained list of the devices we announced
    <base>/<device>/state                 one JSON state document per device (retained)
    <base>/<device>/availability          energy data fresh / miner reachable
    <base>/<device>/<key>/set             one command topic per command entity, plain payloads
    <prefix>/device/<object_id>/config    Home Assistant device-based discovery (retained)
    <prefix>/status                       Home Assistant's birth/will messages

``<device>`` is ``controller``, ``energy`` or ``miner/<name>``. Miner names are restricted by the
configuration to ``[A-Za-z0-9_-]``, so they are safe both in topics and in discovery object ids.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTROLLER = "controller"
ENERGY = "energy"
MINER_PREFIX = "miner/"

ONLINE = "online"
OFFLINE = "offline"


def miner_device(name: str) -> str:
    """The device path of a miner: ``miner/<name>``."""
    return f"{MINER_PREFIX}{name}"


def miner_name(device: str) -> str | None:
    """The miner name of a ``miner/<name>`` device path, else None."""
    if device.startswith(MINER_PREFIX):
        name = device[len(MINER_PREFIX) :]
        if name and "/" not in name:
            return name
    return None


@dataclass(frozen=True, slots=True)
class Topics:
    base: str = "edge_mining"
    discovery_prefix: str = "homeassistant"

    @property
    def availability(self) -> str:
        return f"{self.base}/status"

    @property
    def registry(self) -> str:
        return f"{self.base}/bridge/devices"

    @property
    def homeassistant_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def state(self, device: str) -> str:
        return f"{self.base}/{device}/state"

    def device_availability(self, device: str) -> str:
        return f"{self.base}/{device}/availability"

    def command(self, device: str, key: str) -> str:
        return f"{self.base}/{device}/{key}/set"

    @property
    def command_filters(self) -> tuple[str, ...]:
        """Subscriptions that match every command topic we define (and nothing we publish)."""
        return (f"{self.base}/+/+/set", f"{self.base}/{MINER_PREFIX}+/+/set")

    def parse_command(self, topic: str) -> tuple[str, str] | None:
        """``(device, key)`` of one of our command topics, else None."""
        prefix = f"{self.base}/"
        if not topic.startswith(prefix) or not topic.endswith("/set"):
            return None
        parts = topic[len(prefix) : -len("/set")].split("/")
        if len(parts) == 2 and parts[0] in (CONTROLLER, ENERGY):
            return parts[0], parts[1]
        if len(parts) == 3 and f"{parts[0]}/" == MINER_PREFIX and parts[1] and parts[2]:
            return miner_device(parts[1]), parts[2]
        return None

    def discovery(self, object_id: str) -> str:
        return f"{self.discovery_prefix}/device/{object_id}/config"
