"""Syncs that state holds records of but no mapping defines (adv9w #2): a renamed or removed sync orphans
its records, and nothing said so. `check` (a problem, exit 2) and `status` (exit 1) name each such sync with
its record counts and the fix; `syncer forget --sync NAME`, the documented way out, drops its state."""

from __future__ import annotations

import re

from syncer_connectors.webhook.emulator import WebhookReceiver

from tests.engine.conftest import Project, create_accounts

# (case, mapping files renamed (old -> new), command, exit code, words the output must hold (spaces folded))
CASES = [
    ("nothing renamed: status is clean", {}, ("status",), 0, ["accounts", "upsert", "300"]),
    (
        "renamed: check names the orphan",
        {"accounts": "accounts_v2"},
        ("check",),
        2,
        [
            "sync 'accounts': state holds 300 records of it but no mapping defines it",
            "`syncer forget --sync accounts`",
            "mappings/accounts.toml again",
        ],
    ),
    (
        "renamed: status lists it with its counts",
        {"accounts": "accounts_v2"},
        ("status",),
        1,
        ["no mapping", "sync 'accounts': state holds 300 records"],
    ),
    (
        "renamed: status --json",
        {"accounts": "accounts_v2"},
        ("status", "--json"),
        1,
        ["'sync': 'accounts', 'mode': None, 'records': 300, 'departed': 0, 'rejected': 0, 'defined': False"],
    ),
    (
        "forget --sync of a defined sync is refused",
        {},
        ("forget", "--sync", "accounts"),
        2,
        ["would send every row again as new"],
    ),
    (
        "forget --sync of a name state does not hold",
        {"accounts": "accounts_v2"},
        ("forget", "--sync", "nope"),
        2,
        ["state holds no records of a sync 'nope'; syncs no mapping defines: accounts"],
    ),
    ("forget without KEY or --sync", {}, ("forget",), 2, ["give a KEY, or --sync NAME alone"]),
    (
        "renamed, then forget --sync: dropped",
        {"accounts": "accounts_v2"},
        ("forget", "--sync", "accounts"),
        0,
        ["forgot sync 'accounts': 300 records, 0 departed, 0 rejected dropped from state"],
    ),
]


def _said(out: object, err: str) -> str:
    return re.sub(r"\s+", " ", f"{out} {err}")


def test_orphaned_syncs_are_named_with_the_fix(project: Project, receiver: WebhookReceiver) -> None:
    code, out, err = project.cli("run", "accounts", "--json")
    assert code == 0 and out["succeeded"] == 300, err
    mappings = project.root / "mappings"
    for case, renames, command, want, words in CASES:
        for old, new in renames.items():
            (mappings / f"{old}.toml").rename(mappings / f"{new}.toml")
        code, out, err = project.cli(*command)
        said = _said(out, err)
        assert code == want, (case, code, said)
        assert all(w in said for w in words), (case, said)
        for old, new in renames.items():  # back as it was, unless the case forgot the old sync
            (mappings / f"{new}.toml").rename(mappings / f"{old}.toml")
    code, out, err = project.cli("status", "--json")  # forgotten: the defined sync starts anew, nothing orphaned
    assert code == 0 and out["syncs"][0]["records"] == 0 and out["orphaned"] == [], (out, err)


def test_the_adversarys_run_as_processes(project: Project, receiver: WebhookReceiver) -> None:
    """adv9w #1 and #2 as a user meets them, every command its own process: an upsert sync's row leaves the
    model (kept as departed, shown by status), the sync is renamed (check and status name the old one), the old
    name is switched back to mirror (its departed record is deleted), and a sync removed is forgotten."""

    def syncer(*args: str) -> tuple[int, str]:
        proc = project.subprocess(*args)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, _said(out, err)

    assert syncer("run", "accounts")[0] == 0
    create_accounts(project.warehouse_url, 299, start=2)  # account 1 leaves the model
    code, said = syncer("run", "accounts", "--json")
    assert code == 0 and '"left_model": 1' in said and '"departed": 1' in said and "1" in receiver.records, said
    code, said = syncer("status")
    assert (
        code == 0 and "accounts upsert 299 1 0" in said and "1 record left the model, still at the destination" in said
    ), said
    mapping = project.root / "mappings" / "accounts.toml"
    mapping.write_text(mapping.read_text().replace('mode = "upsert"', 'mode = "mirror"'))
    code, said = syncer("run", "accounts", "--json")
    assert code == 0 and '"removed": 1' in said and '"departed": 0' in said and "1" not in receiver.records, said
    mapping.rename(mapping.with_name("accounts_v2.toml"))
    code, said = syncer("check")
    assert code == 2 and "sync 'accounts': state holds 299 records of it but no mapping defines it" in said, said
    code, said = syncer("forget", "--sync", "accounts")
    assert code == 0 and "299 records" in said, said
    code, said = syncer("status")
    assert code == 0 and "accounts_v2 mirror 0 0" in said and "no mapping" not in said, said
