"""The connector base: what every destination implements, and what the runner owns.

A connector declares its limits (`batch_size`, `rate_limit`, `max_concurrency`) and its settings
schema, and implements three hooks: `check()`, `write(batch)`, `close()`. The runner calls only the
`@final` methods (`send`, `call`), which own rate limiting, retries and splitting of batches that a
destination rejects as a whole, so every connector gets the same guarantees.
"""

from __future__ import annotations

import abc
import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, TypeVar, final

from pydantic import BaseModel, ConfigDict

from syncer import secrets
from syncer.errors import (
    ConfigIssue,
    CredentialRefused,
    DestinationUnreachable,
    FatalError,
    RejectedError,
    RetryableError,
    SyncerError,
)
from syncer.ratelimit import RateLimit, RateLimiter
from syncer.retry import RetryPolicy
from syncer.values import FieldType
from syncer.wording import plural

if TYPE_CHECKING:
    from syncer.open_jobs import JobLedger, OpenJob

Mode = Literal["upsert", "update", "insert", "mirror"]
Op = Literal["insert", "update", "upsert", "delete"]
PARENT_MATCH_MODES = frozenset({"insert"})  # see Connector.parent_match_objects
T = TypeVar("T")

# What syncer asks of the destination for a record that is not a deletion, by sync mode
# (docs/reference/mapping.md `mode`): insert never modifies, update never creates, mirror upserts.
WRITE_OP: dict[str, Op] = {"insert": "insert", "update": "update", "upsert": "upsert", "mirror": "upsert"}


# the audit reason of an insert the destination already held (`Result.existed`): a record made by someone
# else, or by an earlier insert whose answer was lost; either way this payload was not written
EXISTED = "already existed, not updated (mode insert)"


def op_of(mode: str, removed: bool = False) -> Op:
    """The operation syncer performs on one record of a `mode` sync: "delete" for a removed row (only
    mirror sends those), else `WRITE_OP[mode]`. It is what a connector that carries an operation
    sends (the webhook's `op`) and what the audit records. KeyError for an unknown mode."""
    return "delete" if removed else WRITE_OP[mode]


@dataclass(frozen=True)
class Record:
    """One change to apply: the mapped fields of one source row, or the deletion of one record.
    `op` is what syncer does with it (`op_of`): insert, update, upsert or delete."""

    key: str
    op: Op
    fields: dict[str, Any]
    fingerprint: str
    idempotency_key: str
    match_value: str | None = None
    dest_id: str | None = None
    # (identity, epoch seconds): the "already delivered?" identity the previous release gave this record, and
    # when this state stopped using it (syncer.project.previous_identity). A messaging connector (Slack) counts
    # a message it finds under that identity, posted before then, as this record's; None: no such message
    previous: tuple[str, float] | None = None


@dataclass(frozen=True)
class Result:
    """What the destination said about one record."""

    key: str
    status: Literal["ok", "rejected", "failed"]
    dest_id: str | None = None
    reason: str | None = None
    # failed for a cause no retry within this run can clear (a Slack scope the app lacks until it is reinstalled):
    # `send` does not retry it now; the next run sends it again, as any failed record
    later: bool = False

    @classmethod
    def ok(cls, record: Record, dest_id: str | None = None) -> Result:
        return cls(record.key, "ok", dest_id if dest_id is not None else record.dest_id)

    @classmethod
    def existed(cls, record: Record, dest_id: str | None = None) -> Result:
        """An insert the destination already held a record for: acknowledged (insert mode never modifies),
        and the audit says so (`EXISTED`) instead of claiming the payload was written."""
        return cls(record.key, "ok", dest_id if dest_id is not None else record.dest_id, EXISTED)

    @classmethod
    def rejected(cls, record: Record, reason: str) -> Result:
        return cls(record.key, "rejected", record.dest_id, reason)

    @classmethod
    def failed(cls, record: Record, reason: str) -> Result:
        return cls(record.key, "failed", record.dest_id, reason)


