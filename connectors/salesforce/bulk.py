"""Bulk API 2.0 ingest: one upsert job per large batch, results joined back on the external ID.

A job costs about 6 + polls API calls whatever its size (create, upload, close, poll, three
result reads), against 50 collections calls for 10,000 records. Results come back in no
particular order, so they are joined on the external-ID column, never by position.

Salesforce processes every job that is closed (UploadComplete), whether or not its client ever polls
it, so a batch is uploaded once: when a later call of the job (close, poll, a result read) fails, or
the job outlasts `bulk_timeout`, the send's retry resumes that same job; a new job is created only for
a batch whose job ended (Failed or Aborted) or whose upload failed (that job is aborted first).

A job can also outlive the run (still running when the retries ran out, or the process died): every job is
recorded in the sync's ledger (syncer.open_jobs) between its creation and its upload, and forgotten once its
results are read. The next run `resume`s the ledger's jobs before writing anything: an ended job's results are
read, a job never closed is aborted, and one still running after `bulk_timeout` holds its records back.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Literal

from syncer import failpoints
from syncer.connector import Record, Result
from syncer.errors import FatalError, RetryableError, SyncerError
from syncer.open_jobs import JobLedger, OpenJob
from syncer.values import plain

from .client import SalesforceClient
from .sobjects import TRANSIENT_CODES, jsonable

FINAL_STATES = frozenset({"JobComplete", "Failed", "Aborted"})
# A Failed job's errorMessage starts with a Bulk API 2.0 error code ("Errors"). These codes say the job as sent can
# never succeed (a CSV column naming no field the user can write, a malformed job or request, a user without the
# permission, Bulk API 2.0 off for the org): the job's unprocessed records are rejected with the message. Any
# other cause, documented as one that clears (ExceededQuota, Timeout, TooManyLockFailure, Unknown) or not
# recognised at all (an empty errorMessage, "UNKNOWN_EXCEPTION : ..."), fails them: sent again within the retry
# policy, then by the next run. Nothing is given up on for a cause nobody documented as final.
PERMANENT_JOB_ERRORS = frozenset(
    {
        "ClientInputError",
        "FeatureNotEnabled",
        "InvalidBatch",
        "InvalidJob",
        "InvalidOperation",
        "InvalidUrl",
        "InvalidUser",
        "InvalidXML",
    }
)
NULL = "#N/A"  # Bulk 2.0 CSV ("Prepare CSV Files"): an empty cell leaves a field alone, #N/A clears it


class BulkUpserter:
    """Runs Bulk 2.0 upsert jobs. `sleep` is injected (the retry policy's) so tests never wait."""

    def __init__(
        self,
        client: SalesforceClient,
        obj: str,
        match_field: str,
        sleep: Callable[[float], None],
        poll_interval: float,
        timeout: float,
        ledger: Callable[[], JobLedger | None] = lambda: None,
    ) -> None:
        self.client = client
        self.ledger = ledger  # the sync's open-jobs ledger for this run (None: a connector used outside a run)
        self.obj = obj
        self.match = match_field
        self.sleep = sleep
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.last_job: dict[str, Any] | None = None
        # sha256 of an uploaded CSV -> (its job id, whether it was closed): jobs whose results are not read yet
        self._unfinished: dict[str, tuple[str, bool]] = {}

    def to_csv(self, batch: Sequence[Record]) -> bytes:
        columns = [self.match, *dict.fromkeys(k for r in batch for k in r.fields if k not in ("Id", self.match))]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for r in batch:
            row = [r.match_value] + [self._cell(r.fields, c) for c in columns[1:]]
            writer.writerow(row)
        return out.getvalue().encode()

    @classmethod
    def keeps(cls, record: Record) -> bool:
        """Whether every value of `record` means in a Bulk 2.0 CSV what it means through collections.
        "Prepare CSV Files" gives a cell of exactly `#N/A` the meaning null: a text value `#N/A` would
        clear the field instead of storing the text (and an external ID `#N/A` would match nothing).
        Such records go through collections (SalesforceConnector._write_changes). An empty cell
        means "leave alone", but `_cell` writes an empty cell only for a field the record does not
        carry; cells are never trimmed, so leading and trailing spaces arrive as they are."""
        values = [record.match_value, *(v for v in record.fields.values() if v is not None and v != "")]
        return all(not isinstance(v, str) or v.strip().upper() != NULL for v in values)

    @staticmethod
    def _cell(fields: dict[str, Any], column: str) -> str:
        """One CSV cell with the meaning collections give the same value: a field the record does
        not carry is left alone (empty cell); null and "" clear it (#N/A; Salesforce stores "" as
        null through collections too)."""
        if column not in fields:
            return ""
        value = jsonable(fields[column])
        if value is None or value == "":
            return NULL
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, Decimal | float):
            return plain(Decimal(repr(value)) if isinstance(value, float) else value)
        return str(value)

    def upsert(self, batch: Sequence[Record]) -> list[Result]:
        """Upsert `batch` through one job and read its results. A RetryableError from any call after the
        upload leaves the job remembered: the same batch sent again (the send's retry) resumes that job
        instead of uploading the rows again. Raises RetryableError (transient, incl. `bulk_timeout`),
        FatalError / RejectedError (the request as a whole) from the calls."""
        data = self.to_csv(batch)
        digest = hashlib.sha256(data).hexdigest()
        known = self._unfinished.get(digest)
        job_id, closed = known or (self._upload(data, batch), False)
        self._unfinished[digest] = (job_id, closed)
        if not closed:
            self._close(job_id, resumed=known is not None)
            self._unfinished[digest] = (job_id, True)
            failpoints.hit("bulk_job_closed")
        self.last_job = self._wait(job_id)
        results = self._results(job_id, batch, self.last_job)
        del self._unfinished[digest]
        self._finished(job_id)
        return results

    def _finished(self, job_id: str) -> None:
        ledger = self.ledger()
        if ledger is not None:
            ledger.finished(job_id)

    def _upload(self, data: bytes, batch: Sequence[Record]) -> str:
        """Create a job, record it in the ledger, then upload `data`; the job id. A job whose upload fails is
        aborted (Bulk API 2.0 "Close or Abort a Job": an aborted job is not processed) before the error is raised,
        so a retry's new job is the only one that can write these rows; if the abort fails too, the job stays in
        the ledger and the next run aborts it."""
        job = self.client.json(
            "POST",
            "jobs/ingest",
            f"bulk create job {self.obj}",
            json={
                "object": self.obj,
                "operation": "upsert",
                "externalIdFieldName": self.match,
                "contentType": "CSV",
                "lineEnding": "LF",
            },
        )
        job_id: str = job["id"]
        failpoints.hit("bulk_job_created")
        ledger = self.ledger()
        if ledger is not None:
            ledger.opened(job_id, batch)
        try:
            self.client.request(
                "PUT",
                f"jobs/ingest/{job_id}/batches",
                f"bulk upload {job_id}",
                data=data,
                headers={"Content-Type": "text/csv"},
            )
        except SyncerError:
            with contextlib.suppress(SyncerError):  # an Open job left behind is never processed either
                self._abort(job_id)
                self._finished(job_id)
            raise
        return job_id

    def _abort(self, job_id: str) -> None:
        self.client.json("PATCH", f"jobs/ingest/{job_id}", f"bulk abort {job_id}", json={"state": "Aborted"})

    def resume(self, jobs: Sequence[OpenJob]) -> dict[str, list[Result] | str]:
        """Settle jobs earlier runs left open (syncer.open_jobs): job id -> one Result per record once the job has
        ended, or why its records are held. All are waited for together, up to `bulk_timeout`.

        - ended (JobComplete, Failed, Aborted): its results, read as in `upsert`;
        - Open (its run stopped before closing it): aborted, its records `failed` (sent again by this run): an
          aborted job is not processed (Bulk API 2.0 "Close or Abort a Job");
        - UploadComplete / InProgress past `bulk_timeout`, or not answering now: held. Not aborted: an abort
          does not roll back what the job already wrote ("Abort a Job": no more records are processed, committed
          changes are not rolled back), so a second job could still race the part in flight;
        - unknown to Salesforce (404: jobs are deleted 7 days after they end): `failed`, sent again.
        FatalError other than 404 (auth, quota) is raised."""
        answers: dict[str, list[Result] | str] = {}
        waiting: dict[str, tuple[OpenJob, dict[str, Any]]] = {}
        waited = 0.0
        pending = list(jobs)
        while pending:
            for job in pending:
                info = self._ask(job, answers)
                if info is None:
                    continue
                if info["state"] in FINAL_STATES:
                    answers[job.job_id] = self._results(job.job_id, job.records, info)
                elif info["state"] == "Open":
                    self._abort(job.job_id)
                    why = f"bulk job {job.job_id} was never closed (its run stopped): aborted, sent again"
                    answers[job.job_id] = [Result(r.key, "failed", r.dest_id, why) for r in job.records]
                else:
                    waiting[job.job_id] = (job, info)
            pending = [job for job, _info in waiting.values()]
            if not pending or waited >= self.timeout:
                break
            waiting.clear()
            self.sleep(self.poll_interval)
            waited += self.poll_interval
        for job, info in waiting.values():
            answers[job.job_id] = (
                f"bulk job {job.job_id} (created {job.created_at:%Y-%m-%d %H:%M:%S} UTC by run {job.run_id}) still "
                f"{info['state']} after bulk_timeout: not written again until it ends; a later run reads its results"
            )
        return answers

    def _ask(self, job: OpenJob, answers: dict[str, list[Result] | str]) -> dict[str, Any] | None:
        """The job's info; None with `answers[job]` set when it cannot be had (held, or gone: sent again)."""
        try:
            return self._poll(job.job_id)
        except RetryableError as exc:
            answers[job.job_id] = f"bulk job {job.job_id} could not be asked ({exc}): not written again until it is"
        except FatalError as exc:
            if "NOT_FOUND" not in str(exc):
                raise
            why = f"bulk job {job.job_id} no longer exists at Salesforce: sent again"
            answers[job.job_id] = [Result(r.key, "failed", r.dest_id, why) for r in job.records]
        return None

    def _close(self, job_id: str, resumed: bool) -> None:
        """Mark the upload complete. Resuming after a close whose answer was lost, ask the job first: a job that
        is no longer Open was closed and must not be closed again (409 InvalidJobState)."""
        if resumed and self._poll(job_id)["state"] != "Open":
            return
        self.client.json("PATCH", f"jobs/ingest/{job_id}", f"bulk close {job_id}", json={"state": "UploadComplete"})

    def _poll(self, job_id: str) -> dict[str, Any]:
        info: dict[str, Any] = self.client.json("GET", f"jobs/ingest/{job_id}", f"bulk poll {job_id}")
        return info

    def _wait(self, job_id: str) -> dict[str, Any]:
        waited = 0.0
        while True:
            info = self._poll(job_id)
            if info["state"] in FINAL_STATES:
                return info
            if waited >= self.timeout:
                # Salesforce goes on processing the job: the send's retry polls it again (upsert() resumes it);
                # if the retries run out too, the records stay failed and a later run sends them again
                raise RetryableError(
                    f"bulk job {job_id} still {info['state']} after {waited:.0f}s (bulk_timeout); "
                    "Salesforce keeps processing it"
                )
            self.sleep(self.poll_interval)
            waited += self.poll_interval

    def _rows(self, job_id: str, kind: str) -> list[dict[str, str]]:
        response = self.client.request(
            "GET", f"jobs/ingest/{job_id}/{kind}", f"bulk {kind} {job_id}", headers={"Accept": "text/csv"}
        )
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))

    def _results(self, job_id: str, batch: Sequence[Record], job: dict[str, Any]) -> list[Result]:
        """One Result per record, joined on the external ID: successfulResults ok, failedResults by sf__Error, the
        rest (unprocessedrecords, or missing) as the job's final state says (`unprocessed`)."""
        by_value: dict[str, Result | None] = {}
        for row in self._rows(job_id, "successfulResults/"):
            by_value[row[self.match]] = Result("", "ok", row.get("sf__Id") or None)
        for row in self._rows(job_id, "failedResults/"):
            by_value[row[self.match]] = _failure(row.get("sf__Error", ""))
        for row in self._rows(job_id, "unprocessedrecords/"):
            by_value.setdefault(row[self.match], None)
        status, reason = unprocessed(job_id, job)
        results = []
        for r in batch:
            found = by_value.get(str(r.match_value))
            if found is None:
                results.append(Result(r.key, status, r.dest_id, reason))
            else:
                results.append(Result(r.key, found.status, found.dest_id or r.dest_id, found.reason))
        return results


