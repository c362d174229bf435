"""Secrets: read from the environment or /run/secrets, never from TOML, and masked everywhere.

A TOML value `${NAME}` (or `${NAME:-default}` for a non-secret setting) is resolved from the
environment variable NAME, else from the file
`$SYNCER_SECRETS_DIR/NAME` (default `/run/secrets/NAME`, where Docker and Kubernetes mount them).
Every log line, error message and audit row passes through `mask()` before it leaves the process.
What is masked (the rule):
- the value of every `${NAME}` written in a secret field (a `SecretStr`, or one marked `x-secret`:
  `resolve(text, secret=True)`); a secret must be at least MIN_LENGTH characters (config.py refuses
  an empty or shorter one: it could not be masked without mangling every message holding its text);
- the value of every query parameter of a URL that came from `${NAME}` (`?token=...`: the webhook
  README's advice; `url = "${HOOK_URL}"` or `?token=${TOKEN}`), one shorter than MIN_LENGTH only where it
  stands as that parameter's value. A query value written in config.toml itself is no secret (secrets are
  refused there): `?sslmode=disable` next to a `${PASSWORD}` is shown as written;
- the password of any URL in any text (`scheme://user:PASSWORD@host`), whatever its length, and the value of
  a `${NAME}` landing in a URL's password, which is percent-encoded as it is substituted (syncer.url_template);
- every fragment of a masked value a URL parser may split off at its delimiters (`fragments`: `p@ss:w/rd` ->
  `ss:w/rd`, `ss:w`, ...), MIN_LENGTH or longer: a secret that reached a URL unencoded is cut there in errors.
Each value is masked in every form output gives it (`forms()`): as itself, JSON-escaped (once or
twice: an API error body quoted inside our JSON), percent-encoded, HTML-escaped, Python repr.
A setting's value is not masked otherwise, even from `${NAME}`: a base URL, a host or a channel ID
is no secret, and masking "127.0.0.1" or a rate of "1000" would mangle every message and row that
contains it.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

from syncer import url_template

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")  # ${NAME} or ${NAME:-default}
MASK = "***"
MIN_LENGTH = 4  # shorter text is too common to mask wherever it appears ("1", "on", "abc")
# the password of a URL: `scheme://user:PASSWORD@`, masked in any text whatever its length
# (a `${NAME}` written there is no secret: it is shown as written)
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@\"'\\]*:)(?!\$\{)[^\s/?#@\"'\\]+(?=@)")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def forms(value: str) -> set[str]:
    """Every text `value` can take in output: itself, JSON-escaped (ASCII or not, `/` as `\\/` too, and
    escaped twice: an error body quoted inside a JSON log line), percent-encoded (path, component and
    form encodings, upper- and lower-case hex), HTML-escaped and as Python's repr writes it."""
    once = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    once |= {f.replace("/", "\\/") for f in once}
    twice = {json.dumps(f, ensure_ascii=False)[1:-1] for f in once}
    encoded = {quote(value, safe=""), quote(value), quote_plus(value)}
    encoded |= {_PERCENT.sub(lambda m: m.group(0).lower(), e) for e in encoded}
    return {value, *once, *twice, *encoded, html.escape(value), repr(value)[1:-1]}


_URL_DELIMITERS = re.compile(r"[@:/?#&=\[\]\s]")  # where a URL parser may cut a value (RFC 3986 gen-delims, '&', '=')
_MAX_CUTS = 12  # a value with more cuts: its pieces, heads and tails only, not every span between two
_MAX_SPLIT = 256  # a longer value (a PEM key, never a URL's part) is masked whole: its fragments are too many


