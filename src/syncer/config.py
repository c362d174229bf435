"""Configuration: `config.toml` plus one `mappings/*.toml` per sync, validated all at once.

Every problem is collected (TOML syntax, unknown keys, wrong types, missing or literal secrets,
unknown connectors, duplicate sync names) and raised together as one ConfigError whose lines each
name the file and the dotted key. The result is frozen: nothing changes config after start-up.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import json
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

import sqlalchemy as sa
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from syncer import registry, secrets, url_template
from syncer.connector import ConnectorSettings, Destination, Mode
from syncer.errors import ConfigError, ConfigIssue, FatalError
from syncer.mapping import FieldSpec, NullPolicy, parse_field
from syncer.scoring.model import ScoringConfig
from syncer.shared_records import shared_record_issues
from syncer.table_name import table_parts

if TYPE_CHECKING:
    from syncer.state import StateStore


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class AppSettings(_Strict):
    data_dir: Path = Path(".syncer")
    """Folder for syncer's own files (the SQLite state DB unless `state_url` is set); relative to config.toml."""
    state_url: str | None = None
    """SQLAlchemy URL of the state DB (state, audit, rejects, runs). Default: SQLite file `state.sqlite` in `data_dir`.
    Use PostgreSQL when several replicas run.
    """
    mappings: str = "mappings"
    """Folder, relative to config.toml, holding one `*.toml` mapping per sync (the file name is the sync name)."""
    audit_retention_days: int = Field(default=90, ge=1)
    """Audit rows older than this many days are pruned."""
    log_format: Literal["auto", "json", "text"] = "auto"
    """`auto`: human-readable text on a terminal, JSON lines otherwise. Secrets are masked in both."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level logged."""
    project: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    """This project's name in every "already delivered?" identity (Slack message metadata, email Message-ID,
    CRM task key, webhook idempotency keys). Default: a random id kept in the state DB, so two projects
    sharing a Slack app, mailbox, CRM or webhook receiver never take each other's message as delivered.
    Set it (unique per project) to keep those identities through a total loss of the state DB too."""

    @field_validator("state_url")
    @classmethod
    def _usable_url(cls, value: str | None) -> str | None:
        """A URL SQLAlchemy parses, of a dialect it has (its driver is imported when the store opens); an unset
        ${NAME} is reported once, as itself."""
        if value is None or "${" in value:
            return value
        from sqlalchemy.engine import make_url

        fix = '"postgresql+psycopg://USER:${PASSWORD}@HOST:5432/DB", or leave state_url out for SQLite in data_dir'
        problem = url_template.unreadable(value)  # never SQLAlchemy's message: it quotes the URL's text
        if problem is not None:
            raise ValueError(f"not a usable SQLAlchemy URL: {problem}; write {fix}")
        try:
            make_url(value).get_dialect()
        except Exception as exc:  # NoSuchModuleError (no such dialect)
            raise ValueError(
                f"not a usable SQLAlchemy URL ({type(exc).__name__}: {secrets.mask(str(exc))}): write {fix}"
            ) from None
        return value


DiffMode = Literal["columnar", "rows", "warehouse"]
WAREHOUSE_DIFF_DIALECTS = ("bigquery", "duckdb", "postgresql", "snowflake")  # syncer.warehouse_diff.dialects


