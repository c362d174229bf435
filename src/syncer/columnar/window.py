"""The `updated_at` window for the columnar diff: one scan of the model that carries every row's key,
but the rest of a row only when it was updated since the last run.

    SELECT <primary key and match columns>, CASE WHEN w1.in THEN w1.<column> END AS <column>, ..., w1.in
    FROM (SELECT w0.*, (<updated_at> >= <bound> OR <updated_at> IS NULL OR <a key column> IS NULL) AS in
          FROM (<model>) AS w0) AS w1

`<bound>` is the watermark minus `updated_at_lookback`, as in warehouse mode. On PostgreSQL (ADBC)
the same rows come as two statements in one REPEATABLE READ transaction instead, the window's rows
whole then the keys of the rows outside it (`window_batches`: COPY costs per field there, so the
NULLs of one scan were no cheaper to fetch). Per batch:
- rows in the window are diffed exactly as the full columnar diff diffs them (keys, source
  fingerprint, sidecar, state, the row path's `_compare`);
- a row outside it whose key state holds (the sidecar's sorted key hashes) is counted unchanged,
  never fingerprinted: that is `updated_at`'s contract (a row changed without bumping it is missed
  until the next full diff);
- a row outside it whose key state lacks (a backfill: inserted or re-keyed with an older
  `updated_at`) or whose key `row_key` refuses is not lost: its key is kept, and after the stream
  the rows outside the window are read again, whole (`WindowDiffer.rescan`), and those rows diffed
  exactly. The common case is none, and no second read.

Every key is seen, so removed records (the seen key hashes against state's, `ColumnarDiffer._removed`),
repeated keys and colliding match values (the key checks before a run; in a plan's stream
`key_repeats`, the match column being read for every row) are found as in the full diff. A key report
with problems opens no window: their rows must be rejected wherever they are, which the full diff does.
Whether state holds a key is decided by its 64-bit hash: the odds the removed-record check already
takes (a new key whose hash equals a state key's would be counted unchanged: 2^-64 a pair).

When the window opens, and how the watermark moves after a run, are warehouse mode's rules, kept in
one place (`syncer.warehouse_diff.watermark`: `Window`, `record_after_run`); plans write nothing.
A full columnar diff of a model with `updated_at` records the watermark the next one starts from.
Measured (benchmarks/bench_plan.py --updated-at, mode `columnar-window`): see benchmarks/README.md.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import sqlalchemy as sa

from syncer.columnar import kernels, native_postgres
from syncer.columnar.batches import RowBatch, _from_arrow
from syncer.columnar.differ import ColumnarDiffer, _none, _Prepared, read_ahead
from syncer.columnar.hash_spill import HashBuffer
from syncer.diff import Change
from syncer.errors import FatalError
from syncer.keycheck import KeyReport
from syncer.secrets import masked_first_line
from syncer.source import column_names
from syncer.warehouse_diff.dialects import dialect_of
from syncer.warehouse_diff.modes import column_type, model_column_types
from syncer.warehouse_diff.watermark import Window, bound_literal, spec_digest

if TYPE_CHECKING:
    from syncer.runner import SyncJob

log = logging.getLogger("syncer.columnar")

IN_WINDOW = "syncer_in_window__"


@dataclass(frozen=True)
class WindowScan:
    """The window's statements: `rows` (the one scan, module docstring), `again` (the rows outside it,
    whole); on PostgreSQL `inside` (the rows in it, whole, flagged) and `keys` (the rows outside it: key,
    match value; no flag column, which `split` reads as outside: a constant is still a field a row
    that COPY sends and the client decodes), read in one REPEATABLE READ transaction instead of `rows`
    (`window_batches`)."""

    rows: str
    again: str
    keys: str = ""
    inside: str = ""


def window_scan(
    model_sql: str,
    columns: Sequence[str],
    primary_key: Sequence[str],
    match: str,
    quote: Callable[[str], str],
    updated_at: str,
    bound: str,
    fenced: bool = False,
) -> WindowScan:
    """The statements for a model whose columns (as the driver names them, in order) are `columns`;
    the primary key and the match column are read for every row; column names as the driver
    names them, `bound` an SQL literal; `fenced`: PostgreSQL's OFFSET 0 around the flag."""
    ts, always = quote(updated_at), {*primary_key, match}
    inside = " OR ".join(
        [f"w0.{ts} >= {bound}", f"w0.{ts} IS NULL"] + [f"w0.{quote(c)} IS NULL" for c in primary_key]
    )  # a NULL key is rejected by the row path's `_key` with the whole row: in the window
    picked = ", ".join(
        f"w1.{quote(c)}" if c in always else f"CASE WHEN w1.{IN_WINDOW} THEN w1.{quote(c)} END AS {quote(c)}"
        for c in columns
    )
    # PostgreSQL inlines the subquery and tests the window once per CASE (server time 0.21 s instead of 0.09 s
    # for 1M rows): OFFSET 0 keeps it a subquery, the flag computed once (DuckDB: no difference)
    fence = " OFFSET 0" if fenced else ""
    flagged = f"SELECT w0.*, ({inside}) AS {IN_WINDOW} FROM ({model_sql}) AS w0{fence}"
    rows = f"SELECT {picked}, w1.{IN_WINDOW} FROM ({flagged}) AS w1"
    key_columns = ", ".join(f"w0.{quote(c)}" for c in dict.fromkeys([*primary_key, match]))
    return WindowScan(
        rows,
        f"SELECT w0.* FROM ({model_sql}) AS w0 WHERE NOT ({inside})",
        f"SELECT {key_columns} FROM ({model_sql}) AS w0 WHERE NOT ({inside})",
        f"SELECT w0.*, TRUE AS {IN_WINDOW} FROM ({model_sql}) AS w0 WHERE {inside}",
    )


