"""A Home Assistant REST API on loopback, answering with Core's real shapes.

- ``GET /api/states/<entity_id>``: 200 with the state object, 404 ``{"message": "Entity not
  found."}``;
- ``POST /api/services/<domain>/<service>``: 200 with the list of changed states; the
  ``switch``/``homeassistant`` ``turn_on``/``turn_off``/``toggle`` services change the
  switch's state; unknown services answer 400 ``{"message": "Service not found."}``;
- a wrong or missing bearer token: 401 ``401: Unauthorized`` (text/plain).

The server can be put under a path prefix (``/core/api`` as behind the Supervisor proxy).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from tests.loopback_http import LoopbackHttpServer, Reply, Request


def state_object(entity_id: str, state: str, attributes: dict[str, Any]) -> dict[str, Any]:
    stamp = datetime(2024, 4, 27, 10, 0, tzinfo=UTC).isoformat()
    return {
        "entity_id": entity_id,
        "state": state,
        "attributes": attributes,
        "last_changed": stamp,
        "last_reported": stamp,
        "last_updated": stamp,
        "context": {"id": "01HWC3G7J4X5Y6Z7A8B9C0D1E2", "parent_id": None, "user_id": None},
    }


class FakeHomeAssistant:
    def __init__(self, token: str = "long-lived-token", prefix: str = "/api") -> None:
        self.token = token
        self.prefix = prefix
        self.states: dict[str, tuple[str, dict[str, Any]]] = {}
        self.service_calls: list[tuple[str, str, dict[str, Any]]] = []
        # A test may override the reply to any request (timeouts, broken JSON...).
        self.override: Callable[[Request], Reply | None] | None = None
        self._lock = threading.Lock()
        self.server = LoopbackHttpServer(self._handle)

    @property
    def url(self) -> str:
        """What a user types as Home Assistant's URL (without /api)."""
        return self.server.url

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def set(self, entity_id: str, state: Any, unit: str | None = None, **attributes: Any) -> None:
        if unit is not None:
            attributes["unit_of_measurement"] = unit
        with self._lock:
            self.states[entity_id] = (str(state), attributes)

    def state(self, entity_id: str) -> str:
        with self._lock:
            return self.states[entity_id][0]

    def _handle(self, request: Request) -> Reply:
        if self.override is not None:
            reply = self.override(request)
            if reply is not None:
                return reply
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, "401: Unauthorized")
        if not request.path.startswith(self.prefix + "/"):
            return Reply(404, "404: Not Found")
        path = request.path[len(self.prefix) :]
        if request.method == "GET" and path.startswith("/states/"):
            entity_id = path.removeprefix("/states/")
            with self._lock:
                found = self.states.get(entity_id)
            if found is None:
                return Reply(404, {"message": "Entity not found."})
            return Reply(200, state_object(entity_id, found[0], found[1]))
        if request.method == "POST" and path.startswith("/services/"):
            domain, _, service = path.removeprefix("/services/").partition("/")
            return self._service(domain, service, request.json() if request.body else {})
        return Reply(404, "404: Not Found")

    def _service(self, domain: str, service: str, data: dict[str, Any]) -> Reply:
        self.service_calls.append((domain, service, data))
        if domain not in ("switch", "homeassistant") or service not in (
            "turn_on",
            "turn_off",
            "toggle",
        ):
            return Reply(400, {"message": "Service not found."})
        ids = data.get("entity_id")
        ids = [ids] if isinstance(ids, str) else list(ids or [])
        changed = []
        with self._lock:
            for entity_id in ids:
                if entity_id not in self.states:
                    continue
                old, attributes = self.states[entity_id]
                new = {"turn_on": "on", "turn_off": "off"}.get(
                    service, "off" if old == "on" else "on"
                )
                if new != old:
                    self.states[entity_id] = (new, attributes)
                    changed.append(state_object(entity_id, new, attributes))
        return Reply(200, changed)


@contextmanager
def running_home_assistant(**kwargs: Any) -> Iterator[FakeHomeAssistant]:
    ha = FakeHomeAssistant(**kwargs)
    ha.server.start()
    try:
        yield ha
    finally:
        ha.server.stop()
