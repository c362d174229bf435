"""A webhook receiver that verifies signatures, stores what it is sent, and counts re-applications.

It de-duplicates nothing on purpose: `applied[(key, fingerprint)]` says how often each version of a
record was applied, which is what crash tests measure. Test rules: a field value `__reject__`
rejects that record alone; `__bad_request__` makes the receiver refuse the whole batch with 400.

Standalone, for crash tests that SIGKILL the syncer while the receiver survives:

    python -m syncer_connectors.webhook.emulator --port 0 --state FILE.sqlite --secret-env NAME \
        [--fail-rate 0.1] [--throttle-rate 0.05 --retry-after 1] [--reset-rate 0.02] [--seed 1]

prints `READY <port>` and commits its state to SQLite after every request; read it at any time
with `load_receiver_state(path)`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from syncer_connectors.webhook.connector import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

from syncer.emulator import Emulator, Fault, FaultPlan, Request, Response
from syncer.ratelimit import RateLimit

REJECT_VALUE = "__reject__"
BAD_REQUEST_VALUE = "__bad_request__"
OPS = ("insert", "update", "upsert", "delete")  # the payload's `op` (README "Request"): what syncer does
AppliedKey = tuple[str, str]


class RandomFaults(FaultPlan):
    """Queued faults first, then seeded random ones on POSTs to the hook path (standalone mode)."""

    def __init__(
        self,
        *,
        path: str,
        seed: int,
        fail_rate: float,
        throttle_rate: float,
        retry_after: float,
        reset_rate: float,
    ) -> None:
        super().__init__()
        self._path, self._rng = path, random.Random(seed)
        self._fail, self._throttle, self._retry_after = fail_rate, throttle_rate, retry_after
        self._reset = reset_rate

    def take(self, method: str, path: str) -> Fault | None:
        queued = super().take(method, path)
        if queued is not None or method != "POST" or path != self._path:
            return queued
        with self._lock:
            draw = self._rng.random()
        if draw < self._fail:
            return Fault("status", status=503)
        if draw < self._fail + self._throttle:
            return Fault("status", status=429, retry_after=self._retry_after)
        if draw < self._fail + self._throttle + self._reset:
            return Fault("reset_after_apply")
        return None


class _StateFile:
    """Records and the applied counter in SQLite (WAL), committed after every applied request."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, fields TEXT NOT NULL)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS applied (key TEXT, fingerprint TEXT, count INTEGER NOT NULL,"
            " PRIMARY KEY (key, fingerprint))"
        )
        self.db.commit()

    def save(
        self, records: dict[str, dict[str, Any]], applied: Counter[AppliedKey], touched: Iterable[AppliedKey]
    ) -> None:
        with self.db:
            for key, fingerprint in touched:
                if key in records:
                    row = (key, json.dumps(records[key]))
                    self.db.execute("INSERT OR REPLACE INTO records VALUES (?, ?)", row)
                else:
                    self.db.execute("DELETE FROM records WHERE key = ?", (key,))
                self.db.execute(
                    "INSERT OR REPLACE INTO applied VALUES (?, ?, ?)",
                    (key, fingerprint, applied[(key, fingerprint)]),
                )


def load_receiver_state(path: str | Path) -> tuple[dict[str, dict[str, Any]], Counter[AppliedKey]]:
    """What a (possibly still running) receiver has stored: records by key, and the applied counter."""
    db = sqlite3.connect(str(path))
    try:
        records = {key: json.loads(fields) for key, fields in db.execute("SELECT key, fields FROM records")}
        applied: Counter[AppliedKey] = Counter(
            {(key, fp): count for key, fp, count in db.execute("SELECT key, fingerprint, count FROM applied")}
        )
    finally:
        db.close()
    return records, applied