def window_batches(
    engine: sa.Engine,
    connect_args: dict[str, Any],
    scan: WindowScan,
    size: int,
    one_scan: Callable[[str], Iterator[RowBatch]],
) -> Iterator[RowBatch]:
    """The window's batches of at most `size` rows. PostgreSQL through ADBC: `scan.inside`, then
    `scan.keys`, read in one REPEATABLE READ transaction (one snapshot, as one statement would);
    elsewhere, or where `native_postgres` does not take a column's type, `one_scan(scan.rows)`. Why:
    PostgreSQL's COPY costs per row and per field, and a NULL is still a field the client decodes;
    1M rows: the one scan 0.67-0.82 s, the keys alone 0.39-0.45 s (benchmarks/README.md). The window's
    rows first: the caller maps them (the changed rows) while the keys are fetched behind them
    (`differ.read_ahead`), instead of after the last key. On PostgreSQL the connection is opened on a
    thread from this call on (`_Connecting`: ADBC's connect, 50-60 ms, overlaps the sidecar's load);
    no statement runs before the first batch is asked for."""
    if engine.dialect.name != "postgresql" or connect_args or not scan.keys:
        return one_scan(scan.rows)
    return _two_or_one(_Connecting(engine, scan), scan, size, one_scan)


def _two_or_one(
    connecting: _Connecting, scan: WindowScan, size: int, one_scan: Callable[[str], Iterator[RowBatch]]
) -> Iterator[RowBatch]:
    opened = connecting.take()
    if opened is None:
        yield from one_scan(scan.rows)
        return
    yield from _streamed(*opened, [scan.inside, scan.keys], size)


class _Connecting:
    """`_open_two` on a thread, started at once; `take()` waits for it (its FatalError raised there). A
    connection never taken (the stream was dropped unread) is closed when this object is collected."""

    def __init__(self, engine: sa.Engine, scan: WindowScan) -> None:
        self._outcome: list[Any] = []  # [opened] or [None, error]
        self._thread = threading.Thread(target=self._open, args=(engine, scan), name="columnar-connect", daemon=True)
        self._thread.start()
        weakref.finalize(self, _close_untaken, self._thread, self._outcome)

    def _open(self, engine: sa.Engine, scan: WindowScan) -> None:
        try:
            self._outcome.append(_open_two(engine, {}, scan))
        except BaseException as exc:  # raised by `take`, on the caller's thread
            self._outcome.extend([None, exc])

    def take(self) -> tuple[Any, Any] | None:
        self._thread.join()
        opened, *error = self._outcome
        self._outcome.clear()  # taken: the stream closes it
        if error:
            raise error[0]
        return opened  # type: ignore[no-any-return]


def _close_untaken(thread: threading.Thread, outcome: list[Any]) -> None:
    thread.join()
    if outcome and outcome[0] is not None:
        conn, cursor = outcome[0]
        cursor.close()
        conn.close()


