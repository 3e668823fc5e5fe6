"""Two verified runs on the same pairs: the P-Acc difference, McNemar's exact test, the pairs they disagree on.

Only runs whose samples were re-scored against the same held pairs dataset (same fingerprint) are
compared: then both P-Accs come from one scorer over one set of gold answers, pair by pair. The test
is over the pairs both runs evaluated (``dybench.scoring.mcnemar_exact``); a pair "disagrees" when one
run has it right and the other wrong (McNemar's discordant pairs).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dybench.errors import UserError
from dybench.report import fraction_text
from dybench.results._runs import RunRow, parse_results_json
from dybench.results._store import ResultsStore, default_results_dir
from dybench.results._verify import rescore_samples
from dybench.scoring import PAIR_TASKS, McNemar, mcnemar_exact, pair_outcomes


class CompareError(UserError, ValueError):
    """Two runs that cannot be compared pair by pair; the message says why and what to do."""


@dataclass(frozen=True)
class Disagreement:
    """A pair one run answered right (both items) and the other did not."""

    pair_id: str
    right: Literal["A", "B"]
    """Which run got the pair right."""
    responses_a: tuple[tuple[str, str], ...]
    """``(item_id, response)`` of run A for the pair's items."""
    responses_b: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Comparison:
    """Run A against run B on the pairs both evaluated."""

    task: str
    run_a: RunRow
    run_b: RunRow
    dataset: str
    dataset_fingerprint: str
    n_pairs: int
    """Pairs both runs evaluated: the unit of both P-Accs and of the test."""
    p_acc_a: float
    p_acc_b: float
    test: McNemar
    disagreements: tuple[Disagreement, ...]
    note: str = ""
    """Set when the runs evaluated different pairs (then only the common ones are compared)."""

    @property
    def difference(self) -> float:
        """P-Acc of A minus P-Acc of B, on the common pairs."""
        return self.p_acc_a - self.p_acc_b

    @property
    def settings_differ(self) -> bool:
        """The runs' generation settings differ: the test compares the runs, not the models alone."""
        return self.run_a.settings != self.run_b.settings


def compared_task(run_a: RunRow, run_b: RunRow) -> str:
    """The task two runs are compared on when none is named: the first dybench_pair task both report a
    P-Acc for, in ``dybench.scoring.PAIR_TASKS`` order (dybench_pair, dybench_pair_r1, the single-frame
    tasks, then the categories)."""

    def pair_tasks(run: RunRow) -> set[str]:
        return {s.task for s in run.scores if s.metric == "p_acc" and s.task in PAIR_TASKS}

    a, b = pair_tasks(run_a), pair_tasks(run_b)
    common = [t for t in PAIR_TASKS if t in a and t in b]
    if not common:
        raise CompareError(
            f"runs {run_a.run_id} ({', '.join(t for t in PAIR_TASKS if t in a) or 'no dybench_pair task'}) and "
            f"{run_b.run_id} ({', '.join(t for t in PAIR_TASKS if t in b) or 'no dybench_pair task'}) have no "
            "dybench_pair task in common (dybench_pair and dybench_pair_r1 ask with different prompts)"
        )
    return common[0]


def compare_runs(
    store_a: ResultsStore, run_a: RunRow, store_b: ResultsStore, run_b: RunRow, *, task: str | None = None
) -> Comparison:
    """Compare two runs of their stores pair by pair on ``task`` (default: :func:`compared_task`; see the
    module docstring)."""
    task = task or compared_task(run_a, run_b)
    a_out, a_resp, fingerprint, dataset = _outcomes(store_a, run_a, task)
    b_out, b_resp, b_fingerprint, _ = _outcomes(store_b, run_b, task)
    if fingerprint != b_fingerprint:
        raise CompareError(
            f"runs {run_a.run_id} and {run_b.run_id} were scored on different data ({run_a.verification.dataset} "
            f"{fingerprint}, {run_b.verification.dataset} {b_fingerprint}); compare runs on the same pairs"
        )
    common = sorted(a_out.keys() & b_out.keys())
    if not common:
        raise CompareError(f"runs {run_a.run_id} and {run_b.run_id} evaluated no pair in common on {task}")
    note = ""
    if len(common) < max(len(a_out), len(b_out)):
        note = f"A evaluated {len(a_out)} pairs, B {len(b_out)}: compared on the {len(common)} both evaluated"
    disagreements = tuple(
        Disagreement(pid, "A" if a_out[pid] else "B", tuple(sorted(a_resp[pid])), tuple(sorted(b_resp[pid])))
        for pid in common
        if a_out[pid] != b_out[pid]
    )
    a_only = sum(d.right == "A" for d in disagreements)
    return Comparison(
        task=task,
        run_a=run_a,
        run_b=run_b,
        dataset=dataset,
        dataset_fingerprint=fingerprint,
        n_pairs=len(common),
        p_acc_a=sum(a_out[p] for p in common) / len(common),
        p_acc_b=sum(b_out[p] for p in common) / len(common),
        test=mcnemar_exact(a_only, len(disagreements) - a_only),
        disagreements=disagreements,
        note=note,
    )