class TransientProblem(str):
    """A `check` problem that is no verdict on the configuration: the destination could not answer
    now (5xx, 429, timeout, connection refused). `plan`/`run` ask again; a plain str problem (a 4xx,
    a field missing, read-only or not unique) is final and never retried."""

    __slots__ = ()


class _NotThisRun(Exception):
    """Every record still pending failed `later`: retrying now would only wait (Connector.settle)."""


class SettingProblem(str):
    """A `check` problem about a key of config.toml the user edits (a connector's `bot_token`, `fallback_channel`,
    `signing_secret`; `routing.default_to`), not about the sync's mapping file: `key` is that dotted key as
    `Connector.setting` spells it ("connectors.slack.bot_token"). `check`, `plan` and `run` name the connector's
    file with it (`located`)."""

    __slots__ = ("key",)
    key: str

    def __new__(cls, key: str, text: str) -> SettingProblem:
        problem = super().__new__(cls, text)
        problem.key = key
        return problem


def located(problem: str, sync_file: str, connector_file: str) -> ConfigIssue:
    """Where the user fixes `problem`: a SettingProblem at its key in the connector's file, any other problem of a
    sync (a mapped field the destination lacks) in the sync's mapping file."""
    if isinstance(problem, SettingProblem):
        return ConfigIssue(connector_file, problem.key, str(problem))
    return ConfigIssue(sync_file, "", str(problem))


class ErrorProblem(str):
    """A `check` problem that carries the error it reports, `error`, for the command to word or raise; its text is
    `text`, else the error's own."""

    __slots__ = ("error",)
    error: SyncerError

    def __new__(cls, error: SyncerError, text: str | None = None) -> Self:
        problem = super().__new__(cls, str(error) if text is None else text)
        problem.error = error
        return problem


class UnreachableProblem(ErrorProblem):
    """A `check` problem saying nothing listens at the destination's address: not worth asking again
    in a plan or check; the command reports `error` (a DestinationUnreachable) naming the sync."""

    __slots__ = ()
    error: DestinationUnreachable


class RefusedProblem(ErrorProblem):
    """A `check` problem saying the destination refused the credential (or a permission): `error`. The runner
    (`destination_problems`) words it as the connector does for a run (`Connector.refused`): the setting and fix."""

    __slots__ = ()
    error: CredentialRefused


def _wording_refusals(method: Callable[..., T]) -> Callable[..., T]:
    """`method` of a connector, setting `issue` on a CredentialRefused it raises (Connector.__init_subclass__)."""

    @functools.wraps(method)
    def wording(self: Connector, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except CredentialRefused as exc:
            if exc.issue is None and self.section:
                exc.issue = located(self.refused(exc), "", self.file)
            raise

    return wording


def check_problem(exc: BaseException, text: str) -> str:
    """`text` about `exc`: an UnreachableProblem when nothing listens at the destination, a RefusedProblem when
    it refused the credential, marked TransientProblem when `exc` is another RetryableError."""
    if isinstance(exc, DestinationUnreachable):
        return UnreachableProblem(exc)
    if isinstance(exc, CredentialRefused):
        return RefusedProblem(exc, text)
    return TransientProblem(text) if isinstance(exc, RetryableError) else text


@dataclass(frozen=True)
class Destination:
    """Where a sync writes: the object, the field that matches records, the mode, the mapped fields; for a
    messaging connector used outside the syncs (alerts, ops alerts), the `recipients` its messages go to."""

    object: str
    match_field: str
    mode: Mode = "upsert"
    fields: dict[str, str] = field(default_factory=dict)  # destination field -> mapping key
    # (recipient, the config key sending there): a channel or user ID, OWNER_DM or OWNER_NAMED; `check` verifies
    # the connector can reach each (the Slack scopes of every call it takes)
    recipients: tuple[tuple[str, str], ...] = ()


OWNER_DM = "owner"  # a recipient: a person found by email (users.lookupByEmail) and messaged directly
OWNER_NAMED = "owner_named"  # a recipient: a person found by email to be named (mentioned) in a message


@dataclass
class CallStats:
    """Counters every connector keeps; exported as metrics and printed by benchmarks."""

    calls: int = 0
    throttled: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


class ConnectorSettings(BaseModel):
    """Base of every connector's settings schema: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    batch_size: int | None = None
    """Records per destination call. Default: the connector's own (HubSpot 100, Salesforce 200, Slack 20, webhook 100,
    email 50).
    """
    max_concurrency: int | None = None
    """Batches in flight at once. Default: the connector's own."""