class WarehouseConfig(_Strict):
    url: str
    """SQLAlchemy URL of the warehouse (snowflake://, postgresql+psycopg://, bigquery://, duckdb:///, sqlite:///). Put
    the password in `${NAME}`.
    """
    connect_args: dict[str, Any] = Field(default_factory=dict)
    """Extra keyword arguments handed to the database driver's connect()."""
    stream_batch: int = Field(default=5000, ge=100)
    """Rows fetched per round trip. Rows stream, so memory stays flat whatever the model size."""
    diff: DiffMode = "columnar"
    """How every sync on this warehouse diffs (a sync's own `diff` wins): `columnar` (Arrow batches, vectorised),
    `rows` (one row at a time), or `warehouse` (planned in SQL against a snapshot in `snapshot_schema`; needs the
    grants `syncer check` names; DuckDB, PostgreSQL, Snowflake, BigQuery).
    """
    snapshot_schema: str = "syncer"
    """`diff = "warehouse"`: the schema syncer creates and owns for its snapshot tables."""

    @field_validator("url")
    @classmethod
    def _readable_url(cls, value: str) -> str:
        """A URL SQLAlchemy parses (its dialect and driver are checked when the engine is made: source.py); an
        unset ${NAME} is reported once, as itself."""
        problem = None if "${" in value else url_template.unreadable(value)
        if problem is not None:
            raise ValueError(f"not a usable SQLAlchemy URL: {problem}")
        return value

    @field_validator("diff")
    @classmethod
    def _plannable(cls, value: str, info: ValidationInfo) -> str:
        url = str(info.data.get("url", ""))
        scheme = url.split(":", 1)[0].split("+", 1)[0]
        # an unset ${NAME} in the URL is reported once, as itself: its scheme is not known yet
        if value == "warehouse" and scheme not in WAREHOUSE_DIFF_DIALECTS and "${" not in url:
            supported = ", ".join(WAREHOUSE_DIFF_DIALECTS)
            raise ValueError(
                f'diff = "warehouse" supports {supported}; this warehouse is {scheme}: set diff = "columnar"'
            )
        return value


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(value: Any) -> dt.timedelta:
    """`"90s"`, `"15m"`, `"1h"`, `"1h30m"`, `"7d"`, `"2w"` (units s, m, h, d, w; integers, largest first or
    not) -> timedelta. ValueError names the accepted form. Hand-written: pydantic reads only ISO 8601
    (`PT1H`) and seconds, and a dependency for five units is not worth it."""
    if isinstance(value, dt.timedelta):
        return value
    text = str(value).strip().lower().replace(" ", "") if isinstance(value, str) else ""
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration: a number and a unit (s, m, h, d, w), e.g. '1h' or '1h30m'")
    return dt.timedelta(seconds=sum(int(n) * DURATION_UNITS[u] for n, u in parts))


def format_duration(value: dt.timedelta) -> str:
    """`parse_duration` text of a whole number of seconds, in hours at most: 5400 s -> "1h30m", 1 day -> "24h"."""
    seconds, out = int(value.total_seconds()), ""
    for unit in ("h", "m", "s"):
        size = DURATION_UNITS[unit]
        if seconds >= size:
            out, seconds = out + f"{seconds // size}{unit}", seconds % size
    return out or "0s"


# a duration of which at least one part is not zero (`full_diff_every`)
NONZERO_DURATION = "^([0-9]+[smhdw])*0*[1-9][0-9]*[smhdw]([0-9]+[smhdw])*$"
Duration = Annotated[
    dt.timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": "^([0-9]+[smhdw])+$"}),
]


