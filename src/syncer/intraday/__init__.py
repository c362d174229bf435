"""The intraday lane: triggers judged on current state, evaluated every few minutes over changed accounts.

    settings.py   `[daemon.intraday]`: cadence, the current-state table and its update-time column, p95 budget
    query.py      one warehouse SELECT over rows changed since the watermark -> fired-trigger rows
    watermark.py  the lane's watermark in the state DB (advanced only after the alerts are committed)
    latency.py    action times on every alert, the event-to-action histogram, p50/p95/max per lane
    job.py        one evaluation: watermark -> query -> alert lifecycle (scoped sweep) -> outbox delivery

See docs/scoring.md ("Intraday lane") for the current-state table contract.
"""