def unprocessed(job_id: str, job: dict[str, Any]) -> tuple[Literal["failed", "rejected"], str]:
    """What a record the job did not process ends as, from the job's final `state` and `errorMessage` (Bulk API
    2.0 "Job States": JobComplete, the job was processed; Failed, it couldn't be, successfully processed data is
    not rolled back; Aborted, canceled by its creator or a user with Manage Data Integrations).

    JobComplete or Aborted: `failed` (sent again; an abort is someone's decision about that job, not about the
    records). Failed: `failed` with the job's errorMessage, `rejected` only when its code is in
    PERMANENT_JOB_ERRORS."""
    state = str(job.get("state") or "")
    message = str(job.get("errorMessage") or "").strip()
    if state == "Failed":
        code = message.split(":", 1)[0].strip()
        reason = f"bulk job {job_id} Failed: {message or 'no errorMessage'}"
        return ("rejected" if code in PERMANENT_JOB_ERRORS else "failed"), reason
    if state == "Aborted":
        return "failed", f"bulk job {job_id} Aborted (by its creator or a user with Manage Data Integrations)"
    return "failed", f"bulk job {job_id}: record not processed"


def _failure(error: str) -> Result:
    """`sf__Error` reads `CODE:message:fields`; keep the service's words as `CODE: message`."""
    code, _, message = error.partition(":")
    message = re.sub(r":[^:]*--\s*$", "", message)  # drop the trailing ":Field --" list
    reason = f"{code}: {message}" if message else error or "UNKNOWN: no detail"
    return Result("", "failed" if code in TRANSIENT_CODES else "rejected", None, reason)
