"""Where a `${NAME}` of a URL template lands (url_template.place) and what its value becomes there: the table the
process tests (test_url_secrets) rest on, walked cell by cell."""

from __future__ import annotations

import pytest

from syncer import url_template
from syncer.secrets import REFERENCE

PG = "postgresql+psycopg://"
# (template, the part of each reference, in order)
PLACES = [
    (PG + "postgres:${P}@h:5432/db", ["password"]),
    (PG + "${U}:${P}@h/db", ["user", "password"]),
    ("https://${CREDENTIALS}@h/x", ["userinfo"]),
    ("https://${H}/v1", ["host:port"]),
    ("https://${H}:${PORT}/v1?a=${Q}&${N}=1#${F}", ["host", "port", "query value", "query name", "fragment"]),
    ("https://[${V6}]:80/", ["ipv6 host"]),
    ("sqlite:///${DIR}/x.db", ["path"]),
    (PG + "u:${P:-x}@h/db", ["password"]),  # a default is placed like any value
    ("${WAREHOUSE_URL}", [None]),  # the whole URL: substituted as it is
    ("${BASE}/lightning/r/{id}", [None]),
]


@pytest.mark.parametrize(("template", "parts"), PLACES)
def test_each_reference_is_placed_in_its_part(template: str, parts: list[str | None]) -> None:
    assert url_template.place(template, [m.span() for m in REFERENCE.finditer(template)]) == parts


# (part, value, what stands in the URL, whether it ends its part)
VALUES = [
    ("password", "p@ss:w/rd%20X", "p%40ss%3Aw%2Frd%2520X", False),
    ("password", "%41", "%2541", False),
    ("password", "sp ace", "sp%20ace", False),
    ("user", "me@server", "me%40server", False),
    ("userinfo", "me:p@ss:x", "me:p%40ss%3Ax", False),
    ("host", "secret@host", "secret@host", True),
    ("host", "db:5432", "db:5432", True),  # the template writes a port after it
    ("host:port", "db:5432", "db:5432", False),
    ("host:port", "db:5x", "db:5x", True),
    ("port", "9x", "9x", True),
    ("path", "a#b", "a#b", True),
    ("query value", "a&b", "a&b", True),
    ("query value", "a+b=/c", "a+b=/c", False),
    ("fragment", "a#b?c", "a#b?c", False),
]


@pytest.mark.parametrize(("part", "value", "stands", "ends"), VALUES)
def test_each_value_is_encoded_or_refused_as_its_part_needs(part: str, value: str, stands: str, ends: bool) -> None:
    assert url_template.encode(part, value) == stands  # type: ignore[arg-type]
    assert url_template.breaks(part, value) is ends  # type: ignore[arg-type]