def _open_two(engine: sa.Engine, connect_args: dict[str, Any], scan: WindowScan) -> tuple[Any, Any] | None:
    """(ADBC connection, cursor) in a REPEATABLE READ transaction, or None (see `window_batches`)."""
    if engine.dialect.name != "postgresql" or connect_args or not scan.keys:
        return None
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        return None
    try:
        conn = adbc.connect(native_postgres.libpq_uri(engine))
    except Exception as exc:  # the driver's own error types
        raise FatalError(f"warehouse unreachable: {masked_first_line(str(exc))}") from exc
    try:
        cursor = conn.cursor()
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # ADBC opened a transaction
        utf8 = native_postgres.stores_utf8(cursor)
        cursor.execute(f"SELECT * FROM ({scan.inside}) AS t LIMIT 0")
        schema = cursor.fetch_record_batch().schema
    except Exception as exc:
        conn.close()
        raise FatalError(f"warehouse query failed: {masked_first_line(str(exc))}") from exc
    if not utf8 or not all((f.metadata or {}).get(b"POSTGRESQL:type") in native_postgres.SAFE for f in schema):
        cursor.close()
        conn.close()
        return None
    return conn, cursor


def _streamed(conn: Any, cursor: Any, statements: list[str], size: int) -> Iterator[RowBatch]:
    try:
        for sql in statements:
            try:
                cursor.execute(sql)
                reader = cursor.fetch_record_batch()
            except Exception as exc:
                raise FatalError(f"warehouse query failed: {masked_first_line(str(exc))}") from exc
            names = column_names([f.name for f in reader.schema], "postgresql")  # ADBC PostgreSQL
            for batch in reader:
                for start in range(0, batch.num_rows, size):
                    yield _from_arrow(batch.slice(start, size), names)
    finally:
        cursor.close()
        conn.close()


def open_window(job: SyncJob, spec: str, keys: KeyReport, full: bool) -> tuple[Window | None, WindowScan | None]:
    """(watermark bookkeeping, the window's statements) for a columnar diff: (None, None) when the
    model has no `updated_at` or the diff is `full` (the watermark is left as it is); (window, None)
    for a full diff that records the watermark; both when the window is read (`Window.open`'s
    conditions, no key problem, a warehouse whose literals syncer writes)."""
    model = job.sync.model
    if model.updated_at is None or full:
        return None, None
    try:
        dialect = dialect_of(job.source.engine.dialect.name)
    except KeyError:  # (SQLite keeps timestamps as text: no window, no watermark, the whole model is read)
        name = job.source.engine.dialect.name
        log.debug(  # said as a warning by plan, run and check (config.ignored_updated_at)
            "sync %s: model.updated_at: no columnar window on %s; the whole model is read", job.sync.name, name
        )
        return None, None
    model_sql = job.source.sql(model, job.mapping_dir)
    names = job.source._column_names(model, job.mapping_dir)
    quote = job.source.engine.dialect.identifier_preparer.quote
    updated_at = names.get(model.updated_at, model.updated_at)
    digest = spec_digest(
        "columnar:" + spec,
        model_sql,
        quote(updated_at),
        column_type(job, model_column_types(job, dialect), model.updated_at),
    )
    window = Window.open(
        job.state,
        job.sync.name,
        digest,
        model.full_diff_every,
        True,
        model.updated_at_lookback,
        full_diff=job.full_diff,
        column=model.updated_at,
    )
    if window.since is None:
        return window, None
    if keys.duplicate_keys or getattr(keys, "match_collisions", None):
        window.close("a primary key repeats or a match value collides: those rows are rejected wherever they are")
        return window, None
    primary_key = [names.get(c, c) for c in model.primary_key]
    match = names.get(job.sync.match.column, job.sync.match.column)
    bound = bound_literal(dialect, window.since, model.updated_at_lookback)
    fenced = dialect.name == "postgresql"
    return window, window_scan(model_sql, list(names.values()), primary_key, match, quote, updated_at, bound, fenced)