class WebhookReceiver(Emulator):
    """The receiving end of the webhook connector, with the checks a careful receiver makes."""

    def __init__(
        self,
        secret: str,
        path: str = "/hooks",
        tolerance: float = 300.0,
        fields: Iterable[str] | None = None,
        max_batch: int = 1000,
        rate_limit: RateLimit | None = None,
        state_file: str | Path | None = None,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
        reply: Callable[[list[dict[str, Any]]], Response] | None = None,
    ) -> None:
        super().__init__(latency=latency, clock=clock)
        # test rule: the answer to a delivery it applied, from the per-record results it would give (a receiver
        # that misreports: a status outside the contract, an HTML page, results for other keys)
        self.reply = reply
        self.secret, self.path, self.tolerance, self.max_batch = secret, path, tolerance, max_batch
        self.fields = set(fields) if fields is not None else None
        self.rate_limit = rate_limit
        self.records: dict[str, dict[str, Any]] = {}
        self.applied: Counter[AppliedKey] = Counter()
        self.deliveries: Counter[str] = Counter()  # Idempotency-Key -> times applied
        self.operations: list[tuple[str, str]] = []  # (key, op) of every record delivered, in order
        self.received: list[dict[str, Any]] = []  # every record delivered as sent (key, op, fields), in order
        self.last_delivery: dict[str, Any] | None = None  # headers and payload, for payload-shape tests
        self._recent: list[float] = []
        self._state = _StateFile(state_file) if state_file is not None else None
        if state_file is not None:
            self.records, self.applied = load_receiver_state(state_file)
        self.route("POST", re.escape(path), self._deliver)
        self.route("GET", re.escape(path), self._describe)

    @property
    def write_calls(self) -> int:
        return sum(1 for method, path, _ in self.requests if method == "POST" and path == self.path)

    def _refusal(self, request: Request) -> Response | None:
        problem = verify(
            self.secret,
            request.headers.get(TIMESTAMP_HEADER.lower()),
            request.headers.get(SIGNATURE_HEADER.lower()),
            request.body,
            self.clock(),
            self.tolerance,
        )
        return Response(401, {"error": problem}) if problem else None

    def _throttled(self) -> Response | None:
        if self.rate_limit is None:
            return None
        now = self.clock()
        self._recent = [t for t in self._recent if t > now - self.rate_limit.per_seconds]
        if len(self._recent) >= self.rate_limit.calls:
            wait = self._recent[0] + self.rate_limit.per_seconds - now
            return Response(429, {"error": "rate limited"}, {"Retry-After": str(max(1, math.ceil(wait)))})
        self._recent.append(now)
        return None

    def _describe(self, request: Request, _match: re.Match[str]) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        return Response(200, {"fields": sorted(self.fields)} if self.fields is not None else {"ok": True})

    def _deliver(self, request: Request, _match: re.Match[str]) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        with self.lock:
            throttled = self._throttled()
        if throttled is not None:
            return throttled
        records = _parse_records(request)
        if records is None:
            return Response(400, {"error": "malformed payload"})
        if len(records) > self.max_batch:
            return Response(413, {"error": f"at most {self.max_batch} records per request"})
        for record in records:
            if BAD_REQUEST_VALUE in record["fields"].values():
                return Response(400, {"error": f"record {record['key']}: invalid payload"})
        with self.lock:
            self.last_delivery = {"headers": request.headers, "body": request.body, "payload": request.json()}
            results = self._apply(records, request.headers.get("idempotency-key"))
        return Response(200, {"results": results}) if self.reply is None else self.reply(results)

    def _apply(self, records: list[dict[str, Any]], delivery: str | None) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        touched: list[AppliedKey] = []
        for record in records:
            key, fields = record["key"], record["fields"]
            problem = self._record_problem(fields)
            if problem:
                results.append({"key": key, "status": "rejected", "error": problem})
                continue
            op, existed = record["op"], False
            self.operations.append((key, op))
            self.received.append(record)
            if op == "update" and key not in self.records:  # update never creates (README "Request")
                results.append({"key": key, "status": "rejected", "error": f"no record {key!r} to update"})
                continue
            if op == "delete":
                self.records.pop(key, None)
            elif op != "insert" or key not in self.records:  # insert never modifies: a resend is a no-op
                self.records[key] = fields
            else:
                existed = True
            applied = (key, str(record.get("fingerprint")))
            self.applied[applied] += 1
            touched.append(applied)
            results.append({"key": key, "status": "ok", "id": key, **({"existed": True} if existed else {})})
        if delivery:
            self.deliveries[delivery] += 1
        if self._state is not None:
            self._state.save(self.records, self.applied, touched)
        return results

    def _record_problem(self, fields: dict[str, Any]) -> str | None:
        for name, value in fields.items():
            if value == REJECT_VALUE:
                return f"field {name!r}: value refused by receiver rule"
            if self.fields is not None and name not in self.fields:
                return f"unknown field {name!r}"
        return None


def _parse_records(request: Request) -> list[dict[str, Any]] | None:
    """The payload's records when every one has a key, a known op and a fields object; else None."""
    try:
        records = request.json()["records"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(records, list):
        return None
    for r in records:
        if not (
            isinstance(r, dict)
            and isinstance(r.get("key"), str)
            and r.get("op") in OPS
            and isinstance(r.get("fields"), dict)
        ):
            return None
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/hooks")
    parser.add_argument("--state", required=True, help="SQLite file, committed after every request")
    parser.add_argument("--secret-env", required=True, help="environment variable holding the secret")
    parser.add_argument("--tolerance", type=float, default=300.0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--reset-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    secret = os.environ.get(args.secret_env)
    if not secret:
        print(f"environment variable {args.secret_env} is not set", file=sys.stderr)
        return 2
    receiver = WebhookReceiver(secret, path=args.path, tolerance=args.tolerance, state_file=args.state)
    receiver.faults = RandomFaults(
        path=args.path,
        seed=args.seed,
        fail_rate=args.fail_rate,
        throttle_rate=args.throttle_rate,
        retry_after=args.retry_after,
        reset_rate=args.reset_rate,
    )
    receiver.start(args.host, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"READY {receiver.base_url.rsplit(':', 1)[1]}", flush=True)
    stop.wait()
    receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
