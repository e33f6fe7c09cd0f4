"""The layering contract (rule 15, ARCHITECTURE.md) holds, and it would catch a breach."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.helpers.paths import ROOT

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
PACKAGE = ROOT / "src" / "tapeworks"


def _lint(src_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src_dir)}
    return subprocess.run([LINT_IMPORTS, "--no-cache", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_code_keeps_the_layering_contract() -> None:
    done = _lint(ROOT / "src")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


def test_every_part_of_the_package_has_its_place_in_the_layers() -> None:
    """A new top-level package must be placed in the layering contract (pyproject.toml) and
    described in ARCHITECTURE.md, or nothing checks what it may import."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers")
    placed = {m.strip() for layer in layers["layers"] for m in layer.replace(":", "|").split("|")}
    parts = {f"tapeworks.{p.stem if p.is_file() else p.name}" for p in PACKAGE.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists())
             or (p.suffix == ".py" and p.name != "__init__.py")}
    assert not parts - placed, f"not in the layers contract: {sorted(parts - placed)}"


def test_a_queue_that_imports_a_domain_breaks_the_contract(tmp_path: Path) -> None:
    copy = tmp_path / "src" / "tapeworks"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "static",
                                                                 "templates"))
    jobs = copy / "queue" / "jobs.py"
    jobs.write_text(jobs.read_text() + "\nfrom tapeworks.sessions import service as _sessions\n")
    done = _lint(tmp_path / "src")
    assert done.returncode != 0
    assert "Infrastructure imports no domain BROKEN" in done.stdout, done.stdout[-3000:]
    assert "tapeworks.queue.jobs -> tapeworks.sessions.service" in done.stdout
