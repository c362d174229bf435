"""A receiver's reply that breaks the webhook contract acknowledges nothing (connectors/webhook/reply.py).

Seen in an outside trial: a receiver answering `{"results": [{"key": ..., "status": "error"}]}` (or "ERROR",
"fail", an HTML page, results for other keys, `"results": "ok"`, a JSON array) had every record counted as
delivered: `run` exited 0, state advanced, and the records the receiver refused were never sent again. And a
receiver URL that answers a redirect (301/308) had every record rejected one by one after ~2N calls.

Every reply row drives the webhook connector over loopback HTTP against a receiver that stores what it is sent
and answers as the row says (no waits); the rows marked `process` also run `syncer run` as a process, then
`audit` and a second run. A reply the contract defines keeps its meaning (the control rows); a reply it does
not define leaves the records unacknowledged, failed with the reason, and the next run sends them again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from syncer_connectors.webhook.connector import WebhookConnector, WebhookSettings
from syncer_connectors.webhook.emulator import WebhookReceiver

from syncer.connector import Destination, Record
from syncer.emulator import Fault, Response
from syncer.errors import FatalError
from syncer.retry import no_wait
from tests.engine.conftest import SECRET, Project, replace_table

ROWS = [(i, f"Account {i}", f"acct{i}.example.com", float(i), "monitor") for i in range(1, 6)]
KEYS = [str(row[0]) for row in ROWS]
Results = list[dict[str, Any]]


def statuses(word: Any) -> Callable[[Results], Response]:
    return lambda results: Response(200, {"results": [{**r, "status": word} for r in results]})


def body(raw: bytes, content_type: str = "application/json") -> Callable[[Results], Response]:
    return lambda _results: Response(200, raw=raw, content_type=content_type)


@dataclass
class Case:
    reply: Callable[[Results], Response]
    outcome: str  # "ok": all delivered; "failed": none acknowledged, sent again; "rejected": recorded rejected
    reason: str = ""  # in each record's reason when not ok
    process: bool = False  # also run end to end as processes


CASES = {
    # the contract's own replies: unchanged
    "results ok": Case(statuses("ok"), "ok", process=True),
    "status OK in capitals": Case(statuses("OK"), "ok"),
    "no body": Case(body(b""), "ok"),
    "plain text OK": Case(body(b"OK", "text/plain"), "ok"),
    "an HTML fragment (a hosted catcher's default page)": Case(body(b"<p>Success!</p>", "text/html"), "ok"),
    "an object without results": Case(body(b'{"received": 5}'), "ok"),
    "results null": Case(body(b'{"results": null}'), "ok"),
    "status REJECTED in capitals": Case(statuses("REJECTED"), "rejected", "rejected by the receiver", process=True),
    # replies the contract does not define: nothing acknowledged
    "status error": Case(statuses("error"), "failed", "status 'error'", process=True),
    "status fail": Case(statuses("fail"), "failed", "status 'fail'"),
    "status true": Case(statuses(True), "failed", "status True"),
    "results for other keys": Case(
        lambda results: Response(200, {"results": [{"key": f"x{r['key']}", "status": "ok"} for r in results]}),
        "failed",
        "not in this batch",
    ),
    "a key reported twice": Case(lambda results: Response(200, {"results": results + results}), "failed", "second"),
    "an item without a key": Case(lambda _r: Response(200, {"results": [{"status": "ok"}]}), "failed", "with a key"),
    "results is a string": Case(body(b'{"results": "ok"}'), "failed", "is a str, not a list"),
    "a JSON array of results": Case(
        lambda results: Response(200, [{**r, "status": "rejected"} for r in results]), "failed", "JSON array"
    ),
    "an HTML page (a proxy's login page)": Case(
        body(b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html"), "failed", "HTML page", process=True
    ),
}


@pytest.fixture
def misreporting() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as rx:
        yield rx


def start(project: Project, receiver: WebhookReceiver) -> None:
    project.hook_url = f"{receiver.base_url}/hooks"
    replace_table(
        project.warehouse_url,
        {"account_id": "INTEGER", "name": "TEXT", "domain": "TEXT", "pql_score": "FLOAT", "tier": "TEXT"},
        ROWS,
    )
    project.write()  # conftest's upsert mapping of `accounts`


def command(project: Project, *args: str) -> tuple[int, Any, str]:
    """(exit code, the JSON it printed or {} when none, stderr) of `syncer ARGS --json` as a process."""
    proc = project.subprocess(*args, "--json")
    out, err = proc.communicate(timeout=120)
    return proc.returncode, json.loads(out) if out.strip()[:1] in ("{", "[") else {}, err


def hook(receiver: WebhookReceiver) -> WebhookConnector:
    settings = WebhookSettings.model_validate({"url": f"{receiver.base_url}/hooks", "signing_secret": SECRET})
    connector = WebhookConnector(settings, Destination("accounts", "domain", fields={"name": "name"}), retry=no_wait())
    connector.section = "connectors.hook"
    return connector


def batch() -> list[Record]:
    return [Record(key, "upsert", {"name": f"Account {key}"}, f"fp{key}", f"accounts:{key}:fp{key}") for key in KEYS]


@pytest.mark.parametrize("name", list(CASES))
def test_the_connector_reads_a_reply_as_the_contract_says(misreporting: WebhookReceiver, name: str) -> None:
    case = CASES[name]
    misreporting.reply = case.reply
    connector = hook(misreporting)
    try:
        results = connector.send(batch())
    finally:
        connector.close()
    assert sorted(misreporting.records) == KEYS  # the receiver got every record, whatever it answered
    assert [r.status for r in results] == [case.outcome] * len(KEYS), results
    assert all(case.reason in (r.reason or "") for r in results), results
    # not acknowledged: left for the next run, not retried now (the receiver would answer the same)
    assert misreporting.write_calls == 1


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.process])
def test_a_run_leaves_what_the_receiver_did_not_acknowledge_for_the_next(
    project: Project, misreporting: WebhookReceiver, name: str
) -> None:
    case = CASES[name]
    start(project, misreporting)
    misreporting.reply = case.reply
    code, summary, err = command(project, "run", "accounts")
    assert sorted(misreporting.records) == KEYS  # the receiver got every record, whatever it answered
    if case.outcome == "ok":
        assert (code, summary["succeeded"], summary["failed"], summary["rejected"]) == (0, 5, 0, 0), (summary, err)
        return
    assert code == 1, (summary, err)
    assert summary["succeeded"] == 0, summary
    assert summary[case.outcome] == 5, summary
    audit = json.dumps(command(project, "audit", "accounts", "--status", case.outcome)[1])
    assert audit.count(case.reason) == 5, audit[-2000:]  # each record's reason, in the receiver's words

    misreporting.reply = None  # the receiver is fixed: the next run delivers what was not acknowledged
    code, again, err = command(project, "run", "accounts")
    if case.outcome == "failed":
        assert (code, again["succeeded"]) == (0, 5), (again, err)
    else:  # a rejection is held until the row changes (or --retry-rejected): nothing re-sent
        assert (again["succeeded"], again["held_rejected"]) == (0, 5), (again, err)


REDIRECTS = [301, 302, 303, 307, 308]
MOVED = {"Location": "https://hooks.example.net/new/path?token=s3cr3t-in-query"}


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_receiver_that_moved_is_one_fatal_error_naming_the_url(misreporting: WebhookReceiver, status: int) -> None:
    misreporting.faults.add(Fault("status", path="/hooks", status=status, times=99, headers=MOVED))
    connector = hook(misreporting)
    try:
        problems = connector.check()
        with pytest.raises(FatalError) as raised:
            connector.send(batch())
    finally:
        connector.close()
    assert misreporting.write_calls == 1  # one call, not one per record after halving the batch
    assert not misreporting.records
    for text in (str(raised.value), *problems):
        assert f"connectors.hook.url: webhook receiver at {misreporting.base_url}/hooks answered HTTP {status}" in text
        assert "moved to https://hooks.example.net/new/path: set connectors.hook.url to the new address" in text
        assert "s3cr3t" not in text


def test_a_run_against_a_receiver_that_moved_stops_with_exit_2(project: Project, misreporting: WebhookReceiver) -> None:
    start(project, misreporting)
    misreporting.faults.add(Fault("status", path="/hooks", status=308, times=99, headers=MOVED))
    checked = project.subprocess("check")
    out, err = checked.communicate(timeout=120)
    assert checked.returncode == 2 and "connectors.hook.url" in out + err and "HTTP 308" in out + err, out + err
    code, summary, err = command(project, "run", "accounts")
    assert code == 2 and "moved to https://hooks.example.net/new/path" in err, (summary, err)
    assert "s3cr3t" not in out + err + json.dumps(summary)
    assert misreporting.write_calls == 0  # the run's own destination check stopped it before any write
    misreporting.faults.clear()  # the URL is fixed (here: the receiver is back where it was)
    assert command(project, "plan", "accounts")[1]["added"] == 5  # nothing recorded as rejected or sent
