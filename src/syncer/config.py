"""Configuration: `config.toml` plus one `mappings/*.toml` per sync, validated all at once.

Every problem is collected (TOML syntax, unknown keys, wrong types, missing or literal secrets,
unknown connectors, duplicate sync names) and raised together as one ConfigError whose lines each
name the file and the dotted key. The result is frozen: nothing changes config after start-up.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from syncer import registry, secrets
from syncer.connector import ConnectorSettings, Destination, Mode
from syncer.errors import ConfigError, ConfigIssue, FatalError
from syncer.mapping import FieldSpec, NullPolicy, parse_field
from syncer.scoring.model import ScoringConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Strict):
    data_dir: Path = Path(".syncer")
    state_url: str | None = None  # default: SQLite file in data_dir
    mappings: str = "mappings"  # directory (relative to config.toml) holding one TOML per sync
    audit_retention_days: int = Field(default=90, ge=1)
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class WarehouseConfig(_Strict):
    url: str
    connect_args: dict[str, Any] = Field(default_factory=dict)
    stream_batch: int = Field(default=5000, ge=100)


class ModelConfig(_Strict):
    """A table, an inline query or a .sql file, with its primary key (one or more columns)."""

    table: str | None = None
    query: str | None = None
    sql_file: str | None = None
    primary_key: list[str]

    @field_validator("primary_key", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        given = [n for n in ("table", "query", "sql_file") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of 'table', 'query' or 'sql_file'")
        if not self.primary_key:
            raise ValueError("primary_key needs at least one column")
        return self


class MatchConfig(_Strict):
    field: str  # destination field / property that identifies a record (external ID, unique property)
    column: str  # source column holding its value


class ScheduleConfig(_Strict):
    cron: str | None = None
    every_minutes: float | None = Field(default=None, gt=0)
    timezone: str = "UTC"
    after: list[str] = Field(default_factory=list)  # jobs that must run first (e.g. "score")


class SyncConfig(_Strict):
    name: str
    connector: str
    object: str
    mode: Mode = "upsert"
    model: ModelConfig
    match: MatchConfig
    fields: dict[str, FieldSpec]
    null_policy: NullPolicy = "skip"
    max_delete_share: float = Field(default=0.25, ge=0, le=1)  # mirror: hold deletes when more leave at once
    schedule: ScheduleConfig | None = None
    description: str = ""

    @field_validator("fields", mode="before")
    @classmethod
    def _parse_fields(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: parse_field(v) if isinstance(v, str) else v for k, v in value.items()}
        return value

    def columns(self) -> dict[str, str]:
        """Every source column the mapping reads -> the mapping key that reads it."""
        used = {c: "model.primary_key" for c in self.model.primary_key}
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

    def sync(self, name: str) -> SyncConfig:
        if name not in self.syncs:
            hint = _did_you_mean(name, self.syncs)
            raise ConfigError([ConfigIssue(str(self.path), "", f"no sync named {name!r}{hint}")])
        return self.syncs[name]


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _loc(parts: Iterable[Any]) -> str:
    return ".".join(str(p) for p in parts if p not in ("function-after", "function-before"))


def pydantic_issues(file: str, prefix: str, exc: ValidationError, hidden: str | None = None) -> list[ConfigIssue]:
    """pydantic's errors as ConfigIssues keyed `prefix.loc` (a leading `hidden` level is left out of the key)."""
    issues = []
    for err in exc.errors():
        loc = err["loc"][1:] if hidden is not None and err["loc"][:1] == (hidden,) else err["loc"]
        key = _loc([prefix, *loc] if prefix else loc)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        issues.append(ConfigIssue(file, key, message))
    return issues


