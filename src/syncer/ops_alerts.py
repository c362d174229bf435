"""Ops alerts: tell the operators when a sync breaks, recovers, or starts to look wrong.

Each condition is a state (`ok`, `firing` or `flapping`) kept in the state DB (`ops_alert_state`),
keyed by sync and kind. A notification goes out when the state changes, so a sync that fails every
five minutes for a day produces one "failed" message, a reminder every `remind_every` (default 6h,
with the count of failed runs since the last message) and one "recovered" message, not 288. The
state lives in the DB, so a restart or a second replica does not re-send it.

Flap damping (`[daemon.ops_alerts] flap_window`, default 1h): a condition that fires again within
`flap_window` of its "recovered" message is `flapping`: one message says so, then nothing but the
reminders until it has stayed ok for `flap_window`, when one "recovered" message closes it. A
destination that fails every other run therefore posts failed, recovered, flapping, one reminder per
`remind_every` and a final recovered, not two messages per two runs. A single failure and recovery
still posts exactly one of each, the recovery at the first ok run.

    state     observation  -> message                                        new state
    ok        firing          failed (flapping, if recovered < flap_window)  firing / flapping
    firing    firing          reminder, if remind_every since last message   firing
    flapping  firing          reminder, if remind_every since last message   flapping
    firing    ok              recovered                                      ok
    flapping  ok              recovered, if no firing for flap_window        ok (else flapping)

Kinds (thresholds under `[daemon.ops_alerts]`):
    failed          the run ended `failed` (fatal error) or crashed         resolved by an ok/partial run
    rejected_share  rejected / (succeeded + failed + rejected) > threshold  resolved when back under
    row_drop        the model has > threshold fewer rows than the last run  resolved when it stops dropping
    held_deletes    the delete guard held a mirror's deletes back           resolved by a run that holds none
    quota           a connector's daily API usage (`api_usage`) > threshold resolved when under again
    data_quality    the scoring data-quality guard failed                   resolved when it passes

Delivery goes through a `Notifier` (any object with `notify(OpsAlert)`): `WebhookNotifier` POSTs
JSON to a URL, `SlackNotifier` posts to a channel through the slack connector. Every state change
has its own key (`OpsAlert.key`, with the instant of the change); the Slack message carries it, so
a post whose answer was lost and is retried is found in the channel history, not posted twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from syncer.config import Duration, format_duration
from syncer.connector import Connector, Record
from syncer.escaping import slack_line
from syncer.http import tls_context
from syncer.project import project_id, scoped
from syncer.secrets import mask, masked_cut
from syncer.state import utcnow
from syncer.timestamps import UtcDateTime

log = logging.getLogger("syncer.ops_alerts")
State = Literal["ok", "firing", "flapping"]

alert_meta = sa.MetaData()
alert_state = sa.Table(
    "ops_alert_state",
    alert_meta,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("state", sa.String(20)),  # ok | firing | flapping
    sa.Column("detail", sa.Text),
    sa.Column("changed_at", UtcDateTime()),  # when the state last changed
    sa.Column("seen_at", UtcDateTime()),  # the last observation that found it firing (migration 0019)
    sa.Column("count", sa.Integer, nullable=False, server_default="0"),  # firing observations after notified_at
    sa.Column("notified_at", UtcDateTime()),  # the last message (a change or a reminder)
)


class OpsAlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    rejected_share: float = Field(default=0.05, ge=0, le=1)
    """Alert when more than this share of a run's records are rejected."""
    row_drop_share: float = Field(default=0.2, gt=0, le=1)
    """Alert when a model returns this share fewer rows than last run (before mirror deletes go out)."""
    quota_share: float = Field(default=0.9, gt=0, le=1)
    """Alert when this share of a destination's daily API quota is used."""
    min_records: int = Field(default=20, ge=1)
    """Below this many records a share is too noisy to alert on."""
    flap_window: Duration = Field(default="1h", validate_default=True)
    """A condition that fires again within this long of its "recovered" message is flapping: one "flapping"
    message, then only reminders until it has stayed ok this long, then one "recovered". `"0s"` turns damping
    off (every failed/ok change is a message). A duration: `"30m"`, `"1h"`."""
    remind_every: Duration = Field(default="6h", validate_default=True)
    """While a condition stays firing (or flapping), at most one reminder per this interval, with the number of
    firing runs since the last message. `"0s"`: no reminders."""


