"""Slack destination: one Record is one message, posted at most once per key.

Slack has no idempotency key, so exactly-once is built from two parts: every message carries its
key and the record's idempotency key in message metadata (`event_payload.key`, `.fingerprint`), and
before posting, the connector reads the channel's recent history (`include_all_metadata`) and treats a
message with the same key *and* idempotency key as already delivered (history.py). A key alone repeats
across projects and syncs (row `n1` of the same mapping); the idempotency key names the project, the
sync, the key and the content (syncer.runner.idempotency_key; an alert outbox row's scoped identity,
syncer.alerts.outbox.message_record), so another project's or sync's message is never taken as this
one's. A message the previous release posted for this sync (`Record.previous`) counts as well. The lookup
runs once per channel (or thread) per batch, always: a crash between Slack's acknowledgement and
the state write is invisible to the next process, so "only after a failure" is not enough.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field, SecretStr, field_validator
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from syncer.connector import Connector, ConnectorSettings, Destination, Record, Result
from syncer.errors import RejectedError, RetryableError, SyncerError
from syncer.non_finite import json_safe
from syncer.owner_email import owner_lookup_email
from syncer.ratelimit import RateLimit, RateLimiter
from syncer.retry import RetryPolicy
from syncer.values import FieldType

from .checks import check_workspace
from .error_mapping import SCOPE_FIX, TRANSPORT_ERRORS, UNDELIVERABLE_PREFIX, MissingScope, to_syncer_error
from .history import find_keys

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_DELIVERED_CACHE = 20_000


class _RaisedAnyway(logging.Filter):
    """slack_sdk logs "Failed to send a request to Slack API server" at ERROR before it raises the same
    error, which `to_syncer_error` classifies and the command reports once: drop the duplicate line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to send a request to Slack API server")


SDK_LOG = logging.getLogger(__name__ + ".sdk")  # the WebClient's logger
SDK_LOG.addFilter(_RaisedAnyway())