class WindowDiffer(ColumnarDiffer):
    """`ColumnarDiffer` over a window scan's batches (module docstring); `rescan()` streams the
    statement `WindowScan.again`. `read_again`: rows outside the window diffed after the stream.

    Which rows outside the window state lacks is settled once, after the stream, from sorted arrays:
    the model's key hashes (kept anyway) against the sidecar's, less the window's own new keys. Probing
    the sidecar batch by batch cost 0.18 s of 1M rows (sort + search per batch); once, sorted against
    sorted, about 0.02 s."""

    sidecar_keys = True  # `_after_stream` asks which keys state holds
    stream_order = False  # its batches hold the window's rows only: today's sorted search

    def __init__(self, *args: Any, rescan: Callable[[], Iterable[RowBatch]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rescan = rescan
        self.read_again = 0
        self._outside = [0, 0]  # rows outside the window: with a key, with a key `row_key` refuses
        self._window_hashes = HashBuffer(0)  # key hashes of the rows in the window

    def _prepare(self, batch: RowBatch) -> _Prepared:
        batch, inside = split(batch)
        keys = kernels.record_keys(batch, self.primary_key)
        hashes = kernels.key_hashes(keys)
        self._keep_hashes(
            hashes.filter(keys.is_not_null()).to_numpy(),
            self.repeats.hashes(batch, keys) if self.repeats is not None else None,
        )
        window_keys = keys.filter(inside)
        window_hashes = hashes.filter(inside).filter(window_keys.is_not_null()).to_numpy()
        refused = keys.filter(~inside).null_count()  # (a NULL key column puts a row in the window)
        outside = (batch.data.num_rows - len(window_keys) - refused, refused)
        rows = subset(batch, inside)
        # (a batch of `WindowScan.keys` has no input column: nothing of it is diffed row by row)
        flagged, frame, vouched = self._to_diff(rows, window_keys) if len(window_keys) else _NOTHING
        newest = self._newest(rows)
        n = batch.data.num_rows
        return _Prepared(rows, n, flagged, frame, vouched, newest, outside, window_hashes)

    def _batch(self, prepared: _Prepared) -> Iterator[Change]:
        if prepared.n:
            self._outside[0] += prepared.outside[0]
            self._outside[1] += prepared.outside[1]
            if prepared.window_hashes is not None:
                self._window_hashes.append(prepared.window_hashes)
        yield from super()._batch(prepared)

    def _after_stream(self) -> Iterator[Change]:
        """Count the rows outside the window whose key state holds unchanged; read again and diff the
        others (a key state lacks, or one `row_key` refuses)."""
        seen = self._sorted_hashes()
        new = seen if self.sidecar is None else seen[~self.sidecar.holds_sorted(seen)]
        backfill = new[~kernels.in_sorted(new, self._window_hashes.sorted())]
        self._window_hashes = HashBuffer(0)
        known = self._outside[0] - len(backfill)  # state holds them: not removed, and unchanged by contract
        self._found += known
        self.tally.unchanged += known
        refused = self._outside[1]
        if not len(backfill) and not refused:
            return
        log.info(
            "sync %s: %d rows outside the updated_at window have a key state lacks (inserted or re-keyed with an "
            "older updated_at): reading the rows outside the window again",
            self.sync,
            len(backfill) + refused,
        )

        def prepare(batch: RowBatch) -> _Prepared:
            keys = kernels.record_keys(batch, self.primary_key)
            mask = pl.Series(kernels.in_sorted(kernels.key_hashes(keys).to_numpy(), backfill)) & keys.is_not_null()
            if refused:
                mask |= keys.is_null()
            rows = subset(batch, mask)
            flagged, frame, vouched = self._to_diff(rows, keys.filter(mask))
            return _Prepared(rows, rows.data.num_rows, flagged, frame, vouched)

        for prepared in read_ahead(self.rescan(), prepare):
            self.read_again += prepared.n
            yield from self._diff_rows(prepared.batch, prepared.flagged, prepared.frame, prepared.vouched)


_NOTHING: tuple[pl.Series, pl.DataFrame, int] = (pl.Series("none", [], dtype=pl.Boolean), pl.DataFrame(), 0)


def split(batch: RowBatch) -> tuple[RowBatch, pl.Series]:
    """(the batch without the IN_WINDOW column, that column: True for the rows in the window). A batch
    without it is `WindowScan.keys`': every row outside the window."""
    data = batch.data
    at = data.schema.get_field_index(IN_WINDOW)
    if at < 0:
        return batch, _none(data.num_rows)
    inside = pl.Series("inside", data.column(at)).fill_null(False)
    rows = batch.rows

    def without(indices: Sequence[int]) -> list[dict[str, Any]]:
        found = rows(indices)
        for row in found:
            row.pop(IN_WINDOW, None)
        return found

    return RowBatch(data.remove_column(at), without, batch.values, batch.native, batch.tagged - {IN_WINDOW}), inside


def subset(batch: RowBatch, mask: pl.Series) -> RowBatch:
    """The rows of `batch` where `mask` (one bool a row) is True, as a RowBatch of their own."""
    if mask.all():
        return batch
    where = mask.arg_true().to_numpy()
    rows, values = batch.rows, batch.values

    def picked(indices: Sequence[int]) -> list[dict[str, Any]]:
        return rows(where[np.asarray(indices, dtype=np.int64)].tolist()) if len(indices) else []

    def column(name: str) -> list[Any]:
        every = values(name)
        return [every[i] for i in where.tolist()]

    return RowBatch(batch.data.filter(mask.to_arrow()), picked, column, batch.native, batch.tagged)
