"""Source: read a model (table, query or .sql file) from any SQLAlchemy URL, streaming.

Rows stream through server-side cursors in partitions, so memory does not grow with the model.
Primary keys are checked in the warehouse before streaming: duplicates and NULLs are counted
and sampled there, and those rows are rejected instead of silently merged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from syncer import float32
from syncer.config import ModelConfig, WarehouseConfig, _did_you_mean
from syncer.errors import ConfigError, ConfigIssue, WarehouseError
from syncer.identity import Unrepresentable, composite_identity
from syncer.keycheck import KeyChecker, KeyReport, MatchRule
from syncer.secrets import mask, masked_first_line
from syncer.table_name import quoted_table


def row_key(values: Sequence[Any]) -> str:
    """The state key of a row: its canonical primary key (syncer.identity), parts joined by U+001F."""
    return composite_identity(values)


def warehouse_engine(warehouse: WarehouseConfig, file: str, **options: Any) -> sa.Engine:
    """The SQLAlchemy engine of `[warehouse]` (`options`: create_engine's, e.g. a pool class). A bad dialect, a
    missing driver, missing cloud credentials or a SQLite/DuckDB file that does not exist raise ConfigError keyed
    `warehouse.url` (exit 2): all config."""
    try:
        engine = sa.create_engine(warehouse.url, connect_args=warehouse.connect_args, hide_parameters=True, **options)
    except sa.exc.NoSuchModuleError as exc:
        raise ConfigError([ConfigIssue(file, "warehouse.url", _unknown_dialect(warehouse.url))]) from exc
    except Exception as exc:
        issue = ConfigIssue(file, "warehouse.url", f"cannot use {mask(warehouse.url)!r}: {mask(str(exc))}")
        raise ConfigError([issue]) from exc
    missing = _missing_file(engine.url)
    if missing is not None:
        engine.dispose()
        fix = "check the path (a relative one is relative to the directory syncer runs in)"
        issue = ConfigIssue(file, "warehouse.url", f"no database file at {missing}: {fix}")
        raise ConfigError([issue])
    return engine


#: the URL schemes syncer is tested with and installs the drivers of (pyproject.toml extras)
DIALECTS = ("sqlite", "duckdb", "postgresql", "snowflake", "bigquery")


def _unknown_dialect(url: str) -> str:
    """Why SQLAlchemy has no dialect (or driver) for `url`'s scheme: the scheme as written, the dialects syncer
    reads, and the closest one (a typo such as `sqlit`). The URL's credentials are never shown."""
    scheme = url.split("://", 1)[0]
    dialect, _, driver = scheme.partition("+")
    known = ", ".join(DIALECTS)
    if driver and dialect in DIALECTS:
        return f"no driver {driver!r} for {dialect}: write {dialect}://... (syncer installs its driver)"
    return f"unknown warehouse dialect {dialect!r}{_did_you_mean(dialect, DIALECTS)}: syncer reads {known}"


def _missing_file(url: sa.URL) -> str | None:
    """The path of a SQLite or DuckDB warehouse file that does not exist, else None. Both drivers create an empty
    database at a path that does not exist (SQLite "URI Filenames", DuckDB "Connect": a new file is made), so a
    mistyped path would be read as an empty warehouse, and a file left behind."""
    database = url.database or ""
    if url.get_backend_name() not in ("sqlite", "duckdb") or database in ("", ":memory:"):
        return None
    if database.startswith(("file:", "md:", "motherduck:")) or url.query.get("uri") == "true":
        return None  # URI filenames and MotherDuck: their own rules, not a plain path
    return None if Path(database).exists() else database


class Source:
    def __init__(self, warehouse: WarehouseConfig, base_dir: Path, config_file: str = "config.toml") -> None:
        self._config = warehouse
        self._base_dir = base_dir
        self._where = f"{config_file}: warehouse.url"
        self._engine: sa.Engine | None = None
        self._names: dict[str, dict[str, str]] = {}  # model SQL -> {mapping spelling: driver's name}

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = warehouse_engine(self._config, self._where.split(": ")[0])
            if self._engine.dialect.driver == "psycopg":
                sa.event.listen(self._engine, "connect", _psycopg_reading)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def sql(self, model: ModelConfig, mapping_dir: Path | None = None) -> str:
        if model.table:
            return f"SELECT * FROM {quoted_table(self.engine.dialect, model.table)}"
        text = (
            model.query
            if model.query
            else (Path(mapping_dir or self._base_dir) / str(model.sql_file)).read_text(
                encoding="utf-8-sig"  # a byte-order mark (Windows editors) is not SQL
            )
        )
        # on its own lines, so a trailing "-- comment" cannot swallow the ")" syncer wraps it in
        return "\n" + _strip_final_semicolon(text) + "\n"

    @contextmanager
    def _query(self, sql: str, stream: bool = False) -> Iterator[sa.CursorResult[Any]]:
        """Run one query on its own connection; errors become FatalError with secrets masked."""
        try:
            conn = self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise WarehouseError(f"{self._where}: warehouse unreachable: {masked_first_line(str(exc))}") from exc
        try:
            if stream:
                conn = conn.execution_options(stream_results=True, yield_per=self._config.stream_batch)
            try:
                result = conn.execute(sa.text(sql))
            except sa.exc.SQLAlchemyError as exc:
                raise query_failed(exc) from exc
            with result:
                yield result
        finally:
            conn.close()

    def ping(self) -> None:
        with self._query("SELECT 1") as result:
            result.all()

    def columns(self, model: ModelConfig, mapping_dir: Path | None = None) -> list[str]:
        """The model's column names as mappings spell them (Snowflake's folded upper case lowered)."""
        return list(self._column_names(model, mapping_dir))

    def _column_names(self, model: ModelConfig, mapping_dir: Path | None) -> dict[str, str]:
        """{mapping spelling: name as the driver reported it}, probed once per model."""
        inner = self.sql(model, mapping_dir)
        if inner not in self._names:
            # DuckDB renames a repeated column of a subquery (`v`, `v_1`): it is described as written,
            # so `column_names` refuses it here as on every other warehouse
            probe = f"DESCRIBE {inner}" if self.engine.dialect.name == "duckdb" and model.table is None else None
            with self._query(probe or f"SELECT * FROM ({inner}) AS m WHERE 1 = 0") as result:
                keys = [str(r[0]) for r in result] if probe else list(result.keys())
                self._names[inner] = dict(zip(column_names(keys, self.engine.dialect.name), keys, strict=True))
        return self._names[inner]

    def check_keys(
        self,
        model: ModelConfig,
        mapping_dir: Path | None = None,
        match: MatchRule | None = None,
        duplicates: bool = True,
    ) -> KeyReport:
        """Count NULL primary keys in the warehouse, and find duplicated primary keys and (with `match`)
        colliding match values on syncer's canonical forms (`columnar.key_scan`: one scan of the key and
        match columns). `duplicates=False` leaves duplicated keys out (`KeyReport.duplicates_checked`)
        and groups match values in the warehouse (see syncer.keycheck)."""
        inner = self.sql(model, mapping_dir)
        checker = KeyChecker(self.engine.dialect, inner, self._column_names(model, mapping_dir))

        def scan(sql: str) -> tuple[set[str], int, dict[str, str]]:
            from syncer.columnar import key_scan  # numpy, pyarrow, polars: loaded by the commands that diff
            from syncer.columnar.batches import record_batches

            return key_scan.scan(
                lambda: record_batches(self, model, mapping_dir, self._config, sql), model.primary_key, match
            )

        return checker.run(self._rows, model.primary_key, match, scan, duplicates)

    def _rows(self, sql: str) -> list[sa.Row[Any]]:
        with self._query(sql) as result:
            return list(result)

    def shares_match_values(self, model: ModelConfig, mapping_dir: Path | None, match: MatchRule, within: str) -> bool:
        """Does a match value held by a row of `within` (a query over the model's columns) belong to
        more than one model row? (`KeyChecker.shared_match_sql`; one aggregate, LIMIT 1.) True as well
        when the warehouse's LOWER() may not be syncer's (`KeyChecker.lower_may_differ`)."""
        checker = KeyChecker(self.engine.dialect, self.sql(model, mapping_dir), self._column_names(model, mapping_dir))
        if checker.lower_may_differ(self._rows, match):
            return True  # the warehouse's LOWER() cannot be trusted here: the caller checks the whole model
        return bool(self._rows(checker.shared_match_sql(model.primary_key, match, within) + " LIMIT 1"))

    def stream(self, model: ModelConfig, mapping_dir: Path | None = None) -> Iterator[dict[str, Any]]:
        """Yield rows as dicts keyed by the model's column names, a partition at a time."""
        with self._query(self.sql(model, mapping_dir), stream=True) as result:
            columns = column_names(list(result.keys()), self.engine.dialect.name)
            for partition in fetched(result, self._config.stream_batch):
                for row in partition:
                    yield dict(zip(columns, row, strict=True))


def _strip_final_semicolon(sql: str) -> str:
    """Drop a statement-ending ';' (possibly followed by comment lines) so the query can be wrapped."""
    lines = sql.strip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        code = lines[i].split("--", 1)[0].rstrip()
        if code:
            if code.endswith(";"):
                lines[i] = code[:-1]
            break
    return "\n".join(lines)


def _psycopg_reading(dbapi_connection: Any, record: Any) -> None:
    """How the warehouse's psycopg connections read: JSON numbers exactly, and dates and times Python
    cannot hold as `Unrepresentable` values (rejected per row) instead of an error that stops the sync."""
    _exact_json(dbapi_connection, record)
    _tolerant_datetimes(dbapi_connection)


def _tolerant_datetimes(dbapi_connection: Any) -> None:
    """PostgreSQL keeps 'infinity', '-infinity', BC dates, years past 9999 and timetz 24:00, which
    psycopg's loaders refuse (DataError) for the whole fetch: each such value becomes `Unrepresentable`
    with the server's text, so only its row is rejected (README: values that do not map are rejected
    with the reason). psycopg docs, "Dates and times adaptation"."""
    from psycopg import DataError
    from psycopg.types import datetime as pgdt

    def tolerant(base: type) -> type:
        class Loader(base):  # type: ignore[valid-type, misc]
            def load(self, data: Any) -> Any:
                try:
                    return super().load(data)
                except (DataError, ValueError, OverflowError):
                    return Unrepresentable(bytes(data).decode(errors="replace"))

        return Loader

    for name, base in (
        ("date", pgdt.DateLoader),
        ("timestamp", pgdt.TimestampLoader),
        ("timestamptz", pgdt.TimestamptzLoader),
        ("time", pgdt.TimeLoader),
        ("timetz", pgdt.TimetzLoader),
    ):
        dbapi_connection.adapters.register_loader(name, tolerant(base))


def _exact_json(dbapi_connection: Any, _record: Any) -> None:
    """psycopg parses json / jsonb numbers with `json.loads`, whose floats keep 17 digits:
    12345678901234567890.123456789 arrived as 12345678901234567000, and an edit in its last digits
    went unseen. Decimals keep every digit, as a numeric column's do (psycopg docs, "JSON adaptation":
    `set_json_loads` per connection)."""
    from psycopg.types.json import set_json_loads

    set_json_loads(partial(json.loads, parse_float=Decimal), dbapi_connection)


def query_failed(exc: sa.exc.SQLAlchemyError) -> WarehouseError:
    """A query the warehouse refused, as the error a user reads: its first line, secrets masked (the
    runner's `located` adds the mapping file and model key)."""
    return WarehouseError(f"warehouse query failed: {masked_first_line(str(getattr(exc, 'orig', None) or exc))}")


def fetched(result: sa.CursorResult[Any], size: int) -> Iterator[Sequence[Sequence[Any]]]:
    """`result.partitions(size)`, with an error the warehouse raises while rows are being read (an
    overflow in the model's SQL at row 900, a dropped connection) as WarehouseError: exit 2 with the
    warehouse's first line, not "a bug in syncer". A 32-bit float column's values come as the
    warehouse prints them (`syncer.float32`), not widened. Only the fetch is guarded: what the caller does
    with each partition (state lookups, sends) keeps its own errors."""
    partitions = result.partitions(size)
    cursor = getattr(result, "cursor", None)  # a result that never had a cursor (no rows) has no description
    float32s = float32.narrowing(cursor.description) if cursor is not None else None
    while True:
        try:
            partition = next(partitions)
        except StopIteration:
            return
        except sa.exc.DBAPIError as exc:
            first = masked_first_line(str(getattr(exc, "orig", None) or exc))
            raise WarehouseError(f"warehouse query failed while reading rows: {mask(first)}") from exc
        yield partition if float32s is None else float32.narrow_rows(partition, float32s)


def column_names(names: Sequence[str], dialect: str) -> list[str]:
    """The model's column names as mappings spell them, in order: Snowflake's (which folds unquoted
    names to upper case) lower-cased when all upper case, every other warehouse's as they are.
    WarehouseError when two columns would have one name: a row holds one value per name, so the
    later column would silently stand for the earlier (PostgreSQL `id` and `"ID"` were both `id`)."""
    spelled = [n.lower() if dialect == "snowflake" and n.isupper() else n for n in names]
    seen: dict[str, str] = {}
    for name, spelling in zip(names, spelled, strict=True):
        if spelling in seen:
            raise WarehouseError(
                f"the model has two columns named {spelling!r} ({seen[spelling]!r} and {name!r}); "
                "syncer reads a row by column name: rename or alias one of them in the model's query"
            )
        seen[spelling] = name
    return spelled
