"""AlertEngine: the public entry points the CLI and the daemon call.

    engine = AlertEngine.from_config(config, state)      # or AlertEngine(settings, state, slack, crm, ...)
    engine.evaluate_and_deliver()   # read fired triggers, open/clear alerts, post pings, create tasks
    engine.send_due_digests()       # build due digests (per recipient, local time) and send them
    engine.escalate()               # escalate high alerts whose task is open past the SLA
    engine.open_alerts()            # rows for `syncer alerts` (tier, actions, SLA, email state included)
    engine.sla_report()             # per tier: alerts, met / missed / breached, p50 / p90 hours to action
    engine.release_in_doubt(keys)   # re-send emails interrupted mid-send (in_doubt = "hold")
    engine.preview_digest(recipient)
    engine.dry_run()                # what a run would ping, defer and summarise per recipient; writes nothing
    engine.budget_use()             # pings used / budget per recipient today

Channels: Slack (always the `slack` connector), email (`email=`, an email connector: alert emails and
digest emails), webhooks (`webhooks={name: connector}`, the tier actions' in-app / SDR endpoints).

Every method takes an optional `now` (aware datetime); the default comes from the injected clock,
so tests run days of schedule on a patched clock without sleeping.
"""

from __future__ import annotations

import datetime as dt
import importlib
import time
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from syncer.alerts.digest import DigestRenderer, Digests, next_send_at
from syncer.alerts.email_outbox import EmailOutbox
from syncer.alerts.escalation import Escalated, Escalations, RaisePriority
from syncer.alerts.factory import engine_from_config
from syncer.alerts.lifecycle import AlertRenderer, EmailRenderer, Evaluation, Lifecycle, SweepScope
from syncer.alerts.mail import DigestEmailRenderer, EmailDigests
from syncer.alerts.model import AlertSettings
from syncer.alerts.open_alerts import open_alert_rows
from syncer.alerts.outbox import Delivered, Outbox, Sender
from syncer.alerts.report import Report as Report  # also importable from here, as before
from syncer.alerts.routing import Router, UserDirectory
from syncer.alerts.sla import sla_report
from syncer.alerts.tasks import TaskConnector, TaskState, read_status, task_fields
from syncer.config import Config
from syncer.runner import Runtime
from syncer.source import Source
from syncer.state import StateStore

Rows = Callable[[], Iterable[dict[str, Any]]]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _blocks_module(slack: Any, module: str = "blocks") -> Any:
    """The renderers live next to the connector class (found through it, not by name)."""
    package = type(slack).__module__.rsplit(".", 1)[0]
    return importlib.import_module(f"{package}.{module}")


def _sibling(function: Any, module: str) -> Any:
    """The module next to a renderer (the Slack package's playbook beside its blocks), or None."""
    package = str(getattr(function, "__module__", "")).rsplit(".", 1)[0]
    try:
        return importlib.import_module(f"{package}.{module}")
    except ModuleNotFoundError:
        return None


