"""A stateful HubSpot CRM v3 emulator on loopback, for the tests, the benchmark and `syncer demo`.

What it holds and enforces, the way HubSpot does: companies/contacts/tasks with property
definitions (type, hasUniqueValue, read-only), batch endpoints capped at 100 inputs, 200 versus
207 multi-status with per-input errors (keyed by `objectWriteTraceId`; without trace ids one bad
input fails the whole batch with 400), search with filterGroups, task-company associations,
owners, bearer auth, and the per-plan rolling ten-second and daily limits with the real
X-HubSpot-RateLimit-* headers and 429 body. Faults come from the base `Emulator`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from syncer.emulator import Emulator, InvalidJson, Request, Response, strict_json

from .emulator_batch import BatchRoutes
from .emulator_limits import RollingLimit
from .emulator_search import search
from .emulator_store import CrmStore

OBJ = r"/crm/v3/objects/(?P<obj>companies|contacts|tasks)"
WRITE_PATH = re.compile(r"/batch/(upsert|create|update|archive)$")


class HubSpotEmulator(BatchRoutes, Emulator):
    """HubSpot on loopback. `plan` sets the limits; `clock` drives the rate-limit window in tests."""

    def __init__(
        self,
        plan: str = "starter",
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
        token: str = "test-token",
    ) -> None:
        # latency is served *after* the rate-limit check, the way HubSpot admits a request at its edge
        # and then spends the time processing it (the base class would sleep before admitting)
        super().__init__(latency=0.0, clock=clock)
        self.service_latency = latency
        self.token = token
        self.limits = RollingLimit.for_plan(plan, clock)
        self.store = CrmStore(clock_iso=lambda: datetime.fromtimestamp(self.clock(), UTC).isoformat())
        self.owners: dict[str, dict[str, Any]] = {}
        self.associations: list[tuple[str, str, str, str, int]] = []  # (from, id, to, id, typeId)
        self.route("GET", r"/crm/v3/properties/(?P<obj>\w+)", self._properties)
        self.route("GET", r"/crm/v3/properties/(?P<obj>\w+)/(?P<name>\w+)", self._property)
        self.route("POST", OBJ + r"/batch/upsert", self._batch_upsert)
        self.route("POST", OBJ + r"/batch/create", self._batch_create)
        self.route("POST", OBJ + r"/batch/update", self._batch_update)
        self.route("POST", OBJ + r"/batch/read", self._batch_read)
        self.route("POST", OBJ + r"/batch/archive", self._batch_archive)
        self.route("POST", OBJ + r"/search", self._search)
        self.route("GET", r"/crm/v3/owners/?", self._owners)
        self.route("GET", r"/crm/v4/associations/tasks/companies/labels", self._labels)

    # -- helpers for tests and the demo ---------------------------------------------------------

    def add_owner(self, email: str, first: str = "Ada", last: str = "Owner") -> str:
        with self.lock:
            owner_id = str(70_000 + len(self.owners) + 1)
            self.owners[owner_id] = {
                "id": owner_id,
                "email": email,
                "firstName": first,
                "lastName": last,
                "userId": int(owner_id) + 1,
                "type": "PERSON",
                "createdAt": "2026-01-01T00:00:00Z",
                "updatedAt": "2026-01-01T00:00:00Z",
                "archived": False,
            }
            # HubSpot Owners API: hubspot_owner_id is an enumeration whose options are the portal's owner ids
            for definitions in self.store.properties.values():
                if "hubspot_owner_id" in definitions:
                    definitions["hubspot_owner_id"].options.append(owner_id)
            return owner_id

    @property
    def write_calls(self) -> int:
        """Batch write requests received, including those answered by an injected fault."""
        return sum(1 for method, path, _ in list(self.requests) if method == "POST" and WRITE_PATH.search(path))

    def stored(self, object_type: str, key_property: str) -> dict[str, dict[str, str]]:
        """Live records of a type by the value of `key_property`, as HubSpot stores them (strings)."""
        with self.lock:
            return {
                o.properties[key_property]: dict(o.properties)
                for o in self.store.live(object_type)
                if key_property in o.properties
            }

    def associated(self, from_type: str, from_id: str, to_type: str) -> list[tuple[str, int]]:
        return [
            (t_id, type_id)
            for f, f_id, t, t_id, type_id in self.associations
            if (f, f_id, t) == (from_type, from_id, to_type)
        ]

    # -- request pipeline -----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Response(
                401,
                self._error(
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "INVALID_AUTHENTICATION",
                ),
            )
        with self.lock:
            verdict = self.limits.admit()
        if not verdict.allowed:
            return Response(429, verdict.body, verdict.headers)
        if self.service_latency:
            time.sleep(self.service_latency)
        if request.body:
            try:
                strict_json(request.body)
            except InvalidJson as exc:  # HubSpot's parser refuses NaN/Infinity and broken JSON: whole request 400
                message = f"Invalid input JSON on line {exc.line}, column {exc.column}: {exc}"
                return Response(400, self._error(message, "VALIDATION_ERROR"), verdict.headers)
        with self.lock:
            response = super().handle(request)
        response.headers.update(verdict.headers)
        return response

    def error_body(self, status: int) -> Any:
        if status == 429:
            return RollingLimit._body("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
        return self._error(f"internal error (injected HTTP {status})", "INTERNAL_ERROR")

    def _properties(self, request: Request, match: re.Match[str]) -> Response:
        obj = match["obj"]
        if obj not in self.store.properties:
            return Response(400, self._error(f"Unable to infer object type from: {obj}", "VALIDATION_ERROR"))
        defs = self.store.properties[obj].values()
        return Response(200, {"results": [d.describe(obj) for d in defs]})

    def _property(self, request: Request, match: re.Match[str]) -> Response:
        definition = self.store.properties.get(match["obj"], {}).get(match["name"])
        if definition is None:
            return Response(404, self._error(f"Property {match['name']} does not exist", "OBJECT_NOT_FOUND"))
        return Response(200, definition.describe(match["obj"]))

    def _search(self, request: Request, match: re.Match[str]) -> Response:
        status, body = search(self.store, match["obj"], request.json())
        return Response(status, body if status == 200 else self._error(str(body), "VALIDATION_ERROR"))

    def _owners(self, request: Request, match: re.Match[str]) -> Response:
        email = (request.query.get("email") or [""])[0] or None
        owners = [o for o in self.owners.values() if email is None or o["email"].lower() == email.lower()]
        return Response(200, {"results": owners})

    def _labels(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {"results": [{"category": "HUBSPOT_DEFINED", "typeId": 192, "label": None}]})
