"""Bad input, part 1: every malformed config or mapping exits 2 with one line per problem naming
the file and the dotted key, and never a traceback. Each case runs through the real CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import SECRET, Project

CFG = "config.toml"
MAP = "mappings/accounts.toml"


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """One receiver for the module (nothing here reaches it; stopping one costs half a second)."""
    with WebhookReceiver(SECRET) as rx:
        yield rx


def _path(project: Project, rel: str) -> Path:
    return project.config if rel == CFG else project.root / rel


def replace(rel: str, old: str, new: str) -> Callable[[Project], None]:
    def edit(project: Project) -> None:
        path = _path(project, rel)
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"  # the fixture changed: the case would test nothing
        path.write_text(text.replace(old, new, 1))

    return edit


def append(rel: str, text: str) -> Callable[[Project], None]:
    def edit(project: Project) -> None:
        path = _path(project, rel)
        path.write_text(path.read_text() + text)

    return edit


def all_of(*edits: Callable[[Project], None]) -> Callable[[Project], None]:
    def edit(project: Project) -> None:
        for e in edits:
            e(project)

    return edit


def second_mapping(name_line: str, connector: str = "hook") -> Callable[[Project], None]:
    def edit(project: Project) -> None:
        text = (project.root / MAP).read_text().replace('connector = "hook"', f"connector = {connector!r}")
        (project.root / "mappings" / "more.toml").write_text(name_line + text)

    return edit


def slack_chat(project: Project) -> None:
    """A second connector of a type that does not support `mirror`."""
    project.config.write_text(
        project.config.read_text() + '\n[connectors.chat]\ntype = "slack"\nbot_token = "${HOOK_SECRET}"\n'
    )


def warehouse(url: str) -> Callable[[Project], None]:
    def edit(project: Project) -> None:
        replace(CFG, f'url = "{project.warehouse_url}"', f'url = "{url}"')(project)

    return edit


def unlink(rel: str) -> Callable[[Project], None]:
    def edit(project: Project) -> None:
        _path(project, rel).unlink()

    return edit


def rmtree_mappings(project: Project) -> None:
    for f in (project.root / "mappings").iterdir():
        f.unlink()
    (project.root / "mappings").rmdir()


@dataclass(frozen=True)
class Case:
    id: str
    edit: Callable[[Project], None]
    expect: tuple[str, ...]  # each must appear in stderr (whitespace-normalised): "file: key: message"
    commands: tuple[tuple[str, ...], ...] = (("check",), ("plan", "accounts"))


PLAN = (("plan", "accounts"),)
CHECK = (("check",),)

CASES = [
    Case(
        "toml-syntax-config",
        append(CFG, "\n[broken\nx = 1\n"),
        (f"{CFG}: invalid TOML:", "(at line"),
    ),
    Case(
        "toml-syntax-mapping",
        append(MAP, "\nlabel = = 1\n"),
        (f"{MAP}: invalid TOML:", "(at line"),
    ),
    Case(
        "unknown-top-level-section",
        append(CFG, '\n[wherehouse]\nurl = "x"\n'),
        (f"{CFG}: wherehouse: unknown section (did you mean 'warehouse'?)",),
    ),
    Case(
        "unknown-key-in-syncer",
        replace(CFG, 'data_dir = "data"', 'data_dir = "data"\nbatchsize = 3'),
        (f"{CFG}: syncer.batchsize: unknown key",),
    ),
    Case(
        "batch-size-not-an-int",
        replace(CFG, "batch_size = 100", 'batch_size = "ten"'),
        (f"{CFG}: connectors.hook.batch_size: Input should be a valid integer",),
    ),
    Case(
        "audit-retention-zero",
        replace(CFG, 'data_dir = "data"', 'data_dir = "data"\naudit_retention_days = 0'),
        (f"{CFG}: syncer.audit_retention_days: Input should be greater than or equal to 1",),
    ),
    Case(
        "log-level-unknown",
        replace(CFG, 'data_dir = "data"', 'data_dir = "data"\nlog_level = "loud"'),
        (f"{CFG}: syncer.log_level: Input should be",),
    ),
    Case(
        "missing-warehouse-section",
        replace(CFG, "[warehouse]\nurl = ", "wh_url = "),
        (f"{CFG}: warehouse: required section is missing",),
    ),
    Case(
        "missing-warehouse-url",
        replace(CFG, 'url = "sqlite', 'stream_batch = 1000\nxurl = "sqlite'),
        (f"{CFG}: warehouse.xurl: unknown key (did you mean 'url'?)",),  # one issue for one typo
    ),
    Case(
        "missing-secret-env-var",
        replace(CFG, "${HOOK_SECRET}", "${NO_SUCH_SECRET}"),
        (f"{CFG}: connectors.hook.signing_secret: ${{NO_SUCH_SECRET}} is not set",),
    ),
    Case(
        "literal-secret-in-toml",
        replace(CFG, '"${HOOK_SECRET}"', '"abc"'),
        (f"{CFG}: connectors.hook.signing_secret: secrets may not be written in TOML",),
    ),
    Case(
        "unknown-connector-type",
        replace(CFG, 'type = "webhook"', 'type = "webhok"'),
        (f"{CFG}: connectors.hook.type: unknown connector 'webhok'",),
    ),
    Case(
        "unknown-connector-setting",
        replace(CFG, "batch_size = 100", "batch_size = 100\nretries = 3"),
        (f"{CFG}: connectors.hook.retries: unknown key",),
    ),
    Case(
        "connector-url-not-http",
        replace(CFG, 'url = "http://', 'url = "ftp://'),
        (f"{CFG}: connectors.hook.url: must be an http:// or https:// URL",),
    ),
    Case(
        "mapping-connector-not-configured",
        replace(MAP, 'connector = "hook"', 'connector = "hooks"'),
        (f"{MAP}: connector: no connector 'hooks' in config.toml [connectors] (did you mean 'hook'?)",),
    ),
    Case(
        "mapping-missing-model",
        replace(MAP, '[model]\ntable = "accounts"\nprimary_key = "account_id"', ""),
        (f"{MAP}: model: required key is missing",),
    ),
    Case(
        "mapping-missing-match",
        replace(MAP, '[match]\nfield = "domain"\ncolumn = "domain"', ""),
        (f"{MAP}: match: required key is missing",),
    ),
    Case(
        "mapping-missing-fields",
        replace(MAP, "[fields]\n", "[unused]\n"),
        (f"{MAP}: fields: required key is missing", f"{MAP}: unused: unknown key"),
    ),
    Case(
        "mapping-unknown-key",
        replace(MAP, 'mode = "upsert"', 'mode = "upsert"\nbatch = 5'),
        (f"{MAP}: batch: unknown key",),
    ),
    Case(
        "model-table-and-query",
        replace(MAP, 'table = "accounts"', 'table = "accounts"\nquery = "SELECT * FROM accounts"'),
        (f"{MAP}: model: give exactly one of 'table', 'query' or 'sql_file'",),
    ),
    Case(
        "model-empty-primary-key",
        replace(MAP, 'primary_key = "account_id"', "primary_key = []"),
        (f"{MAP}: model: primary_key needs at least one column",),
    ),
    Case(
        "unknown-column-in-fields",
        replace(MAP, 'column = "pql_score"', 'column = "pql_scor"'),
        (f"{MAP}: fields.pql_score: unknown column 'pql_scor' (did you mean 'pql_score'?)",),
    ),
    Case(
        "unknown-column-in-shorthand-field",
        replace(MAP, 'name = "name"', 'name = "nmae"'),
        (f"{MAP}: fields.name: unknown column 'nmae' (did you mean 'name'?)",),
    ),
    Case(
        "unknown-column-in-match",
        replace(MAP, 'column = "domain"', 'column = "domian"'),
        (f"{MAP}: match.column: unknown column 'domian' (did you mean 'domain'?)",),
    ),
    Case(
        "unknown-column-in-primary-key",
        replace(MAP, 'primary_key = "account_id"', 'primary_key = "acount_id"'),
        (f"{MAP}: model.primary_key: unknown column 'acount_id' (did you mean 'account_id'?)",),
    ),
    Case(
        "template-unknown-column",
        append(MAP, 'label = { template = "{name} ({domian})" }\n'),
        (f"{MAP}: fields.label: unknown column 'domian' (did you mean 'domain'?)",),
    ),
    Case(
        "template-syntax",
        append(MAP, 'label = { template = "{name" }\n'),
        (f"{MAP}: fields.label.template: bad template",),
    ),
    Case(
        "bad-cast",
        replace(MAP, "round = 0", 'cast = "integer"'),
        (f"{MAP}: fields.pql_score.cast: Input should be 'str', 'int', 'float', 'bool', 'date' or 'datetime'",),
    ),
    Case(
        "bad-case-transform",
        replace(MAP, 'case = "upper"', 'case = "title"'),
        (f"{MAP}: fields.tier.case: Input should be 'lower' or 'upper'",),
    ),
    Case(
        "field-with-two-sources",
        append(MAP, 'label = { column = "name", const = "x" }\n'),
        (f"{MAP}: fields.label: give exactly one of 'column', 'const' or 'template'",),
    ),
    Case(
        "unknown-time-zone",
        append(MAP, 'seen = { column = "name", tz = "Mars/Olympus" }\n'),
        (f"{MAP}: fields.seen.tz: unknown time zone 'Mars/Olympus'",),
    ),
    Case(
        "duplicate-sync-name",
        second_mapping('name = "accounts"\n'),
        ("mappings/more.toml: name: duplicate sync name 'accounts' (also in ", "mappings/accounts.toml)"),
    ),
    Case(
        "sql-file-missing",
        replace(MAP, 'table = "accounts"', 'sql_file = "accounts.sql"'),
        (f"{MAP}: model.sql_file: file 'accounts.sql' not found next to the mapping",),
    ),
    Case(
        "unknown-mode",
        replace(MAP, 'mode = "upsert"', 'mode = "merge"'),
        (f"{MAP}: mode: Input should be 'upsert', 'update', 'insert' or 'mirror'",),
    ),
    Case(
        "mode-unsupported-by-connector",
        all_of(slack_chat, replace(MAP, 'connector = "hook"', 'connector = "chat"'), replace(MAP, "upsert", "mirror")),
        (f"{MAP}: mode: connector 'slack' does not support mode 'mirror' (supported: insert)",),
    ),
    Case(
        "unknown-sync-on-the-cli",
        lambda _p: None,
        (f"{CFG}: no sync named 'acounts' (did you mean 'accounts'?)",),
        (("plan", "acounts"), ("run", "acounts")),
    ),
    Case(
        "warehouse-url-invalid",
        warehouse("nosuchdb://host/analytics"),
        (f"{CFG}: warehouse.url:",),
    ),
    Case(
        "warehouse-unreachable",
        warehouse("sqlite:////nonexistent-dir/warehouse.sqlite"),
        (f"{CFG}: warehouse.url:", "no database file at /nonexistent-dir/warehouse.sqlite", "check the path"),
        CHECK,
    ),
    Case(
        "warehouse-postgres-unreachable",
        warehouse("postgresql+psycopg://syncer@127.0.0.1:1/analytics"),
        (f"{CFG}: warehouse.url:", "Connection refused"),
        CHECK,
    ),
    Case(
        "config-file-not-found",
        unlink(CFG),
        (f"{CFG}: file not found",),
    ),
    Case(
        "mappings-dir-missing",
        rmtree_mappings,
        (f"{CFG}: syncer.mappings: mappings directory", "does not exist"),
        CHECK,
    ),
    Case(
        "several-errors-reported-together",
        all_of(
            second_mapping('name = "more"\n', connector="nowhere"),
            replace(CFG, 'data_dir = "data"', 'data_dir = "data"\nlog_level = "loud"'),
            replace(CFG, "batch_size = 100", "batch_size = 0"),
            replace(MAP, 'mode = "upsert"', 'mode = "merge"'),
            append(MAP, 'label = { column = "name", cast = "integer" }\n'),
        ),
        (
            f"{CFG}: syncer.log_level: Input should be",
            f"{CFG}: connectors.hook.batch_size: Input should be greater than or equal to 1",
            f"{MAP}: mode: Input should be",
            f"{MAP}: fields.label.cast: Input should be",
            "mappings/more.toml: connector: no connector 'nowhere'",
        ),
    ),
    Case(
        "several-column-errors-reported-together",
        all_of(
            replace(MAP, 'column = "pql_score"', 'column = "pql_scor"'),
            replace(MAP, 'column = "domain"', 'column = "domian"'),
            replace(MAP, 'primary_key = "account_id"', 'primary_key = "acount_id"'),
        ),
        (
            f"{MAP}: fields.pql_score: unknown column 'pql_scor' (did you mean 'pql_score'?)",
            f"{MAP}: match.column: unknown column 'domian' (did you mean 'domain'?)",
            f"{MAP}: model.primary_key: unknown column 'acount_id' (did you mean 'account_id'?)",
        ),
    ),
]


def _flat(text: str) -> str:
    """Without any whitespace: these cases check content; line wrapping has its own test below."""
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_config_exits_2_naming_file_and_key(project: Project, case: Case) -> None:
    case.edit(project)
    for command in case.commands:
        code, out, err = project.cli(*command)
        shown = f"$ syncer {' '.join(command)} -> exit {code}\nstdout: {out}\nstderr: {err}"
        assert code == 2, shown
        assert "Traceback" not in f"{out}{err}", shown
        assert "internal error" not in err, shown
        for expected in case.expect:
            assert _flat(expected) in _flat(err), f"missing {expected!r}\n{shown}"


def test_several_mapping_errors_come_out_at_once_with_the_first_file_still_valid(project: Project) -> None:
    """A broken second mapping does not hide the errors of the first, and vice versa."""
    replace(MAP, "round = 0", 'cast = "integer"')(project)
    (project.root / "mappings" / "other.toml").write_text('connector = "hook"\nobject = "x"\n')
    code, _, err = project.cli("check")
    assert code == 2, err
    flat = _flat(err)
    assert _flat(f"{MAP}: fields.pql_score.cast:") in flat, err
    for key in ("model", "match", "fields"):
        assert _flat(f"mappings/other.toml: {key}: required key is missing") in flat, err


def _problem_lines(stderr: str) -> list[str]:
    return [re.sub(r"^(config error|problem|error) ", "", line) for line in stderr.splitlines() if line.strip()]


def test_each_problem_is_one_unbroken_line_in_a_real_process(project: Project) -> None:
    """A container's stderr is not a terminal: a problem must not be wrapped at 80 columns (or have
    its `[section]` eaten as markup), so that `grep config.toml:` finds the whole message."""
    replace(CFG, 'data_dir = "data"', 'data_dir = "data"\naudit_retention_days = 0')(project)
    replace(MAP, 'connector = "hook"', 'connector = "hooks"')(project)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(HOOK_SECRET=SECRET, SYNCER_CONFIG=str(project.config))
    proc = subprocess.run(
        [sys.executable, "-m", "syncer", "plan", "accounts"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = _problem_lines(proc.stderr)
    for expected in (
        f"{project.config}: syncer.audit_retention_days: Input should be greater than or equal to 1",
        f"{project.root / MAP}: connector: no connector 'hooks' in config.toml [connectors] (did you mean 'hook'?)",
    ):
        assert expected in lines, proc.stderr


def test_config_path_from_option_and_env(project: Project) -> None:
    """`--config` wins over SYNCER_CONFIG; a missing path from either is a clean exit 2."""
    missing = project.root / "nowhere" / "config.toml"
    code, _, err = project.cli("check", "--config", str(missing))
    assert code == 2 and _flat(f"{missing}: file not found") in _flat(err), err
    project.env["SYNCER_CONFIG"] = str(missing)
    code, _, err = project.cli("plan", "accounts")
    assert code == 2 and _flat(f"{missing}: file not found") in _flat(err), err
    code, out, err = project.cli("check", "--config", str(project.config))
    assert code == 0, (out, err)
