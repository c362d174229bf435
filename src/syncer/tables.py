"""Tables people read in a terminal or a pipe: never cut with `…`, never capped at 80 columns, headed in words; a
value longer than LONG_TEXT characters is shown by its start and its length (`shown`), in tables and previews; a
free-text message in a cell (an error, a reason, a detail) on one line, its first MESSAGE characters (`brief`),
with a note under the table that `--json` gives it whole. Piped, no line carries the padding of a longer one.

A header (or, in a key/value table without headers, a row's key) that is a snake_case field name, such as
`sla_hours` or `api_calls`, is shown as people say it (`SLA (h)`, `API calls`): `field_label` is the one rule,
applied by `print_table` to every table, so no command prints a raw field name above a column.
"""

from __future__ import annotations

import io
import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from syncer.secrets import mask
from syncer.wording import plural

FIELD = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
# field name -> header, where the generic rule below would not say it as people do
LABELS = {
    "run_id": "run",
    "duration_s": "duration (s)",
    "held_rejected": "held (rejected before)",
    "held_deletes": "deletes held back",
    "left_model": "left the model (kept at the destination)",
    "out_of_sync": "out of sync:",
    "triggers_by_name": "triggers fired, by trigger",
}
UNITS = {"hours": "(h)", "seconds": "(s)", "s": "(s)"}
WORDS = {"api": "API", "sla": "SLA", "pql": "PQL", "id": "ID", "crm": "CRM", "url": "URL"}


LONG_TEXT = 1000  # characters of one value a table or preview prints; the rest is counted, not printed


def shown(value: Any, limit: int = LONG_TEXT) -> Any:
    """`value` as a display prints it: text longer than `limit` characters cut to its start and counted,
    `'abc…' (70,000 chars)`; the items of a dict, list or tuple each so; anything else as it is. The one rule for
    every table (`print_table`) and preview (`plan --show`); `--json` output is never cut."""
    if isinstance(value, str) and len(value) > limit:
        return f"'{value[:limit]}…' ({len(value):,} chars)"
    if isinstance(value, dict):
        return {k: shown(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [shown(v, limit) for v in value]
    return value


MESSAGE = 100  # characters of a free-text message (an error, a reason) one table cell shows, on one line


class Message(Text):
    """A table cell holding a free-text message (`brief`); `cut`: characters were left out."""

    cut: bool = False


def brief(text: str | None, limit: int = MESSAGE) -> Message:
    """A free-text message (a run's error, a rejection's reason, a check's detail) as a table cell: masked first
    (a secret straddling the cut keeps no head), then on one line (line breaks and runs of spaces are one space),
    then past `limit` characters its start and the length, `'3 records held back (1 conversion): rejected…' (331
    chars)`. A long message would otherwise widen every row of its column. Plain text, never markup (an error may
    hold `[...]`); `print_table` notes under the table that `--json` gives the whole text. None is an empty cell."""
    line = " ".join(mask(text or "").split())
    if len(line) <= limit:
        return Message(line)
    cell = Message(f"'{line[:limit].rstrip()}…' ({len(line):,} chars)")
    cell.cut = True
    return cell


def field_label(text: str) -> str:
    """A snake_case field name as a header people read: `sla_hours` -> `SLA (h)`, `api_calls` -> `API calls`,
    `p90_hours` -> `p90 (h)`; each space-separated part of `text` on its own (`out_of_sync missing` ->
    `out of sync: missing`). Anything else is returned as it is."""
    parts = []
    for part in text.split(" "):
        if not FIELD.match(part):
            parts.append(part)
            continue
        if part in LABELS:
            parts.append(LABELS[part])
            continue
        words = part.split("_")
        unit = UNITS.get(words[-1]) if len(words) > 1 else None
        words = [WORDS.get(w, w) for w in (words[:-1] if unit else words)]
        parts.append(" ".join(words + ([unit] if unit else [])))
    return " ".join(parts)


def _label_fields(table: Table) -> None:
    """Headers, and the keys of a key/value table (no header row), in words (field_label)."""
    for column in table.columns:
        if isinstance(column.header, str):
            column.header = field_label(column.header)
    if not table.show_header and table.columns:
        keys = table.columns[0]
        keys._cells = [field_label(c) if isinstance(c, str) else c for c in keys._cells]


def print_table(table: Table, console: Console | None = None) -> None:
    """A table that fits: on a terminal, cells wrap (never `…`) to its width; piped, plain aligned text
    as wide as the content needs, never cut at 80 columns. Headers (and a key/value table's keys) that are
    field names read as words (field_label). A message cut by `brief` is noted under the table, with `--json`
    (every command that prints one has it). `console`: where to print (default: standard output)."""
    console = console or Console(soft_wrap=True)
    _label_fields(table)
    for column in table.columns:
        column.overflow = "fold"
        # masked before a wrap splits a secret; a long value cut to its start and counted (`shown`)
        column._cells = [shown(mask(c)) if isinstance(c, str) else c for c in column._cells]
    cut = any(isinstance(c, Message) and c.cut for column in table.columns for c in column._cells)
    note = f"(a message longer than {MESSAGE} characters is cut to its start: --json gives it whole)"
    if console.is_terminal:
        console.print(table)
        if cut:
            console.print(note, highlight=False, markup=False)
        return
    table.box = None
    table.pad_edge = False
    text = io.StringIO()
    plain = Console(file=text, width=max(80, _natural_width(table)), color_system=None, highlight=False)
    plain.print(table, crop=False)  # Console.print(width=) is capped at the console's own 80 columns
    # each line as long as its own cells: the last column's padding would widen every row to the longest one
    lines = [line.rstrip() for line in text.getvalue().splitlines()] + ([note] if cut else [])
    console.file.write("".join(f"{line}\n" for line in lines))


def _natural_width(table: Table) -> int:
    wide = Console(width=100_000, file=io.StringIO())
    return int(wide.measure(table).maximum)


def more_line(shown: int, total: int | None, noun: str, limit: int) -> str | None:
    """What a listing cut at `limit` rows says under its table: "435 more open alerts: --all or --limit 455"
    (the limit that shows them all); with `total` None (only known to be more than `shown`), a limit twice
    as big. None when nothing was left out."""
    if total is None:
        return f"more {noun}s than these {shown}: --all or --limit {limit * 2}"
    if total <= shown:
        return None
    return f"{plural(total - shown, 'more ' + noun)}: --all or --limit {total}"