@dataclass(frozen=True)
class OpsAlert:
    sync: str
    kind: str
    state: State
    text: str
    changed_at: dt.datetime | None = None  # when the state changed (the state row's changed_at)
    project: str | None = None  # the state's project id (syncer.project): scopes the "already posted" identity

    @property
    def key(self) -> str:
        """One key per state change: `ops:<subject>:<kind>:<state>:<changed at, UTC>`."""
        at = self.changed_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ") if self.changed_at else "-"
        return f"ops:{self.sync}:{self.kind}:{self.state}:{at}"

    def as_dict(self) -> dict[str, Any]:
        return {"sync": self.sync, "kind": self.kind, "state": self.state, "text": self.text, "source": "syncer"}


class Notifier(Protocol):
    def notify(self, alert: OpsAlert) -> None: ...


class WebhookNotifier:
    """POST one JSON object per alert: {sync, kind, state, text, source}. Raises on HTTP errors."""

    def __init__(self, url: str, timeout: float = 10.0, client: httpx.Client | None = None) -> None:
        self.url = url
        self.client = client or httpx.Client(timeout=timeout, verify=tls_context())

    def notify(self, alert: OpsAlert) -> None:
        response = self.client.post(self.url, json=alert.as_dict())
        response.raise_for_status()


class SlackNotifier:
    """Post one message per alert to `channel` through a slack connector (`Connector.send`).

    The record key is the alert's state-change key: the connector's history lookup turns a retry of
    a post that landed (response lost, crash before the answer) into "already delivered". Raises
    when Slack did not take the message; OpsAlerts logs that and does not loop.
    """

    def __init__(self, connector: Connector, channel: str) -> None:
        self.connector, self.channel = connector, channel
        self._lock = threading.Lock()  # syncs finish in several worker threads; one post at a time

    def notify(self, alert: OpsAlert) -> None:
        icon = ":red_circle:" if alert.state == "firing" else ":large_green_circle:"
        head = "firing" if alert.state == "firing" else "resolved"
        where = slack_line(f"{alert.sync}/{alert.kind}")
        text = masked_cut(f"{icon} syncer {where} {head}: {slack_line(mask(alert.text))}", 3000)
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        fields = {"channel": self.channel, "text": text, "blocks": blocks}
        identity = scoped(alert.key, alert.project)  # another project's change under the same key is not this one
        record = Record(alert.key, "insert", fields, fingerprint=identity, idempotency_key=identity)
        with self._lock:
            [result] = self.connector.send([record])
        if result.status != "ok":
            raise RuntimeError(f"slack {result.status}: {result.reason}")

    def close(self) -> None:
        self.connector.close()


class LogNotifier:
    """The fallback when no webhook is configured: the alert is a warning log line."""

    def notify(self, alert: OpsAlert) -> None:
        log.warning("ops alert %s %s/%s: %s", alert.state, alert.sync, alert.kind, alert.text)


@dataclass(frozen=True)
class Observation:
    """What one run showed, in the terms the conditions need."""

    sync: str
    status: str
    error: str | None
    succeeded: int
    failed: int
    rejected: int
    source_rows: int | None
    previous_source_rows: int | None
    connector: str
    api_usage: tuple[int, int] | None
    held_deletes: int = 0  # deletes the delete guard held back (`Tally.held_deletes`): they wait for a person


