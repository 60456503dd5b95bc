"""The small Protocols every device driver satisfies, and the errors they raise.

A driver knows its protocol and nothing about policy. The daemon, the demo and the tests only
see these Protocols, so a simulated device and a real one are interchangeable.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from edge_mining.model import EnergyReading, Forecast, MinerState


class DeviceError(Exception):
    """A device could not be read or commanded. The message names the device."""


class DeviceUnavailable(DeviceError):
    """The device did not answer (unreachable, timed out, unplugged)."""


class DeviceAuthError(DeviceError):
    """The device refused our credentials."""


class CommandRejected(DeviceError):
    """The device answered but refused the command (NAK, refused target, ...)."""


@runtime_checkable
class EnergySource(Protocol):
    """Something that tells the site's energy flows: an inverter, a meter, HA entities."""

    name: str

    async def read(self) -> EnergyReading:
        """One fresh reading. Raises DeviceError on failure."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class MinerDriver(Protocol):
    """A miner we can read and command."""

    name: str

    async def read(self) -> MinerState:
        """Current telemetry. An unreachable miner returns status UNREACHABLE, not an error."""
        ...

    async def start(self) -> None:
        """Resume mining (never a power cycle when the miner can pause)."""
        ...

    async def stop(self) -> None:
        """Pause mining."""
        ...

    async def set_power_target(self, watts: float) -> float:
        """Apply a power target without restarting mining; returns the target applied."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class ForecastSource(Protocol):
    """Solar production forecast."""

    name: str

    async def read(self) -> Forecast: ...

    async def close(self) -> None: ...


@runtime_checkable
class TemperatureSource(Protocol):
    """Room temperature of a heating zone."""

    name: str

    async def read_celsius(self) -> float: ...
