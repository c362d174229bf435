"""The columnar differ: `syncer.diff.Differ`'s rules, applied a record batch at a time.

Per batch (n rows): keys and source fingerprints are computed in native code. Rows whose key is
NULL, not canonical or known bad (duplicated, colliding match value) are flagged in bulk and
judged one by one by the row path's own `Differ._key`, so they are rejected exactly as there.
State's stored source fingerprint is read for every key in one query and joined in polars. Rows
whose stored fingerprint matches (insert-only syncs too: the fingerprint holds the destination's digest) are counted
unchanged without becoming Python objects. The rest -- new keys, changed inputs, records never
fingerprinted, or every row under `full` -- are materialised and handed, 2,000 at a time, to
the row path's own comparison (`Differ._compare`), so mapping, payload fingerprints, held
rejections and `Change`s are the row path's.

Per batch the vectorised part (`_prepare`: keys, hashes, fingerprints, the sidecar's verdict and the
rows it leaves) runs ahead on a thread (`read_ahead`), while the batches before are mapped; everything
that counts, rejects or reads state stays on the caller's thread, in stream order.

Removed records: one 8-byte hash per seen key, written to a temporary file as the stream goes
(`hash_spill`) and read back sorted only when state held a record the stream did not find, then
compared with state's keys streamed in chunks. A plan whose key checks run in the stream
(`key_repeats`) spills the match values' hashes too and tests both for repeats, a bucket at a
time, before it reports removals.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Full, Queue
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow.compute as pc

from syncer import failpoints
from syncer.columnar import kernels, sidecar, stream_order
from syncer.columnar.batches import RowBatch
from syncer.columnar.hash_spill import SpilledHashes, has_repeat
from syncer.columnar.key_repeats import KeyRepeats
from syncer.columnar.sidecar import Sidecar
from syncer.columnar.state_columns import StateReader, known_records, stored_source_fps, synced_keys
from syncer.columnar.stream_order import Recorder, StreamOrder
from syncer.diff import CHUNK, Change, Differ, Replan
from syncer.state import Known

if TYPE_CHECKING:
    from syncer.warehouse_diff.watermark import Window

log = logging.getLogger("syncer.columnar")


class ColumnarDiffer(Differ):
    """Iterate `changes_from(batches)`; `tally`, `bad` and `refreshed` fill in as for `Differ`.

    `inputs`: the source columns the mapping reads; `spec`: anything that identifies the mapping
    (its edit must change every source fingerprint).
    """

    counts_state = False  # counted when the stream starts: a current sidecar knows it (1M: 0.06 s saved)
    sidecar_keys = False  # the sidecar's key hashes are not read (8 bytes a record): only the window asks
    stream_order = True  # a run records its rows' checks in stream order; a diff reads them first (stream_order)

    def __init__(
        self,
        *args: Any,
        inputs: list[str],
        spec: Any,
        sidecar_path: Path | None = None,
        repeats: KeyRepeats | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.inputs = sorted(inputs)
        self.spec = spec
        self.sidecar_path = sidecar_path
        self.sidecar: Sidecar | None = None
        self.repeats = repeats  # set: a plan whose key checks ran in the stream (see key_repeats)
        self._sidecar_written = False  # the file on disk is the sidecar in memory
        self.order: StreamOrder | None = None  # the last run's checks in stream order, when current
        self._recorder: Recorder | None = None  # a run's checks in stream order, written by `after_run`
        self.window: Window | None = None  # a model with `updated_at`: its watermark (`columnar.window`)
        self.updated_at: str | None = None  # that column, as the batches name it
        self._hashes = SpilledHashes()  # every seen key's 64-bit hash: removed records, repeated keys
        self._seen_sorted: np.ndarray | None = None
        problems = set(self.keys.duplicate_keys) | set(getattr(self.keys, "match_collisions", {}))
        self._problems = pl.Series("problem", sorted(problems), dtype=pl.String)

    def changes_from(self, batches: Iterable[RowBatch]) -> Iterator[Change]:
        self._reader = StateReader(self.state)
        try:
            if not self.full:  # before this run writes anything: the first batch is not yet diffed
                self.sidecar = self._open_sidecar()
            self._open_stream_order()
            self._state_count = self.sidecar.records if self.sidecar is not None else self.state.count_synced(self.sync)
            self._hashes = SpilledHashes()
            if self.repeats is not None:
                self.repeats.start()
            with contextlib.closing(read_ahead(batches, self._prepare, _Prepared.light)) as prepared_batches:
                for prepared in prepared_batches:  # (closed here: its thread is done before the order closes)
                    yield from self._batch(prepared)
            if self.window is not None:
                self.window.warn_future_dated()
            yield from self._after_stream()
        finally:
            self._reader.close()
            if self.order is not None:
                self.order.close()
        if self.repeats is not None:
            key_repeat = has_repeat(self._seen_sorted) if self._seen_sorted is not None else self._hashes.has_repeat()
            report = self.repeats.verdict(key_repeat, self.tally.out_of_sync.get("bad_key", 0))
            if report is not None:
                raise Replan(*self.repeats.replan(report))
        try:
            yield from self._removed()
        finally:
            self._hashes.close()
            self._seen_sorted = None

    def _after_stream(self) -> Iterator[Change]:
        """After the last batch, state still open (the `updated_at` window reads rows again here)."""
        return iter(())

    def _sorted_hashes(self) -> np.ndarray:
        """The stream's key hashes, sorted (read back once, 8 bytes a row): removed records, the window."""
        if self._seen_sorted is None:
            self._seen_sorted = self._hashes.sorted()
        return self._seen_sorted

    def _open_sidecar(self) -> Sidecar | None:
        """The current sidecar: the file when its token is state's, else rebuilt from state."""
        if self.sidecar_path is None:
            return None
        token = self.state.generation(self.sync)
        found = sidecar.load(self.sidecar_path, self.sync, token, keys=self.sidecar_keys)
        self._sidecar_written = found is not None
        return found if found is not None or token is None else sidecar.build(self.state, self.sync)

    def _open_stream_order(self) -> None:
        """Open the last run's stream-order list (when current: its token is the sidecar's, which is
        state's) and, in a run, start recording this stream's."""
        if not self.stream_order or self.sidecar_path is None:
            return
        if self.sidecar is not None:
            path = stream_order.path_for(self.sidecar_path)
            self.order = stream_order.open_order(path, self.sync, self.sidecar.token)
        if self.remember_sources:
            self._recorder = Recorder()

    def after_run(self) -> None:
        """Leave the sidecar current for the next diff (runs only): untouched when the run wrote no
        record, else rebuilt from state; then the run's stream order, kept to the checks that sidecar
        holds. A crash before this leaves stale files: rebuilt (the sidecar) or ignored (the order)."""
        if self.sidecar_path is None:
            return
        try:
            failpoints.hit("before_sidecar_write")  # state has the run's records; the file does not yet
            if self.sidecar is None or self.state.generation(self.sync) != self.sidecar.token:
                self.sidecar = sidecar.build(self.state, self.sync)
                self._sidecar_written = False
            if self.sidecar is not None and not self._sidecar_written:
                self.sidecar.write(self.sidecar_path)
                self._sidecar_written = True
            if self._recorder is not None and self.sidecar is not None:
                path = stream_order.path_for(self.sidecar_path)
                try:
                    self._recorder.finish(path, self.sync, self.sidecar.token, self.sidecar.holds_checks)
                except OSError as exc:  # only speed is lost: the next diff searches the sidecar alone
                    log.warning("sync %s: the stream-order file %s was not written: %s", self.sync, path, exc)
        finally:
            if self._recorder is not None:
                self._recorder.close()
                self._recorder = None

    def _prepare(self, batch: RowBatch) -> _Prepared:
        """The batch's vectorised work (keys, hashes, fingerprints, the sidecar's verdict): reads
        nothing the diff changes, so it runs on the read-ahead thread while the last batch maps."""
        keys = kernels.record_keys(batch, self.primary_key)
        self._keep_hashes(*self._key_hashes(batch, keys))
        flagged, frame, vouched = self._to_diff(batch, keys)
        return _Prepared(batch, batch.data.num_rows, flagged, frame, vouched, self._newest(batch))

    def _key_hashes(self, batch: RowBatch, keys: pl.Series) -> tuple[np.ndarray, np.ndarray | None]:
        """(hashes of the batch's non-NULL keys, of its match values when the stream checks keys)."""
        key_hashes = kernels.key_hashes(keys).filter(keys.is_not_null()).to_numpy()
        return key_hashes, self.repeats.hashes(batch, keys) if self.repeats is not None else None

    def _keep_hashes(self, key_hashes: np.ndarray, match_hashes: np.ndarray | None) -> None:
        """Spill one batch's hashes, on the read-ahead thread (their only writer while the stream runs;
        the caller reads them after it): queued batches then hold no hashes."""
        self._hashes.append(key_hashes)
        if self.repeats is not None and match_hashes is not None:
            self.repeats.keep(match_hashes)

    def _to_diff(self, batch: RowBatch, keys: pl.Series) -> tuple[pl.Series, pl.DataFrame, int]:
        """(which of them `_key` must judge, (row, key, source_fp) of the rows the sidecar does not
        vouch for, how many it vouches for) of `batch`'s rows, `keys` theirs. Filtering here, on the
        read-ahead thread, keeps polars' per-batch work off the thread that maps."""
        n = batch.data.num_rows
        # rows the row path rejects by key (NULL, not canonical, duplicated, colliding match value):
        # flagged here in bulk, judged one by one by the row path's own `_key`
        flagged = keys.is_null() | (keys.is_in(self._problems).fill_null(False) if len(self._problems) else _none(n))
        prefix = kernels.spec_digest(self.spec, batch, self.inputs)
        fp1, fp2 = kernels.source_fingerprint_parts(batch, self.inputs, prefix)
        frame = pl.DataFrame([pl.int_range(0, n, dtype=pl.Int64, eager=True).rename("row"), keys, fp1, fp2])
        vouched = 0
        if self.sidecar is not None or self._recorder is not None:
            check1, check2 = (c.to_numpy() for c in kernels.check_hashes(keys, fp1, fp2))
            if self._recorder is not None:
                self._recorder.append(check1, check2)
        if self.sidecar is not None:  # unchanged by the sidecar: a subset of what state would say
            sure = pl.Series(stream_order.unchanged(self.order, self.sidecar, check1, check2)) & ~flagged
            vouched = int(sure.sum())
            if vouched:
                frame, flagged = frame.filter(~sure), flagged.filter(~sure)
        frame = frame.with_columns(kernels.fingerprint_text(frame["fp1"], frame["fp2"])).drop("fp1", "fp2")
        return flagged, frame, vouched

    def _newest(self, batch: RowBatch) -> Any:
        """The batch's highest `model.updated_at` (None: not asked, or no value), for the watermark."""
        if self.window is None or self.updated_at is None or not batch.data.num_rows:
            return None
        return pc.max(batch.data.column(self.updated_at)).as_py()

    def _batch(self, prepared: _Prepared) -> Iterator[Change]:
        if prepared.n == 0:
            return
        self.tally.source_rows += prepared.n
        if self.window is not None:
            self.window.read(prepared.newest)
        yield from self._diff_rows(prepared.batch, prepared.flagged, prepared.frame, prepared.vouched)

    def _diff_rows(self, batch: RowBatch, flagged: pl.Series, frame: pl.DataFrame, vouched: int) -> Iterator[Change]:
        """Count, reject or hand on `batch`'s rows (`_to_diff`'s verdicts on them)."""
        self._found += vouched
        self.tally.unchanged += vouched
        if not len(frame):
            return
        if flagged.any():
            indices = frame["row"].filter(flagged).to_list()
            rejected = [i for i, row in zip(indices, batch.rows(indices), strict=True) if self._key(row) is None]
            if rejected:
                frame = frame.filter(~pl.col("row").is_in(pl.Series(rejected, dtype=pl.Int64)))
        todo = frame
        if self.sidecar is None:  # every row is left: skip the unchanged ones before they become dicts
            todo = self._changed_by_state(todo)
        # (with a sidecar only the ~1% it does not vouch for are left: `_compare` reads their state
        # and counts those whose source fingerprint matches as unchanged, as the row path does)
        for start in range(0, len(todo), CHUNK):
            part = todo.slice(start, CHUNK)
            rows = batch.rows_for(part["row"].to_list(), self.reads)  # only the columns the mapping reads
            chunk = list(zip(part["key"].to_list(), rows, part["source_fp"].to_list(), strict=True))
            yield from self._compare(chunk)

    def _lookup(self, keys: list[str]) -> dict[str, Known]:
        found = known_records(self._reader, self.sync, keys)
        return self.state.lookup(self.sync, keys) if found is None else found

    def _changed_by_state(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of `frame` (row, key, source_fp) that state does not call unchanged, counting the others."""
        stored = stored_source_fps(self._reader, self.sync, frame["key"]).with_columns(known=pl.lit(True))
        joined = frame.join(stored, on="key", how="left", maintain_order="left")
        known = joined["known"].fill_null(False)
        if self.full and not self.insert_only:
            skip = _none(len(joined))
        else:
            skip = known & (joined["state_fp"] == joined["source_fp"]).fill_null(False)
        self._found += int(skip.sum())
        self.tally.unchanged += int(skip.sum())
        return joined.filter(~skip)

    def _removed(self) -> Iterator[Change]:
        if self._found >= self._state_count:
            return  # every record state held when the diff began is still in the model: skip the walk
        seen = self._sorted_hashes()
        self._seen_sorted = None
        self._hashes.close()

        def gone() -> Iterator[tuple[str, Known]]:
            for keys in synced_keys(self.state, self.sync):
                hashes = kernels.key_hashes(keys).to_numpy()
                if len(seen):
                    at = np.minimum(np.searchsorted(seen, hashes), len(seen) - 1)
                    missing = keys.filter(pl.Series(seen[at] != hashes))
                else:
                    missing = keys
                if len(missing):
                    known = self.state.lookup(self.sync, missing.to_list())
                    for key in missing.to_list():
                        if key in known:
                            yield key, known[key]

        if self.holds_removals(known for _, known in gone()):
            return
        for key, known in gone():
            self.tally.removed += 1
            yield Change("removed", key, known.fingerprint, known.match_value, {}, known)


@dataclass
class _Prepared:
    """One batch after `ColumnarDiffer._prepare` (n rows; its hashes already spilled, `_keep_hashes`):
    `_to_diff`'s verdicts: (row, key, source_fp) of the rows the sidecar does not vouch for, which of
    those `_key` must judge, how many it vouches for."""

    batch: RowBatch
    n: int
    flagged: pl.Series
    frame: pl.DataFrame
    vouched: int
    newest: Any = None  # the highest `model.updated_at` of the batch (`ColumnarDiffer._newest`)
    outside: tuple[int, int] = (0, 0)  # `columnar.window`: rows outside the window (with a key, refused keys)
    window_hashes: np.ndarray | None = None  # `columnar.window`: key hashes of the rows in it

    def light(self) -> bool:
        """Does it hold less than an eighth of its batch's rows (`read_ahead` queues more of these)?"""
        return bool(self.batch.data.num_rows * 8 < self.n)


AHEAD = 16  # light items (see `read_ahead`) the read-ahead thread may queue


def read_ahead(
    batches: Iterable[RowBatch],
    prepare: Callable[[RowBatch], _Prepared],
    light: Callable[[_Prepared], bool] = lambda prepared: False,
) -> Generator[_Prepared, None, None]:
    """`prepare(batch)` for each batch, ahead, on a thread: the warehouse's fetch and the vectorised
    kernels (DuckDB, ADBC, polars and numpy release the GIL) overlap the mapping of the batches before.
    Prepared batches are queued one at a time: at most three are alive at once (being read, queued,
    being mapped) -- but up to `AHEAD` `light` ones (`_Prepared.light`: a window's batch holding key
    hashes and few rows), so the thread keeps fetching while the caller maps the window's rows
    (PostgreSQL 1M, 1%: 10,000 rows, ~0.3 s, mapped while the keys arrive instead of before). Errors
    surface here, in order; leaving early stops the thread and closes the batch stream."""
    queue: Queue[tuple[str, Any, bool]] = Queue(maxsize=AHEAD)
    heavy = threading.Semaphore(1)  # taken by the thread before it queues a heavy item, given back when it is taken
    stop = threading.Event()

    def wait_for(step: Callable[[], bool]) -> bool:
        while not stop.is_set():
            if step():
                return True
        return False

    def put(item: tuple[str, Any, bool]) -> bool:
        def step() -> bool:
            try:
                queue.put(item, timeout=0.1)
            except Full:
                return False
            return True

        return wait_for(step)

    def work() -> None:
        source = iter(batches)
        try:
            for batch in source:
                prepared = prepare(batch)
                weighty = not light(prepared)
                if weighty and not wait_for(lambda: heavy.acquire(timeout=0.1)):
                    return
                if not put(("item", prepared, weighty)):
                    return
            queue.put(("end", None, False))
        except BaseException as exc:  # handed to the consumer, which raises it
            queue.put(("error", exc, False))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # the warehouse cursor, on the thread that used it

    thread = threading.Thread(target=work, name="columnar-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value, weighty = queue.get()
            if weighty:
                heavy.release()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # unblock a pending put, then wait for the thread to close the stream
            with contextlib.suppress(Empty):
                queue.get(timeout=0.05)
        thread.join()


def _none(n: int) -> pl.Series:
    return pl.Series("none", np.zeros(n, dtype=bool))
