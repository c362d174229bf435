"""RSS stays flat over many scheduled runs (the 1,000-run figure in the report comes from rss_probe)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.daemon.conftest import REPO


def test_rss_does_not_grow_with_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tests.daemon.rss_probe", "120", "--cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    marks = {int(k): v for k, v in result["marks_kb"].items()}
    print(
        f"\nRSS idle {result['idle_kb'] / 1024:.1f} MiB; after runs: "
        + ", ".join(f"{k}: {v / 1024:.1f} MiB" for k, v in sorted(marks.items()))
    )
    assert result["runs"] == 120
    # After warm-up (first quarter), the second half of the runs may not add more than 3 MiB.
    assert marks[120] - marks[30] < 3 * 1024, marks