class OpsAlerts:
    """Evaluates conditions after each run and notifies once per state change."""

    def __init__(
        self,
        engine: sa.Engine,
        notifiers: Sequence[Notifier],
        settings: OpsAlertSettings,
        metrics: Any = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.engine, self.notifiers, self.settings, self.metrics = engine, list(notifiers), settings, metrics
        self.clock = clock or (lambda: utcnow())  # aware UTC now, read at each call (tests patch `utcnow`)

    def observe_run(self, obs: Observation) -> list[OpsAlert]:
        s = self.settings
        sent: list[OpsAlert] = []
        known = self.states(prefix=(f"{obs.sync}:", f"{obs.connector}:"))  # one read; writes only on change
        failed = obs.status in ("failed", "error")
        sent += self.set(
            obs.sync,
            "failed",
            failed,
            f"sync {obs.sync} failed: {obs.error or 'unknown error'}",
            f"sync {obs.sync} recovered ({obs.status})",
            known=known,
        )
        if failed:  # counts of a failed run say nothing about the data; keep the other states as they are
            return sent
        total = obs.succeeded + obs.failed + obs.rejected
        if total >= s.min_records:
            share = obs.rejected / total
            sent += self.set(
                obs.sync,
                "rejected_share",
                share > s.rejected_share,
                f"sync {obs.sync}: {obs.rejected} of {total} records rejected ({share:.0%} > {s.rejected_share:.0%})",
                f"sync {obs.sync}: rejected share back to {share:.0%}",
                known=known,
            )
        if obs.source_rows is not None and obs.previous_source_rows:
            drop = 1 - obs.source_rows / obs.previous_source_rows
            sent += self.set(
                obs.sync,
                "row_drop",
                drop > s.row_drop_share,
                f"sync {obs.sync}: model rows dropped {obs.previous_source_rows} -> {obs.source_rows} "
                f"({drop:.0%} > {s.row_drop_share:.0%}); check the model before mirror deletes go out",
                f"sync {obs.sync}: model row count stable again ({obs.source_rows})",
                known=known,
            )
        # row_drop compares with the run before, so it resolves on the next run; the held deletes stay until a
        # person acts (`--allow-deletes`, or the rows come back): their own condition says so until then
        sent += self.set(
            obs.sync,
            "held_deletes",
            obs.held_deletes > 0,
            f"sync {obs.sync}: the delete guard holds {obs.held_deletes} deletes back (max_delete_share): the "
            f"destination keeps records the model no longer has; check the model, then run `syncer run {obs.sync} "
            "--allow-deletes` if they should go",
            f"sync {obs.sync}: no deletes held back any more",
            known=known,
        )
        if obs.api_usage and obs.api_usage[1]:
            used, limit = obs.api_usage
            sent += self.set(
                obs.connector,
                "quota",
                used / limit > s.quota_share,
                f"connector {obs.connector}: daily API quota {used}/{limit} ({used / limit:.0%}) near exhaustion",
                f"connector {obs.connector}: daily API quota back to {used}/{limit}",
                known=known,
            )
        return sent

    def observe_guard(self, state: str, reasons: Sequence[str]) -> list[OpsAlert]:
        return self.set(
            "score",
            "data_quality",
            state != "ok",
            "scoring data-quality guard failed, scores not published: " + "; ".join(reasons),
            "scoring data-quality guard passes again; scores published",
        )

    def observe_latency(self, lane: str, latency: dict[str, Any] | None, budget_seconds: float) -> list[OpsAlert]:
        """Fires when the lane's p95 event-to-action (alerts actioned in the last hour) is over its budget;
        resolves when it is back under, or when no alert was actioned in that hour."""
        p95 = float(latency["p95_seconds"]) if latency else 0.0
        n = int(latency["alerts"]) if latency else 0
        return self.set(
            lane,
            "latency_p95",
            p95 > budget_seconds,
            f"{lane} lane: p95 event-to-action {p95:.0f} s over the last hour ({n} alerts) > budget "
            f"{budget_seconds:.0f} s; check warehouse query time and destination throttling",
            f"{lane} lane: p95 event-to-action back to {p95:.0f} s (budget {budget_seconds:.0f} s)",
        )

    def set(
        self,
        subject: str,
        kind: str,
        firing: bool,
        firing_text: str,
        resolved_text: str,
        known: dict[str, str] | None = None,
    ) -> list[OpsAlert]:
        """Record one observation of (subject, kind); notify per the table in the module docstring.
        Unknown counts as ok. Returns the messages sent (none, or one)."""
        key = f"{subject}:{kind}"
        if not firing and known is not None and known.get(key, "ok") == "ok":
            return []  # ok and was ok (from the caller's one read): no write
        now, s = self.clock(), self.settings
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(alert_state).where(alert_state.c.key == key)).mappings().first()
            old: str = row["state"] if row is not None and row["state"] else "ok"
            step = _step(row, old, firing, now, s.flap_window, s.remind_every)
            if step is None:
                return []
            new, message, values = step
            text = mask(_wording(message, firing_text, resolved_text, row, now, s))
            if message is not None:
                values = {**values, "detail": text}
            if row is None:
                try:
                    conn.execute(alert_state.insert().values(key=key, state=new, **values))
                except sa.exc.IntegrityError:  # another replica inserted it first and notified
                    return []
            else:
                same = sa.and_(alert_state.c.key == key, alert_state.c.state == old)
                if row["notified_at"] is not None:
                    same = sa.and_(same, alert_state.c.notified_at == row["notified_at"])
                changed = conn.execute(alert_state.update().where(same).values(state=new, **values))
                if changed.rowcount != 1:  # another replica moved it first and notified
                    return []
            if message is None:
                return []
            project = project_id(conn)
        alert = OpsAlert(subject, kind, "ok" if new == "ok" else "firing", text, now, project)
        self._deliver(alert)
        return [alert]

    def _deliver(self, alert: OpsAlert) -> None:
        # The state is committed before sending: a lost notification is logged, never repeated in a loop.
        for notifier in self.notifiers:
            try:
                notifier.notify(alert)
            except Exception as exc:
                log.error("ops alert %s/%s could not be delivered: %s", alert.sync, alert.kind, mask(str(exc)))
        if self.metrics is not None:
            self.metrics.ops_alerts.labels(alert.kind, "firing" if alert.state == "firing" else "resolved").inc()

    def states(self, prefix: Sequence[str] = ()) -> dict[str, str]:
        query = sa.select(alert_state.c.key, alert_state.c.state)
        if prefix:
            query = query.where(sa.or_(*(alert_state.c.key.startswith(p, autoescape=True) for p in prefix)))
        with self.engine.connect() as conn:
            return {k: v for k, v in conn.execute(query)}