class AlertEngine:
    def __init__(
        self,
        settings: AlertSettings,
        state: StateStore | sa.Engine,
        slack: Sender,
        crm: TaskConnector | None = None,
        *,
        rows: Rows | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        render_alert: AlertRenderer | None = None,
        render_digest: DigestRenderer | None = None,
        email: Sender | None = None,
        webhooks: dict[str, Sender] | None = None,
        render_alert_email: EmailRenderer | None = None,
        render_digest_email: DigestEmailRenderer | None = None,
        definitions: dict[str, str] | None = None,
        priors: dict[str, float] | None = None,
        canaried: set[str] | None = None,
    ) -> None:
        self.settings = settings
        self.email = email
        self.webhooks = dict(webhooks or {})
        self.sources: list[Source] = []  # warehouse connections to release on close()
        self.ops_alerts: Any = None  # an OpsAlerts: automatic canary rollbacks are raised there
        self.intraday: frozenset[str] = frozenset()  # triggers on the intraday lane (set by the factory)
        self.worked_sla_hours: dict[str, float] | None = None  # [outcomes] sla_hours (set by the factory)
        if email is not None and (render_alert_email is None or render_digest_email is None):
            render = _blocks_module(email, "render")
            render_alert_email = render_alert_email or render.render_alert_email
            render_digest_email = render_digest_email or render.render_digest_email
        self.engine = state.engine if isinstance(state, StateStore) else state
        self.slack = slack
        self.crm = crm
        self.rows = rows
        self.clock = clock
        if render_alert is None or render_digest is None:
            blocks = _blocks_module(slack)
            render_alert = render_alert or blocks.render_alert
            render_digest = render_digest or blocks.render_digest
        self.render_alert: AlertRenderer = render_alert
        self.render_digest: DigestRenderer = render_digest
        slack_settings = getattr(slack, "settings", None)
        self.fallback = settings.routing.fallback_channel or getattr(slack_settings, "fallback_channel", None)
        lookup = getattr(slack, "lookup_user_by_email", None) or (lambda _email: None)
        self.users = UserDirectory(self.engine, lookup, settings)
        self.router = Router(settings, self.users, self.fallback, getattr(slack, "channel_name", None))
        self.outbox = Outbox(self.engine, self.fallback)
        self.email_outbox = EmailOutbox(self.engine)
        read = self._read_tasks if crm is not None else None
        match_column = settings.alerts.tasks.match_column if settings.alerts.tasks else "account_id"
        created = settings.alerts.tasks.priority if settings.alerts.tasks else "normal"
        words = _sibling(self.render_alert, "playbook") if crm is not None else None  # task wording = the pings'
        builder = (lambda a, due: task_fields(crm.name, a, due, match_column, created, words)) if crm else None
        self.render_alert_email = render_alert_email if email is not None else None
        self.lifecycle = Lifecycle(
            settings,
            self.engine,
            self.router,
            self.render_alert,
            read,
            builder,
            self.render_alert_email,
            definitions,  # trigger -> definition fingerprint: an edit re-activates it quietly
            priors,  # trigger -> seed conversion prior: the budget's ranking while data is thin
        )
        self.lifecycle.canaried = set(canaried or ())  # triggers with a canary definition
        self.digests = Digests(settings, self.engine, self.outbox, self.render_digest)
        self.email_digests = (
            EmailDigests(settings, self.engine, render_digest_email)
            if email is not None and render_digest_email is not None
            else None
        )
        raise_priority: RaisePriority | None = getattr(crm, "raise_task_priority", None)
        self.escalations = Escalations(
            settings,
            self.engine,
            self.outbox,
            self.users,
            self.render_alert,
            read,
            raise_priority,
            crm.name if crm is not None else "",
            self.fallback,
        )

    # -- construction from config.toml --------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        config: Config,
        state: StateStore,
        runtime: Runtime | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> AlertEngine:
        """Validate [alerts]/[routing]/[digest] (ConfigError lists every problem) and build the connectors."""
        return engine_from_config(cls, config, state, runtime, clock)

    # -- entry points ---------------------------------------------------------------------------

    def evaluate(
        self, rows: Iterable[dict[str, Any]], now: dt.datetime | None = None, scope: SweepScope | None = None
    ) -> Evaluation:
        """Diff one set of fired-trigger rows against state (no delivery). Without a scope this is the daily
        lane: rows of intraday-lane triggers are left to the intraday job and its alerts are never swept here."""
        if scope is None:
            rows, scope = self.daily_lane(rows)
        return self.lifecycle.evaluate(rows, now or self.clock(), scope)

    def daily_lane(self, rows: Iterable[dict[str, Any]]) -> tuple[Iterable[dict[str, Any]], SweepScope]:
        """The daily lane's share of fired-trigger rows and its sweep scope: without an intraday lane, all of
        them; with one, rows of its triggers are dropped and their alerts are never swept by this evaluation."""
        if not self.intraday:
            return rows, SweepScope()
        lane = self.intraday
        return (r for r in rows if str(r.get("trigger")) not in lane), SweepScope(exclude=lane)

    def deliver(self, now: dt.datetime | None = None) -> tuple[Delivered, Delivered]:
        """Send pending pings, alert emails, CRM and SDR tasks, tier webhooks (also what a crashed run
        left behind). Returns (pings, tasks); `deliver_all` also returns emails and webhooks."""
        pings, tasks, _, _ = self.deliver_all(now)
        return pings, tasks

    def deliver_all(self, now: dt.datetime | None = None) -> tuple[Delivered, Delivered, Delivered, Delivered]:
        now = now or self.clock()
        pings = self.outbox.deliver_slack(self.slack, ["ping"], now, "alert_after_post")
        emails = self._deliver_email(["email"], now)
        tasks = self.outbox.deliver_tasks(self.crm, now, ("task", "sdr_task")) if self.crm is not None else Delivered()
        hooks = self.outbox.deliver_webhooks(self.webhooks, now) if self.webhooks else Delivered()
        return pings, tasks, emails, hooks

    def _deliver_email(self, kinds: list[str], now: dt.datetime, only: set[str] | None = None) -> Delivered:
        if self.email is None:
            return Delivered()
        channel = self.settings.alerts.email_delivery
        return self.email_outbox.deliver_email(self.email, kinds, now, channel.in_doubt, channel.max_attempts, only)

    def release_in_doubt(self, keys: list[str] | None = None, now: dt.datetime | None = None) -> int:
        """Re-send emails left `in_doubt` by an interrupted send (all, or these keys), with the same
        Message-ID; returns how many were released. For `syncer alerts resend`."""
        released = self.email_outbox.release_in_doubt(keys)
        if released:
            self._deliver_email(["email", "email_digest"], now or self.clock())
        return released

    def sla_report(self, now: dt.datetime | None = None, since: dt.datetime | None = None) -> dict[str, Any]:
        """Per tier: alerts with actions, met / missed / failed / breached / pending, p50 / p90 hours."""
        return sla_report(self.engine, now or self.clock(), since)

    def evaluate_and_deliver(
        self, now: dt.datetime | None = None, rows: Iterable[dict[str, Any]] | None = None
    ) -> Report:
        started = time.perf_counter()
        now = now or self.clock()
        if rows is None:
            if self.rows is None:
                raise ValueError("no rows given and no fired-triggers source configured")
            rows = self.rows()
        evaluation = self.evaluate(rows, now)
        self.check_canaries(now)
        pings, tasks, emails, hooks = self.deliver_all(now)
        return Report(evaluation, pings, tasks, time.perf_counter() - started, emails, hooks)

    def send_due_digests(self, now: dt.datetime | None = None, recipient: str | None = None) -> dict[str, Any]:
        """Build and send the digests that are due (Slack and email); with `recipient`, that recipient's only
        (a Slack id, an address, or an owner's email naming their Slack DM too: `Digests.resolve`)."""
        now = now or self.clock()
        only = self.digests.resolve(recipient) if recipient is not None else None
        built = self.digests.freeze_due(now, only)
        sent = self.digests.send(self.slack, now, only)
        mailed = self.email_digests.freeze_due(now, only) if self.email_digests is not None else []
        emails = self._deliver_email(["email_digest"], now, only)
        return {
            "built": [{"recipient": r, "date": d, "parts": n} for r, d, n in built],
            "messages": sent.sent.get("digest", 0),
            "rerouted": sent.rerouted,
            "rejected": sent.rejected,
            "failed": sent.failed,
            "email_built": [{"address": a, "date": d, "alerts": n} for a, d, n in mailed],
            "emails": emails.sent.get("email_digest", 0),
            "email_rejected": emails.rejected,
            "email_failed": emails.failed,
        }

    def next_digest_at(self, recipient: str, now: dt.datetime | None = None) -> dt.datetime:
        from syncer.alerts.people import reader_zone

        with self.engine.connect() as conn:
            zone = reader_zone(conn, self.settings.digest, recipient)
        return next_send_at(now or self.clock(), self.settings.digest.time, zone)

    def escalate(self, now: dt.datetime | None = None) -> Escalated:
        return self.escalations.run(self.slack, now or self.clock())

    def preview_digest(self, recipient: str | None = None) -> dict[str, list[tuple[str, list[dict[str, Any]]]]]:
        return self.digests.preview(recipient)

    def names(self) -> dict[str, str]:
        """Owner email / Slack id -> the owner's name, for lines a person reads (alerts/people.py)."""
        from syncer.alerts.people import known_names

        return known_names(self.engine)

    def dry_run(self, now: dt.datetime | None = None, rows: Iterable[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The evaluation on a throw-away copy of the alert state: per recipient, what would be pinged,
        deferred past the budget, summarised as backlog, digested or held out. Sends and writes nothing."""
        from syncer.alerts.preview import dry_run

        if rows is None:
            if self.rows is None:
                raise ValueError("no rows given and no fired-triggers source configured")
            rows = self.rows()
        return dry_run(self, rows, now or self.clock())

    def budget_use(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Per recipient today (their local day): pings sent, deferred to the digest, and the budget."""
        from syncer.alerts.budget import budget_use

        return budget_use(self.engine, self.settings, now or self.clock())

    def check_canaries(self, now: dt.datetime | None = None) -> list[tuple[str, str]]:
        """Automatic rollback of worse canaries (alerts/canary.py); each raises an ops alert when wired."""
        from syncer.alerts.canary import check

        now = now or self.clock()
        rolled = check(self.engine, self.settings, self.lifecycle.canaried, now, self.worked_sla_hours)
        for trigger, reason in rolled:
            if self.ops_alerts is not None:
                self.ops_alerts.set(
                    f"trigger {trigger}", "canary_rollback", True, f"canary of {trigger} rolled back: {reason}", ""
                )
        return rolled

    def open_alerts(self, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Open alerts with state, owner, age, task status, route and why they went to a fallback."""
        return open_alert_rows(self.engine, now or self.clock())

    def close(self) -> None:
        for connector in (self.slack, self.crm, self.email, *self.webhooks.values(), *self.sources):
            close = getattr(connector, "close", None)
            if close is not None:
                close()

    def _read_tasks(self, keys: Any) -> dict[str, TaskState]:
        assert self.crm is not None
        return read_status(self.crm, list(keys))
