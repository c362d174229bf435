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
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from syncer.emulator import Emulator, Request, Response

from .emulator_limits import RollingLimit
from .emulator_search import search
from .emulator_store import CrmStore, PropertyProblem, problems_message

OBJ = r"/crm/v3/objects/(?P<obj>companies|contacts|tasks)"
BATCH_CAP = 100
WRITE_PATH = re.compile(r"/batch/(upsert|create|update|archive)$")
TASK_ASSOCIATIONS = {192: "companies", 204: "contacts"}  # HUBSPOT_DEFINED task -> object type ids


class HubSpotEmulator(Emulator):
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
                "archived": False,
            }
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
        with self.lock:
            response = super().handle(request)
        response.headers.update(verdict.headers)
        return response

    def error_body(self, status: int) -> Any:
        if status == 429:
            return RollingLimit._body("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
        return self._error(f"internal error (injected HTTP {status})", "INTERNAL_ERROR")

    @staticmethod
    def _error(message: str, category: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
        }
        if errors:
            body["errors"] = errors
        return body

    def _inputs(self, request: Request) -> list[dict[str, Any]] | Response:
        body = request.json()
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            return Response(
                400, self._error("Invalid input JSON: 'inputs' must be a list of objects", "VALIDATION_ERROR")
            )
        if len(inputs) > BATCH_CAP:
            return Response(
                400,
                self._error(
                    f"Batch input cannot be more than {BATCH_CAP} inputs, but was {len(inputs)}.",
                    "VALIDATION_ERROR",
                    [{"message": f"size must be between 1 and {BATCH_CAP}", "in": "inputs", "code": "INVALID_SIZE"}],
                ),
            )
        return inputs

    def _finish(self, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> Response:
        now = self.store.now()
        body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
        if errors:
            body |= {"numErrors": len(errors), "errors": errors}
        return Response(207 if errors else 200, body)

    def _write(self, inputs: list[dict[str, Any]], check: Callable[[dict[str, Any]], Any]) -> Response | None:
        """Validate every input; without trace ids one error fails the whole batch (nothing applied)."""
        traced = all("objectWriteTraceId" in i for i in inputs)
        for item in inputs:
            problem = check(item)
            if problem is not None and not traced:
                message, category = problem
                return Response(400, self._error(message, category))
        return None

    @staticmethod
    def _item_error(item: dict[str, Any], message: str, category: str, **context: list[str]) -> dict[str, Any]:
        if "objectWriteTraceId" in item:
            context = {"objectWriteTraceId": [str(item["objectWriteTraceId"])], **context}
        return {"status": "error", "category": category, "message": message, "context": context}

    @staticmethod
    def _result(view: dict[str, Any], item: dict[str, Any], new: bool | None = None) -> dict[str, Any]:
        if new is not None:
            view["new"] = new
        if "objectWriteTraceId" in item:
            view["objectWriteTraceId"] = str(item["objectWriteTraceId"])
        return view

    # -- routes ---------------------------------------------------------------------------------

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

    def _problems(self, obj: str, item: dict[str, Any], self_id: str | None) -> tuple[str, str] | None:
        problems: list[PropertyProblem] = self.store.validate(obj, item.get("properties", {}), self_id)
        return (problems_message(problems), "VALIDATION_ERROR") if problems else None

    def _batch_upsert(self, request: Request, match: re.Match[str]) -> Response:
        obj, inputs = match["obj"], self._inputs(request)
        if isinstance(inputs, Response):
            return inputs
        for item in inputs:
            prop = str(item.get("idProperty") or "")
            if not self.store.is_unique(obj, prop):
                return Response(
                    400,
                    self._error(
                        f"Unable to perform update/upsert by non-unique {obj} property '{prop}'", "VALIDATION_ERROR"
                    ),
                )
        ids = [str(i.get("id")) for i in inputs]
        if len(set(ids)) != len(ids):
            return Response(
                400,
                self._error(
                    "Duplicate IDs found in batch input: " + ", ".join(sorted({i for i in ids if ids.count(i) > 1})),
                    "VALIDATION_ERROR",
                ),
            )

        def check(item: dict[str, Any]) -> tuple[str, str] | None:
            existing = self.store.find(obj, str(item["idProperty"]), str(item.get("id")))
            return self._problems(obj, item, existing.id if existing else None)

        if (failed := self._write(inputs, check)) is not None:
            return failed
        results, errors = [], []
        for item in inputs:
            problem = check(item)
            if problem is not None:
                errors.append(self._item_error(item, *problem))
                continue
            prop, value = str(item["idProperty"]), str(item["id"])
            existing = self.store.find(obj, prop, value)
            if existing is None:
                created = self.store.create(obj, {**item.get("properties", {}), prop: value})
                results.append(self._result(created.view(), item, new=True))
            else:
                self.store.apply(obj, existing, item.get("properties", {}))
                results.append(self._result(existing.view(), item, new=False))
        return self._finish(results, errors)

    def _batch_create(self, request: Request, match: re.Match[str]) -> Response:
        obj, inputs = match["obj"], self._inputs(request)
        if isinstance(inputs, Response):
            return inputs

        def check(item: dict[str, Any]) -> tuple[str, str] | None:
            problem = self._problems(obj, item, None)
            if problem is None:
                for assoc in item.get("associations") or []:
                    type_id = (assoc.get("types") or [{}])[0].get("associationTypeId")
                    target = TASK_ASSOCIATIONS.get(type_id) if obj == "tasks" else None
                    if target is None or self.store.find(target, "hs_object_id", str(assoc["to"]["id"])) is None:
                        return (
                            f"Association to {assoc.get('to')} with type {type_id} is not valid",
                            "VALIDATION_ERROR",
                        )
            return problem

        if (failed := self._write(inputs, check)) is not None:
            return failed
        results, errors = [], []
        for item in inputs:
            problem = check(item)
            if problem is not None:
                errors.append(self._item_error(item, *problem))
                continue
            created = self.store.create(obj, item.get("properties", {}))
            for assoc in item.get("associations") or []:
                type_id = int(assoc["types"][0]["associationTypeId"])
                self.associations.append((obj, created.id, TASK_ASSOCIATIONS[type_id], str(assoc["to"]["id"]), type_id))
            results.append(self._result(created.view(), item))
        return self._finish(results, errors)

    def _batch_update(self, request: Request, match: re.Match[str]) -> Response:
        obj, inputs = match["obj"], self._inputs(request)
        if isinstance(inputs, Response):
            return inputs

        def target(item: dict[str, Any]) -> Any:
            return self.store.find(obj, str(item.get("idProperty") or "hs_object_id"), str(item.get("id")))

        def check(item: dict[str, Any]) -> tuple[str, str] | None:
            found = target(item)
            if found is None:
                return f"Object {item.get('id')} not found", "OBJECT_NOT_FOUND"
            return self._problems(obj, item, found.id)

        if (failed := self._write(inputs, check)) is not None:
            return failed
        results, errors = [], []
        for item in inputs:
            problem = check(item)
            if problem is not None:
                errors.append(self._item_error(item, *problem, ids=[str(item.get("id"))]))
                continue
            found = target(item)
            self.store.apply(obj, found, item.get("properties", {}))
            results.append(self._result(found.view(), item))
        return self._finish(results, errors)

    def _batch_read(self, request: Request, match: re.Match[str]) -> Response:
        obj, inputs = match["obj"], self._inputs(request)
        if isinstance(inputs, Response):
            return inputs
        body = request.json()
        prop = str(body.get("idProperty") or "hs_object_id")
        if prop != "hs_object_id" and not self.store.is_unique(obj, prop):
            return Response(
                400, self._error(f"Unable to read by non-unique {obj} property '{prop}'", "VALIDATION_ERROR")
            )
        wanted = list(dict.fromkeys([*(body.get("properties") or []), prop]))
        results, missing = [], []
        for item in inputs:
            found = self.store.find(obj, prop, str(item.get("id")))
            if found is None:
                missing.append(str(item.get("id")))
            else:
                results.append(found.view(wanted))
        errors = (
            [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "context": {"ids": missing},
                    "message": f"Could not get some {obj} objects, they may be deleted or not exist. "
                    "Check that ids are valid.",
                }
            ]
            if missing
            else []
        )
        return self._finish(results, errors)

    def _batch_archive(self, request: Request, match: re.Match[str]) -> Response:
        obj, inputs = match["obj"], self._inputs(request)
        if isinstance(inputs, Response):
            return inputs
        for item in inputs:
            found = self.store.find(obj, "hs_object_id", str(item.get("id")))
            if found is not None:
                self.store.archive(obj, found)
        return Response(204, None)

    def _search(self, request: Request, match: re.Match[str]) -> Response:
        status, body = search(self.store, match["obj"], request.json())
        return Response(status, body if status == 200 else self._error(str(body), "VALIDATION_ERROR"))

    def _owners(self, request: Request, match: re.Match[str]) -> Response:
        email = (request.query.get("email") or [""])[0] or None
        owners = [o for o in self.owners.values() if email is None or o["email"].lower() == email.lower()]
        return Response(200, {"results": owners})

    def _labels(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {"results": [{"category": "HUBSPOT_DEFINED", "typeId": 192, "label": None}]})
