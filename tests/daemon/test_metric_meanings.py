"""Each metric says what docs/operations.md says it means (prodfix 7).

Repro: `syncer_data_quality_guard_ok` read 0 ("the guard failed") in a daemon without [scoring], where no
guard exists; an `out_of_sync` run set `syncer_last_success_timestamp_seconds`, documented as the last
ok/partial run; a run failing before it read the model set `syncer_source_rows` to 0.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncer.metrics import Metrics


def _summary(status: str, source_rows: int = 120) -> SimpleNamespace:
    return SimpleNamespace(
        sync="accounts",
        status=status,
        succeeded=1,
        failed=0,
        rejected=0,
        duration_s=0.5,
        api_calls=1,
        tally=SimpleNamespace(source_rows=source_rows),
    )


def _samples(metrics: Metrics) -> dict[str, float]:
    families = text_string_to_metric_families(metrics.exposition().decode())
    return {s.name: s.value for f in families for s in f.samples if not s.name.endswith("_created")}


# a sync run's status -> is it a success (docs/operations.md: "last ok/partial run")
RUNS = {"ok": True, "partial": True, "out_of_sync": False, "failed": False, "stopped": False, "error": False}
# a built-in job's status -> is it a success
JOBS = {"ok": True, "partial": True, "guarded": False, "skipped": False, "error": False}


@pytest.mark.parametrize(("status", "success"), RUNS.items(), ids=list(RUNS))
def test_last_success_is_the_last_ok_or_partial_run(status: str, success: bool) -> None:
    metrics = Metrics()
    metrics.record_run(_summary(status), "hook")
    assert ("syncer_last_success_timestamp_seconds" in _samples(metrics)) is success


@pytest.mark.parametrize(("status", "success"), JOBS.items(), ids=list(JOBS))
def test_last_success_of_a_job_is_its_last_ok_or_partial_run(status: str, success: bool) -> None:
    metrics = Metrics()
    metrics.record_job("score", status, 1.0)
    assert ("syncer_last_success_timestamp_seconds" in _samples(metrics)) is success


@pytest.mark.parametrize(
    ("status", "rows", "expected"),
    [("ok", 0, 0), ("ok", 7, 7), ("failed", 0, 120), ("failed", 9, 9), ("error", 0, 120), ("out_of_sync", 5, 5)],
)
def test_source_rows_is_the_model_size_at_the_last_run_that_read_it(status: str, rows: int, expected: int) -> None:
    metrics = Metrics()
    metrics.record_run(_summary("ok", 120), "hook")
    metrics.record_run(_summary(status, rows), "hook")
    assert _samples(metrics)["syncer_source_rows"] == expected


@pytest.mark.parametrize(("verdicts", "expected"), [([], None), (["ok"], 1), (["failing"], 0), (["failing", "ok"], 1)])
def test_guard_ok_exists_once_a_guard_ran(verdicts: list[str], expected: int | None) -> None:
    metrics = Metrics()
    for verdict in verdicts:
        metrics.record_guard(verdict)
    assert _samples(metrics).get("syncer_data_quality_guard_ok") == expected
