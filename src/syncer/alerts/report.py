"""Report: what one AlertEngine.evaluate_and_deliver did (the evaluation, then what each channel
delivered), as `syncer alerts run` prints it and the daemon's alert metrics read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncer.alerts.lifecycle import Evaluation
from syncer.alerts.outbox import Delivered


@dataclass
class Report:
    """What one evaluate_and_deliver did."""

    evaluation: Evaluation
    pings: Delivered = field(default_factory=Delivered)
    tasks: Delivered = field(default_factory=Delivered)
    seconds: float = 0.0
    emails: Delivered = field(default_factory=Delivered)
    webhooks: Delivered = field(default_factory=Delivered)

    @property
    def undelivered(self) -> int:
        """Pings, tasks, emails and webhooks this run did not deliver (rejected or failed): `alerts run` exits 1."""
        return sum(d.undelivered for d in (self.pings, self.tasks, self.emails, self.webhooks))

    def as_dict(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "evaluation": ev.seq,
            "rows": ev.rows,
            "opened": ev.opened,
            "still_firing": ev.still_firing,
            "held": ev.held,
            "cleared": ev.cleared,
            "duplicates": ev.duplicates,
            "suppressed": ev.suppressed,
            "backlog": ev.backlog,
            "holdout": ev.holdout,
            "deferred": sum(ev.deferred.values()),
            "deferred_by_recipient": ev.deferred,
            "activated": ev.activated,
            "pings": self.pings.sent.get("ping", 0),
            "rerouted": self.pings.rerouted,
            "ping_rejected": self.pings.rejected,
            "ping_failed": self.pings.failed,
            "tasks": self.tasks.sent.get("task", 0),
            "task_rejected": self.tasks.rejected,
            "task_failed": self.tasks.failed,
            "sdr_tasks": self.tasks.sent.get("sdr_task", 0),
            "emails": self.emails.sent.get("email", 0),
            "email_rejected": self.emails.rejected,
            "email_failed": self.emails.failed,
            "webhooks": self.webhooks.sent.get("webhook", 0),
            "webhook_rejected": self.webhooks.rejected,
            "webhook_failed": self.webhooks.failed,
            "seconds": round(self.seconds, 3),
        }
