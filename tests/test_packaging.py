"""The package data a wheel ships: every data file flowengine reads at run time must be matched by
pyproject's package-data globs, or an installed (non-editable) flowengine breaks where a checkout works."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flowengine"


def _data_files() -> list[Path]:
    """Non-Python files under the package, following its symlinked folders (schemas/, builtin_flows/)."""
    found = []
    for folder, dirs, files in os.walk(PACKAGE, followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        found += [(Path(folder) / name).relative_to(PACKAGE) for name in files if not name.endswith((".py", ".pyc"))]
    return found


def test_every_data_file_is_shipped():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["flowengine"]
    runtime_files = [p for p in _data_files() if not p.name.endswith(".test.yaml")]
    assert runtime_files, "no data files found: the symlinks under flowengine/ are missing"
    unshipped = [str(p) for p in runtime_files if not any(p.match(g) for g in globs)]
    assert unshipped == []


def test_builtin_flows_come_from_the_package():
    from flowengine.control.flows import default_builtin_dir

    directory = default_builtin_dir()
    assert directory.parent == PACKAGE
    assert sorted(p.name for p in directory.glob("*.flow.json")) == sorted(
        p.name for p in (ROOT / "flows" / "builtin").glob("*.flow.json"))
