"""The HubSpot emulator's batch endpoints: upsert, create, update, read, archive.

HubSpot's rules for batches live here: at most 100 inputs, per-input validation, 207 multi-status
keyed by `objectWriteTraceId` when every input has one and a whole-batch 400 otherwise (nothing
applied), unique-property enforcement, task associations checked against their target.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from syncer.emulator import Request, Response

from .emulator_store import CrmStore, PropertyProblem, problems_message

BATCH_CAP = 100
# (message, category, errors[] details): what one refused input answers
Problem = tuple[str, str, list[dict[str, Any]]]
TASK_ASSOCIATIONS = {192: "companies", 204: "contacts"}  # HUBSPOT_DEFINED task -> object type ids


class BatchRoutes:
    """Mixed into HubSpotEmulator; handlers run under the emulator's lock."""

    store: CrmStore
    associations: list[tuple[str, str, str, str, int]]

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

    def _finish(self, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok: int = 200) -> Response:
        """200 (201 for batch/create, as HubSpot's API reference answers it) or 207 with errors."""
        now = self.store.now()
        body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
        if errors:
            body |= {"numErrors": len(errors), "errors": errors}
        return Response(207 if errors else ok, body)

    def _write(self, inputs: list[dict[str, Any]], check: Callable[[dict[str, Any]], Any]) -> Response | None:
        """Validate every input; without trace ids one error fails the whole batch (nothing applied).

        HubSpot "Error handling" guide, "Multi-status errors": partial success (207) is enabled by a
        unique objectWriteTraceId on each input; otherwise an invalid input fails the request with 400.
        """
        traced = all("objectWriteTraceId" in i for i in inputs)
        for item in inputs:
            problem = check(item)
            if problem is not None and not traced:
                message, category, details = problem
                return Response(400, self._error(message, category, details))
        return None

    @staticmethod
    def _item_error(
        item: dict[str, Any], message: str, category: str, details: list[dict[str, Any]], **context: list[str]
    ) -> dict[str, Any]:
        if "objectWriteTraceId" in item:
            context = {"objectWriteTraceId": [str(item["objectWriteTraceId"])], **context}
        # HubSpot's StandardError model: status, category, message, context, errors[], links
        return {
            "status": "error",
            "category": category,
            "message": message,
            "context": context,
            "errors": details,
            "links": {},
        }

    @staticmethod
    def _result(view: dict[str, Any], item: dict[str, Any], new: bool | None = None) -> dict[str, Any]:
        if new is not None:
            view["new"] = new
        if "objectWriteTraceId" in item:
            view["objectWriteTraceId"] = str(item["objectWriteTraceId"])
        return view

    # -- routes ---------------------------------------------------------------------------------

    def _problems(self, obj: str, item: dict[str, Any], self_id: str | None) -> Problem | None:
        problems: list[PropertyProblem] = self.store.validate(obj, item.get("properties", {}), self_id)
        if not problems:
            return None
        return problems_message(problems), "VALIDATION_ERROR", [p.detail() for p in problems]

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
        # two inputs naming one record (under the id property's comparison) fail the whole batch
        keys = [self.store.key(str(i["idProperty"]), str(i.get("id"))) for i in inputs]
        if len(set(keys)) != len(keys):
            repeated = sorted({str(i.get("id")) for i, k in zip(inputs, keys, strict=True) if keys.count(k) > 1})
            return Response(
                400, self._error("Duplicate IDs found in batch input: " + ", ".join(repeated), "VALIDATION_ERROR")
            )

        def check(item: dict[str, Any]) -> Problem | None:
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

        def check(item: dict[str, Any]) -> Problem | None:
            problem = self._problems(obj, item, None)
            if problem is None and obj == "tasks" and not (item.get("properties") or {}).get("hs_timestamp"):
                # HubSpot tasks guide: hs_timestamp is required; HubSpot answers VALIDATION_ERROR, context hs_timestamp
                return ("Error creating TASK. Some required properties were not set.", "VALIDATION_ERROR", [])
            if problem is None:
                for assoc in item.get("associations") or []:
                    type_id = (assoc.get("types") or [{}])[0].get("associationTypeId")
                    target = TASK_ASSOCIATIONS.get(type_id) if obj == "tasks" else None
                    if target is None or self.store.find(target, "hs_object_id", str(assoc["to"]["id"])) is None:
                        return (
                            f"Association to {assoc.get('to')} with type {type_id} is not valid",
                            "VALIDATION_ERROR",
                            [],
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
        return self._finish(results, errors, ok=201)

    def _batch_update(self, request: Request, match: re.Match[str]) -> Response:
        obj, inputs = match["obj"], self._inputs(request)
        if isinstance(inputs, Response):
            return inputs

        def target(item: dict[str, Any]) -> Any:
            return self.store.find(obj, str(item.get("idProperty") or "hs_object_id"), str(item.get("id")))

        def check(item: dict[str, Any]) -> Problem | None:
            found = target(item)
            if found is None:
                return f"Object {item.get('id')} not found", "OBJECT_NOT_FOUND", []
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
                    "errors": [],
                    "links": {},
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