class SlackSettings(ConnectorSettings):
    """Config keys of the slack connector (README.md documents each)."""

    base_url: str = "https://slack.com/api/"
    """Slack Web API root (`https://slack.com/api/`); a trailing slash is added."""
    bot_token: SecretStr
    """Bot token (`xoxb-...`)."""
    fallback_channel: str | None = None
    """Channel ID where alerts whose owner is not in Slack land."""
    channels: tuple[str, ...] = ()
    """Channel IDs `syncer check` verifies the bot can post to."""
    channel_rate: float = Field(1.0, gt=0, description="messages per second per channel")
    channel_burst: int = Field(1, ge=1)
    """Messages a channel may get back to back before `channel_rate` applies."""
    workspace_calls_per_minute: int = Field(100, ge=1)
    """Web API calls per minute for the whole workspace (every method)."""
    timeout: float = Field(30.0, gt=0)
    """Seconds per HTTP request."""
    history_lookback_hours: float = Field(72.0, gt=0)
    """After an ambiguous failure, channel history this far back is searched for the message before re-posting."""
    history_page_size: int = Field(200, ge=1, le=999)
    """Messages per conversations.history page in that search."""
    history_max_pages: int = Field(10, ge=1)
    """Pages read at most in that search."""
    event_type: str = "syncer_alert"
    """Message metadata event type carrying syncer's key."""

    @field_validator("base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


TEXT_FIELDS = {
    # Slack renders `text` as mrkdwn: mapped column values are escaped (& < >) so a name cannot ping
    "text": FieldType("string", "Slack message text", length=40_000, markup="slack"),
    "channel": FieldType("string", "Slack channel"),
    "thread_ts": FieldType("string", "Slack thread_ts"),
}


class SlackConnector(Connector):
    """Posts Block Kit messages; Record.fields = {channel, text, blocks?, thread_ts?}."""

    name = "slack"
    address_settings = ("base_url",)  # the workspace is the token's (not recorded: a token is a secret)
    credential_settings = ("bot_token",)
    credential_noun = "bot token (xoxb-..., OAuth & Permissions of the Slack app)"
    permission_fix = SCOPE_FIX
    settings_model = SlackSettings
    batch_size = 20
    rate_limit = RateLimit(calls=100, per_seconds=60)  # workspace-wide budget for every method
    max_concurrency = 1  # digest parts must land in order; Slack allows ~1 msg/s/channel anyway
    modes = frozenset({"insert"})  # a key posts once: a changed row would be acknowledged unposted
    recipient_fields = ("channel",)  # a sync's channel column: channels and users (DMs), each checked by `check`

    def __init__(
        self,
        settings: ConnectorSettings,
        destination: Destination | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(settings, SlackSettings):
            raise TypeError("SlackConnector needs SlackSettings")
        super().__init__(settings, destination or Destination("message", "key", "insert"), retry, limiter)
        self.settings: SlackSettings = settings
        self.limiter.set_limit(RateLimit(settings.workspace_calls_per_minute, 60.0))
        self._clock, self._sleep, self._wall = clock, sleep, wall_clock
        self._client = WebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=settings.base_url,
            timeout=int(max(1, settings.timeout)),
            retry_handlers=[],  # only the runner decides to retry
            logger=SDK_LOG,
        )
        self._channel_limits: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()
        self._dm_channels: dict[str, str] = {}
        self._delivered: OrderedDict[tuple[str, str], str] = OrderedDict()  # (key, idempotency key) -> dest_id
        self._emails: dict[str, str] = {}
        self._channel_names: dict[str, str | None] = {}

    # -- hooks -------------------------------------------------------------------------------

    def field_types(self) -> dict[str, FieldType]:
        """Message fields are text (chat.postMessage truncates `text` past 40,000 characters, so longer
        is rejected rather than cut); `blocks` is passed as mapped (a Block Kit list)."""
        return {name: TEXT_FIELDS[name] for name in self.destination.fields if name in TEXT_FIELDS}

    def check(self) -> list[str]:
        """checks.check_workspace for the configured channels, the fallback and the destination's recipients."""
        channels: list[tuple[str | None, str]] = [(c, self.setting("channels")) for c in self.settings.channels]
        channels += [(self.settings.fallback_channel, self.setting("fallback_channel")), *self.destination.recipients]
        return check_workspace(self.api_response, self.api, channels, self.setting("bot_token"))

    def write(self, batch: Sequence[Record]) -> list[Result]:
        results: dict[str, Result] = {}
        groups: dict[tuple[str, str | None], list[Record]] = {}
        for record in batch:
            early = self._without_posting(record)
            if early is not None:
                results[record.key] = early
                continue
            channel = str(record.fields.get("channel") or self.settings.fallback_channel or "")
            thread = record.fields.get("thread_ts")
            groups.setdefault((channel, str(thread) if thread else None), []).append(record)
        for (channel, thread), records in groups.items():
            for result in self._write_group(channel, thread, records):
                results[result.key] = result
        return [results[r.key] for r in batch]

    # -- public helpers for the alert layer ---------------------------------------------------

    def auth_test(self) -> dict[str, Any]:
        """Who the token belongs to (user_id, team_id, bot_id, url)."""
        return dict(self._retrying(lambda: self.api("auth_test")))

    def lookup_user_by_email(self, email: str) -> str | None:
        """The Slack user ID for an email (for <@U...> mentions), or None when no such user. The email is
        looked up trimmed and lower-cased (`syncer.owner_email`, the rule every connector's owner lookup uses)."""
        found = owner_lookup_email(email)
        if found is None:
            return None
        email = found
        if email in self._emails:
            return self._emails[email]

        def once() -> str | None:
            try:
                return str(self.api("users_lookupByEmail", email=email)["user"]["id"])
            except RejectedError as exc:
                if str(exc) in ("users_not_found", f"{UNDELIVERABLE_PREFIX}user_not_found"):
                    return None
                raise

        user: str | None = self._retrying(once)
        if user is not None:  # a miss is not cached: the owner may join Slack later
            self._emails[email] = user
        return user

    def channel_name(self, channel: str) -> str | None:
        """A channel's name ("syncer-alerts") by its ID (conversations.info, once per connector), so what people
        read says #syncer-alerts rather than C0SYNCERALERTS; None when Slack does not say (no access, offline)."""
        if channel not in self._channel_names:
            try:
                info = self.api("conversations_info", channel=channel).get("channel") or {}
                self._channel_names[channel] = str(info.get("name") or "") or None
            except SyncerError:  # a name is a nicety: never a reason to hold an alert back
                return None
        return self._channel_names[channel]

    def api(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """One Web API call (a WebClient method name); returns the JSON body."""
        data = self.api_response(method, **kwargs).data
        return data if isinstance(data, dict) else {}

    def api_response(self, method: str, **kwargs: Any) -> SlackResponse:
        """One Web API call through the rate limiter, with Slack failures turned into syncer errors."""
        fn = getattr(self._client, method)
        try:
            response: SlackResponse = self.call(lambda: fn(**kwargs))
        except SlackApiError as exc:
            raise to_syncer_error(exc, method.replace("_", ".", 1)) from exc
        except TRANSPORT_ERRORS as exc:  # reset, timeout: ambiguous; refused, unknown host: nothing sent
            raise to_syncer_error(exc, method.replace("_", ".", 1), self.settings.base_url) from exc
        return response

    # -- internals -----------------------------------------------------------------------------

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        return self.retry.run(fn, on_retry=self._note_retry)

    def _without_posting(self, record: Record) -> Result | None:
        """Records that need no call: deletions, already acknowledged or delivered keys, bad shapes."""
        if record.op == "delete":
            return Result.rejected(record, "slack messages are never deleted by syncer")
        if record.dest_id:
            return Result.ok(record)  # the state already holds this message: a key posts once
        if (record.key, record.idempotency_key) in self._delivered:
            return Result.ok(record, self._delivered[record.key, record.idempotency_key])
        if not (record.fields.get("channel") or self.settings.fallback_channel):
            return Result.rejected(record, f"{UNDELIVERABLE_PREFIX}no_channel")
        if not (record.fields.get("text") or record.fields.get("blocks")):
            return Result.rejected(record, "no_text")
        return None

    def _write_group(self, channel: str, thread: str | None, records: list[Record]) -> list[Result]:
        """Post `records` to one conversation. A scope only this kind of conversation needs (im:write to open a DM,
        groups:history to read a private channel) fails these records with Slack's words (`later`: not retried in
        this send, the next run sends them, by when the app may be reinstalled); a scope every message needs
        (chat:write) stops the batch."""
        try:
            return self._deliver(channel, thread, records)
        except MissingScope as exc:
            if exc.every_message:
                raise
            return [Result(r.key, "failed", r.dest_id, str(exc), later=True) for r in records]

    def _deliver(self, channel: str, thread: str | None, records: list[Record]) -> list[Result]:
        try:
            channel_id = self._resolve(channel)
            oldest = self._wall() - self.settings.history_lookback_hours * 3600
            found = find_keys(
                self.api,
                channel_id,
                thread,
                {r.key: r.idempotency_key for r in records},
                previous={r.key: r.previous for r in records if r.previous is not None},
                oldest=oldest,
                event_type=self.settings.event_type,
                page_size=self.settings.history_page_size,
                max_pages=self.settings.history_max_pages,
            )
        except RejectedError as exc:
            return [Result.rejected(r, str(exc)) for r in records]
        except RetryableError as exc:
            if getattr(exc, "throttled", False):
                raise
            return [Result.failed(r, str(exc)) for r in records]
        results = []
        for record in records:
            if record.key in found:
                results.append(self._delivered_as(record, f"{channel_id}:{found[record.key]}"))
            else:
                results.append(self._post(record, channel_id, thread))
        return results

    def _post(self, record: Record, channel_id: str, thread: str | None) -> Result:
        payload: dict[str, Any] = {
            "channel": channel_id,
            "text": str(record.fields.get("text") or ""),
            "unfurl_links": False,
            "unfurl_media": False,
            "metadata": {
                "event_type": self.settings.event_type,
                "event_payload": {"key": record.key, "fingerprint": record.idempotency_key},
            },
        }
        blocks = record.fields.get("blocks")
        if blocks:
            try:
                payload["blocks"] = json.loads(blocks) if isinstance(blocks, str) else blocks
            except ValueError:
                return Result.rejected(record, "invalid_blocks: blocks is not valid JSON")
        if thread:
            payload["thread_ts"] = thread
        payload = json_safe(payload)  # NaN/inf would go out as bare NaN tokens: Slack answers invalid_json
        limiter = self._channel_limiter(channel_id)
        self.stats.add(waited_seconds=limiter.acquire())
        try:
            data = self.api("chat_postMessage", **payload)
        except RejectedError as exc:
            return Result.rejected(record, str(exc))
        except RetryableError as exc:
            if getattr(exc, "throttled", False):
                limiter.block_for(exc.retry_after or 1.0)
                raise  # stop the batch: the runner waits Retry-After; delivered keys are cached
            return Result.failed(record, str(exc))
        return self._delivered_as(record, f"{data.get('channel') or channel_id}:{data['ts']}")

    def _delivered_as(self, record: Record, dest_id: str) -> Result:
        with self._lock:
            self._delivered[record.key, record.idempotency_key] = dest_id
            while len(self._delivered) > _DELIVERED_CACHE:
                self._delivered.popitem(last=False)
        return Result.ok(record, dest_id)

    def _resolve(self, channel: str) -> str:
        """Channel IDs pass through; a user ID becomes its DM channel (history needs the D... ID)."""
        channel = channel.strip()
        if CHANNEL_ID.match(channel):
            return channel
        if not USER_ID.match(channel):
            hint = f"use a channel ID, not {channel!r}"
            raise RejectedError(f"{UNDELIVERABLE_PREFIX}channel_not_found ({hint})")
        if channel not in self._dm_channels:
            data = self.api("conversations_open", users=channel)
            self._dm_channels[channel] = str(data["channel"]["id"])
        return self._dm_channels[channel]

    def _channel_limiter(self, channel_id: str) -> RateLimiter:
        with self._lock:
            if channel_id not in self._channel_limits:
                burst = self.settings.channel_burst
                limit = RateLimit(burst, burst / self.settings.channel_rate)
                self._channel_limits[channel_id] = RateLimiter(limit, clock=self._clock, sleep=self._sleep)
            return self._channel_limits[channel_id]
