"""The webhook connector against its receiver emulator over real loopback HTTP; nothing sleeps."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
from syncer_connectors.webhook.connector import (
    WebhookConnector,
    WebhookSettings,
    batch_idempotency_key,
    sign,
    verify,
)
from syncer_connectors.webhook.emulator import (
    BAD_REQUEST_VALUE,
    REJECT_VALUE,
    WebhookReceiver,
    load_receiver_state,
)

from syncer.connector import Destination, Record, RefusedProblem, Result
from syncer.emulator import Fault
from syncer.errors import FatalError
from syncer.ratelimit import RateLimit, RateLimiter
from syncer.retry import RetryPolicy, no_wait

SECRET = "whsec-Zq8-unit-test-signing-secret"
MODULE = "syncer_connectors.webhook.emulator"
DEST = Destination("pql_alerts", "account_id", fields={"name": "account_name", "score": "pql_score"})


def record(i: int, version: int = 1, op: Any = "upsert", **fields: Any) -> Record:
    values = fields or {"name": f"Account {i}", "score": i * version}
    fingerprint = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()[:16]
    return Record(f"acct-{i}", op, values, fingerprint, f"pql_alerts:acct-{i}:{fingerprint}", f"acct-{i}")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as emulator:
        yield emulator  # type: ignore[misc]


def connector(url: str, clock: Any, retry: RetryPolicy | None = None, **settings: Any) -> WebhookConnector:
    config = WebhookSettings.model_validate({"url": url, "signing_secret": SECRET, **settings})
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    return WebhookConnector(config, DEST, retry=retry or no_wait(), limiter=limiter)


@pytest.fixture
def hook(receiver: WebhookReceiver, clock: Any) -> Iterator[WebhookConnector]:
    conn = connector(f"{receiver.base_url}/hooks", clock)
    yield conn
    conn.close()


def statuses(results: list[Result]) -> list[str]:
    return [r.status for r in results]


# -- signing ---------------------------------------------------------------------------------


def test_signature_verifies_and_receiver_applies(receiver: WebhookReceiver, hook: WebhookConnector) -> None:
    assert statuses(hook.send([record(1), record(2)])) == ["ok", "ok"]
    delivery = receiver.last_delivery
    assert delivery is not None
    headers, body = delivery["headers"], delivery["body"]
    assert headers["x-syncer-signature"].startswith("v1=")
    timestamp, signature = headers["x-syncer-timestamp"], headers["x-syncer-signature"]
    recipe = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature == f"v1={recipe}"  # the documented recipe, computed independently
    assert abs(int(timestamp) - time.time()) < 5
    assert verify(SECRET, timestamp, signature, body, time.time()) is None
    assert verify("other", timestamp, signature, body, time.time())
    assert receiver.records == {
        "acct-1": {"name": "Account 1", "score": 1},
        "acct-2": {"name": "Account 2", "score": 2},
    }


def post(receiver: WebhookReceiver, body: bytes, timestamp: str, signature: str) -> httpx.Response:
    headers = {"X-Syncer-Timestamp": timestamp, "X-Syncer-Signature": signature}
    return httpx.post(f"{receiver.base_url}/hooks", content=body, headers=headers)


def test_receiver_refuses_tampered_body_old_timestamp_and_wrong_secret(receiver: WebhookReceiver) -> None:
    body = b'{"sync":"s","records":[{"key":"k","op":"upsert","fingerprint":"f","fields":{"a":1}}]}'
    now = str(int(time.time()))
    assert post(receiver, body, now, sign(SECRET, now, body)).status_code == 200
    tampered = body.replace(b'"a":1', b'"a":2')
    assert post(receiver, tampered, now, sign(SECRET, now, body)).status_code == 401
    old = str(int(time.time()) - 3600)
    refused = post(receiver, body, old, sign(SECRET, old, body))
    assert refused.status_code == 401 and "tolerance" in refused.text
    assert post(receiver, body, now, sign("another-secret", now, body)).status_code == 401
    assert receiver.records == {"k": {"a": 1}} and receiver.applied[("k", "f")] == 1


def test_stale_timestamp_is_fatal_writes_nothing(receiver: WebhookReceiver, hook: WebhookConnector) -> None:
    hook.clock = lambda: time.time() - 3600
    with pytest.raises(FatalError, match="401"):
        hook.send([record(1)])
    assert receiver.records == {}


# -- payload and idempotency -----------------------------------------------------------------


def test_payload_shape_and_extra_headers(receiver: WebhookReceiver, clock: Any) -> None:
    conn = connector(f"{receiver.base_url}/hooks", clock, headers={"X-Team": "revops"})
    conn.send([record(1), record(2, op="delete")])
    conn.close()
    assert receiver.last_delivery is not None
    payload, headers = receiver.last_delivery["payload"], receiver.last_delivery["headers"]
    assert payload["sync"] == "pql_alerts"
    first = payload["records"][0]
    assert set(first) == {"key", "op", "fingerprint", "idempotency_key", "match_value", "fields"}
    assert (first["key"], first["op"], first["match_value"]) == ("acct-1", "upsert", "acct-1")
    assert payload["records"][1]["op"] == "delete"
    assert headers["x-team"] == "revops"
    assert headers["idempotency-key"] == batch_idempotency_key([record(1), record(2, op="delete")])


def test_idempotency_key_is_stable_per_batch_and_changes_with_a_fingerprint() -> None:
    batch = [record(1), record(2)]
    assert batch_idempotency_key(batch) == batch_idempotency_key([record(1), record(2)])
    assert batch_idempotency_key(batch) != batch_idempotency_key([record(1), record(2, version=2)])
    assert batch_idempotency_key(batch) != batch_idempotency_key([record(1)])


def test_redelivery_carries_the_same_key_and_is_applied_again(
    receiver: WebhookReceiver, hook: WebhookConnector
) -> None:
    batch = [record(1), record(2)]
    hook.send(batch)
    hook.send(batch)
    assert receiver.deliveries == {batch_idempotency_key(batch): 2}
    assert receiver.applied[("acct-1", batch[0].fingerprint)] == 2  # the receiver dedupes nothing


def test_delete_removes_the_record(receiver: WebhookReceiver, hook: WebhookConnector) -> None:
    hook.send([record(1), record(2)])
    assert statuses(hook.send([record(1, op="delete")])) == ["ok"]
    assert list(receiver.records) == ["acct-2"]


# -- rejections ------------------------------------------------------------------------------


def test_per_record_rejections_become_results(receiver: WebhookReceiver, hook: WebhookConnector) -> None:
    batch = [record(1), record(2, name=REJECT_VALUE, score=2), record(3)]
    results = hook.send(batch)
    assert statuses(results) == ["ok", "rejected", "ok"]
    assert results[1].reason and "refused" in results[1].reason
    assert results[0].dest_id == "acct-1"
    assert sorted(receiver.records) == ["acct-1", "acct-3"]


def test_whole_batch_400_is_split_to_the_bad_one(receiver: WebhookReceiver, hook: WebhookConnector) -> None:
    batch = [record(i) for i in range(8)]
    batch[5] = record(5, name=BAD_REQUEST_VALUE, score=5)
    results = hook.send(batch)
    assert statuses(results) == ["ok"] * 5 + ["rejected"] + ["ok"] * 2
    assert results[5].reason and "HTTP 400" in results[5].reason and "acct-5" in results[5].reason
    assert sorted(receiver.records) == sorted(f"acct-{i}" for i in range(8) if i != 5)
    assert receiver.write_calls == 7  # 8 -> 4+4 -> 2+2 -> 1+1


# -- transient failures ----------------------------------------------------------------------


def test_5xx_is_retried_to_success(receiver: WebhookReceiver, hook: WebhookConnector) -> None:
    receiver.faults.add(Fault("status", path="/hooks", status=502, times=3))
    assert statuses(hook.send([record(1)])) == ["ok"]
    assert hook.stats.retries == 3 and receiver.write_calls == 4


def test_429_retry_after_is_honoured_without_sleeping(receiver: WebhookReceiver, clock: Any) -> None:
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=4, initial_wait=0, max_wait=0, sleep=slept.append)
    conn = connector(f"{receiver.base_url}/hooks", clock, retry=policy)
    receiver.faults.add(Fault("status", path="/hooks", status=429, retry_after=7))
    assert statuses(conn.send([record(1)])) == ["ok"]
    conn.close()
    assert slept == [7.0]  # the retry policy asked to wait what the server said
    assert clock.slept == [7.0]  # and the limiter held the next request back as long
    assert conn.stats.throttled == 1


def test_timeout_is_retried_and_may_land_twice(receiver: WebhookReceiver, clock: Any) -> None:
    conn = connector(f"{receiver.base_url}/hooks", clock, timeout=0.05)
    receiver.faults.add(Fault("delay", path="/hooks", delay=0.3))
    assert statuses(conn.send([record(1)])) == ["ok"]
    conn.close()
    assert conn.stats.retries == 1 and receiver.records["acct-1"]["score"] == 1


@pytest.mark.parametrize("kind", ["reset_before_apply", "reset_after_apply"])
def test_reset_is_retried_to_success(receiver: WebhookReceiver, hook: WebhookConnector, kind: Any) -> None:
    batch = [record(1)]
    receiver.faults.add(Fault(kind, path="/hooks"))
    assert statuses(hook.send(batch)) == ["ok"]
    assert hook.stats.retries == 1
    expected = 2 if kind == "reset_after_apply" else 1
    assert receiver.applied[("acct-1", batch[0].fingerprint)] == expected


def test_rate_setting_limits_requests_per_second(receiver: WebhookReceiver, clock: Any) -> None:
    conn = connector(f"{receiver.base_url}/hooks", clock, rate=2)
    assert conn.limiter.limit == RateLimit(2, 1.0)
    for i in range(5):
        conn.send([record(i)])
    conn.close()
    assert sum(clock.slept) == pytest.approx(2.0)  # 5 requests at 2/s: two full windows waited
    assert connector(f"{receiver.base_url}/hooks", clock, rate=0.5).limiter.limit == RateLimit(1, 2.0)


# -- settings and check() --------------------------------------------------------------------


def test_settings_cap_the_batch_size_and_refuse_credential_headers() -> None:
    base = {"url": "http://127.0.0.1:9/hooks", "signing_secret": SECRET}
    assert WebhookSettings.model_validate(base).batch_size == 100
    with pytest.raises(pydantic.ValidationError, match="less than or equal to 1000"):
        WebhookSettings.model_validate({**base, "batch_size": 1001})
    with pytest.raises(pydantic.ValidationError) as caught:
        WebhookSettings.model_validate({**base, "headers": {"Authorization": "Bearer tok-very-private"}})
    assert "credential" in str(caught.value) and "tok-very-private" not in str(caught.value)
    with pytest.raises(pydantic.ValidationError, match="set by syncer"):
        WebhookSettings.model_validate({**base, "headers": {"X-Syncer-Signature": "v1=0"}})


def test_check_passes_against_a_live_receiver(receiver: WebhookReceiver, hook: WebhookConnector) -> None:
    assert hook.check() == []


def test_check_reports_problems_without_raising(receiver: WebhookReceiver, clock: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hooks"
    assert "not reachable" in connector(dead, clock).check()[0]
    url = f"{receiver.base_url}/hooks"
    wrong_secret = WebhookSettings.model_validate({"url": url, "signing_secret": "nope"})
    hook = WebhookConnector(wrong_secret, DEST, retry=no_wait())
    problems = hook.check()
    assert len(problems) == 1 and "refused the signature" in problems[0]
    assert isinstance(
        problems[0], RefusedProblem
    )  # plan, run and check word it as the connector does (Connector.refused)
    assert hook.refused(problems[0].error).key == "signing_secret"  # located at config.toml's setting (vendorfix2 3)
    assert "404" in connector(f"{receiver.base_url}/nowhere", clock).check()[0]
    receiver.faults.add(Fault("status", path="/hooks", method="GET", status=503))
    assert "503" in connector(f"{receiver.base_url}/hooks", clock).check()[0]


def test_check_names_the_mapping_key_of_a_field_the_receiver_does_not_accept(clock: Any) -> None:
    with WebhookReceiver(SECRET, fields=["name"]) as receiver:
        problems = connector(f"{receiver.base_url}/hooks", clock).check()  # type: ignore[attr-defined]
    assert problems == ["field 'score' (mapping key 'pql_score') is not accepted by the webhook receiver"]


# -- secrets ---------------------------------------------------------------------------------


def test_secrets_never_appear_in_errors_or_logs(
    receiver: WebhookReceiver, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url_token = "urltoken-Kx93"
    conn = connector(f"{receiver.base_url}/hooks?token={url_token}", clock, retry=no_wait(max_attempts=2))
    for shown in (repr(conn.config), str(conn.config), conn.config.model_dump_json()):
        assert SECRET not in shown and "**" in shown
    texts: list[str] = []
    receiver.faults.add(Fault("status", path="/hooks", status=503, times=2))
    texts += [r.reason or "" for r in conn.send([record(1)])]  # retries exhausted -> failed
    receiver.faults.add(Fault("reset_before_apply", path="/hooks", times=2))
    texts += [r.reason or "" for r in conn.send([record(2)])]
    conn.clock = lambda: 0.0
    with pytest.raises(FatalError) as fatal:
        conn.send([record(3)])
    texts.append(str(fatal.value))
    conn.close()
    texts += [connector(f"http://127.0.0.1:1/x?token={url_token}", clock).check()[0]]
    assert len(texts) == 4 and all(texts), texts  # the failures did produce reasons to inspect
    for text in texts:  # syncer's own messages strip the URL's query too
        assert SECRET not in text and url_token not in text, text
    # httpx logs full URLs; a token in the URL must come from ${NAME} so the log mask covers it
    assert "idempotency key" in caplog.text and SECRET not in caplog.text


# -- standalone receiver process (crash tests) -----------------------------------------------


def start_process(state: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "WEBHOOK_TEST_SECRET": SECRET}
    command = [sys.executable, "-m", MODULE, "--port", "0", "--state", str(state)]
    proc = subprocess.Popen(
        [*command, "--secret-env", "WEBHOOK_TEST_SECRET", *args], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("READY "):
        proc.kill()
        pytest.fail(f"receiver did not start: {line!r}")
    assert SECRET not in " ".join(proc.args)  # type: ignore[arg-type]
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/hooks"


def test_standalone_receiver_persists_state_through_faults_and_a_kill(tmp_path: Path, clock: Any) -> None:
    state = tmp_path / "receiver.sqlite"
    flags = ["--fail-rate", "0.2", "--throttle-rate", "0.2", "--retry-after", "1", "--reset-rate", "0.2"]
    proc, url = start_process(state, *flags, "--seed", "3")
    try:
        conn = connector(url, clock, retry=no_wait(max_attempts=30), batch_size=5)
        batches = [[record(i) for i in range(start, start + 5)] for start in range(0, 40, 5)]
        results = [result for batch in batches for result in conn.send(batch)]
        conn.send([record(0, op="delete")])
        conn.close()
        live_records, _ = load_receiver_state(state)  # readable while the receiver runs
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert statuses(results) == ["ok"] * 40
    records, applied = load_receiver_state(state)
    assert records == live_records
    assert records == {f"acct-{i}": {"name": f"Account {i}", "score": i} for i in range(1, 40)}
    assert conn.stats.retries > 0 and conn.stats.throttled > 0  # the seeded faults did fire
    assert any(count > 1 for count in applied.values())  # reset_after_apply re-applied something
    assert all(applied[(r.key, r.fingerprint)] >= 1 for batch in batches for r in batch)


def test_standalone_receiver_refuses_to_start_without_its_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_SECRET_VAR"}
    command = [
        sys.executable,
        "-m",
        MODULE,
        "--state",
        str(tmp_path / "s.db"),
        "--secret-env",
        "NO_SUCH_SECRET_VAR",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "NO_SUCH_SECRET_VAR" in done.stderr
