"""One tier-engine step in its own process, so a crash test can SIGKILL it at a failpoint.

    python -m tests.tiers.child <job.json>     (SYNCER_FAILPOINT=email_after_send:1 ...)

job.json: {"state_url", "slack_url", "slack_token", "smtp", "hooks", "sections", "op", "now", "rows"}
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from tests.alerts.support import Clock
from tests.tiers.support import tier_engine


def main(path: str) -> None:
    with open(path) as fh:
        job = json.loads(fh.read())
    eng = tier_engine(
        job["state_url"],
        job["slack_url"],
        job["slack_token"],
        Clock(),
        smtp=job.get("smtp"),
        hooks=job.get("hooks"),
        **job.get("sections", {}),
    )
    now = dt.datetime.fromisoformat(job["now"])
    if job["op"] == "evaluate":
        print(json.dumps(eng.evaluate_and_deliver(now, rows=job["rows"]).as_dict()))
    elif job["op"] == "digest":
        print(json.dumps(eng.send_due_digests(now)))


if __name__ == "__main__":
    main(sys.argv[1])
