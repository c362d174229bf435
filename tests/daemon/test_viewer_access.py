"""Account data behind a viewer token: /report and other pages answer 401 with no data without it;
/healthz, /readyz and /metrics stay open, and /metrics carries no account data."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncer.server import COOKIE, DaemonHTTPServer, viewer_verdict

TOKEN = "viewer-secret-token-123"
SECRET_DATA = "Acme Rockets owner7@example.com ARR $120K"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def pages(tmp_path: Path) -> dict[str, Path]:
    report, landed = tmp_path / "report.html", tmp_path / "landed.html"
    report.write_text(f"<html>{SECRET_DATA}</html>")
    landed.write_text(f"<html>landed {SECRET_DATA}</html>")
    return {"/report": report, "/landed": landed}


def _server(pages: dict[str, Path], token: str | None) -> DaemonHTTPServer:
    return DaemonHTTPServer(
        "127.0.0.1",
        0,
        lambda: {"state_db": "ok"},
        lambda: b'syncer_runs_total{sync="accounts",status="ok"} 3.0\n',
        lambda: pages["/report"],
        viewer_token=token,
        pages={"/landed": lambda: pages["/landed"]},
    ).start()


@pytest.fixture
def base(pages: dict[str, Path]) -> Iterator[str]:
    server = _server(pages, TOKEN)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/report", "/landed", "/report?segment=smb"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Cookie": f"{COOKIE}=wrong"},
        {"Cookie": "garbage;;=\x7f"},
    ],
    ids=["none", "wrong-bearer", "basic", "wrong-cookie", "bad-cookie"],
)
def test_no_token_gets_401_and_no_data(base: str, path: str, headers: dict[str, str]) -> None:
    code, response_headers, body = _get(base + path, headers)
    assert code == 401
    assert response_headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert b"Acme" not in body and b"owner7" not in body and TOKEN.encode() not in body


@pytest.mark.parametrize("path", ["/report", "/landed"])
def test_bearer_and_cookie_see_the_page(base: str, path: str) -> None:
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"Cookie": f"other=1; {COOKIE}={TOKEN}"}):
        code, _, body = _get(base + path, headers)
        assert code == 200 and SECRET_DATA.encode() in body


def test_token_in_the_link_sets_a_cookie_and_leaves_the_url(base: str) -> None:
    code, headers, body = _get(f"{base}/report?token={TOKEN}&x=1")
    assert code == 303 and headers["Location"] == "/report?x=1" and body == b""
    assert headers["Set-Cookie"].startswith(f"{COOKIE}={TOKEN};") and "HttpOnly" in headers["Set-Cookie"]
    assert _get(f"{base}/report?token=nope")[0] == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_metrics_stay_open_without_account_data(base: str, path: str) -> None:
    code, _, body = _get(base + path)
    assert code == 200 and b"Acme" not in body and b"owner7" not in body


@pytest.mark.parametrize(
    ("token", "client", "authorization", "cookie", "query", "verdict"),
    [
        (None, "127.0.0.1", "", "", "", "allow"),
        (None, "127.8.9.1", "", "", "", "allow"),
        (None, "::1", "", "", "", "allow"),
        (None, "::ffff:127.0.0.1", "", "", "", "allow"),
        (None, "10.1.2.3", "", "", "", "loopback_only"),
        (None, "10.1.2.3", f"Bearer {TOKEN}", "", "", "loopback_only"),
        (None, "::ffff:10.1.2.3", "", "", "", "loopback_only"),
        (TOKEN, "127.0.0.1", "", "", "", "deny"),  # with a token, loopback needs it too
        (TOKEN, "10.1.2.3", f"Bearer {TOKEN}", "", "", "allow"),
        (TOKEN, "10.1.2.3", f"Bearer {TOKEN}x", "", "", "deny"),
        (TOKEN, "10.1.2.3", "", f"{COOKIE}={TOKEN}", "", "allow"),
        (TOKEN, "10.1.2.3", "", f"{COOKIE}={TOKEN[:-1]}", "", "deny"),
        (TOKEN, "10.1.2.3", "", "", f"token={TOKEN}", "redirect"),
        (TOKEN, "10.1.2.3", "", "", "token=", "deny"),
    ],
)
def test_viewer_verdict(
    token: str | None, client: str, authorization: str, cookie: str, query: str, verdict: str
) -> None:
    assert viewer_verdict(token, client, authorization, cookie, query) == verdict


def test_without_a_token_loopback_is_served(pages: dict[str, Path]) -> None:
    server = _server(pages, None)
    try:
        code, _, body = _get(f"http://127.0.0.1:{server.port}/report")
        assert code == 200 and SECRET_DATA.encode() in body
    finally:
        server.stop()
