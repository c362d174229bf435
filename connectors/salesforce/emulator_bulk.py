"""Bulk API 2.0 ingest jobs for the emulator: Open -> UploadComplete -> InProgress -> JobComplete, or Failed
with the job's `errorMessage` when the job as a whole cannot be processed (a column that names no field).

A job's rows are written when the client closes it (UploadComplete), as Salesforce queues every closed job
for processing whether or not anyone polls it ("Bulk API 2.0 Ingest": close the job, Salesforce processes
it): a client that uploads the same rows twice writes them twice (`rows_written` counts them). Its state
still advances one step per poll, so clients must really poll. `hold_jobs = N` keeps the next N closed jobs
InProgress, unprocessed, until `release()` processes them (as Salesforce does, later, whoever polls): a test
makes a job outlive the run that created it, and a job released after a newer one lands after it (two jobs
on the same records have no promised order). Result files list rows in a
shuffled order (as the real service does not keep input order), which catches clients that
join results by position instead of by the external ID.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from syncer.emulator import Request, Response

# (object, external id field, values) -> one collections-style result item
Upsert = Callable[[str, str, dict[str, Any]], dict[str, Any]]
# (object, external id field, chunk of rows) -> {position: DUPLICATE_VALUE error}
Duplicates = Callable[[str, str, list[dict[str, Any]]], dict[int, dict[str, Any]]]
CHUNK = 200  # Bulk API 2.0 guide, "How Requests Are Processed": records are processed in chunks of 200


@dataclass
class Job:
    id: str
    object: str
    operation: str
    external_id: str
    api_version: str
    state: str = "Open"
    data: list[bytes] = field(default_factory=list)
    success: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    unprocessed: list[dict[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    error_message: str | None = None  # why a Failed job failed ("InvalidBatch : Field name not found : X"; may be "")
    outcome: str = "JobComplete"  # the final state, decided when the job is processed

    def info(self) -> dict[str, Any]:
        extra = {"errorMessage": self.error_message} if self.error_message is not None else {}
        return {
            "id": self.id,
            "object": self.object,
            "operation": self.operation,
            "state": self.state,
            "externalIdFieldName": self.external_id,
            "contentType": "CSV",
            "lineEnding": "LF",
            "apiVersion": float(self.api_version),
            "numberRecordsProcessed": len(self.success) + len(self.failed),
            "numberRecordsFailed": len(self.failed),
            **extra,
        }


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, [{"errorCode": code, "message": message}])


class BulkJobs:
    def __init__(
        self,
        objects: Collection[str],
        upsert: Upsert,
        duplicates: Duplicates | None = None,
        fields: Callable[[str], Collection[str]] = lambda _obj: (),
    ) -> None:
        self.objects = objects
        self.fields = fields  # object -> its field names (describe); empty: every column is taken
        self.upsert = upsert
        self.duplicates = duplicates or (lambda o, e, c: {})
        self.jobs: dict[str, Job] = {}
        self.leave_unprocessed = 0  # the last N rows of each job stay unprocessed (a test knob)
        # test knobs: the next jobs end Failed with these errorMessages ("Timeout : ...", "InvalidBatch : ...", or ""
        # as Salesforce sometimes leaves it), or Aborted (as a user with Manage Data Integrations aborts a job),
        # before processing any row
        self.fail_jobs: list[str] = []
        self.abort_jobs = 0
        self.hold_jobs = 0  # test knob: the next N closed jobs stay InProgress, unprocessed, until release()
        self.held: list[Job] = []
        self.rows_written = 0  # rows every processed job wrote (ok or failed), over all jobs
        self._ids = itertools.count(1)

    def create(self, request: Request, version: str) -> Response:
        spec = request.json() or {}
        if spec.get("object") not in self.objects:
            return _error(400, "INVALIDJOB", f"InvalidJob : Invalid object: {spec.get('object')}")
        if spec.get("operation") != "upsert" or not spec.get("externalIdFieldName"):
            return _error(400, "INVALIDJOB", "InvalidJob : the emulator supports operation upsert only")
        job = Job(f"750{next(self._ids):012d}AAA", spec["object"], "upsert", spec["externalIdFieldName"], version)
        self.jobs[job.id] = job
        return Response(200, job.info())

    def upload(self, request: Request, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None or job.state != "Open":
            return _error(409, "INVALIDJOBSTATE", "Job is not open for uploads")
        job.data.append(request.body)
        return Response(201, None)

    def patch(self, request: Request, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        state = (request.json() or {}).get("state")
        if state not in ("UploadComplete", "Aborted") or job.state != "Open":
            return _error(409, "INVALIDJOBSTATE", f"cannot move job from {job.state} to {state}")
        job.state = state
        if state == "UploadComplete" and self.hold_jobs:
            self.hold_jobs -= 1
            self.held.append(job)
        elif state == "UploadComplete":
            self._process(job)
        return Response(200, job.info())

    def release(self) -> list[str]:
        """Process the held jobs now, in the order they were closed; their ids. Each then ends as its outcome says
        on its next poll (the knobs `fail_jobs`, `abort_jobs`, `leave_unprocessed` apply as they are now)."""
        released, self.held = self.held, []
        for job in released:
            job.state = "InProgress"
            self._process(job)
        return [job.id for job in released]

    def get(self, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        # Bulk API 2.0 "Job States": UploadComplete (ready to be processed) -> InProgress (being processed) -> an
        # outcome (JobComplete, Failed, Aborted); a held job is still being processed
        if job.state == "UploadComplete":
            job.state = "InProgress"
        elif job.state == "InProgress" and job not in self.held:
            job.state = job.outcome
        return Response(200, job.info())

    def _process(self, job: Job) -> None:
        rows: list[dict[str, str]] = []
        for chunk in job.data:
            reader = csv.DictReader(io.StringIO(chunk.decode("utf-8")))
            job.columns = list(reader.fieldnames or [])
            rows.extend(reader)
        if self.fail_jobs or self.abort_jobs:
            job.error_message = self.fail_jobs.pop(0) if self.fail_jobs else None
            job.outcome = "Aborted" if job.error_message is None else "Failed"
            self.abort_jobs -= job.outcome == "Aborted"
            job.unprocessed = rows
            return
        known = {f.lower() for f in self.fields(job.object)}
        unknown = [c for c in job.columns if known and c.lower() not in known | {"id"}]
        if unknown:
            # Bulk API 2.0 "Job States": Failed, the job couldn't be processed; its job info's errorMessage says why
            # (Bulk API 2.0 "Errors": InvalidBatch, e.g. a CSV header naming a field the object or the user lacks)
            job.error_message = f"InvalidBatch : Field name not found : {unknown[0]}"
            job.outcome = "Failed"
            job.unprocessed = rows
            return
        cut = len(rows) - min(self.leave_unprocessed, len(rows))
        job.unprocessed = rows[cut:]
        todo = rows[:cut]
        # Bulk API 2.0 "Prepare CSV Files": empty field values are ignored on update; #N/A sets null
        # Bulk API 2.0 "Prepare CSV Files": field values aren't trimmed (spaces around a value are kept)
        # Bulk API 2.0 "Prepare CSV Files": fields the CSV does not define are ignored on update (no column, no change)
        cells = [{k: (None if v == "#N/A" else v) for k, v in row.items() if v != ""} for row in todo]
        for start in range(0, len(todo), CHUNK):
            part = cells[start : start + CHUNK]
            duplicates = self.duplicates(job.object, job.external_id, part)
            for offset, values in enumerate(part):
                clash = duplicates.get(offset)
                item = (
                    {"id": None, "success": False, "errors": [clash]}
                    if clash
                    else self.upsert(job.object, job.external_id, values)
                )
                self._record(job, todo[start + offset], item)
        self.rows_written += len(todo)

    @staticmethod
    def _record(job: Job, row: dict[str, str], item: dict[str, Any]) -> None:
        if item["success"]:
            job.success.append({"sf__Id": item["id"], "sf__Created": str(item["created"]).lower(), **row})
        else:
            e = item["errors"][0]
            fields = ",".join(e.get("fields") or [])
            failure = f"{e['statusCode']}:{e['message']}:{fields} --"
            job.failed.append({"sf__Id": item.get("id") or "", "sf__Error": failure, **row})

    def results(self, job_id: str, kind: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None or job.state not in ("JobComplete", "Failed", "Aborted"):
            return _error(409, "INVALIDJOBSTATE", "results are available once the job is complete")
        rows, extra = {
            "successfulResults": (job.success, ["sf__Id", "sf__Created"]),
            "failedResults": (job.failed, ["sf__Id", "sf__Error"]),
            "unprocessedrecords": (job.unprocessed, []),
        }[kind]
        shuffled = list(rows)
        random.Random(job.id + kind).shuffle(shuffled)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=extra + job.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(shuffled)
        return Response(200, raw=out.getvalue().encode(), content_type="text/csv")
