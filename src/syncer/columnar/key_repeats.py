"""The plan's key checks, folded into the columnar stream: a repeat of a hash, not a GROUP BY.

`syncer.keycheck` runs two aggregates over the whole model before a diff (duplicated primary keys,
match values that collide at the destination): at 1M rows about a quarter of a plan. A plan in
columnar mode skips them and proves instead, from hashes the stream computes anyway, that they
would have found nothing:

    per batch   key hash      (already kept for removed-record detection)
                match hash    64 bits of the match value's comparison form, for rows with a key
    after       both read back sorted, a bucket at a time (`hash_spill`); equal neighbours = a repeat

No repeat in either means no two rows share a canonical key and no two rows share a comparison
form of their match value, so the exact checks would report nothing and the plan already made is
theirs. A repeat (a real duplicate, keys that canonicalise equal, or a 64-bit collision) -- or a
key `row_key` refuses, which the exact checks would see differently -- runs the exact checks
(today's code); when they report a problem the plan is made again with their report
(`Replan`), so rejections are always exactly theirs. Only plans do this: a run sends changes as
it streams, so it needs the report before its first write and still runs the aggregates.

Why the hashes decide safely: the exact checks (`columnar.key_scan`) hash the very same forms --
the canonical key and `match_comparison_key(canonical_identity(value))` -- and confirm repeats on
the strings, so no repeat here means none there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from syncer.columnar import kernels
from syncer.columnar.batches import RowBatch
from syncer.columnar.hash_spill import SpilledHashes
from syncer.diff import Change, Differ
from syncer.keycheck import KeyReport, MatchRule

# the dialects whose Arrow streams the stream's checks are tested on (tests/diffmodes); the others
# run the exact checks before the stream
STREAMED_DIALECTS = frozenset({"duckdb", "postgresql", "sqlite"})


@dataclass
class KeyRepeats:
    """Match-value hashes of one plan's stream, and the verdict after it.

    `exact`: today's key checks (the aggregates); `replan(report)`: a fresh (differ, changes) pair
    using that report."""

    match: MatchRule | None  # None: the match value names a parent (tasks), only keys are checked
    exact: Callable[[], KeyReport]
    replan: Callable[[KeyReport], tuple[Differ, Iterator[Change]]]
    _hashes: SpilledHashes = field(default_factory=SpilledHashes)

    def hashes(self, batch: RowBatch, keys: pl.Series) -> np.ndarray:
        """The hash of the comparison form of the match value of every row with a key (n rows in,
        at most n out; none without a match rule); reads nothing else, so it runs on the read-ahead thread."""
        if self.match is None:
            return np.empty(0, dtype=np.uint64)
        values = kernels.record_keys(batch, [self.match.column])  # canonical_identity, None if it has none
        if self.match.casefold:
            values = python_lower(values)
        wanted = keys.is_not_null() & values.is_not_null() & (values != "")  # as `key_scan._forms`
        return kernels.match_hashes(values.filter(wanted)).to_numpy()

    def start(self) -> None:
        """Forget the hashes of an earlier stream."""
        self._hashes.close()
        self._hashes = SpilledHashes()

    def keep(self, hashes: np.ndarray) -> None:
        """Keep one batch's `hashes` for the verdict."""
        self._hashes.append(hashes)

    def verdict(self, key_repeat: bool, refused_keys: int) -> KeyReport | None:
        """None when the plan stands (no repeat, or the exact checks found nothing); else their report.
        `key_repeat`: a key hash came twice in the stream; `refused_keys`: keys `row_key` refused."""
        match_repeat = self._hashes.has_repeat()
        self._hashes.close()
        if not (refused_keys or key_repeat or match_repeat):
            return None
        report = self.exact()
        return report if report.duplicate_keys or report.match_collisions else None


def python_lower(values: pl.Series) -> pl.Series:
    """`str.lower` of every value, as `match_comparison_key` lowers: polars for ASCII text (the
    same mapping), Python's own for the rest (Unicode case rules differ between the two)."""
    lowered = values.str.to_lowercase()
    # non-ASCII text has more UTF-8 bytes than characters: 4x cheaper than a regex over every value
    other = (values.str.len_bytes() != values.str.len_chars()).fill_null(False)
    if other.any():
        at = other.arg_true()
        lowered = lowered.scatter(at, [v.lower() for v in values.gather(at).to_list()])
    return lowered
