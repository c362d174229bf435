"""Field sync to companies or contacts: upsert, update-only, insert-only and archive, one batch each.

- upsert / mirror: `batch/upsert` by the unique match property. Idempotent, so a resend after an
  ambiguous failure converges.
- update: must never create. `batch/upsert` would, so we first `batch/read` by the unique property
  (HubSpot's primary store, no search-index lag), then `batch/update` the ids found; records not
  in HubSpot are rejected with a reason saying so.
- insert: must never modify. `batch/read` first; records already there are acknowledged with their
  id and the audit reason "already existed, not updated" (a resend of a create whose answer was lost
  lands here too), the rest go to `batch/create`.
- delete: `batch/archive` by dest_id (looked up by the match property when unknown); archiving a
  record that is already gone is success.
"""

from __future__ import annotations

from collections.abc import Sequence

from syncer.connector import Destination, Record, Result

from .api import HubSpotApi
from .batch import map_results, properties_of, trace_id


class FieldWriter:
    def __init__(self, api: HubSpotApi, destination: Destination) -> None:
        self.api = api
        self.destination = destination
        self.object = destination.object
        self.base = f"/crm/v3/objects/{destination.object}"

    def write(self, records: Sequence[Record]) -> list[Result]:
        mode = self.destination.mode
        if mode in ("upsert", "mirror"):
            return self.upsert(records)
        if mode == "update":
            return self.update(records)
        return self.insert(records)

    def upsert(self, records: Sequence[Record]) -> list[Result]:
        results = {
            r.key: Result.rejected(r, f"no {self.destination.match_field} to match on")
            for r in records
            if not r.match_value
        }
        keyed = [r for r in records if r.key not in results]
        if keyed:
            inputs = [
                {
                    "id": r.match_value,
                    "idProperty": self.destination.match_field,
                    "properties": properties_of(r),
                    "objectWriteTraceId": trace_id(i),
                }
                for i, r in enumerate(keyed)
            ]
            what = f"upsert {self.object}"
            body = self.api.json("POST", f"{self.base}/batch/upsert", what, json={"inputs": inputs})
            results |= {res.key: res for res in map_results(keyed, body, self.destination.match_field, what)}
        return [results[r.key] for r in records]

    def lookup(self, values: Sequence[str]) -> dict[str, str]:
        """Match value -> HubSpot id for the records that exist, by the unique match property."""
        if not values:
            return {}
        prop = self.destination.match_field
        if prop == "hs_object_id":
            wanted = {"inputs": [{"id": v} for v in values], "properties": ["hs_object_id"]}
        else:
            wanted = {"inputs": [{"id": v} for v in values], "idProperty": prop, "properties": [prop]}
        body = self.api.json("POST", f"{self.base}/batch/read", f"read {self.object} by {prop}", json=wanted)
        found: dict[str, str] = {}
        for item in body.get("results") or []:
            value = (item.get("properties") or {}).get(prop) if prop != "hs_object_id" else item.get("id")
            if value is not None:
                found[str(value)] = str(item["id"])
        if prop == "email":  # HubSpot matches emails case-insensitively
            lowered = {k.lower(): v for k, v in found.items()}
            found |= {v: lowered[v.lower()] for v in values if v.lower() in lowered}
        return found

    def update(self, records: Sequence[Record]) -> list[Result]:
        ids = self.lookup([r.match_value for r in records if r.match_value is not None])
        present = [r for r in records if r.match_value in ids]
        results: dict[str, Result] = {
            r.key: Result.rejected(
                r,
                f"{self.object} has no record with {self.destination.match_field}={r.match_value!r} "
                "(mode update never creates)",
            )
            for r in records
            if r.match_value not in ids
        }
        if present:
            inputs = [
                {"id": ids[str(r.match_value)], "properties": properties_of(r), "objectWriteTraceId": trace_id(i)}
                for i, r in enumerate(present)
            ]
            body = self.api.json("POST", f"{self.base}/batch/update", f"update {self.object}", json={"inputs": inputs})
            results |= {res.key: res for res in map_results(present, body, None, f"update {self.object}")}
        return [results[r.key] for r in records]

    def insert(self, records: Sequence[Record]) -> list[Result]:
        ids = self.lookup([r.match_value for r in records if r.match_value is not None])
        results = {r.key: Result.existed(r, ids[r.match_value]) for r in records if r.match_value in ids}
        missing = [r for r in records if r.key not in results]
        if missing:
            prop = self.destination.match_field
            inputs = [
                {"properties": {**properties_of(r), prop: r.match_value}, "objectWriteTraceId": trace_id(i)}
                for i, r in enumerate(missing)
            ]
            body = self.api.json("POST", f"{self.base}/batch/create", f"create {self.object}", json={"inputs": inputs})
            results |= {res.key: res for res in map_results(missing, body, prop, f"create {self.object}")}
        return [results[r.key] for r in records]

    def archive(self, records: Sequence[Record]) -> list[Result]:
        unknown = [r.match_value for r in records if r.dest_id is None and r.match_value is not None]
        ids = self.lookup(unknown)
        targets = {r.key: r.dest_id or ids.get(str(r.match_value)) for r in records}
        inputs = [{"id": i} for i in dict.fromkeys(t for t in targets.values() if t)]
        if inputs:
            self.api.request("POST", f"{self.base}/batch/archive", f"archive {self.object}", json={"inputs": inputs})
        return [Result.ok(r, targets[r.key]) for r in records]
