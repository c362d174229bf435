"""Tables people read in a terminal or a pipe: never cut with `…`, never capped at 80 columns."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from syncer.wording import plural


def print_table(table: Table, console: Console | None = None) -> None:
    """A table that fits: on a terminal, cells wrap (never `…`) to its width; piped, plain aligned text
    as wide as the content needs, never cut at 80 columns. `console`: where to print (default: standard output)."""
    console = console or Console(soft_wrap=True)
    for column in table.columns:
        column.overflow = "fold"
    if console.is_terminal:
        console.print(table)
        return
    table.box = None
    table.pad_edge = False
    plain = Console(file=console.file, width=max(80, _natural_width(table)), color_system=None, highlight=False)
    plain.print(table, crop=False)  # Console.print(width=) is capped at the console's own 80 columns


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