class Connector(abc.ABC):
    """Base class of every destination. Subclasses set the class attributes and the three hooks."""

    name: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    batch_size: ClassVar[int] = 100
    rate_limit: ClassVar[RateLimit | None] = None
    max_concurrency: ClassVar[int] = 4
    modes: ClassVar[frozenset[str]] = frozenset({"upsert", "update", "insert", "mirror"})
    # How the destination compares match values: True when 'SF-1' and 'sf-1' are one record there.
    # The engine rejects rows whose match values collide under this comparison before sending.
    match_key_casefold: ClassVar[bool] = False
    # Objects whose match value names the parent record a new record attaches to, not the record:
    # a CRM task's is its account's external ID, which many tasks share. Such a record's identity is
    # its primary key (the connector stores it in a task key field and creates it once), so the engine
    # checks no match-value collisions for these objects and they take mode "insert" only.
    parent_match_objects: ClassVar[frozenset[str]] = frozenset()
    # Destination fields whose values say who a message goes to (Slack's `channel`: a channel or a user ID): `check`
    # reads their distinct values from the sync's model and hands them to `check()` as `destination.recipients`,
    # so the calls each kind of recipient takes are checked too (SyncJob.model_recipients).
    recipient_fields: ClassVar[tuple[str, ...]] = ()
    # Does an upsert replace the whole record by key (a webhook receiver: README "Request") rather than set the
    # fields it carries (a CRM)? Then two syncs writing one record drop each other's fields, disjoint or not.
    upsert_replaces_record: ClassVar[bool] = False
    # The settings that say WHERE the destination is (non-secret: a base URL, an instance URL, a webhook
    # URL): state remembers them per record (syncer.destinations), and a change is a new destination to
    # which every record is sent. Credentials are never listed: a rotated token reaches the same place.
    address_settings: ClassVar[tuple[str, ...]] = ()
    # Does the destination find a record by its match value (a CRM's upsert by external ID or unique
    # property)? Then a changed match field moves every record's identity (syncer.rekeys). False where
    # records are addressed by syncer's key (a webhook receiver applies `op` by `key`).
    finds_by_match_value: ClassVar[bool] = True
    # The settings holding the credential, the first one set is named when the destination refuses it (Salesforce
    # names its flow's: `credential_setting`); what the credential is, and how to grant a missing permission (403)
    credential_settings: ClassVar[tuple[str, ...]] = ()
    credential_noun: ClassVar[str] = "credential"
    permission_fix: ClassVar[str] = "grant the permission the call needs to the user or app the credential belongs to"

    def __init__(
        self,
        settings: ConnectorSettings,
        destination: Destination,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.destination = destination
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter(self.rate_limit)
        self.stats = CallStats()
        # "connectors.<name>", the section of config.toml holding `settings`, and that file: set by the one builder
        # (registry.build_connector: syncs, check, alerts, ops alerts), so problems name the key the user edits
        self.section = ""
        self.file = ""
        # the sync's open jobs in state (syncer.open_jobs), set by the runner for a run: a connector whose writes
        # are jobs the destination processes after the call returns records each before uploading its data
        self.ledger: JobLedger | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every public method a connector defines words a CredentialRefused escaping it at the setting to fix
        (`CredentialRefused.issue`, from `refused`), wherever the connector is used: a sync's run, and the alert
        engine, digest, escalation and ops alerts, which call it outside the runner (send, lookup_user_by_email,
        task_status, ...). The innermost connector's wording stands."""
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(value) and not inspect.isgeneratorfunction(value):
                setattr(cls, name, _wording_refusals(value))

    @final
    def setting(self, key: str) -> str:
        """`key` of this connector's settings as config.toml spells it: "connectors.slack.bot_token"."""
        return f"{self.section}.{key}" if self.section else key

    def credential_setting(self) -> str:
        """The key of this connector's settings holding the credential the destination checks: the first of
        `credential_settings` that is set ("" when none is)."""
        return next((k for k in self.credential_settings if getattr(self.settings, k, None) is not None), "")

    @final
    def refused(self, error: CredentialRefused) -> SettingProblem:
        """`error` as the user reads it: the setting of config.toml holding the credential (`setting`), that the
        destination refused it (or, `forbidden`, a permission the call needs) and how to fix it; never its value."""
        leaf = self.credential_setting()
        key = self.setting(leaf) if leaf else self.section
        where = secrets.where_set(key) if leaf else "the credential"
        seen = f"{error.detail} on {error.what}"
        if error.forbidden:
            fix = error.fix or self.permission_fix
            text = (
                f"{self.name} took the credential but refused the call for a missing permission or scope ({seen}): "
                f"{fix}; if that issues a new {self.credential_noun}, set {where} to it"
            )
        else:
            text = (
                f"{self.name} refused the credential ({seen}): set {where} to a valid {self.credential_noun}, "
                f"or rotate it at {self.name} and set the new one there"
            )
        return SettingProblem(key, text)

    # -- hooks a connector implements ---------------------------------------------------------

    @abc.abstractmethod
    def check(self) -> list[str]:
        """Verify credentials and that every mapped field exists; return problems, naming the field.

        A problem that is no verdict on the configuration (5xx, 429, timeout) is a TransientProblem
        (see `check_problem`): the runner asks again for those only."""

    @abc.abstractmethod
    def write(self, batch: Sequence[Record]) -> list[Result]:
        """Apply one batch in one idempotent call; return one Result per record, in order.

        Raise RetryableError when the whole call failed transiently, RejectedError when the
        destination refused the batch as a whole, FatalError when nothing can proceed.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing
        """Release connections."""

    def resume_jobs(self, jobs: Sequence[OpenJob]) -> dict[str, list[Result] | str]:
        """Job id -> one Result per record of the job (in `job.records` order) once it has ended, or why it is
        still held (running). Called at the start of a run with the jobs earlier runs left open (syncer.open_jobs);
        a job left out is held. Only a connector that records jobs in `ledger` has any."""
        return {}

    def field_types(self) -> dict[str, FieldType]:
        """Destination field -> what it takes, learned from the destination (connectors cache it per
        run). The runner converts every mapped value with syncer.values before sending, so `write`
        receives wire values. Fields left out are passed as mapped (the connector formats them).
        Raise FatalError when the destination cannot be asked (auth, unreachable)."""
        return {}

    def instant_fields(self) -> dict[str, str]:
        """Mapped field -> what it is called, for every field that holds an instant (a point in time):
        the datetime fields of `field_types()`, plus untyped ones a connector knows (a task's due time).
        A mapping `format` there must keep the UTC offset (syncer.mapping.Mapper.instant_issues)."""
        return {name: t.label for name, t in self.field_types().items() if t.base == "datetime"}

    def match_casefold(self) -> bool:
        """Whether this destination's match field compares values case-insensitively. Defaults to
        the class's `match_key_casefold`; a connector that can ask the destination (e.g. a field's
        describe) overrides this."""
        return self.match_key_casefold

    @classmethod
    def addresses(cls, settings: ConnectorSettings) -> list[str]:
        """The values of `address_settings` in `settings` ("" for one left out), in that order. A connector
        whose settings name one address several ways (Salesforce) overrides this to return that one."""
        return [str(getattr(settings, name, None) or "") for name in cls.address_settings]

    @classmethod
    def record_identity(cls, object_name: str, match_field: str) -> str | None:
        """What finds a record of `object_name` here, for people ("match field product_account_id"): two syncs
        writing one object at one address with the same identity write the same records (syncer.shared_records).
        The match field where the destination finds records by it, else syncer's record key (a webhook receiver);
        None for a parent-match object (tasks): its key is scoped by sync and project (SyncJob.record_key_scope),
        so no other sync's record is ever this one."""
        if not cls.match_identifies(object_name):
            return None
        return f"match field {match_field}" if cls.finds_by_match_value else "record key"

    @final
    @classmethod
    def match_identifies(cls, object_name: str) -> bool:
        """Whether `object_name`'s match value identifies its record (an Account's external ID: two
        rows holding it are one record) rather than the parent it attaches to (a Task's account)."""
        return object_name not in cls.parent_match_objects

    @final
    @classmethod
    def modes_for(cls, object_name: str) -> frozenset[str]:
        """The sync modes `object_name` supports: every mode of the connector, or, where the match
        value names a parent (`parent_match_objects`), "insert" only: update, upsert and mirror find
        the record by its match value, which there is the parent's."""
        return cls.modes if cls.match_identifies(object_name) else cls.modes & PARENT_MATCH_MODES

    def preferred_batch_size(self, total_changes: int) -> int:
        """Batch size for a run with this many changes (at least); e.g. a bulk API above a threshold."""
        return self.effective_batch_size

    # -- runner-owned -------------------------------------------------------------------------

    @final
    @property
    def effective_batch_size(self) -> int:
        configured = self.settings.batch_size
        return min(configured, self.batch_size) if configured else self.batch_size

    @final
    @property
    def effective_concurrency(self) -> int:
        configured = self.settings.max_concurrency
        return max(1, min(configured, self.max_concurrency) if configured else self.max_concurrency)

    @final
    def call(self, fn: Callable[[], T]) -> T:
        """Make one request to the destination: wait for the rate limiter, count it."""
        waited = self.limiter.acquire()
        self.stats.add(calls=1, waited_seconds=waited)
        return fn()

    @final
    def send(self, batch: Sequence[Record]) -> list[Result]:
        """Write a batch with retries; isolate records when the destination rejects the whole batch.

        Retryable failures (of the whole call, or of single records) are retried per the policy;
        if they persist, those records are reported `failed` and the next run picks them up. A
        batch rejected as a whole is split in halves until the bad records are found, so one bad
        row never holds back its neighbours.
        """
        by_key = {r.key: r for r in batch}
        settled, failure = self.settle(list(by_key), lambda keys: self._write_isolating([by_key[k] for k in keys]))
        return [settled.get(r.key) or Result.failed(r, failure or "not acknowledged") for r in batch]

    @final
    def settle(
        self, keys: Sequence[str], operation: Callable[[list[str]], Iterable[Result]]
    ) -> tuple[dict[str, Result], str | None]:
        """Run `operation` on the keys not yet settled (ok or rejected) until all are, or the retry
        policy gives up. Returns the settled results, and why the rest failed (they are left out)."""
        settled: dict[str, Result] = {}
        pending = list(dict.fromkeys(keys))

        def attempt() -> None:
            nonlocal pending
            failed = []
            for result in operation(pending):
                if result.status == "failed":
                    failed.append(result)
                else:
                    settled[result.key] = result
            pending = [k for k in pending if k not in settled]
            if pending:
                reason = failed[0].reason if failed else "no result"
                if failed and len(failed) == len(pending) and all(r.later for r in failed):
                    raise _NotThisRun(f"{len(pending)} record(s) failed: {reason}")
                raise RetryableError(f"{len(pending)} record(s) failed: {reason}")

        try:
            self.retry.run(attempt, on_retry=self._note_retry)
        except (RetryableError, _NotThisRun) as exc:
            return settled, str(exc)
        return settled, None

    def _note_retry(self, exc: BaseException) -> None:
        self.stats.add(retries=1, throttled=1 if getattr(exc, "throttled", False) else 0)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            self.limiter.block_for(retry_after)

    def _write_isolating(self, batch: Sequence[Record]) -> list[Result]:
        try:
            results = self.write(batch)
        except RejectedError as exc:
            if len(batch) == 1:
                return [Result.rejected(batch[0], str(exc))]
            middle = len(batch) // 2
            return self._write_isolating(batch[:middle]) + self._write_isolating(batch[middle:])
        if len(results) != len(batch):
            got, sent = plural(len(results), "result"), plural(len(batch), "record")
            raise FatalError(f"connector {self.name} returned {got} for {sent}")
        return results
