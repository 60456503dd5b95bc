"""Simulated rooms for heating zones: the miners' draw warms them, the outside cools them.

One lumped room per heating zone, stated plainly: a heat capacity ``C`` (J/K, the air, the
furniture and the walls' inner layer), a loss coefficient ``UA`` (W/K, through the envelope
and ventilation) towards a constant outdoor temperature, and all the electricity the zone's
miners draw turned into heat in the room (a miner is a resistor that also hashes):

    C dT/dt = P_miners - UA (T - T_outdoor)

integrated exactly for the power held since the last reading. The defaults make a small,
leaky room: with ``UA`` = 100 W/K a 1.4 kW heater-miner holds it about 14 K above outdoors,
and the time constant ``C / UA`` is under two hours, so an accelerated demo shows the
thermostat at work. It satisfies the daemon's room-temperature reader protocol.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_mining.clock import Clock
from edge_mining.config import SiteConfig


@dataclass(slots=True)
class Room:
    zone: str
    miners: tuple[str, ...]
    temperature_c: float
    updated: float


class SimulatedRooms:
    """The rooms of a site's heating zones, heated by the miners' draw on ``plant``."""

    def __init__(
        self,
        site: SiteConfig,
        plant: Any,
        clock: Clock,
        *,
        initial_c: float = 18.0,
        outdoor_c: float = 10.0,
        capacity_j_per_k: float = 6.0e5,
        loss_w_per_k: float = 100.0,
    ) -> None:
        if capacity_j_per_k <= 0 or loss_w_per_k <= 0:
            raise ValueError("a room needs a heat capacity and a loss coefficient above 0")
        self.plant = plant
        self.clock = clock
        self.outdoor_c = outdoor_c
        self.capacity_j_per_k = capacity_j_per_k
        self.loss_w_per_k = loss_w_per_k
        now = clock.now()
        self.rooms = {
            zone.name: Room(zone.name, tuple(zone.miners), initial_c, now)
            for zone in (site.heating.zones if site.heating.enabled else [])
        }

    def heat_w(self, room: Room) -> float:
        draws = self.plant.miner_draws
        return sum(draws.get(name, 0.0) for name in room.miners)

    def advance(self) -> None:
        now = self.clock.now()
        tau = self.capacity_j_per_k / self.loss_w_per_k
        for room in self.rooms.values():
            dt = now - room.updated
            if dt <= 0:
                continue
            steady = self.outdoor_c + self.heat_w(room) / self.loss_w_per_k
            room.temperature_c = steady + (room.temperature_c - steady) * math.exp(-dt / tau)
            room.updated = now

    async def read_all(self) -> Mapping[str, float]:
        self.advance()
        return {name: round(room.temperature_c, 2) for name, room in self.rooms.items()}

    async def close(self) -> None:
        pass