class ModelConfig(_Strict):
    """A table, an inline query or a .sql file, with its primary key (one or more columns)."""

    table: str | None = None
    """A table (or view) to read, optionally `schema.table`: split at each `.`, each part used exactly as
    written (case kept; double-quote a part that contains a dot). Give exactly one of `table`, `query`,
    `sql_file`."""
    query: str | None = None
    """An inline SQL query, one row per record. Give exactly one of `table`, `query`, `sql_file`."""
    sql_file: str | None = None
    """A `.sql` file next to the mapping holding the query. Give exactly one of `table`, `query`, `sql_file`."""
    primary_key: list[str]
    """Column (a string) or columns (a list) that identify a row; the diff keys records on it. Column names are matched
    as the warehouse returns them, except that an all-upper-case name (Snowflake's folding of unquoted identifiers)
    is read in lower case: write `account_id`, not `ACCOUNT_ID`.
    """

    @field_validator("primary_key", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None:
            table_parts(value)  # ValueError names the problem; the name is quoted per dialect later
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        given = [n for n in ("table", "query", "sql_file") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of 'table', 'query' or 'sql_file'")
        if not self.primary_key:
            raise ValueError("primary_key needs at least one column")
        return self


class SyncModelConfig(ModelConfig):
    """A sync's model: `ModelConfig`, and the column that says which rows changed (columnar and warehouse modes)."""

    updated_at: str | None = None
    """`diff = "columnar"` (the default) or `"warehouse"`: a TIMESTAMP (or DATE) column the warehouse sets on every
    insert and every update of a row. A diff then compares only the rows with `updated_at` at or after the last
    acknowledged run's highest value minus `updated_at_lookback` (and rows where it is NULL), not the whole model
    (columnar mode still reads every row's key, nothing else). The contract: a row changed without bumping it, or
    committed later than the lookback, is missed until the next full diff (`full_diff_every`). Removed and duplicated
    keys, and rows inserted with an older `updated_at`, are always found exactly.
    """
    updated_at_lookback: Duration = Field(default="1h", validate_default=True)
    """With `updated_at`: rows whose `updated_at` is up to this much older than the last run's highest value are read
    again (transactions that commit late). A duration: `"1h"`, `"30m"`, `"1d"`. `"0s"` is allowed: the window then
    starts at the highest value read (inclusive, so rows stamped with it are read again), right when rows are written
    in order (a model rebuilt in one transaction, `updated_at` set at commit); a transaction that commits late with an
    older value is then missed until the next full diff.
    """
    full_diff_every: Annotated[Duration, WithJsonSchema({"type": "string", "pattern": NONZERO_DURATION})] = Field(
        default="24h", validate_default=True
    )
    """With `updated_at`: when the last full diff is older than this, the next diff compares the whole model again
    (it catches rows changed without bumping `updated_at`). A duration longer than zero: `"24h"`, `"7d"` (`"0s"` is
    refused: it would make every diff a full one; remove `updated_at` for that). One full diff now, without waiting:
    `syncer run SYNC --full-diff`.
    """

    @field_validator("full_diff_every")
    @classmethod
    def _longer_than_zero(cls, value: dt.timedelta) -> dt.timedelta:
        if value <= dt.timedelta(0):
            raise ValueError(
                "a zero duration would make every diff a full one: give a duration longer than zero such "
                "as '24h' (to diff the whole model on every run, remove model.updated_at; for one full diff now, "
                "`syncer run SYNC --full-diff`)"
            )
        return value


class MatchConfig(_Strict):
    field: str
    """Destination field or property that identifies a record: a Salesforce external-ID field (case-insensitive unless
    defined 'Unique, case sensitive': `SF-1` and `sf-1` are the same record) or a HubSpot property with unique
    values.
    """
    column: str
    """Source column holding the value of `match.field`. Its value is sent as text."""


class ScheduleConfig(_Strict):
    cron: str | None = None
    """Five-field cron expression (minute hour day month weekday), evaluated in `timezone`."""
    every_minutes: float | None = Field(default=None, gt=0)
    """Run every this many minutes instead of on a cron."""
    timezone: str = "UTC"
    """IANA time zone for `cron` (DST-correct), e.g. `America/New_York`."""
    after: list[str] = Field(default_factory=list)
    """Jobs that must run first in the same tick (e.g. `score`, the in-warehouse score refresh)."""


class SyncConfig(_Strict):
    name: str
    """Sync name used on the command line (`syncer run NAME`). Default: the mapping file name without `.toml`."""
    connector: str
    """Name of a connector in config.toml `[connectors]`."""
    object: str
    """Destination object: `Account` (Salesforce), `companies` / `contacts` (HubSpot), anything for a webhook."""
    mode: Mode = "upsert"
    """`upsert` creates or updates; `update` never creates; `insert` never modifies; `mirror` also deletes records whose
    row left the model (guarded by `max_delete_share`). Task objects (Salesforce `Task`, HubSpot `tasks`) take `insert`
    only: their match value is the account the task attaches to, and each row is one task, created once by its key.
    Left out, a connector object that takes `insert` only (tasks, Slack, email) takes `insert`.
    """
    model: SyncModelConfig
    """Where the rows come from: a table, an inline query or a .sql file, and the primary key."""
    match: MatchConfig
    """How a row finds its destination record."""
    fields: dict[str, FieldSpec]
    """Destination field -> source. `name = "column"` is shorthand for `name = { column = "column" }`; see the field
    keys below.
    """
    null_policy: NullPolicy = "skip"
    """What a NULL value does: `skip` leaves the destination field as it is; `send` clears it. A field's own `null`
    overrides this.
    """
    max_delete_share: float = Field(default=0.25, ge=0, le=1)
    """Mirror mode only: when more than this share (0-1) of the synced records would be deleted in one run, the deletes
    are held and the run says so (a truncated or broken model must not wipe the destination). Adds and changes still
    go out.
    """
    schedule: ScheduleConfig | None = None
    """When `syncer daemon` runs this sync; without it the sync only runs from the command line."""
    description: str = ""
    """Free text shown by `syncer check` and `syncer plan`."""
    diff: DiffMode | None = None
    """`columnar`, `rows` or `warehouse` for this sync; unset: the warehouse's `diff`."""
    shares_records_with: list[str] = Field(default_factory=list)
    """Syncs of this project that write the same destination records (same connector address, object and match
    field) and may: `check`, `plan` and `run` refuse such a pair when either is `mirror` or `insert` or both write a
    field, since each sync's state holds only its own writes (a mirror deletes the other's records; the last writer
    wins). Naming the other sync here states that the two models never share a key (e.g. one region each), which
    syncer cannot check. Either sync naming the other is enough.
    """

    @field_validator("fields", mode="before")
    @classmethod
    def _parse_fields(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: parse_field(v) if isinstance(v, str) else v for k, v in value.items()}
        return value

    def columns(self) -> dict[str, str]:
        """Every source column the mapping reads -> the mapping key that reads it."""
        used = {c: "model.primary_key" for c in self.model.primary_key}
        if self.model.updated_at:
            used.setdefault(self.model.updated_at, "model.updated_at")
        used[self.match.column] = "match.column"
        for name, spec in self.fields.items():
            for column in spec.columns():
                used.setdefault(column, f"fields.{name}")
        return used

    def destination(self) -> Destination:
        return Destination(self.object, self.match.field, self.mode, {f: f"fields.{f}" for f in self.fields})


@dataclass(frozen=True)
class ConnectorEntry:
    name: str
    type: str
    settings: ConnectorSettings
    file: str


@dataclass(frozen=True)
class Config:
    path: Path
    app: AppSettings
    warehouse: WarehouseConfig
    connectors: dict[str, ConnectorEntry]
    syncs: dict[str, SyncConfig]
    sync_files: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def data_dir(self) -> Path:
        d = self.app.data_dir
        return d if d.is_absolute() else self.base_dir / d

    def state_url(self) -> str:
        return self.app.state_url or f"sqlite:///{self.data_dir() / 'state.sqlite'}"

    def open_state(self) -> StateStore:
        """The state store, migrated, with `[syncer] project` (when set) as its project id (syncer.project)."""
        from syncer.state import StateStore

        return StateStore(self.state_url(), project=self.app.project)

    def sync(self, name: str) -> SyncConfig:
        if name not in self.syncs:
            hint = _did_you_mean(name, self.syncs)
            raise ConfigError([ConfigIssue(str(self.path), "", f"no sync named {name!r}{hint}")])
        return self.syncs[name]


def _closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice `word` is most likely a typo of (difflib's ratio), or None."""
    options = list(choices)
    same = [c for c in options if c.lower() == word.lower()]  # only the case differs
    close = same or difflib.get_close_matches(word, options, n=1)
    return close[0] if close else None


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = _closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


def _loc(parts: Iterable[Any]) -> str:
    return ".".join(str(p) for p in parts if p not in ("function-after", "function-before"))


def pydantic_issues(
    file: str, prefix: str, exc: ValidationError, hidden: str | None = None, model: type[BaseModel] | None = None
) -> list[ConfigIssue]:
    """pydantic's errors as ConfigIssues keyed `prefix.loc` (a leading `hidden` level is left out of the key).

    A typo is one issue, not two: an unknown key next to a missing required key it resembles becomes
    `unknown key (did you mean 'primary_key'?)` and the missing key is not reported on its own. With
    `model` (the validated class), any other unknown key gets the closest of the keys it accepts there.
    """
    errors = [
        (err["loc"][1:] if hidden is not None and err["loc"][:1] == (hidden,) else err["loc"], err)
        for err in exc.errors()
    ]
    missing = {loc for loc, err in errors if err["type"] == "missing" and loc}
    folded: set[tuple[Any, ...]] = set()
    issues = []
    for loc, err in errors:
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            meant = _closest(str(loc[-1]), [str(m[-1]) for m in missing - folded if m[:-1] == loc[:-1]])
            if meant is not None:
                folded.add((*loc[:-1], meant))
            else:
                meant = _closest(str(loc[-1]), _keys_at(model, loc[:-1]))
            message = "unknown key" + (f" (did you mean {meant!r}?)" if meant else "")
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "model_type" and err.get("ctx", {}).get("class_name") == "FieldSpec":
            name, given = str(loc[-1]), json.dumps(err["input"], default=str)
            message = (
                f'a field is a column name or a table, not {given}: write {name} = "{name}_column" '
                f"or {name} = {{ const = {given} }} for a constant"
            )
        issues.append((loc, ConfigIssue(file, _loc([prefix, *loc] if prefix else loc), message)))
    return [issue for loc, issue in issues if loc not in folded]


def _keys_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The keys `model` accepts at `loc` ([] when unknown): nested models are followed through their fields, and
    through a table of them (`fields.score`: a key of `dict[str, FieldSpec]` leads to FieldSpec's keys)."""
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, str(part))
        if annotation is None:
            return []
    found = _model_in(annotation)
    return list(found.model_fields) if found is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model `annotation` is, or one of its union members / arguments is; else None."""
    candidates = (annotation, *get_args(annotation))
    return next((a for a in candidates if isinstance(a, type) and issubclass(a, BaseModel)), None)


def _step(annotation: Any, part: str) -> Any:
    """The annotation one level down `part`: a model's field, or any key of a dict's values; None if neither."""
    model = _model_in(annotation)
    if model is not None and part in model.model_fields:
        return model.model_fields[part].annotation
    table = next((a for a in (annotation, *get_args(annotation)) if get_origin(a) is dict), None)
    return get_args(table)[1] if table is not None else None


class _Collector:
    def __init__(self) -> None:
        self.issues: list[ConfigIssue] = []

    def add(self, file: str, key: str, message: str) -> None:
        self.issues.append(ConfigIssue(file, key, message))

    def read_toml(self, path: Path, shown: str) -> dict[str, Any] | None:
        try:
            # utf-8-sig: a byte-order mark (Windows editors, PowerShell `Out-File -Encoding utf8`) is dropped
            return tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            self.add(shown, "", "file not found")
        except tomllib.TOMLDecodeError as exc:
            self.add(shown, "", f"invalid TOML: {exc}")
        except (OSError, UnicodeDecodeError) as exc:
            self.add(shown, "", f"cannot read: {exc}")
        return None

    def resolve_refs(self, value: Any, file: str, key: str, secret_keys: frozenset[str] = frozenset()) -> Any:
        """Resolve ${NAME} in every string of a parsed TOML tree, reporting missing and empty names (a blank
        variable or /run/secrets file is a deployment mistake; `${NAME:-}` says empty on purpose). The dotted
        keys matching `secret_keys` (`*`: any one name or index) must be one `${NAME}` of at least
        secrets.MIN_LENGTH characters; their values are masked from now on (syncer.secrets states the rule)."""
        if isinstance(value, dict):
            return {k: self.resolve_refs(v, file, f"{key}.{k}" if key else k, secret_keys) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve_refs(v, file, f"{key}.{i}", secret_keys) for i, v in enumerate(value)]
        secret = any(fnmatch.fnmatchcase(key, pattern) for pattern in secret_keys)
        if secret and not (isinstance(value, str) and secrets.is_reference(value)):
            if isinstance(value, str):
                secrets.mask.add(value.strip())  # never echoed, whatever prints this section later
            leaf = key.rsplit(".", 1)[-1]
            defaulted = secrets.REFERENCE.fullmatch(value.strip()) if isinstance(value, str) else None
            if defaulted is not None:  # ${NAME:-default}: the reference is right, its default is not
                name = defaulted.group(1)
                problem = (
                    f'a secret takes no default: write {leaf} = "${{{name}}}" (not ${{{name}:-...}}) and set {name} '
                    f"in the environment or {secrets.secrets_dir()}/{name}"
                )
            else:
                problem = (
                    f'secrets may not be written in TOML; write {leaf} = "${{{leaf.upper()}}}" (or any ${{ENV_NAME}}) '
                    f"and set it in the environment or {secrets.secrets_dir()}/ENV_NAME"
                )
            self.add(file, key, problem)
            return value
        if not (isinstance(value, str) and "${" in value):
            return value
        if secret:
            secrets.note_reference(key, value)
        for name in sorted({m.group(1) for m in secrets.REFERENCE.finditer(value) if m.group(2) is None}):
            found = secrets.lookup(name)
            if found is not None and not found.strip():
                self.add(
                    file,
                    key,
                    f"${{{name}}} is set but empty (environment variable or {secrets.secrets_dir()}/{name}): give it"
                    f" its value (a blank Kubernetes Secret key or an empty file is empty too)"
                    + ("" if secret else f", or write ${{{name}:-}} where empty is meant"),
                )
        resolved, missing, broken = secrets.resolve_url(value, secret=secret)
        for name in missing:
            self.add(
                file,
                key,
                f"${{{name}}} is not set (environment variable or {secrets.secrets_dir()}/{name})",
            )
        for name, part in broken:  # the value is never shown: it may be (or hold) a secret
            self.add(file, key, url_template.breaks_message(name, part))
        if secret and not missing and 0 < len(resolved.strip()) < secrets.MIN_LENGTH:
            self.add(
                file,
                key,
                f"{value.strip()} is {len(resolved.strip())} character(s): a secret shorter than"
                f" {secrets.MIN_LENGTH} cannot be masked in logs without mangling them; use the real credential",
            )
        return resolved


def _secret_fields(model: type[BaseModel]) -> set[str]:
    return {name for name, f in model.model_fields.items() if f.annotation in (SecretStr, SecretStr | None)}


def _connector_entry(c: _Collector, file: str, name: str, raw: Any) -> ConnectorEntry | None:
    key = f"connectors.{name}"
    if not isinstance(raw, dict):
        c.add(file, key, "must be a table")
        return None
    kind = raw.get("type", name)
    try:
        cls = registry.load(kind)
    except FatalError as exc:
        c.add(file, f"{key}.type", str(exc))
        return None
    body = {k: v for k, v in raw.items() if k != "type"}
    before = len(c.issues)
    resolved = c.resolve_refs(body, file, key, frozenset(f"{key}.{s}" for s in _secret_fields(cls.settings_model)))
    ok = len(c.issues) == before
    try:
        settings = cls.settings_model.model_validate(resolved)
    except ValidationError as exc:
        c.issues.extend(pydantic_issues(file, key, exc, model=cls.settings_model))
        return None
    return ConnectorEntry(name, kind, settings, file) if ok else None


EXTENSION_SECTIONS = frozenset({"alerts", "routing", "digest", "daemon", "actions", "outcomes", "report"})


# the dotted keys of every secret in config.toml's sections (`*`: any table name or list index); the connectors'
# are per entry (_connector_entry). Written out, not derived from the models at load time (that imports every
# section's model, ~0.4 s on each command): test_config_references holds it equal to
# config_reference.section_secrets(), the fields the models mark secret (SecretStr or `x-secret`) and the docs show.
SECTION_SECRETS = frozenset({"daemon.viewer_token", "daemon.ops_alert_webhook"})


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate config.toml and every mapping; raise ConfigError listing all problems."""
    path = Path(path or os.environ.get("SYNCER_CONFIG") or "config.toml")
    shown = openable(path)
    c = _Collector()
    raw = c.read_toml(path, shown)
    if raw is None:
        if not path.exists():
            c.issues[-1] = ConfigIssue(shown, "", f"file not found{_config_fix()}")
        raise ConfigError(c.issues)
    allowed = {"syncer", "warehouse", "connectors", "scoring", *EXTENSION_SECTIONS}
    for key in raw.keys() - allowed:
        c.add(shown, key, f"unknown section{_did_you_mean(key, allowed)}")
    # every section but [connectors] (resolved per entry, against its type's secrets) with ${NAME} resolved
    secret_keys = SECTION_SECRETS
    resolved = {k: v if k == "connectors" else c.resolve_refs(v, shown, k, secret_keys) for k, v in raw.items()}
    app = _validate(c, shown, "syncer", AppSettings, resolved.get("syncer", {}))
    warehouse_raw = resolved.get("warehouse")
    if warehouse_raw is None:
        c.add(shown, "warehouse", "required section is missing")
    warehouse = _validate(c, shown, "warehouse", WarehouseConfig, warehouse_raw) if warehouse_raw else None
    connectors = {}
    for name, body in (raw.get("connectors") or {}).items():
        entry = _connector_entry(c, shown, name, body)
        if entry is not None:
            connectors[name] = entry
    syncs, sync_files = _load_syncs(c, path, app, raw.get("connectors") or {})
    c.issues += shared_record_issues(syncs, sync_files, connectors)
    scoring = _validate(c, shown, "scoring", ScoringConfig, resolved.get("scoring") or {})
    if c.issues or app is None or warehouse is None or scoring is None:
        # the core sections failed: still report every other section's problems in the same error
        from syncer.daemon.settings import daemon_issues, section_issues

        known = {i.key for i in c.issues}  # a missing ${NAME} is already reported by resolve_refs
        more = daemon_issues(resolved, shown)[1] + section_issues(resolved, shown, None)
        c.issues += [i for i in more if i.key not in known]
        raise ConfigError(c.issues)
    return Config(path, app, warehouse, connectors, syncs, sync_files, resolved, scoring)


def _validate(c: _Collector, file: str, key: str, model: type[Any], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        c.issues.extend(pydantic_issues(file, key, exc, model=model))
        return None


def _default_mode(raw: dict[str, Any], connectors: dict[str, Any]) -> None:
    """A mapping without `mode` takes `upsert`, unless its connector object takes one other mode only
    (task objects, Slack and email: `insert`), which it then takes: leaving `mode` out is never an error."""
    if "mode" in raw or not isinstance(raw.get("connector"), str) or not isinstance(raw.get("object"), str):
        return
    entry_type = (connectors.get(raw["connector"]) or {}).get("type", raw["connector"])
    if entry_type not in registry.available():
        return
    modes = registry.load(entry_type).modes_for(raw["object"])
    if "upsert" not in modes and len(modes) == 1:
        raw["mode"] = next(iter(modes))


def _load_syncs(
    c: _Collector, config_path: Path, app: AppSettings | None, connectors: dict[str, Any]
) -> tuple[dict[str, SyncConfig], dict[str, str]]:
    directory = config_path.parent / (app.mappings if app else "mappings")
    syncs: dict[str, SyncConfig] = {}
    files: dict[str, str] = {}
    if not directory.is_dir():
        c.add(str(config_path), "syncer.mappings", f"mappings directory {directory} does not exist")
        return syncs, files
    for file in sorted(directory.glob("*.toml")):
        shown = openable(file)
        raw = c.read_toml(file, shown)
        if raw is None:
            continue
        raw.setdefault("name", file.stem)
        _default_mode(raw, connectors)
        sync = _validate(c, shown, "", SyncConfig, raw)
        if sync is None:
            continue
        if sync.name in syncs:
            c.add(shown, "name", f"duplicate sync name {sync.name!r} (also in {files[sync.name]})")
            continue
        entry_type = (connectors.get(sync.connector) or {}).get("type", sync.connector)
        if sync.connector in connectors and entry_type in registry.available():
            connector_class = registry.load(entry_type)
            modes = connector_class.modes_for(sync.object)
            if sync.mode not in modes:
                what = f"connector {entry_type!r}"
                if not connector_class.match_identifies(sync.object):
                    what += (
                        f" object {sync.object!r} (its match value is the parent record it attaches to, not the"
                        " record; each row is created once, by its primary key)"
                    )
                c.add(
                    shown, "mode", f"{what} does not support mode {sync.mode!r} (supported: {', '.join(sorted(modes))})"
                )
        if sync.connector not in connectors:
            c.add(
                shown,
                "connector",
                f"no connector {sync.connector!r} in config.toml [connectors]"
                f"{_did_you_mean(sync.connector, connectors)}",
            )
        if sync.model.sql_file and not (file.parent / sync.model.sql_file).is_file():
            c.add(shown, "model.sql_file", f"file {sync.model.sql_file!r} not found next to the mapping")
        syncs[sync.name] = sync
        files[sync.name] = shown
    return syncs, files


# the warehouses whose `updated_at` window syncer reads (warehouse_diff.dialects.DIALECTS; SQLite has none)
WINDOW_WAREHOUSES = ("bigquery", "duckdb", "postgresql", "snowflake")


def warehouse_backend(url: str) -> str:
    """The SQLAlchemy backend of a warehouse URL (`sqlite`, `duckdb`, `postgresql`, ...); "" when it is not one."""
    try:
        return sa.engine.make_url(url).get_backend_name()
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is no number (url_template.unreadable)
        return ""


UPDATED_AT_MODES = ("columnar", "warehouse")  # the diff modes that read `model.updated_at` (see their windows)


def ignored_updated_at(sync: SyncConfig, warehouse: WarehouseConfig) -> str | None:
    """Why `model.updated_at` does nothing for this sync (its diff mode reads the whole model), with the
    fix; None when it is read or not set. A warning, not an error: every mode plans the same changes,
    so a sync switched to another mode for a while stays correct, only slower."""
    mode = sync.diff or warehouse.diff
    if not sync.model.updated_at:
        return None
    backend = warehouse_backend(warehouse.url)
    if mode in UPDATED_AT_MODES and backend not in WINDOW_WAREHOUSES:
        return (
            f"model.updated_at: ignored on {backend} (it keeps timestamps as text, so no window is read): every diff "
            "reads the whole model; remove updated_at, or use a warehouse that reads it "
            f"({', '.join(WINDOW_WAREHOUSES)})"
        )
    if mode in UPDATED_AT_MODES:
        return None
    where = "this mapping's diff" if sync.diff else "[warehouse] diff in config.toml"
    return (
        f'model.updated_at: read by diff = "columnar" (the default) and "warehouse" only; this sync diffs "{mode}" '
        f'({where}) and reads the whole model: add diff = "columnar" to this mapping, or remove updated_at'
    )


def _config_fix() -> str:
    """How to point syncer at its config: `-c PATH` or SYNCER_CONFIG, and the demo's when it is here."""
    demo = Path("syncer-demo") / "config.toml"  # where `syncer demo` writes it (syncer.demo)
    hint = f"; the demo's: -c {demo}" if demo.is_file() else ""
    return f" (pass -c PATH or set SYNCER_CONFIG{hint})"


def openable(path: Path) -> str:
    """`path` as the user gave it (`-c`, SYNCER_CONFIG; a mapping: below the config's folder as given), which
    opens from where they ran syncer: every command and every section names a file this one way, relative
    when given relative, absolute when given absolute."""
    return str(path)


def unknown_column_issues(file: str, sync: SyncConfig, columns: Iterable[str]) -> list[ConfigIssue]:
    """Mapping references to columns the model does not have, with a did-you-mean hint."""
    available = {col: col for col in columns}  # exact: rows are keyed by these very names
    issues = []
    for column, key in sync.columns().items():
        if column not in available:
            issues.append(
                ConfigIssue(file, key, f"unknown column {column!r}{_did_you_mean(column, available.values())}")
            )
    return issues
