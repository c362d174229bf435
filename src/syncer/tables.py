"""Tables people read in a terminal or a pipe: never cut with `…`, never capped at 80 columns."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table


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
    """What a listing cut at `limit` rows says under its table: "435 more open alerts: --all or --limit 40"
    (`total` None: only known to be more than `shown`); None when nothing was left out."""
    if total is not None and total <= shown:
        return None
    count = f"{total - shown} more {noun}s" if total is not None else f"more {noun}s than these {shown}"
    if total is not None and total - shown == 1:
        count = f"1 more {noun}"
    return f"{count}: --all or --limit {limit * 2}"
