"""The rows behind `syncer alerts`: open alerts with their delivery state, owner, age, task status,
route, why they went to a fallback, and SLA (AlertEngine.open_alerts)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from syncer.alerts.people import owner_name
from syncer.alerts.sla import sla_of
from syncer.alerts.store import alerts, aware, digest_queue, email_queue, outbox

PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}


def open_alert_rows(engine: sa.Engine, now: dt.datetime) -> list[dict[str, Any]]:
    """Open alerts with state, owner, age, task status, route and why they went to a fallback."""
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(alerts).where(alerts.c.status == "open")))
        ids = [r.id for r in rows]
        box: dict[tuple[int, str], sa.Row[Any]] = {}
        queue: dict[int, str | None] = {}
        mailq: dict[int, str | None] = {}
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            for o in conn.execute(sa.select(outbox).where(outbox.c.alert_id.in_(part))):
                box[(o.alert_id, o.kind)] = o
            for q in conn.execute(sa.select(digest_queue).where(digest_queue.c.alert_id.in_(part))):
                queue[q.alert_id] = q.digest
            for q in conn.execute(sa.select(email_queue).where(email_queue.c.alert_id.in_(part))):
                mailq[q.alert_id] = q.digest
        slas = {}
        for start in range(0, len(rows), 900):
            slas.update(sla_of(conn, rows[start : start + 900]))
    listed = []
    for r in rows:
        ping, task, mail = box.get((r.id, "ping")), box.get((r.id, "task")), box.get((r.id, "email"))
        if r.delivery == "ping":
            parts = [f"ping {ping.status}"] if ping is not None else []
            parts += [f"email {mail.status}"] if mail is not None else []
            state = ", ".join(parts) or "ping missing"
        elif r.delivery == "none":
            state = "no message (tier actions only)"
        else:
            where = [queue.get(r.id) or "queued"] if r.id in queue else []
            where += [f"email {mailq.get(r.id) or 'queued'}"] if r.id in mailq else []
            state = "digest: " + ", ".join(str(w) for w in where)
        if r.escalated_at is not None:
            state += ", escalated"
        task_text = r.task_state
        if task is not None and task.status == "rejected":
            task_text = f"rejected: {task.reason}"
        opened = aware(r.opened_at)
        payload = json.loads(r.payload)
        listed.append(
            {
                "id": r.key,
                "account_id": r.account_id,
                "account_name": payload.get("account_name"),
                "trigger": r.trigger,
                "priority": r.priority,
                "state": state,
                "owner": r.owner_email,
                "owner_name": owner_name(payload),
                "owner_slack_id": r.owner_slack_id,
                "age_hours": round((now - opened).total_seconds() / 3600, 1) if opened else None,
                "task": task_text,
                "route": f"{r.delivery} -> {_where(r)} ({r.rule})",
                "fallback_reason": r.fallback_reason,
                "delivery_error": ping.reason if ping is not None and ping.status == "rejected" else None,
                "email_to": r.email_to,
                "email": f"{mail.status}" + (f": {mail.reason}" if mail.reason else "") if mail else None,
                "email_error": r.email_error,
                **slas[r.id].as_dict(now),
            }
        )
    listed.sort(key=lambda a: (PRIORITY_RANK.get(a["priority"], 3), -(a["age_hours"] or 0), a["id"]))
    return listed


def _where(row: sa.Row[Any]) -> str:
    """Slack target and/or email addresses of an alert, for the route column."""
    where = [str(row.channel)] if row.channel and row.channel != "email" else []
    if row.email_to:
        where.append(f"email {row.email_to}")
    return " + ".join(where) or "nowhere"


def select_open(
    rows: list[dict[str, Any]], status: str | None = None, owner: str | None = None, account: str | None = None
) -> list[dict[str, Any]]:
    """`open_alert_rows` newest first, filtered: `status` is a delivery (ping, digest, backlog, holdout, none), a
    task state (pending, open, completed, rejected), "escalated" or "fallback"; `owner` a part of the owner's
    email or name; `account` a part of the account id or name (all case-insensitive)."""

    def matches(row: dict[str, Any]) -> bool:
        kinds = {str(row.get("route") or "").split(" ")[0], str(row.get("task") or "").split(":")[0]}
        kinds |= {"escalated"} if str(row.get("state") or "").endswith(", escalated") else set()
        kinds |= {"fallback"} if row.get("fallback_reason") else set()
        names = f"{row.get('account_id') or ''}\n{row.get('account_name') or ''}".lower()
        owners = f"{row.get('owner') or ''}\n{row.get('owner_name') or ''}".lower()
        return (
            (status is None or status.strip().lower() in kinds)
            and (owner is None or owner.strip().lower() in owners)
            and (account is None or account.strip().lower() in names)
        )

    newest = sorted(rows, key=lambda r: (r.get("age_hours") or 0, r.get("id") or ""))
    return [r for r in newest if matches(r)]