def fragments(value: str) -> set[str]:
    """`value` and every text a URL parser may split off it: each span between two of its URL delimiters
    (`p@ss:w/rd` -> `ss:w/rd`, `ss`, `ss:w`, `p@ss`, ...), and each percent-decoded (a driver decodes what it
    splits off). A secret that landed unencoded in a URL (`${WAREHOUSE_URL}` whose password holds '@') shows up
    in an error as such a fragment ("failed to resolve host 'ss:w'"); shorter than MIN_LENGTH: not masked."""
    if len(value) > _MAX_SPLIT:
        return {value}
    cuts = [m.start() for m in _URL_DELIMITERS.finditer(value)]
    starts, ends = [0, *(c + 1 for c in cuts)], [*cuts, len(value)]
    if len(cuts) > _MAX_CUTS:
        spans = {(0, e) for e in ends} | {(s, len(value)) for s in starts} | set(zip(starts, ends, strict=True))
    else:
        spans = {(s, e) for s in starts for e in ends if s < e}
    texts = {value[s:e] for s, e in spans} | {value}
    return texts | {unquote(t) for t in texts}


class SecretMask:
    """The secret values this process knows; replaces each, in every form (`forms`), with *** in any text,
    and the password of any URL."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._params: set[tuple[str, str]] = set()  # (query parameter, short value): masked there only
        self._pattern: re.Pattern[str] | None = None
        self._param_pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Mask `value` from now on (every form of it); shorter than MIN_LENGTH: ignored (see the module doc)."""
        if len(value) < MIN_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                texts = {
                    f for v in self._values for piece in fragments(v) for f in forms(piece) if len(f) >= MIN_LENGTH
                }
                ordered = sorted(texts, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def add_query_value(self, name: str, value: str) -> None:
        """Mask a query parameter's value: everywhere when it is MIN_LENGTH or longer, else as `name=value`."""
        if len(value) >= MIN_LENGTH:
            self.add(value)
            return
        if not value:
            return
        with self._lock:
            self._params.add((name, value))
            alternatives = [
                f"(?<=[?&]{re.escape(n)}=){re.escape(f)}(?=[&#\\s\"'\\\\]|$)"
                for n, v in self._params
                for f in {v, quote(v, safe=""), quote_plus(v)}
            ]
            self._param_pattern = re.compile("|".join(alternatives))

    def __call__(self, text: str) -> str:
        pattern, params = self._pattern, self._param_pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        if params is not None:
            text = params.sub(MASK, text)
        return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text) if "://" in text else text

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._params.clear()
            self._pattern = self._param_pattern = None


