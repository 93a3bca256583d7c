"""Layout guardrails of DESIGN.md section 2."""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hybrid", "indexes", "fusion", "api", "evals")


def _sources():
    for package in PACKAGES:
        yield from (ROOT / package).rglob("*.py")


def test_packages_resolve_inside_the_repo() -> None:
    for package in PACKAGES:
        module = importlib.import_module(package)
        assert Path(module.__file__).resolve().parent == ROOT / package


def test_top_level_is_fixed() -> None:
    allowed = {"pyproject.toml", "README.md", "Makefile", "requirements.lock", *PACKAGES, "tests", "datasets"}
    found = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")} - {"data", "build", "dist", "out"}
    found = {n for n in found if not n.endswith(".egg-info")}
    assert found <= allowed, found - allowed


def test_datasets_hold_no_python() -> None:
    assert not list((ROOT / "datasets").rglob("*.py"))
    assert (ROOT / "datasets" / "msmarco-5k" / "PROVENANCE.md").exists()


def test_absolute_imports_only_and_no_foreign_private_modules() -> None:
    for path in _sources():
        package = path.relative_to(ROOT).parts[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: relative import"
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] in PACKAGES and parts[0] != package:
                    private = [p for p in parts[1:] if p.startswith("_") and not p.endswith("__")]
                    assert not private, f"{path} imports another package's private module {name}"


def test_numba_only_in_kernels_modules() -> None:
    for path in _sources():
        if path.name.endswith("_kernels.py"):
            continue
        text = path.read_text()
        assert "import numba" not in text and "from numba" not in text, f"{path} uses numba outside _kernels.py"


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_the_lock_covers_pyproject_and_is_what_is_installed() -> None:
    """make setup installs requirements.lock exactly; a stale lock or a drifted venv fails here
    (refresh with `make lock`, then run the suite)."""
    from importlib import metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)]
    names = {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0]).lower() for d in wanted}
    pins = _locked()
    assert names - {"hybrid-vecsearch"} <= set(pins), sorted(names - set(pins))
    drifted = {name: (version, metadata.version(name)) for name, version in pins.items()
               if metadata.version(name) != version}
    assert not drifted, drifted
