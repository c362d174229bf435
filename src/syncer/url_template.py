"""Where each `${NAME}` of a URL written in config.toml lands, and what that part of the URL needs of its value.

`${NAME}` is substituted as text (syncer.secrets.resolve), so a value holding a URL's delimiters used to change
the URL around it: a password `p@ss:w/rd` in `postgresql://user:${PASSWORD}@host/db` made the host `ss`, the port
`w` (a crash: "invalid literal for int()") and printed the password's tail in clear. The rule, per part of the
URL the template puts the reference in (`place`):

- user, password: percent-encoded (RFC 3986 user-info), as SQLAlchemy's `URL.create` encodes a password: any
  password works as the environment holds it (`%41` stays the three characters `%41`);
- the whole user-info in one reference (`scheme://${CREDENTIALS}@host`, no ':' written there): split at its first
  ':' (where every URL parser splits user and password), each half percent-encoded;
- host, port, path, query: substituted as they are, but refused (`breaks`) when the value holds a character
  that ends its part, which would cut the part short and read the value's rest as another part (a host holding
  '@' or '/', a port not a number, a query value holding '&' or '#'); a host reference with no port written
  after it may carry one (`${DB_HOST}` = "db:5432");
- fragment: substituted as it is.

A text that does not start `scheme://` with the scheme written out (`${WAREHOUSE_URL}`, `${BASE}/path`) is no
URL template: its values are the URL or its head, substituted as they are.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

Part = Literal[
    "user",
    "userinfo",
    "password",
    "host",
    "host:port",
    "ipv6 host",
    "port",
    "path",
    "query name",
    "query value",
    "fragment",
]

_SCHEME = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")
MARK = "\ue000"  # stands for one reference in the skeleton `place` reads (a private-use character: never a delimiter)

# the characters that end each part (RFC 3986 section 3, and how urlsplit and SQLAlchemy's make_url cut a URL)
_HOST_ENDS = "@/?#[]\\ \t\r\n"
ENDS: dict[Part, str] = {
    "host": _HOST_ENDS + ":",  # the template writes a port after it
    "host:port": _HOST_ENDS,  # no port written: "HOST:PORT" in one variable is meant (its port is checked too)
    "ipv6 host": _HOST_ENDS,  # between '[' and ']'
    "path": "?#",
    "query name": "&=#",
    "query value": "&#",
}
#: how to fix a value that ends its part (`breaks`), per part; NAME is the variable's name
FIXES: dict[Part, str] = {
    "host": "set NAME to the host name alone",
    "host:port": "set NAME to the host name alone, or HOST:PORT with a port number",
    "ipv6 host": "set NAME to the IPv6 address alone",
    "port": "set NAME to the port number alone",
    "path": "percent-encode '?' as %3F and '#' as %23 in NAME",
    "query name": "percent-encode '&' as %26, '=' as %3D and '#' as %23 in NAME",
    "query value": "percent-encode '&' as %26 and '#' as %23 in NAME",
}


def place(template: str, spans: list[tuple[int, int]]) -> list[Part | None]:
    """The part of the URL each reference of `template` lands in (`spans`: each reference's (start, end) in
    `template`, in order), or None for each when `template` is no URL template (see the module docstring)."""
    skeleton, last = [], 0
    for start, end in spans:
        skeleton += [template[last:start], MARK]
        last = end
    text = "".join([*skeleton, template[last:]])
    head = _SCHEME.match(text)
    if head is None or not spans:
        return [None] * len(spans)
    parts: list[Part | None] = []
    authority_end = next((i for i in range(head.end(), len(text)) if text[i] in "/?#"), len(text))
    authority = text[head.end() : authority_end]
    at = authority.rfind("@")  # urlsplit's rule: the last '@' of the authority ends the user-info
    userinfo, hostport = (authority[:at], authority[at + 1 :]) if at >= 0 else ("", authority)
    user, colon, _ = userinfo.partition(":")
    for i, ch in enumerate(userinfo):
        if ch == MARK:
            parts.append("password" if i > len(user) else "user" if colon else "userinfo")
    bracket = hostport.find("]") + 1 if hostport.startswith("[") else 0
    port_colon = hostport.find(":", bracket)
    for i, ch in enumerate(hostport):
        if ch == MARK:
            if i < bracket:
                parts.append("ipv6 host")
            else:
                parts.append("port" if 0 <= port_colon < i else "host" if port_colon >= 0 else "host:port")
    rest = text[authority_end:]
    before_fragment, _, fragment = rest.partition("#")
    path, _, query = before_fragment.partition("?")
    parts += _each("path", path.count(MARK))
    for piece in query.split("&"):
        name, _, value = piece.partition("=")
        parts += _each("query name", name.count(MARK)) + _each("query value", value.count(MARK))
    return parts + _each("fragment", fragment.count(MARK))


def _each(part: Part, count: int) -> list[Part | None]:
    one: list[Part | None] = [part]
    return one * count


def encode(part: Part, value: str) -> str:
    """`value` as it must stand in `part`: the user-info's percent-encoded (a "user:password" value split at its
    first ':'), any other part's unchanged (`breaks` says whether it may stand there)."""
    if part == "userinfo":
        user, colon, password = value.partition(":")
        return quote(user, safe="") + colon + quote(password, safe="")
    return quote(value, safe="") if part in ("user", "password") else value


def password_of(part: Part, value: str) -> str | None:
    """The password `value` carries in `part` (None: none): the whole value in the password, the text after the
    first ':' of a "user:password" value."""
    if part == "password":
        return value
    if part == "userinfo" and ":" in value:
        return value.partition(":")[2]
    return None


def breaks(part: Part, value: str) -> bool:
    """True when `value` would end `part` early, so that its rest reads as another part of the URL (a host
    holding '@' or '/', a port not a number, a query value holding '&')."""
    if part == "port":
        return not value.isdigit()
    if part == "host:port" and ":" in value:
        host, _, port = value.rpartition(":")
        return not port.isdigit() or any(ch in ENDS["host"] for ch in host)
    return any(ch in ENDS.get(part, "") for ch in value)


def breaks_message(name: str, part: Part) -> str:
    """Why `${name}`'s value cannot stand in `part` and how to fix it, never showing the value (it may be a secret)."""
    label = {"host:port": "host", "ipv6 host": "host"}.get(part, part)
    if part == "port":
        problem = "is not a port number"
    else:
        ends = ENDS[part]
        shown = " ".join(ch for ch in ends if ch.isprintable() and ch != " ") + (" or a space" if " " in ends else "")
        problem = f"holds a character that ends the {label} ({shown})"
        problem += ", or a port that is not a number" if part == "host:port" else ""
    fix = FIXES[part].replace("NAME", name)
    return f"the value of ${{{name}}} lands in the URL's {label} and {problem}: {fix} (the value is not shown here)"


def unreadable(url: str) -> str | None:
    """Why SQLAlchemy cannot read `url` (None: it can), never quoting the URL or any piece of it: SQLAlchemy's own
    message repeats the text it failed on, which is a password's tail when a password holding '@', ':' or '/'
    came unencoded inside a whole-URL variable ("invalid literal for int() with base 10: 'w/rd@host'")."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except ArgumentError:
        return "it is not a SQLAlchemy URL (DIALECT[+DRIVER]://USER:PASSWORD@HOST:PORT/DATABASE)"
    except ValueError:  # int() of the port
        return (
            "its port is not a number (a password holding '@', ':' or '/' cut the URL short? When the whole URL comes"
            " from one variable, percent-encode the password in it; a ${NAME} written for the password alone is"
            " encoded by syncer)"
        )
    return None
