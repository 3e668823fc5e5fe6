"""dybench.shipped: one resolver for the folders and data that ship with dybench, checkout and wheel alike."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

from dybench import shipped
from dybench.evaluation import tasks_path
from dybench.reproduce._presets import recipes_dir
from dybench.results import REPORTED_PATH, default_results_dir
from dybench.shipped import shipped_data, shipped_folder, shipped_module

REPO = Path(__file__).resolve().parents[1]

#: Every resolver of a shipped folder or file, as ``name -> expression``, run in a subprocess for the wheel.
RESOLVERS = {
    "tasks": "dybench.evaluation.tasks_path()",
    "recipes": "dybench.reproduce._presets.recipes_dir()",
    "results": "dybench.results.default_results_dir()",
    "leaderboard app": "dybench.shipped.shipped_module('leaderboard', 'app').__file__",
    "reported": "dybench.results.REPORTED_PATH",
    "demo models": "dybench.demo.MODELS_DIR",
    "lexicon": "dybench.shipped.shipped_data('lexicon.yaml')",
}


def test_a_checkout_resolves_the_folders_beside_the_package():
    assert tasks_path() == shipped_folder("tasks") == REPO / "tasks"
    assert recipes_dir() == REPO / "recipes" and default_results_dir() == REPO / "leaderboard" / "results"
    assert Path(shipped_module("leaderboard", "app").__file__) == REPO / "leaderboard" / "app.py"
    assert shipped_module("leaderboard", "app") is sys.modules["dybench._leaderboard.app"]  # imported once
    assert REPORTED_PATH == shipped_data("reported.yaml") == REPO / "dybench" / "data" / "reported.yaml"


def test_a_wheel_layout_wins_and_a_missing_folder_is_one_clear_error(tmp_path, monkeypatch):
    package = tmp_path / "site" / "dybench"
    (package / "_recipes").mkdir(parents=True)
    (tmp_path / "site" / "recipes").mkdir()  # a stray folder beside an installed package is not used
    monkeypatch.setattr(shipped, "resources", types.SimpleNamespace(files=lambda name: package))
    assert shipped_folder("recipes") == package / "_recipes"
    with pytest.raises(FileNotFoundError, match=r"tasks/ folder is neither in .*_tasks \(a wheel\) nor in"):
        shipped_folder("tasks")


def test_every_resolver_finds_its_files_inside_a_built_wheel(tmp_path):
    """Builds the wheel (``uv build --offline``, a few seconds) and resolves everything from it."""
    if shutil.which("uv") is None:
        pytest.skip("builds the wheel with uv")
    built = subprocess.run(
        ["uv", "build", "--offline", "--wheel", "--out-dir", str(tmp_path / "dist")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        pytest.skip(f"the wheel cannot be built offline here (uv's cache lacks hatchling?): {built.stderr[-300:]}")
    (wheel,) = (tmp_path / "dist").glob("dybench-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    imports = (
        "import json, dybench.demo, dybench.evaluation, dybench.reproduce._presets, dybench.results, dybench.shipped"
    )
    resolved = ", ".join(f"{name!r}: str({expression})" for name, expression in RESOLVERS.items())
    code = f"{imports}\nprint(json.dumps({{{resolved}}}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    found = {name: Path(path) for name, path in json.loads(out.stdout).items()}
    assert found == {
        "tasks": site / "dybench" / "_tasks",
        "recipes": site / "dybench" / "_recipes",
        "results": site / "dybench" / "_leaderboard" / "results",
        "leaderboard app": site / "dybench" / "_leaderboard" / "app.py",
        "reported": site / "dybench" / "data" / "reported.yaml",
        "demo models": site / "dybench" / "data" / "demo_models",
        "lexicon": site / "dybench" / "data" / "lexicon.yaml",
    }
    assert all(p.exists() for p in found.values())
