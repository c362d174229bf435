"""The emulator's login endpoints, as simple-salesforce calls them.

- SOAP `POST /services/Soap/u/{ver}` (username + password + security token)
- OAuth `POST /services/oauth2/token` with grant_type jwt-bearer (RS256 assertion checked against
  the registered certificate's public key), client_credentials (HTTP Basic) and password.
Sessions are opaque tokens; `expire_sessions()` invalidates them all, like a timeout would.
"""

from __future__ import annotations

import base64
import html
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

import jwt

from syncer.emulator import Request, Response

ORG_ID = "00D000000000001AAA"
SOAP_FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>
<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: {msg}</faultstring>
<detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>
<sf:exceptionMessage>{msg}</sf:exceptionMessage></sf:LoginFault></detail>
</soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
SOAP_OK = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>
<metadataServerUrl>{base}/services/Soap/m/{ver}/{org}</metadataServerUrl>
<passwordExpired>false</passwordExpired><sandbox>false</sandbox>
<serverUrl>{base}/services/Soap/u/{ver}/{org}</serverUrl><sessionId>{token}</sessionId>
<userId>005000000000001AAA</userId></result></loginResponse></soapenv:Body></soapenv:Envelope>"""


class AuthMixin:
    """Mixed into SalesforceEmulator; expects `route`, `base_url` and `lock` from Emulator."""

    base_url: str

    def init_auth(self) -> None:
        self.sessions: set[str] = set()
        self.logins: dict[str, str] = {}  # username -> password + security token
        self.jwt_apps: dict[str, tuple[str, set[str]]] = {}  # consumer key -> (public key PEM, usernames)
        self.client_apps: dict[str, str] = {}  # consumer key -> secret
        self.login_count = 0
        self.route("POST", r"/services/Soap/u/(?P<ver>[\d.]+)", self._soap_login)  # type: ignore[attr-defined]
        self.route("POST", r"/services/oauth2/token", self._oauth_token)  # type: ignore[attr-defined]

    def add_login(self, username: str, password: str, security_token: str = "") -> None:
        self.logins[username] = password + security_token

    def add_jwt_app(self, consumer_key: str, public_key_pem: str, usernames: set[str]) -> None:
        self.jwt_apps[consumer_key] = (public_key_pem, usernames)

    def add_client_app(self, consumer_key: str, consumer_secret: str) -> None:
        self.client_apps[consumer_key] = consumer_secret

    def issue_session(self) -> str:
        token = f"{ORG_ID}!{secrets.token_urlsafe(24)}"
        self.sessions.add(token)
        return token

    def expire_sessions(self) -> None:
        """Every current session now gets 401 INVALID_SESSION_ID."""
        self.sessions.clear()

    def _soap_login(self, request: Request, match: re.Match[str]) -> Response:
        text = request.body.decode("utf-8")
        fields = {
            name: html.unescape(m.group(1)) if (m := re.search(rf"<\w+:{name}>(.*?)</\w+:{name}>", text, re.S)) else ""
            for name in ("username", "password")
        }
        if self.logins.get(fields["username"]) != fields["password"] or not fields["username"]:
            body = SOAP_FAULT.format(msg="Invalid username, password, security token; or user locked out.")
            return Response(500, raw=body.encode(), content_type="text/xml")
        self.login_count += 1
        body = SOAP_OK.format(base=self.base_url, ver=match["ver"], org=ORG_ID, token=self.issue_session())
        return Response(200, raw=body.encode(), content_type="text/xml")

    def _oauth_token(self, request: Request, match: re.Match[str]) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        grant = form.get("grant_type", "")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = self._jwt_ok(form.get("assertion", ""))
        elif grant == "client_credentials":
            ok = self._basic_ok(request.headers.get("authorization", ""))
        elif grant == "password":
            secret = self.client_apps.get(form.get("client_id", ""))
            ok = (
                secret is not None
                and secret == form.get("client_secret")
                and (self.logins.get(form.get("username", "")) == form.get("password"))
            )
        else:
            return Response(400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        if not ok:
            return Response(400, {"error": "invalid_grant", "error_description": "authentication failure"})
        self.login_count += 1
        return Response(200, self._token_body())

    def _token_body(self) -> dict[str, Any]:
        return {
            "access_token": self.issue_session(),
            "instance_url": self.base_url,
            "id": f"{self.base_url}/id/{ORG_ID}/005000000000001AAA",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": "emulated",
        }

    def _jwt_ok(self, assertion: str) -> bool:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
            public_key, usernames = self.jwt_apps[str(claims.get("iss"))]
            # simple-salesforce sends `exp` as a string, which PyJWT's own check refuses
            jwt.decode(assertion, public_key, algorithms=["RS256"], options={"verify_exp": False, "verify_aud": False})
        except (jwt.PyJWTError, KeyError):
            return False
        return claims.get("sub") in usernames and float(claims.get("exp", 0)) > time.time()

    def _basic_ok(self, header: str) -> bool:
        try:
            key, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            return False
        return key in self.client_apps and self.client_apps[key] == secret