class _Collector:
    def __init__(self) -> None:
        self.issues: list[ConfigIssue] = []

    def add(self, file: str, key: str, message: str) -> None:
        self.issues.append(ConfigIssue(file, key, message))

    def read_toml(self, path: Path, shown: str) -> dict[str, Any] | None:
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.add(shown, "", "file not found")
        except tomllib.TOMLDecodeError as exc:
            self.add(shown, "", f"invalid TOML: {exc}")
        except (OSError, UnicodeDecodeError) as exc:
            self.add(shown, "", f"cannot read: {exc}")
        return None

    def resolve_refs(self, value: Any, file: str, key: str) -> Any:
        """Resolve ${NAME} in every string of a parsed TOML tree, reporting missing names."""
        if isinstance(value, dict):
            return {k: self.resolve_refs(v, file, f"{key}.{k}" if key else k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve_refs(v, file, f"{key}.{i}") for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            resolved, missing = secrets.resolve(value)
            for name in missing:
                self.add(
                    file,
                    key,
                    f"${{{name}}} is not set (environment variable or {secrets.secrets_dir()}/{name})",
                )
            return resolved
        return value


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
    ok = True
    for secret in sorted(_secret_fields(cls.settings_model) & body.keys()):
        value = body[secret]
        if not (isinstance(value, str) and secrets.is_reference(value)):
            c.add(
                file,
                f"{key}.{secret}",
                "secrets may not be written in TOML; use ${ENV_NAME} "
                "(read from the environment or /run/secrets/ENV_NAME)",
            )
            ok = False
    resolved = c.resolve_refs(body, file, key)
    try:
        settings = cls.settings_model.model_validate(resolved)
    except ValidationError as exc:
        c.issues.extend(pydantic_issues(file, key, exc))
        return None
    return ConnectorEntry(name, kind, settings, file) if ok else None


EXTENSION_SECTIONS = frozenset({"alerts", "routing", "digest", "daemon", "actions", "outcomes", "report"})


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate config.toml and every mapping; raise ConfigError listing all problems."""
    path = Path(path or os.environ.get("SYNCER_CONFIG") or "config.toml")
    shown = str(path)
    c = _Collector()
    raw = c.read_toml(path, shown)
    if raw is None:
        raise ConfigError(c.issues)
    allowed = {"syncer", "warehouse", "connectors", "scoring", *EXTENSION_SECTIONS}
    for key in raw.keys() - allowed:
        c.add(shown, key, f"unknown section{_did_you_mean(key, allowed)}")
    app = _validate(c, shown, "syncer", AppSettings, raw.get("syncer", {}))
    warehouse_raw = c.resolve_refs(raw.get("warehouse"), shown, "warehouse")
    if warehouse_raw is None:
        c.add(shown, "warehouse", "required section is missing")
    warehouse = _validate(c, shown, "warehouse", WarehouseConfig, warehouse_raw) if warehouse_raw else None
    connectors = {}
    for name, body in (raw.get("connectors") or {}).items():
        entry = _connector_entry(c, shown, name, body)
        if entry is not None:
            connectors[name] = entry
    syncs, sync_files = _load_syncs(c, path, app, raw.get("connectors") or {})
    scoring = _validate(c, shown, "scoring", ScoringConfig, raw.get("scoring") or {})
    if c.issues or app is None or warehouse is None or scoring is None:
        raise ConfigError(c.issues)
    # sections the alert, daemon and outcome modules validate themselves: hand them over with ${NAME} resolved
    resolved = {k: c.resolve_refs(v, shown, k) if k in EXTENSION_SECTIONS else v for k, v in raw.items()}
    if c.issues:
        raise ConfigError(c.issues)
    return Config(path, app, warehouse, connectors, syncs, sync_files, resolved, scoring)


def _validate(c: _Collector, file: str, key: str, model: type[Any], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        c.issues.extend(pydantic_issues(file, key, exc))
        return None


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
        shown = str(file.relative_to(config_path.parent)) if file.is_relative_to(config_path.parent) else str(file)
        raw = c.read_toml(file, shown)
        if raw is None:
            continue
        raw.setdefault("name", file.stem)
        sync = _validate(c, shown, "", SyncConfig, raw)
        if sync is None:
            continue
        if sync.name in syncs:
            c.add(shown, "name", f"duplicate sync name {sync.name!r} (also in {files[sync.name]})")
            continue
        entry_type = (connectors.get(sync.connector) or {}).get("type", sync.connector)
        if sync.connector in connectors and entry_type in registry.available():
            modes = registry.load(entry_type).modes
            if sync.mode not in modes:
                c.add(
                    shown,
                    "mode",
                    f"connector {entry_type!r} does not support mode {sync.mode!r} "
                    f"(supported: {', '.join(sorted(modes))})",
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


def unknown_column_issues(file: str, sync: SyncConfig, columns: Iterable[str]) -> list[ConfigIssue]:
    """Mapping references to columns the model does not have, with a did-you-mean hint."""
    available = {col.lower(): col for col in columns}
    issues = []
    for column, key in sync.columns().items():
        if column.lower() not in available:
            issues.append(
                ConfigIssue(file, key, f"unknown column {column!r}{_did_you_mean(column, available.values())}")
            )
    return issues
