"""What ships with dybench besides its code, found one way in a source checkout and in an installed wheel.

A wheel carries the repository's top-level folders inside the package (``pyproject.toml``,
``[tool.hatch.build.targets.wheel.force-include]``): ``tasks/`` (lmms-eval task folders) as
``dybench/_tasks``, ``recipes/`` (training configs) as ``dybench/_recipes``, ``leaderboard/`` (the Gradio
app and its bundled results) as ``dybench/_leaderboard``. A checkout, installed editable, has them beside
the package. Shipped data (``dybench/data/``: tables, demo models) lies inside the package in both.
Everything is located through ``importlib.resources``, so dybench never guesses from ``__file__``.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Literal

ShippedFolder = Literal["tasks", "recipes", "leaderboard"]


def shipped_folder(name: ShippedFolder) -> Path:
    """The folder ``name`` as this installation holds it: ``dybench/_<name>`` in a wheel, ``<name>/`` beside
    the package in a checkout. Raises ``FileNotFoundError`` naming both places when neither exists."""
    package = _package()
    candidates = (package / f"_{name}", package.parent / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"dybench's {name}/ folder is neither in {candidates[0]} (a wheel) nor in {candidates[1]} (a source "
        "checkout); reinstall dybench"
    )


def shipped_module(folder: ShippedFolder, name: str) -> ModuleType:
    """Import ``<folder>/<name>.py`` of a shipped folder (the leaderboard's ``app``) as
    ``dybench._<folder>.<name>``, the name a wheel gives it, from a checkout as well. Raises what the
    module's own imports raise (``ModuleNotFoundError`` when an extra is not installed)."""
    module_name = f"dybench._{folder}.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, shipped_folder(folder) / f"{name}.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{shipped_folder(folder) / name}.py: not a Python module; reinstall dybench")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look a module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def shipped_data(*parts: str) -> Path:
    """A file or folder of ``dybench/data/`` (``shipped_data("lexicon.yaml")``)."""
    return _package().joinpath("data", *parts)


def _package() -> Path:
    """The installed ``dybench`` package folder."""
    package = resources.files("dybench")
    if not isinstance(package, Path):  # lmms-eval and the trainer read these folders as files
        raise FileNotFoundError(f"dybench is imported from {package}, not from files on disk; reinstall it")
    return package
