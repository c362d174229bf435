"""A non-editable install (`pip install .`, the container) ships every module and every file the code opens.

The packages are listed in pyproject.toml (two roots, one renamed: discovery cannot do it), so a new folder can
be forgotten: `syncer.intraday` was, and only an editable install worked. This walks both roots and checks
every folder is a listed package and every non-Python file matches its package's package-data patterns."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _shipped() -> tuple[dict[str, Path], dict[str, list[str]]]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = {name: ROOT / folder for name, folder in setuptools["package-dir"].items()}
    packages = {}
    for package in setuptools["packages"]:
        top, *rest = package.split(".")
        packages[package] = roots[top].joinpath(*rest)
    return packages, setuptools.get("package-data", {})


def test_every_folder_is_a_package_and_every_data_file_is_package_data() -> None:
    packages, data = _shipped()
    folders = {path.resolve(): name for name, path in packages.items()}
    missing, unshipped = [], []
    for name, folder in (("syncer", ROOT / "src" / "syncer"), ("syncer_connectors", ROOT / "connectors")):
        for path in sorted(folder.rglob("*")):
            if "__pycache__" in path.parts or (path.is_dir() and not any(path.iterdir())):
                continue
            parent = path.parent if path.is_file() else path
            if parent.resolve() not in folders and not path.is_file():
                missing.append(f"{name}.{'.'.join(parent.relative_to(folder).parts)}")
                continue
            if path.is_file() and path.suffix not in (".py", ".pyc", ".md"):  # a README is read in the repository
                package = folders.get(path.parent.resolve())
                patterns = data.get(package or "", [])
                if not any(fnmatch.fnmatch(path.name, p) for p in patterns):
                    unshipped.append(str(path.relative_to(ROOT)))
    assert not missing, f"folders no wheel carries (add them to [tool.setuptools] packages): {missing}"
    assert not unshipped, f"files no wheel carries (add them to [tool.setuptools.package-data]): {unshipped}"


def test_the_license_is_an_spdx_expression() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"  # a table ({text = ...}) is deprecated by setuptools (PEP 639)


def _pins() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(pair) == 2 for pair in pairs), "constraints.txt holds only name==version lines"
    return {canonicalize_name(name): version for name, version in pairs}


def test_every_dependency_is_pinned_to_a_version_its_range_allows() -> None:
    """`make setup`, CI and the container install the tested set: each requirement of pyproject.toml (runtime,
    every extra, dev) has a pin in constraints.txt, and the pin is inside the range pyproject allows."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    pins = _pins()
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == "syncer":  # the project's own extras (dev = syncer[postgres,...])
            continue
        if name not in pins:
            problems.append(f"{requirement.name}: not pinned")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement.name}: pinned {pins[name]}, pyproject allows {requirement.specifier}")
    assert not problems, f"constraints.txt out of step with pyproject.toml (run `make constraints`): {problems}"


def test_setup_and_the_container_install_with_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert '-e ".[dev]" -c constraints.txt' in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-c constraints.txt" in dockerfile and "constraints.txt ./" in dockerfile
    assert "!constraints.txt" in (ROOT / ".dockerignore").read_text().splitlines()