def mask_tree(value: Any) -> Any:
    """`value` with every string in it (dict keys too, lists and tuples followed) masked: mask before
    serialising, so that no escaping can hide a secret from the mask."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask_tree(k): mask_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_tree(v) for v in value]
    return value


mask = SecretMask()


def masked_cut(text: str, limit: int) -> str:
    """`text` masked, then cut to at most `limit` characters. In that order: cut first, a secret straddling the
    cut keeps its head, which no later mask recognises (an API error body, a Slack text, a value's repr)."""
    return mask(text)[:limit]


def masked_first_line(text: str) -> str:
    """The first line of `text`, masked first: a secret holding a line break (a PEM key) keeps its first line
    otherwise. "" for empty text."""
    lines = mask(text).strip().splitlines()
    return lines[0] if lines else ""


def secrets_dir() -> Path:
    return Path(os.environ.get("SYNCER_SECRETS_DIR", "/run/secrets"))


def lookup(name: str) -> str | None:
    """The value of secret NAME from the environment or the secrets directory, or None."""
    if name in os.environ:
        return os.environ[name]
    path = secrets_dir() / name
    if path.is_file():
        return path.read_text(encoding="utf-8-sig").rstrip("\r\n")  # a byte-order mark is no part of it
    return None


class Resolved(NamedTuple):
    """A text with its `${NAME}`s substituted (`resolve_url`)."""

    text: str
    missing: list[str]  # the names set nowhere (left as written in `text`)
    broken: list[tuple[str, url_template.Part]]  # (NAME, part of the URL) whose value would end that part early


def resolve(text: str, secret: bool = True) -> tuple[str, list[str]]:
    """Replace every ${NAME} in text; return the result and the names that could not be found (`resolve_url`)."""
    resolved = resolve_url(text, secret)
    return resolved.text, resolved.missing


def resolve_url(text: str, secret: bool = True) -> Resolved:
    """Replace every ${NAME} in text, each value as the part of a URL it lands in needs (syncer.url_template: the
    user-info's percent-encoded, a value that would end its part early reported in `broken`).

    `secret`: text is a secret field's value, so each value read is masked from now on. Either way the
    password of a URL (a value landing there, in its every form and fragment), and each query value of a URL that
    came from `${NAME}`, are masked (see the module docstring): a query value written in the TOML itself
    (`?sslmode=disable`) is no secret and stays as it is."""
    missing: list[str] = []
    broken: list[tuple[str, url_template.Part]] = []
    pieces: list[str] = []
    read: list[tuple[int, int]] = []  # where each ${NAME} value read stands in the result (start, end)
    length = last = 0
    matches = list(REFERENCE.finditer(text))
    for match, part in zip(matches, url_template.place(text, [m.span() for m in matches]), strict=True):
        pieces.append(text[last : match.start()])
        length += match.start() - last
        last = match.end()
        value = lookup(match.group(1))
        setting = match.group(2) is not None  # ${NAME:-default}: a non-secret setting (a secret has no default)
        from_env = value is not None and not setting  # a secret's value: its query values are masked
        if value is None:
            if not setting:
                missing.append(match.group(1))  # stays as written: reported, never used
                pieces.append(match.group(0))
                length += len(match.group(0))
                continue
            value = match.group(2)
        elif secret and not setting:  # a setting's value ("1000", a host) would mangle every row containing it
            mask.add(value)
        if part is not None:
            password = url_template.password_of(part, value)
            if password:
                mask.add(password)
            if url_template.breaks(part, value):
                broken.append((match.group(1), part))
            value = url_template.encode(part, value)
        if from_env:
            read.append((length, length + len(value)))
        pieces.append(value)
        length += len(value)
    resolved = "".join([*pieces, text[last:]])
    mask_url_password(resolved)
    mask_url_query(resolved, read)
    return Resolved(resolved, missing, broken)


def mask_url_password(text: str) -> None:
    """Mask the password of `text` when it is a URL carrying one (`scheme://user:PASSWORD@host`)."""
    try:
        password = urlsplit(text.strip()).password
    except ValueError:  # not a URL (an unmatched '[' and the like)
        return
    if password:
        mask.add(password)
        mask.add(unquote(password))  # as the URL's reader decodes it (a driver's message, SQLAlchemy's URL)


def mask_url_query(text: str, read: list[tuple[int, int]] | None = None) -> None:
    """Mask the query values of `text` when it is a URL (`https://host/hook?token=VALUE`): each one that
    overlaps a span of `read` (where `${NAME}` values stand in `text`, `resolve`), every one when `read` is None."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return
    if not (parts.scheme and parts.netloc and parts.query):
        return
    start = text.index("?") + 1  # the first "?" ends the path (and the netloc) in urlsplit too
    for piece in parts.query.split("&"):  # parse_qsl's separator
        name, equals, value = piece.partition("=")
        begin = start + len(name) + len(equals)
        start += len(piece) + 1
        if not value or not equals:
            continue
        if read is None or any(a < begin + len(value) and begin < b for a, b in read):
            mask.add_query_value(unquote_plus(name), unquote_plus(value))  # its percent-encoded forms too (`forms`)


# dotted config key of a secret -> NAME of the ${NAME} it is read from ("connectors.hubspot.access_token" ->
# "HUBSPOT_TOKEN"), recorded as config.toml is loaded: a refused credential names the variable to set
_references: dict[str, str] = {}


def note_reference(key: str, text: str) -> None:
    """Remember that secret `key` is read from the one `${NAME}` of `text` (no-op for any other text)."""
    match = REFERENCE.fullmatch(text.strip())
    if match is not None:
        _references[key] = match.group(1)


def where_set(key: str) -> str:
    """Where the user sets secret `key`: "DEST_SECRET (environment variable or /run/secrets/DEST_SECRET)", or the
    key's own name when config.toml was not loaded in this process."""
    name = _references.get(key)
    if name is None:
        return f"the secret `{key.rsplit('.', 1)[-1]}` reads"
    return f"{name} (environment variable or {secrets_dir()}/{name})"


def is_reference(text: str) -> bool:
    """True when the whole value is one ${NAME} reference (the only accepted form for a secret; no default)."""
    match = REFERENCE.fullmatch(text.strip())
    return match is not None and match.group(2) is None
