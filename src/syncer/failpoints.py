"""Failpoints: named places where a test can make this process die with SIGKILL.

`SYNCER_FAILPOINT=after_ack:7` kills the process the 7th time the runner reaches `after_ack`.
Unset (always, in production), `hit()` is one dictionary lookup. The crash tests use it to stop a
run at exact instants (between batches, with a request in flight, after the destination
acknowledged but before state was written) instead of guessing with timers.
"""

from __future__ import annotations

import os
import signal
import threading

_lock = threading.Lock()
_counts: dict[str, int] = {}
_target: tuple[str, int] | None = None
_spec = os.environ.get("SYNCER_FAILPOINT", "")
if _spec:
    _name, _, _count = _spec.partition(":")
    _target = (_name, int(_count or 1))


def hit(name: str) -> None:
    if _target is None or _target[0] != name:
        return
    with _lock:
        _counts[name] = _counts.get(name, 0) + 1
        if _counts[name] >= _target[1]:
            os.kill(os.getpid(), signal.SIGKILL)
