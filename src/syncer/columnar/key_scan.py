"""The identity checks on syncer's own canonical forms: duplicated keys and colliding match values.

A warehouse's GROUP BY compares raw values under the column's type and collation; syncer's state
compares canonical strings (`syncer.identity`). They disagree both ways, and every disagreement
lost or merged data (issue 1's rule: two rows never silently become one record):

    warehouse says equal, syncer says apart   'Acme' / 'ACME' under a case-insensitive collation
                                              (DuckDB NOCASE, PostgreSQL citext): one row rejected
                                              as a duplicate, the other sent
    warehouse says apart, syncer says equal   1 / '1' / 1.0 in an untyped (SQLite) column; composite
                                              parts holding U+001F, the separator ('a\\x1fb', 'c')
                                              and ('a', 'b\\x1fc'); match values Python lowers alike
                                              and SQL's lower() does not: both sent, one record

So the checks run here, on the forms state keeps: one scan of the key and match columns only
(Arrow batches, `columnar.batches`), canonical keys and comparison forms computed per batch
(`kernels.record_keys`, exact: a sample-checked native cast or `row_key` row by row), and a 64-bit
hash of each kept (8 bytes a row for keys, 8 for match values). Repeated hashes are the candidates;
only when there are any does a second scan collect the candidates' exact strings, so a hash
collision never rejects a row. Shapes: `scan` returns (duplicate keys, rows holding them, {key:
collision reason}) as `KeyReport` keeps them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import polars as pl

from syncer.columnar import kernels
from syncer.columnar.batches import RowBatch
from syncer.columnar.hash_spill import HashBuffer
from syncer.columnar.key_repeats import python_lower
from syncer.errors import FatalError
from syncer.keycheck import MAX_DUPLICATE_KEYS, MatchRule, collision_reasons

Batches = Callable[[], Iterable[RowBatch]]


def scan(batches: Batches, primary_key: list[str], match: MatchRule | None) -> tuple[set[str], int, dict[str, str]]:
    """(duplicate keys, rows holding them, match collisions) of the rows `batches()` streams (each
    call a fresh scan of the key and match columns); FatalError past MAX_DUPLICATE_KEYS."""
    key_hashes, match_hashes = HashBuffer(0), HashBuffer(0)
    for batch in batches():
        keys, _, forms = _forms(batch, primary_key, match)
        key_hashes.append(kernels.key_hashes(keys.drop_nulls()).to_numpy())
        if forms is not None:
            match_hashes.append(kernels.match_hashes(forms.filter(keys.is_not_null()).drop_nulls()).to_numpy())
    repeated_keys, repeated_values = _repeated(key_hashes.sorted()), _repeated(match_hashes.sorted())
    if not len(repeated_keys) and not len(repeated_values):
        return set(), 0, {}
    counts: Counter[str] = Counter()
    groups: dict[str, dict[str, str]] = {}  # comparison form -> {canonical key: canonical match value}
    sharing = 0
    for batch in batches():  # the candidates' exact strings: a hash collision rejects nothing
        keys, values, forms = _forms(batch, primary_key, match)
        counts.update(keys.filter(kernels.key_hashes(keys).is_in(pl.Series(repeated_keys)).fill_null(False)))
        if values is None or forms is None or not len(repeated_values):
            continue
        wanted = (kernels.match_hashes(forms).is_in(pl.Series(repeated_values)) & keys.is_not_null()).fill_null(False)
        sharing += int(wanted.sum())
        if sharing > MAX_DUPLICATE_KEYS:
            column = match.column if match is not None else ""
            raise FatalError(f"model has more than {MAX_DUPLICATE_KEYS} rows sharing match values ({column}); fix it")
        for key, form, value in zip(keys.filter(wanted), forms.filter(wanted), values.filter(wanted), strict=True):
            groups.setdefault(form, {})[key] = value
    duplicates = {key for key, n in counts.items() if n > 1}
    if len(duplicates) > MAX_DUPLICATE_KEYS:
        raise FatalError(f"model has more than {MAX_DUPLICATE_KEYS} duplicated primary keys; fix the model")
    rows = sum(counts[key] for key in duplicates)
    for members in groups.values():
        for key in duplicates.intersection(members):
            del members[key]  # rejected as a duplicated primary key already
    return duplicates, rows, collision_reasons(groups, match) if match is not None else {}


def _forms(
    batch: RowBatch, primary_key: list[str], match: MatchRule | None
) -> tuple[pl.Series, pl.Series | None, pl.Series | None]:
    """Each row's canonical key (None: NULL or refused), canonical match value and its comparison
    form (`identity.match_comparison_key`; None: no match rule, or a NULL / NaN value the mapper
    rejects on its own; and '', which the diff rejects as blank)."""
    keys = kernels.record_keys(batch, primary_key)
    if match is None:
        return keys, None, None
    values = kernels.record_keys(batch, [match.column])
    values = values.set(
        values == "", None
    )  # '' identifies nothing (the diff rejects it); other blanks: `collision_reasons`
    return keys, values, python_lower(values) if match.casefold else values


def _repeated(ordered: np.ndarray) -> Any:
    """The values that occur more than once in a sorted array (each once)."""
    return np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