def compare(
    run_a: str,
    run_b: str,
    *,
    results: str | os.PathLike | None = None,
    data: Sequence[str | os.PathLike] = (),
    task: str | None = None,
) -> Comparison:
    """``dybench compare``: each run is a run id (or a unique prefix) in ``results`` (default: the bundled
    folder) or the path of a results JSON whose samples lie beside it; ``data``: pairs datasets to hold
    as reference data, beside the folder's own ``datasets/``."""
    folder = Path(results) if results is not None else default_results_dir()
    stores, runs = [], []
    for spec in (run_a, run_b):
        path = Path(spec)
        if path.is_file():
            store = ResultsStore(path.parent, data=data)
            run = next((r for r in store.listing().runs if r.path == path.name), None)
            if run is None:
                raise CompareError(f"{path}: not a results file the leaderboard can read (see `dybench leaderboard`)")
        else:
            store = ResultsStore(folder, data=data)
            run = store.find(spec)
        stores.append(store)
        runs.append(run)
    return compare_runs(stores[0], runs[0], stores[1], runs[1], task=task)


def comparison_text(c: Comparison) -> str:
    """The comparison as plain text (the command line's output)."""
    lines = [
        f"{c.task} on {c.dataset} ({c.dataset_fingerprint}), {c.n_pairs} pairs",
        f"  A {c.run_a.run_id} {c.run_a.model}: P-Acc {fraction_text(c.p_acc_a)}",
        f"  B {c.run_b.run_id} {c.run_b.model}: P-Acc {fraction_text(c.p_acc_b)}",
        f"  difference A - B: {c.difference:+.3f}; {c.test.method}: p = {c.test.p_value:.4g} "
        f"({c.test.a_only} pairs right only in A, {c.test.b_only} only in B)",
    ]
    if c.settings_differ:
        lines.append(f"  warning: generation settings differ: A {c.run_a.settings_label}; B {c.run_b.settings_label}")
    if c.note:
        lines.append(f"  note: {c.note}")
    if c.disagreements:
        lines.append("pairs where they disagree (right in):")
    for d in c.disagreements:
        a = "; ".join(f"{i}: {r!r:.80}" for i, r in d.responses_a)
        b = "; ".join(f"{i}: {r!r:.80}" for i, r in d.responses_b)
        lines.append(f"  {d.pair_id} ({d.right})  A: {a}  |  B: {b}")
    return "\n".join(lines)


def _outcomes(
    store: ResultsStore, run: RunRow, task: str
) -> tuple[dict[str, bool], dict[str, list[tuple[str, str]]], str, str]:
    """``(pair -> right, pair -> [(item, response)], dataset fingerprint, dataset name)`` of a verified run."""
    v = run.verification
    if v.dataset is None or v.status not in ("verified", "partly verified"):
        raise CompareError(
            f"run {run.run_id} ({run.model}) is {v.label}: only runs whose samples were re-scored against "
            "held pairs data and matched can be compared (register the data in <results>/datasets/ or pass --data)"
        )
    obj = parse_results_json((store.root / run.path).read_bytes(), name=run.path)
    rescored = rescore_samples(obj, store.samples(run), store.references()[0])
    if task not in rescored.results:
        have = ", ".join(rescored.results) or "none"
        raise CompareError(f"run {run.run_id} has no re-scored {task} (re-scored tasks: {have}); pick another --task")
    if rescored.reference is None or rescored.reference.fingerprint != v.dataset_fingerprint:
        raise CompareError(f"run {run.run_id}: the held data changed since it was verified; reload the leaderboard")
    results = rescored.results[task]
    responses: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in results:
        responses[r.pair_id].append((r.item_id, rescored.responses[task][r.item_id]))
    return pair_outcomes(results), responses, v.dataset_fingerprint, v.dataset