Message = Literal["failed", "flapping", "reminder", "recovered"]


def _step(
    row: Any, old: str, firing: bool, now: dt.datetime, window: dt.timedelta, remind: dt.timedelta
) -> tuple[str, Message | None, dict[str, Any]] | None:
    """(new state, message or None, columns to write) for one observation, or None: nothing to write."""
    count = int(row["count"] or 0) if row is not None else 0
    if firing:
        if old == "ok":
            recovered_at = row["changed_at"] if row is not None else None
            flapping = recovered_at is not None and bool(window) and now - recovered_at < window
            values = {"changed_at": now, "notified_at": now, "seen_at": now, "count": 0}
            return ("flapping", "flapping", values) if flapping else ("firing", "failed", values)
        last = row["notified_at"] or row["changed_at"]
        if remind and last is not None and now - last >= remind:
            return old, "reminder", {"notified_at": now, "seen_at": now, "count": 0}
        return old, None, {"seen_at": now, "count": count + 1}
    if old == "ok":
        return None
    seen = row["seen_at"] or row["changed_at"]
    if old == "flapping" and seen is not None and now - seen < window:
        return None  # ok, but not for flap_window yet: hold "recovered"
    return "ok", "recovered", {"changed_at": now, "notified_at": now, "count": 0}


def _wording(
    message: Message | None, firing_text: str, resolved_text: str, row: Any, now: dt.datetime, s: OpsAlertSettings
) -> str:
    if message is None or message == "failed":
        return firing_text
    if message == "recovered":
        if row is not None and row["state"] == "flapping":
            return f"{resolved_text}; stable for {format_duration(s.flap_window)} after flapping"
        return resolved_text
    if message == "flapping":
        ago = format_duration(now - row["changed_at"])
        return (
            f"{firing_text} (flapping: fails again {ago} after it recovered; at most one reminder per "
            f"{format_duration(s.remind_every)} while it flaps, recovered after {format_duration(s.flap_window)} ok)"
        )
    since = row["notified_at"] or row["changed_at"]
    runs = int(row["count"] or 0) + 1
    state = "flapping" if row["state"] == "flapping" else "failing"
    return (
        f"still {state}: {runs} firing runs since {since.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC; latest: {firing_text}"
    )
