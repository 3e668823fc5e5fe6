"""Where dybench's lmms-eval task folders are: ``tasks/`` in a checkout, ``dybench/_tasks`` in a wheel."""

from __future__ import annotations

from pathlib import Path

import dybench

_PACKAGE = Path(dybench.__file__).resolve().parent


def tasks_path() -> Path:
    """The folder to give lmms-eval as ``--include_path``.

    A wheel ships the repository's ``tasks/`` inside the package as ``dybench/_tasks`` (hatch
    force-include); an editable install runs from the checkout, where ``tasks/`` sits beside the package.
    """
    for candidate in (_PACKAGE / "_tasks", _PACKAGE.parent / "tasks"):
        if (candidate / "dybench_pair").is_dir():
            return candidate
    raise FileNotFoundError(
        f"dybench's lmms-eval tasks are neither in {_PACKAGE / '_tasks'} (a wheel) nor in "
        f"{_PACKAGE.parent / 'tasks'} (a source checkout); reinstall dybench"
    )
