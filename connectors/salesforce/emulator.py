"""A stateful Salesforce org on loopback HTTPS, for tests, benchmarks and `syncer demo`.

It serves what syncer and simple-salesforce call: SOAP and OAuth logins (password, JWT bearer,
client credentials), describe, SOQL queries (the subset syncer sends), sObject Collections
upsert/create/update/delete (200 cap, per-record errors), single-record upsert (300 on duplicate
external IDs), single-record create / read / update / delete by Id and read by external ID, Bulk API 2.0
ingest, the daily API quota (403 REQUEST_LIMIT_EXCEEDED and the
Sforce-Limit-Info header), the concurrent long-running request limit (`long_requests`: the same
403 code, another message) and session expiry on demand (401 INVALID_SESSION_ID).

    emu = SalesforceEmulator()
    base_url, ca_bundle = emu.start_tls(tmp_path)     # simple-salesforce only speaks https
    emu.add_login("sync@acme.com", "pw", "token")
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from syncer.emulator import Emulator, Request, Response

from .emulator_auth import AuthMixin
from .emulator_bulk import BulkJobs
from .emulator_rules import ParseError, parse_json
from .emulator_store import Store, err
from .emulator_writes import create_one, duplicate_external_ids, unreadable, update_one, upsert_one

DATA = r"/services/data/v(?P<ver>\d+\.\d+)/"
DataHandler = Callable[[Request, re.Match[str]], Response]


def _fail(status: int, code: str, message: str) -> Response:
    return Response(status, [{"message": message, "errorCode": code}])


def _rest_error(error: dict[str, Any]) -> dict[str, Any]:
    """A record error (`{statusCode, message, fields}`) as single-record REST reports it: `{message,
    errorCode, fields}` ("Status Codes and Error Responses")."""
    return {"message": error["message"], "errorCode": error["statusCode"], "fields": error.get("fields", [])}


class SalesforceEmulator(AuthMixin, Emulator):
    def __init__(
        self,
        latency: float = 0.0,
        daily_limit: int = 100_000,
        query_page_size: int = 2000,
        concurrent_limit: int = 25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(latency=latency, clock=clock)
        self.default_daily_limit = daily_limit
        # "API Request Limits and Allocations": at most 25 concurrent requests lasting 20 s or longer (5 in
        # Developer Edition and trial orgs); past it REQUEST_LIMIT_EXCEEDED until fewer are running
        self.default_concurrent_limit = concurrent_limit
        self.query_page_size = query_page_size
        self.init_auth()
        self.reset()
        self._data("GET", r"sobjects/(?P<obj>\w+)/describe", self._describe)
        self._data("GET", r"query/?", self._query)
        self._data("GET", r"query/(?P<cursor>[\w-]+)", self._query_more)
        self._data("PATCH", r"composite/sobjects/(?P<obj>\w+)/(?P<ext>\w+)", self._collection_upsert)
        self._data("POST", r"composite/sobjects", self._collection_create)
        self._data("PATCH", r"composite/sobjects", self._collection_update)
        self._data("DELETE", r"composite/sobjects", self._collection_delete)
        self._data("PATCH", r"sobjects/(?P<obj>\w+)/(?P<ext>\w+)/(?P<value>[^/]+)", self._single_upsert)
        # single-record sObject REST (REST API Developer Guide, "sObject Basic Information" and "sObject Rows"),
        # the calls people and tools make by hand: create, read, update and delete one record by its Id, and
        # read one by external ID ("sObject Rows by External ID")
        self._data("POST", r"sobjects/(?P<obj>\w+)/?", self._single_create)
        self._data("GET", r"sobjects/(?P<obj>\w+)/(?P<id>\w{15}|\w{18})", self._single_get)
        self._data("PATCH", r"sobjects/(?P<obj>\w+)/(?P<id>\w{15}|\w{18})", self._single_update)
        self._data("DELETE", r"sobjects/(?P<obj>\w+)/(?P<id>\w{15}|\w{18})", self._single_delete)
        self._data("GET", r"sobjects/(?P<obj>\w+)/(?P<ext>\w+)/(?P<value>[^/]+)", self._get_by_external_id)
        self._data("POST", r"jobs/ingest/?", lambda r, m: self.bulk.create(r, m["ver"]))
        self._data("PUT", r"jobs/ingest/(?P<job>\w+)/batches/?", lambda r, m: self.bulk.upload(r, m["job"]))
        self._data("PATCH", r"jobs/ingest/(?P<job>\w+)/?", lambda r, m: self.bulk.patch(r, m["job"]))
        self._data("GET", r"jobs/ingest/(?P<job>\w+)/?", lambda r, m: self.bulk.get(m["job"]))
        self._data(
            "GET",
            # Bulk API 2.0 "Get Job Unprocessed Record Results" spells it unprocessedrecords; simple-salesforce's
            # get_unprocessed_records asks for unprocessedRecords: both are served (whether the real path is
            # case-insensitive is unverified; syncer's own client uses the documented spelling)
            r"jobs/ingest/(?P<job>\w+)/(?P<kind>successfulResults|failedResults|unprocessed[rR]ecords)/?",
            lambda r, m: self.bulk.results(m["job"], m["kind"].replace("R", "r") if m["kind"][0] == "u" else m["kind"]),
        )

    def reset(self) -> None:
        """Forget every record, job, session, fault and counter; keep the registered logins and apps."""
        with self.lock:
            self.store = Store()
            self.daily_limit = self.default_daily_limit
            self.api_used = 0
            self.concurrent_limit = self.default_concurrent_limit
            self.long_running: list[float] = []  # when each long-running request in the org ends (emulator clock)
            self.bulk = BulkJobs(
                self.store.objects.keys(),  # a live view: objects a test adds later take Bulk jobs too
                lambda o, e, v: upsert_one(self.store, o, e, v),
                lambda o, e, chunk: duplicate_external_ids(self.store, o, e, chunk),
                lambda o: self.store.objects[o].fields.keys(),
            )
            self._cursors: dict[str, list[dict[str, Any]]] = {}
            self.deleted_ids: set[str] = set()  # deleted one at a time: a second DELETE says ENTITY_IS_DELETED
            self.sessions.clear()
            self.login_count = 0
            self.faults.clear()
            self.requests.clear()

    # -- plumbing ----------------------------------------------------------------------------

    def start_tls(self, directory: str | Path) -> tuple[str, str]:
        """Serve HTTPS with a throwaway CA (trustme); return (base_url, path of the CA bundle)."""
        import trustme

        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        bundle = Path(directory) / "salesforce-emulator-ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        return self.start(tls=context), str(bundle)

    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        # headers and body leave in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms a call
        with contextlib.suppress(OSError):
            http.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super()._dispatch(http)

    def _data(self, method: str, pattern: str, handler: DataHandler) -> None:
        """A REST route that needs a live session, counts against the quota, reports usage."""

        def guarded(request: Request, match: re.Match[str]) -> Response:
            with self.lock:
                token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
                if token not in self.sessions:
                    return _fail(401, "INVALID_SESSION_ID", "Session expired or invalid")
                now = self.clock()
                self.long_running = [end for end in self.long_running if end > now]
                if len(self.long_running) >= self.concurrent_limit:  # refused, not processed: not counted
                    response = _fail(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
                    response.headers.update(self._usage())
                    return response
                self.api_used += 1
                usage = self._usage()
                if self.api_used > self.daily_limit:
                    # "API Request Limits and Allocations": the org's 24-hour total allocation is used up
                    response = _fail(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                else:
                    response = handler(request, match)
                response.headers.update(usage)
                return response

        self.route(method, DATA + pattern, guarded)

    def _usage(self) -> dict[str, str]:
        # REST API Developer Guide "Response Headers": Sforce-Limit-Info api-usage=used/allocation on every answer
        return {"Sforce-Limit-Info": f"api-usage={min(self.api_used, self.daily_limit)}/{self.daily_limit}"}

    def long_requests(self, count: int, seconds: float) -> None:
        """`count` requests in the org (other integrations, reports) that run `seconds` longer, on the emulator's
        clock; while `concurrent_limit` of them run, every new request gets the concurrent-limit 403."""
        with self.lock:
            self.long_running += [self.clock() + seconds] * count

    def not_found_body(self, request: Request) -> Any:
        # REST API Developer Guide "Status Codes and Error Responses": 404 NOT_FOUND, "The requested resource
        # does not exist"; the route is named too, so a test that calls an endpoint we lack says which
        return [
            {
                "message": f"The requested resource does not exist: {request.method} {request.path}",
                "errorCode": "NOT_FOUND",
            }
        ]

    def error_body(self, status: int) -> Any:
        code = "SERVER_UNAVAILABLE" if status >= 500 else "REQUEST_LIMIT_EXCEEDED" if status == 429 else "ERROR"
        return [{"message": f"injected HTTP {status}", "errorCode": code}]

    # -- test helpers ------------------------------------------------------------------------

    def records(self, obj: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(row) for row in self.store.objects[obj].rows.values()]

    def add_user(self, email: str, name: str = "Owner", active: bool = True) -> str:
        with self.lock:
            return self.store.insert("User", {"Email": email, "Username": email, "Name": name, "IsActive": active})

    def complete_task(self, task_id: str, when: str = "2026-01-02T03:04:05.000+0000") -> None:
        with self.lock:
            self.store.objects["Task"].put(
                task_id, {"Status": "Completed", "IsClosed": True, "CompletedDateTime": when}
            )

    # -- REST handlers -----------------------------------------------------------------------

    def _describe(self, request: Request, match: re.Match[str]) -> Response:
        obj = self.store.objects.get(match["obj"])
        if obj is None:
            return _fail(404, "NOT_FOUND", "The requested resource does not exist")
        return Response(200, obj.describe())

    def _query(self, request: Request, match: re.Match[str]) -> Response:
        try:
            rows = self.store.query(request.query.get("q", [""])[0])
        except (ValueError, KeyError, LookupError) as exc:
            code = "INVALID_TYPE" if isinstance(exc, LookupError) else "MALFORMED_QUERY"
            return _fail(400, "INVALID_FIELD" if isinstance(exc, KeyError) else code, str(exc).strip("'\""))
        return self._page(rows, match["ver"], len(rows))

    def _query_more(self, request: Request, match: re.Match[str]) -> Response:
        rows = self._cursors.pop(match["cursor"], None)
        if rows is None:
            return _fail(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(rows, match["ver"], len(rows))

    def _page(self, rows: list[dict[str, Any]], version: str, total: int) -> Response:
        page, rest = rows[: self.query_page_size], rows[self.query_page_size :]
        body: dict[str, Any] = {"totalSize": total, "done": not rest, "records": page}
        if rest:
            cursor = f"01g{secrets.token_hex(6)}-{len(page)}"
            self._cursors[cursor] = rest
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor}"
        return Response(200, body)

    def _body(self, request: Request) -> tuple[Any, Response | None]:
        """The JSON body, or Salesforce's whole-request JSON_PARSER_ERROR (NaN/Infinity are not JSON)."""
        try:
            return parse_json(request.body), None
        except ParseError as exc:
            return None, _fail(400, "JSON_PARSER_ERROR", str(exc))

    def _records(self, request: Request) -> tuple[list[dict[str, Any]], Response | None]:
        body, problem = self._body(request)
        if problem:
            return [], problem
        records = (body or {}).get("records") or []
        if len(records) > 200:
            return [], _fail(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
        bad = [r for r in records if (r.get("attributes") or {}).get("type") not in self.store.objects]
        if bad:
            return [], _fail(400, "INVALID_TYPE", "every record needs attributes.type naming a known sObject")
        # a value that isn't of its field's type fails deserialization of the whole request, as in Salesforce
        for record in records:
            if message := unreadable(self.store, record["attributes"]["type"], self._fields(record)):
                return [], _fail(400, "JSON_PARSER_ERROR", message)
        return records, None

    @staticmethod
    def _fields(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}

    def _collection_upsert(self, request: Request, match: re.Match[str]) -> Response:
        obj, ext = match["obj"], match["ext"]
        if obj not in self.store.objects:
            return _fail(404, "NOT_FOUND", "The requested resource does not exist")
        spec = self.store.objects[obj].fields.get(ext)
        if spec is None or not spec.external_id:
            return _fail(400, "INVALID_FIELD", f"Field name provided, {ext} is not an External ID for {obj}")
        records, problem = self._records(request)
        if problem:
            return problem
        batch = [self._fields(r) for r in records]
        duplicates = duplicate_external_ids(self.store, obj, ext, batch)
        return Response(
            200,
            [
                {"id": None, "success": False, "errors": [duplicates[i]]}
                if i in duplicates
                else upsert_one(self.store, obj, ext, values)
                for i, values in enumerate(batch)
            ],
        )

    def _collection_create(self, request: Request, match: re.Match[str]) -> Response:
        records, problem = self._records(request)
        items = [create_one(self.store, r["attributes"]["type"], self._fields(r)) for r in records]
        return problem or Response(200, [{k: v for k, v in i.items() if k != "created"} for i in items])

    def _collection_update(self, request: Request, match: re.Match[str]) -> Response:
        records, problem = self._records(request)
        if problem:
            return problem
        items = []
        for r in records:
            row_id = str(r.get("id") or r.get("Id") or "")
            if row_id not in self.store.objects[r["attributes"]["type"]].rows:
                missing = err("ENTITY_IS_DELETED", "entity is deleted", [])
                items.append({"id": row_id, "success": False, "errors": [missing]})
            else:
                items.append(update_one(self.store, r["attributes"]["type"], row_id, self._fields(r)))
        return Response(200, [{k: v for k, v in i.items() if k != "created"} for i in items])

    def _collection_delete(self, request: Request, match: re.Match[str]) -> Response:
        ids = [i for i in ",".join(request.query.get("ids", [])).split(",") if i]
        if len(ids) > 200:
            return _fail(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
        items = []
        for row_id in ids:
            sobject = self.store.owner_of(row_id)
            if sobject is None:
                items.append(
                    {"id": row_id, "success": False, "errors": [err("ENTITY_IS_DELETED", "entity is deleted")]}
                )
            else:
                sobject.remove(row_id)
                items.append({"id": row_id, "success": True, "errors": []})
        return Response(200, items)

    def _sobject(self, match: re.Match[str]) -> tuple[Any, Response | None]:
        obj = self.store.objects.get(match["obj"])
        if obj is None:  # "sObject Basic Information": an unknown sObject type is 404 NOT_FOUND
            return None, _fail(404, "NOT_FOUND", "The requested resource does not exist")
        return obj, None

    def _row(self, obj: Any, row_id: str, version: str, request: Request) -> dict[str, Any]:
        """One record as "sObject Rows" GET returns it: attributes (type, url) and its fields, or only those
        named by `?fields=a,b`."""
        row = obj.rows[row_id]
        wanted = [f for f in ",".join(request.query.get("fields", [])).split(",") if f]
        names = wanted or ["Id", *obj.fields]
        url = f"/services/data/v{version}/sobjects/{obj.name}/{row_id}"
        return {"attributes": {"type": obj.name, "url": url}, **{n: row.get(n) for n in names}}

    def _record(self, match: re.Match[str], recycled: bool = False) -> tuple[Any, str, Response | None]:
        """(sObject, stored Id, None) of the record the path names, or the 404 "sObject Rows" answers: NOT_FOUND,
        or (`recycled`: a DELETE) ENTITY_IS_DELETED "entity is deleted" for a record in the Recycle Bin."""
        obj, problem = self._sobject(match)
        if problem:
            return None, "", problem
        row_id = self._find_id(obj, match["id"])
        if row_id is None:
            if recycled and match["id"] in self.deleted_ids:
                return obj, "", _fail(404, "ENTITY_IS_DELETED", "entity is deleted")
            return obj, "", _fail(404, "NOT_FOUND", "The requested resource does not exist")
        return obj, row_id, None

    def _find_id(self, obj: Any, row_id: str) -> str | None:
        """The stored Id for an 15- or 18-character Id ("Working with Record IDs": the 18-character form
        adds a case-safe suffix to the 15-character one)."""
        if row_id in obj.rows:
            return row_id
        return next((i for i in obj.rows if len(row_id) == 15 and i[:15] == row_id), None)

    def _write(
        self, request: Request, obj: Any, write: Callable[[dict[str, Any]], dict[str, Any]], status: int
    ) -> Response:
        """A single-record POST or PATCH body written: 400 JSON_PARSER_ERROR for a value the field cannot read,
        400 with the field errors, else `status` (201 `{id, success, errors}` for a create, 204 for an update)."""
        body, problem = self._body(request)
        if problem:
            return problem
        values = self._fields(body or {})
        if message := unreadable(self.store, obj.name, values):
            return _fail(400, "JSON_PARSER_ERROR", message)
        item = write(values)
        if not item["success"]:
            return Response(400, [_rest_error(e) for e in item["errors"]])
        if status == 201:
            return Response(201, {"id": item["id"], "success": True, "errors": []})
        return Response(status)

    def _single_create(self, request: Request, match: re.Match[str]) -> Response:
        """ "sObject Basic Information" POST: 201 `{id, success, errors}`; a field error is 400, a list of
        `{message, errorCode, fields}`."""
        obj, problem = self._sobject(match)
        if problem:
            return problem
        return self._write(request, obj, lambda values: create_one(self.store, obj.name, values), 201)

    def _single_get(self, request: Request, match: re.Match[str]) -> Response:
        """ "sObject Rows" GET: the record; a deleted or unknown Id is 404 NOT_FOUND."""
        obj, row_id, problem = self._record(match)
        if problem:
            return problem
        return Response(200, self._row(obj, row_id, match["ver"], request))

    def _single_update(self, request: Request, match: re.Match[str]) -> Response:
        """ "sObject Rows" PATCH: 204 No Content; an unknown Id is 404 NOT_FOUND."""
        obj, row_id, problem = self._record(match)
        if problem:
            return problem
        return self._write(request, obj, lambda values: update_one(self.store, obj.name, row_id, values), 204)

    def _single_delete(self, request: Request, match: re.Match[str]) -> Response:
        """ "sObject Rows" DELETE: 204 No Content; deleting it again is 404 ENTITY_IS_DELETED, "entity is
        deleted" (the record is in the Recycle Bin), an Id never seen 404 NOT_FOUND."""
        obj, row_id, problem = self._record(match, recycled=True)
        if problem:
            return problem
        obj.remove(row_id)
        self.deleted_ids.add(row_id)
        return Response(204)

    def _get_by_external_id(self, request: Request, match: re.Match[str]) -> Response:
        """ "sObject Rows by External ID" GET: the record whose external ID field has the value (under the
        field's comparison); none is 404 NOT_FOUND, several are 300 with their URLs (as upsert answers)."""
        obj, problem = self._sobject(match)
        if problem:
            return problem
        ext, value = match["ext"], unquote(match["value"])
        spec = obj.fields.get(ext)
        if spec is None or not (spec.external_id or spec.unique):
            return _fail(400, "INVALID_FIELD", f"Field name provided, {ext} is not an External ID for {obj.name}")
        found = obj.find(ext, value)
        if not found:
            return _fail(404, "NOT_FOUND", "The requested resource does not exist")
        if len(found) > 1:
            return Response(300, [f"/services/data/v{match['ver']}/sobjects/{obj.name}/{i}" for i in found])
        return Response(200, self._row(obj, found[0], match["ver"], request))

    def _single_upsert(self, request: Request, match: re.Match[str]) -> Response:
        obj, ext, value = match["obj"], match["ext"], unquote(match["value"])
        if obj not in self.store.objects:
            return _fail(404, "NOT_FOUND", "The requested resource does not exist")
        body, problem = self._body(request)
        if problem:
            return problem
        values = {**self._fields(body or {}), ext: value}
        if message := unreadable(self.store, obj, values):
            return _fail(400, "JSON_PARSER_ERROR", message)
        found = self.store.objects[obj].find(ext, value)
        if len(found) > 1:
            return Response(300, [f"/services/data/v{match['ver']}/sobjects/{obj}/{i}" for i in found])
        item = upsert_one(self.store, obj, ext, values)
        if not item["success"]:
            return Response(400, [{"errorCode": e["statusCode"], "message": e["message"]} for e in item["errors"]])
        return Response(
            201 if item["created"] else 200,
            {"id": item["id"], "success": True, "errors": [], "created": item["created"]},
        )
