"""One alert-engine step in its own process, so a crash test can SIGKILL it at a failpoint.

    python -m tests.alerts.child <job.json>     (SYNCER_FAILPOINT=alert_after_post:1 ...)

job.json: {"state_url", "slack_url", "slack_token", "hubspot_url", "op", "now", "rows"}
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from tests.alerts.support import Clock, engine


def main(path: str) -> None:
    with open(path) as fh:
        job = json.loads(fh.read())
    clock = Clock()
    eng = engine(job["state_url"], job["slack_url"], job["slack_token"], clock, job.get("hubspot_url"), fast=True)
    now = dt.datetime.fromisoformat(job["now"])
    if job["op"] == "evaluate":
        print(json.dumps(eng.evaluate_and_deliver(now, rows=job["rows"]).as_dict()))
    elif job["op"] == "digest":
        print(json.dumps(eng.send_due_digests(now)))
    elif job["op"] == "escalate":
        print(json.dumps({"escalated": eng.escalate(now).escalated}))


if __name__ == "__main__":
    main(sys.argv[1])
