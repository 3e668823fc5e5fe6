"""``dybench verify``: the label the leaderboard would give each run of a results file or folder, and why.

A user checks a run before submitting it, and CI checks a whole board: the runs are read, their samples
re-scored against the held pairs data and labelled exactly as the leaderboard does (`ResultsStore`);
only a run labelled **verified** passes (`Listing.all_verified`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dybench.errors import UserError
from dybench.results._store import Listing, LoadProblem, ResultsStore


def verify_results(results: str | os.PathLike, *, data: Sequence[str | os.PathLike] = ()) -> Listing:
    """The runs of ``results`` (an lmms-eval results JSON with its samples files beside it, or a folder of
    runs, as the leaderboard reads it), each verified against ``data`` (pairs datasets, beside the folder's
    own ``datasets/``), and what could not be read (a results file, a reference dataset)."""
    path = Path(results)
    if path.is_dir():
        return ResultsStore(path, data=data).listing()
    if not path.is_file():
        raise UserError(
            f"{path}: no such file or folder; give a *_results.json (samples beside it) or a folder of runs"
        )
    store = ResultsStore(path.parent, data=data)
    run, problem = store.read(path.name)
    problems = [LoadProblem(p.path, f"reference data not used: {p.message}") for p in store.references()[1]]
    if run is None:
        problems.append(LoadProblem(path.name, problem or "not an lmms-eval results file (it has no `results`)"))
    return Listing(runs=(run,) if run else (), problems=tuple(problems))


def verification_text(listing: Listing) -> str:
    """Each run's label and every task check behind it, then what could not be read (the command's output)."""
    lines = []
    for run in listing.runs:
        v = run.verification
        data = f" on {v.dataset} ({v.dataset_fingerprint})" if v.dataset else ""
        lines.append(f"{run.run_id} {run.model} ({run.path}): {v.label}{data}")
        if not v.checks:
            lines.append("  no samples came with it (lmms-eval --log_samples): its numbers are as submitted")
        lines.extend(f"  {c.task}: {c.outcome}: {c.detail}" for c in v.checks)
    lines.extend(f"{p.path}: not read: {p.message}" for p in listing.problems)
    verified = sum(r.verification.status == "verified" for r in listing.runs)
    lines.append(
        f"{verified} of {len(listing.runs)} run(s) verified" + (", some files not read" if listing.problems else "")
    )
    return "\n".join(lines)
