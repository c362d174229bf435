"""A stateful Slack Web API on loopback, driven by the real slack-sdk WebClient.

It keeps channels with their messages (ts, metadata, threads), users by email, and answers the
way Slack does: HTTP 200 with `ok:false` and an error code for API errors, HTTP 429 with
Retry-After when a channel gets more than its burst of messages (about 1 per second), blocks
validated against Block Kit limits. slack-sdk sends `chat.postMessage` as JSON and the other
methods as query or form parameters; both are read. Faults come from the base FaultPlan:

    emu = SlackEmulator(clock=clock); emu.add_channel("C0ALERTS"); emu.start()
    WebClient(token=emu.token, base_url=emu.api_url)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from syncer.emulator import Emulator, InvalidJson, Request, Response, strict_json

from .block_limits import message_errors
from .emulator_channels import Channel, page
from .emulator_scopes import Kind, missing_scope

BOT_USER = "U0SYNCERBOT"
# every scope a method the emulator serves can need (emulator_scopes.METHOD_SCOPES): the default grant
ALL_SCOPES = (
    "chat:write",
    "channels:read",
    "channels:history",
    "groups:read",
    "groups:history",
    "im:read",
    "im:write",
    "im:history",
    "mpim:read",
    "mpim:write",
    "mpim:history",
    "users:read",
    "users:read.email",
)


class SlackEmulator(Emulator):
    """The Slack Web API methods syncer calls, with their state, limits and error codes."""

    def __init__(
        self,
        token: str = "xoxb-emulator-token",
        *,
        channels: tuple[str, ...] = (),
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
        wall_clock: Callable[[], float] = time.time,
        channel_rate: float = 1.0,
        channel_burst: int = 3,
        scopes: tuple[str, ...] = ALL_SCOPES,
    ) -> None:
        super().__init__(latency=latency, clock=clock)
        self.token = token
        self.token_error: str | None = None  # e.g. "token_revoked": every call fails with it
        self.wall_clock = wall_clock
        self.channel_rate, self.channel_burst = channel_rate, channel_burst
        self.scopes = scopes
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.ratelimited = 0  # 429s answered by the channel rate limit
        self._last_ts = 0.0
        for channel_id in channels:
            self.add_channel(channel_id)
        self._methods: dict[str, Callable[[dict[str, Any]], Response]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "conversations.info": self._info,
            "conversations.open": self._open,
            "users.lookupByEmail": self._lookup_by_email,
        }
        self.route("POST", r"/api/(?P<method>[\w.]+)", self._api)
        self.route("GET", r"/api/(?P<method>[\w.]+)", self._api)

    # -- workspace set-up ----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """What `base_url` must be for WebClient / SlackSettings (slack-sdk joins method names to it)."""
        return f"{self.base_url}/api/"

    def reset(self, clock: Callable[[], float] | None = None) -> None:
        """Forget channels, users, messages, faults and token trouble: one server serves many tests."""
        with self.lock:
            self.channels.clear()
            self.users.clear()
            self.faults.clear()
            self.requests.clear()
            self.ratelimited, self.token_error, self.scopes = 0, None, ALL_SCOPES
            self.clock = clock or self.clock

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        *,
        member: bool = True,
        archived: bool = False,
        private: bool = False,
    ) -> Channel:
        channel = Channel(channel_id, name or channel_id.lower(), member, archived, private)
        with self.lock:
            self.channels[channel_id] = channel
        return channel

    def add_user(self, user_id: str, email: str, name: str | None = None) -> None:
        with self.lock:
            self.users[user_id] = {
                "id": user_id,
                "name": name or email.split("@")[0],
                "profile": {"email": email},
            }

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Every message in a channel (thread replies included), oldest first."""
        with self.lock:
            return list(self.channels[channel_id].messages)

    def dm_channel(self, user_id: str) -> str:
        return "D" + user_id[1:]

    # -- dispatch ------------------------------------------------------------------------------

    def error_body(self, status: int) -> Any:
        return {"ok": False, "error": "ratelimited" if status == 429 else "internal_error"}

    def _api(self, request: Request, match: Any) -> Response:
        try:
            params = _params(request)
        except InvalidJson:
            return _fail("invalid_json")  # Slack Web API "Using the Slack Web API": malformed JSON bodies
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else params.get("token")
        if not token:
            return _fail("not_authed")
        if token != self.token:
            return _fail("invalid_auth")
        if self.token_error:
            return _fail(self.token_error)
        method = match.group("method")
        handler = self._methods.get(method)
        if handler is None:
            return _fail("unknown_method")
        with self.lock:
            refused = missing_scope(method, "any", self.scopes)  # methods that need a scope whatever the target
            response = Response(200, refused) if refused else handler(params)
        response.headers.setdefault("x-oauth-scopes", ",".join(self.scopes))
        return response

    def _channel(self, ref: Any, method: str, *, member: bool = True) -> Channel | Response:
        """The conversation `ref` names, or Slack's refusal: not found, the token lacks the scope `method`
        needs on this kind of conversation (emulator_scopes), the bot is not a member."""
        ref = str(ref or "").lstrip("#")
        channel = self.channels.get(ref) or next((c for c in self.channels.values() if c.name == ref), None)
        if channel is None and ref in self.users:
            channel = self._im(ref)
        if channel is None:
            return _fail("channel_not_found")
        if refused := missing_scope(method, channel.kind, self.scopes):
            return Response(200, refused)
        if member and not channel.is_member:
            return _fail("not_in_channel")
        return channel

    def _im(self, user_id: str) -> Channel:
        dm = self.dm_channel(user_id)
        if dm not in self.channels:
            self.channels[dm] = Channel(dm, dm.lower(), is_private=True, is_im=True)
        return self.channels[dm]

    def _mpim(self, user_ids: list[str]) -> Channel:
        group = "G" + "".join(sorted(u[1:] for u in user_ids))[:20]
        if group not in self.channels:
            self.channels[group] = Channel(group, "mpdm-" + group.lower(), is_private=True, is_mpim=True)
        return self.channels[group]

    # -- methods -------------------------------------------------------------------------------

    def _auth_test(self, _params: dict[str, Any]) -> Response:
        return _ok(
            url="https://emulator.slack.test/",
            team="Emulator",
            user="syncer",
            team_id="T0EMULATOR",
            user_id=BOT_USER,
            bot_id="B0SYNCERBOT",
        )

    def _post_message(self, params: dict[str, Any]) -> Response:
        channel = self._channel(params.get("channel"), "chat.postMessage")
        if isinstance(channel, Response):
            return channel
        if channel.is_archived:
            return _fail("is_archived")
        text = params.get("text") or ""
        try:
            blocks = _json(params.get("blocks"))
        except InvalidJson:
            return _fail("invalid_blocks_format")  # chat.postMessage errors: blocks is not valid JSON
        try:
            metadata = _json(params.get("metadata"))
        except InvalidJson:
            return _fail("invalid_metadata_format")
        if refused := message_errors(text, blocks, metadata):
            code, errors = refused
            return _fail(code, errors=errors) if errors else _fail(code)
        thread_ts = params.get("thread_ts")
        if thread_ts and not any(m["ts"] == thread_ts for m in channel.messages):
            return _fail("thread_not_found")
        if (retry_after := channel.throttle(self.clock(), self.channel_rate, self.channel_burst)) is not None:
            self.ratelimited += 1
            return Response(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": "B0SYNCERBOT",
            "text": text,
            "ts": self._next_ts(),
        }
        for name, value in (("blocks", blocks), ("metadata", metadata), ("thread_ts", thread_ts)):
            if value:
                message[name] = value
        channel.messages.append(message)
        return _ok(channel=channel.id, ts=message["ts"], message=message)

    def _history(self, params: dict[str, Any]) -> Response:
        channel = self._channel(params.get("channel"), "conversations.history")
        if isinstance(channel, Response):
            return channel
        found = channel.history(float(params.get("oldest") or 0))
        return _ok(**page(found, params))

    def _replies(self, params: dict[str, Any]) -> Response:
        channel = self._channel(params.get("channel"), "conversations.replies")
        if isinstance(channel, Response):
            return channel
        thread = channel.replies(str(params.get("ts")), float(params.get("oldest") or 0))
        return _fail("thread_not_found") if thread is None else _ok(**page(thread, params))

    def _info(self, params: dict[str, Any]) -> Response:
        channel = self._channel(params.get("channel"), "conversations.info", member=False)
        if isinstance(channel, Response):
            return channel
        return _ok(channel=channel.info())

    def _open(self, params: dict[str, Any]) -> Response:
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        kind: Kind = "mpim" if len(users) > 1 else "im"  # conversations.open: several users open a group DM
        if refused := missing_scope("conversations.open", kind, self.scopes):
            return Response(200, refused)
        if not users or any(u not in self.users for u in users):
            return _fail("user_not_found")
        if kind == "mpim":
            return _ok(channel={"id": self._mpim(users).id})
        return _ok(channel={"id": self._im(users[0]).id})

    def _lookup_by_email(self, params: dict[str, Any]) -> Response:
        email = str(params.get("email") or "").lower()
        user = next((u for u in self.users.values() if u["profile"]["email"].lower() == email), None)
        return _ok(user=user) if user else _fail("users_not_found")

    # -- helpers -------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        self._last_ts = max(self.wall_clock(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"


def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
    content_type = request.headers.get("content-type", "")
    if request.body and content_type.startswith("application/json"):
        params.update(strict_json(request.body))  # InvalidJson -> `invalid_json`, as Slack answers
    elif request.body:
        params.update({k: v[0] for k, v in parse_qs(request.body.decode()).items()})
    return params


def _json(value: Any) -> Any:
    """Form-encoded calls carry blocks/metadata as JSON strings; JSON calls carry them as objects."""
    return strict_json(value.encode()) if isinstance(value, str) and value else (value or None)


def _ok(**body: Any) -> Response:
    return Response(200, {"ok": True, **body})


def _fail(error: str, **extra: Any) -> Response:
    return Response(200, {"ok": False, "error": error, **extra})
