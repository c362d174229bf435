"""User-given table names (`table`, `schema.table`, `db.schema.table`) turned into quoted SQL.

One rule for every place a configured table or schema name becomes SQL:

- the name splits into parts at every `.` outside double quotes; a part written in double quotes
  (`"My.Table"`, `""` for a literal quote) is taken as written inside the quotes, so a name that
  contains a dot can still be given;
- each part is quoted with the warehouse's own identifier preparer (SQLAlchemy
  `IdentifierPreparer.quote`): a part the warehouse would fold differently from how it is written
  (mixed case, spaces, reserved words such as `order`) is quoted and so kept exactly as written;
  an all-lower-case plain part stays bare, so existing lower-case configs and Snowflake's
  upper-case folding behave as before;
- a name written whole in back-quotes (BigQuery's `` `project.dataset.table` ``) is the user's own
  quoting and goes into the SQL as written.

Errors: `ValueError` for an empty part (`a..b`, `.t`) or an unterminated quote.
"""

from __future__ import annotations

import sqlalchemy as sa


def table_parts(name: str) -> list[str]:
    """`'analytics."My Table"'` -> `['analytics', 'My Table']`; parts outermost (database/schema) first."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False  # the current part was written in double quotes
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == '"' and not current and not quoted:
            end = i + 1
            text: list[str] = []
            while True:
                close = name.find('"', end)
                if close < 0:
                    raise ValueError(f"{name!r}: unterminated double quote")
                text.append(name[end:close])
                if name[close + 1 : close + 2] == '"':
                    text.append('"')
                    end = close + 2
                    continue
                break
            current, quoted, i = ["".join(text)], True, close + 1
            continue
        if ch == ".":
            parts.append(_part(name, current, quoted))
            current, quoted = [], False
        elif quoted:
            raise ValueError(f"{name!r}: text after a quoted part must be '.'")
        else:
            current.append(ch)
        i += 1
    parts.append(_part(name, current, quoted))
    return parts


def _part(name: str, current: list[str], quoted: bool) -> str:
    part = "".join(current)
    if not part and not quoted:
        raise ValueError(f"{name!r}: empty name part (write `table` or `schema.table`)")
    return part


def quoted_table(dialect: sa.Dialect, name: str) -> str:
    """SQL for the table `name` on `dialect`: each dotted part quoted by the dialect's preparer.

    `quoted_table(postgresql, 'Sales.Accts')` -> `'"Sales"."Accts"'`; `'order'` -> `'"order"'`;
    `'public.accounts'` -> `'public.accounts'`.
    """
    if len(name) > 1 and name.startswith("`") and name.endswith("`"):
        return name  # already quoted in BigQuery's own form (`project.dataset.table`): taken as written
    preparer = dialect.identifier_preparer
    return ".".join(preparer.quote(part) for part in table_parts(name))
