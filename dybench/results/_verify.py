"""Re-scoring a run's logged samples with dybench's own scorer, and the label that says what was proven.

Every dybench_pair metric is a pure function of the per-item responses, so a run that comes with its
samples (``lmms-eval --log_samples``) can be scored again here, exactly as its task scored it: the
items a task evaluated (a group's are its subtasks', pooled), pairs cut in half by ``--limit`` left out
(the task does the same, ``dybench.evaluation`` ``pair_scores``), then ``dybench.scoring.pair_metrics``.
Each metric the results file claims for the task is compared with the re-scored one, within float
rounding (relative 1e-9).

Which samples a task must have is dybench's to say, not the run's: a task is one of dybench's tasks
(`task_leaves`: a group pools its five category subtasks, whatever the results file lists, less those of a
category the data has no items of, which ``dybench eval`` does not run), every item
counts once per task, and against held data a subtask's samples must answer exactly the documents
lmms-eval evaluates: all of the held dataset's items of the subtask's scope in the tasks' order
(``dybench.pairs.in_pair_order``), or with ``--limit`` N the first N of them. A run that logs only the
items it got right, under any ``--limit``, or that adds a subtask of its own, is not verified.

What the gold answers come from decides what a match proves (see ``_reference``):

- **verified**: the samples answer items of a pairs dataset the leaderboard holds, their responses are
  parsed again and scored against that dataset's gold, and every claimed number matches. The row
  records the dataset's name and fingerprint.
- **arithmetic verified, data not held**: no held dataset has these items, so the run's own logged
  records (gold and parsed answer per item) are re-aggregated. A match proves only that the numbers
  follow from those records; neither the data nor the parsing was checked.
- **mismatch**: a claimed number differs from the re-scored one (both are kept), the samples' gold
  answers differ from the held dataset's (scored on other data), the samples hold another number of
  documents than the results say, other documents than lmms-eval evaluates (see above), an item twice,
  or a group lists other subtasks than dybench's.
- **self-reported**: no samples came with the run; **partly verified**: some tasks were re-scored and
  matched, others (other benchmarks, tasks without samples, tasks dybench does not ship) were not.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from dybench.records import CATEGORIES
from dybench.results._columns import is_fraction_metric, is_known_task
from dybench.results._logged_samples import TaskSamples
from dybench.results._reference import ReferenceData
from dybench.results._task_metrics import TaskMetric, section, task_metrics
from dybench.scoring import (
    ItemResult,
    bootstrap_interval,
    normalize_answer,
    pair_metrics,
    pair_outcomes,
    score_item,
    whole_pairs,
)

Outcome = Literal["verified", "arithmetic", "mismatch", "unchecked"]
Status = Literal["verified", "arithmetic", "partly verified", "mismatch", "self-reported"]
#: What each status is called on the page and on the command line.
STATUS_LABELS: dict[str, str] = {
    "verified": "verified",
    "arithmetic": "arithmetic verified, data not held",
    "partly verified": "partly verified",
    "mismatch": "mismatch",
    "self-reported": "self-reported",
}
#: The task whose P-Acc is the row's headline (its bootstrap interval is the one shown).
HEADLINE_TASK = "dybench_pair"
#: dybench's groups and the subtasks each pools (``tasks/dybench_pair/dybench_pair*.yaml``; a test checks them).
GROUPS: dict[str, tuple[str, ...]] = {
    "dybench_pair": tuple(f"dybench_pair_{c}" for c in CATEGORIES),
    "dybench_pair_r1": tuple(f"dybench_pair_r1_{c}" for c in CATEGORIES),
}
#: dybench's tasks that have documents, and the category of the items each holds (None: every item).
LEAVES: dict[str, str | None] = {
    **{leaf: category for leaves in GROUPS.values() for leaf, category in zip(leaves, CATEGORIES, strict=True)},
    "dybench_pair_single_frame": None,
    "dybench_pair_single_frame_r1": None,
}
BOOTSTRAP_RESAMPLES = 2000
_REL_TOL = 1e-9


@dataclass(frozen=True)
class MetricDiff:
    """A claimed number that the re-scoring does not reproduce."""

    metric: str
    claimed: float
    rescored: float


@dataclass(frozen=True)
class TaskCheck:
    """What re-scoring found for one task of a run."""

    task: str
    outcome: Outcome
    detail: str
    """One sentence: what was compared, against what, or why nothing was."""
    differences: tuple[MetricDiff, ...] = ()
    n_pairs: int = 0
    """Pairs re-scored (after leaving out pairs cut in half by ``--limit``)."""


@dataclass(frozen=True)
class Verification:
    """A run's verification: its status, per-task findings and the data it was scored on."""

    status: Status = "self-reported"
    checks: tuple[TaskCheck, ...] = ()
    dataset: str | None = None
    """Name of the held pairs dataset the samples were scored on (None: not held)."""
    dataset_fingerprint: str | None = None
    """``manifest:<sha256>`` (or ``items:<sha256>``) of that dataset."""
    headline_task: str | None = None
    """The task the interval below is over (``dybench_pair`` when the run has it)."""
    pairs_scored: int | None = None
    """Pairs behind the headline task's re-scored P-Acc."""
    pairs_in_dataset: int | None = None
    """Pairs of the held dataset in that task's scope."""
    p_acc_bootstrap: tuple[float, float] | None = None
    """95% percentile bootstrap interval of the headline P-Acc, resampling pairs (2,000 resamples, seed 0)."""

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def verified(self) -> bool:
        """Scored against held data, every re-scored number matched."""
        return self.status in ("verified", "partly verified") and self.dataset is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Verification:
        checks = tuple(
            TaskCheck(**{**c, "differences": tuple(MetricDiff(**m) for m in c["differences"])}) for c in d["checks"]
        )
        interval = d.get("p_acc_bootstrap")
        return cls(**{**d, "checks": checks, "p_acc_bootstrap": tuple(interval) if interval else None})


@dataclass(frozen=True)
class Rescored:
    """A run's pair tasks scored again from its samples."""

    reference: ReferenceData | None
    """The held dataset the items were scored against; None: the run's own logged records were used."""
    data_issue: str | None
    """Why the samples do not fit the held dataset (its gold answers differ), if they do not."""
    results: dict[str, list[ItemResult]]
    """Task -> its item results, as the task scored them (pairs cut by ``--limit`` left out)."""
    responses: dict[str, dict[str, str]]
    """Task -> item_id -> the response its samples logged (two tasks ask the same item differently)."""
    problems: dict[str, str]
    """Task -> why it has no results (no samples file for it or one of its subtasks)."""


def is_pair_task(task: str) -> bool:
    """True for dybench_pair and its subtasks and variants (the tasks dybench re-scores)."""
    return task == "dybench_pair" or task.startswith("dybench_pair_")


def task_leaves(task: str) -> tuple[str, ...] | None:
    """The tasks whose samples make up ``task``: a group's subtasks, a task with documents itself; None for
    a task dybench does not ship (which documents it holds is unknown, so it cannot be verified)."""
    if task in GROUPS:
        return GROUPS[task]
    return (task,) if task in LEAVES else None


def claimed_metrics(metrics: Sequence[TaskMetric]) -> dict[str, float]:
    """The numbers a results file claims for one task (``task_metrics``): fractions and their interval bounds."""
    return {k: v for m in metrics if is_fraction_metric(m.metric) for k, v in m.as_metrics().items()}


def rescore_samples(
    obj: Mapping[str, Any], samples: Mapping[str, TaskSamples], references: Sequence[ReferenceData]
) -> Rescored:
    """Score the pair tasks a results file claims again, from their samples (see the module docstring)."""
    logged = {s.item_id: s for task_samples in samples.values() for s in task_samples.items}
    reference, data_issue = _match_reference(logged, references)
    results: dict[str, list[ItemResult]] = {}
    responses: dict[str, dict[str, str]] = {}
    problems: dict[str, str] = {}
    for task, metrics in task_metrics(obj).items():
        if not is_pair_task(task) or not claimed_metrics(metrics):
            continue
        leaves = task_leaves(task)
        if leaves is None:
            problems[task] = (
                f"not verifiable: {task} is not a task dybench ships, so which documents it holds is unknown"
            )
            continue
        leaves = _evaluated_leaves(task, samples, obj, reference)
        absent = [leaf for leaf in leaves if leaf not in samples]
        if absent:
            problems[task] = f"no samples file for {', '.join(absent)}"
            continue
        items = [s for leaf in leaves for s in samples[leaf].items]
        if reference is not None:
            scored = [score_item(reference.items[s.item_id], s.response) for s in items]
        else:
            scored = [s.logged for s in items]
        results[task] = whole_pairs(scored)[0]
        responses[task] = {s.item_id: s.response for s in items}
    return Rescored(reference, data_issue, results, responses, problems)


def verify_run(
    obj: Mapping[str, Any],
    samples: Mapping[str, TaskSamples],
    references: Sequence[ReferenceData],
    sample_problems: Mapping[str, str] | None = None,
) -> Verification:
    """Re-score a results file's pair tasks from their samples and compare every claimed number.

    ``sample_problems``: task -> why its samples file could not be read (it then counts as absent).
    """
    sample_problems = dict(sample_problems or {})
    if not samples and not sample_problems:
        return Verification()
    rescored = rescore_samples(obj, samples, references)
    ref = rescored.reference
    checks = []
    for task, metrics in task_metrics(obj).items():
        claimed = claimed_metrics(metrics)
        if not claimed or not is_known_task(task):
            continue
        if not is_pair_task(task):
            checks.append(TaskCheck(task, "unchecked", "not re-scored: dybench re-scores the dybench_pair tasks only"))
            continue
        if task not in rescored.results:
            why = "; ".join(sample_problems[leaf] for leaf in task_leaves(task) or () if leaf in sample_problems)
            checks.append(TaskCheck(task, "unchecked", why or rescored.problems.get(task, "no samples")))
            continue
        checks.append(_check_task(task, claimed, rescored, samples, obj))
    headline = HEADLINE_TASK if HEADLINE_TASK in rescored.results else next(iter(rescored.results), None)
    interval = scope = None
    if headline is not None:
        outcomes = pair_outcomes(rescored.results[headline])
        interval = bootstrap_interval([float(v) for v in outcomes.values()], n_resamples=BOOTSTRAP_RESAMPLES)
        if ref is not None:
            scope = len({it.pair_id for it in ref.items.values() if _holds(headline, it.category)})
    return Verification(
        status=_status(checks),
        checks=tuple(checks),
        dataset=ref.name if ref else None,
        dataset_fingerprint=ref.fingerprint if ref else None,
        headline_task=headline,
        pairs_scored=len(pair_outcomes(rescored.results[headline])) if headline else None,
        pairs_in_dataset=scope,
        p_acc_bootstrap=None if interval is None or math.isnan(interval[0]) else interval,
    )


def _check_task(
    task: str, claimed: dict[str, float], rescored: Rescored, samples: Mapping[str, TaskSamples], obj: Mapping[str, Any]
) -> TaskCheck:
    results = rescored.results[task]
    ref = rescored.reference
    leaves = _evaluated_leaves(task, samples, obj, ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # coverage and cut pairs are facts of the run, reported by its task
        metrics = pair_metrics(results)
    diffs = tuple(
        MetricDiff(m, v, metrics[m])
        for m, v in sorted(claimed.items())
        if m in metrics and not math.isclose(v, metrics[m], rel_tol=_REL_TOL, abs_tol=1e-12)
    )
    n_pairs = len({r.pair_id for r in results})
    issues = []
    if rescored.data_issue and ref is not None:
        issues.append(rescored.data_issue)
    listed = section(obj, "group_subtasks").get(task)
    if isinstance(listed, list) and listed and sorted(map(str, listed)) != sorted(leaves):
        issues.append(f"the results file says {task} pools {', '.join(map(str, listed))}; it pools {', '.join(leaves)}")
    n_samples = section(obj, "n-samples")
    for leaf in leaves:
        expected = section(n_samples, leaf).get("effective")
        if isinstance(expected, int) and samples[leaf].documents != expected:
            issues.append(f"{leaf}: the samples hold {samples[leaf].documents} documents, the results say {expected}")
    twice = sorted(i for i, n in Counter(s.item_id for leaf in leaves for s in samples[leaf].items).items() if n > 1)
    if twice:
        issues.append(f"{len(twice)} item(s) logged by two of its subtasks (e.g. {twice[0]}); an item counts once")
    wrong_scope = sorted(
        {f"{s.item_id} in {leaf}" for leaf in leaves for s in samples[leaf].items
         if not _holds(leaf, ref.items[s.item_id].category if ref else s.logged.category)}
    )  # fmt: skip
    if wrong_scope:
        issues.append(f"items of another category in {task}'s samples: {', '.join(wrong_scope[:3])}")
    if ref is not None:
        issues.extend(i for leaf in leaves if (i := _documents_issue(leaf, samples[leaf], ref, obj)))
    if diffs:
        shown = ", ".join(f"{d.metric} claimed {d.claimed:.4f}, re-scored {d.rescored:.4f}" for d in diffs[:3])
        issues.insert(0, f"{len(diffs)} of {len(claimed)} claimed numbers differ ({shown})")
    against = f"the gold answers of {ref.short}" if ref else "the run's own logged records (data not held)"
    if issues:
        return TaskCheck(task, "mismatch", f"re-scored against {against}: " + "; ".join(issues), diffs, n_pairs)
    compared = sum(m in metrics for m in claimed)
    detail = f"{compared} claimed numbers re-scored from {n_pairs} pairs against {against}: all match"
    return TaskCheck(task, "verified" if ref else "arithmetic", detail, (), n_pairs)


def _documents_issue(leaf: str, logged: TaskSamples, ref: ReferenceData, obj: Mapping[str, Any]) -> str | None:
    """Why a task's samples are not exactly the documents lmms-eval evaluates of it on ``ref``, or None.

    Its documents are the held items of its category in the tasks' order (one stand-in document when
    there are none); ``--limit`` L evaluates the first L of them (a fraction: that share, rounded up)
    from ``--offset``, as lmms-eval does.
    """
    documents = [i for i, it in ref.items.items() if _holds(leaf, it.category)]
    config = section(obj, "config")
    limit, offset = config.get("limit"), config.get("offset") or 0
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        return f"config.offset {offset!r:.40} is not a number of documents lmms-eval accepts"
    if limit in (None, 0, -1):
        count, how = max(len(documents), 1), "without --limit, every one"
    elif isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit < math.inf:
        return f"config.limit {limit!r:.40} is not a number of documents lmms-eval accepts"
    else:
        count = math.ceil(max(len(documents), 1) * limit) if limit < 1 else int(limit)
        how = f"--limit {limit}" + (f" --offset {offset}" if offset else "")
    evaluated = documents[offset : offset + count]
    where = f"{how}: {len(evaluated)} of its {len(documents)} held items, in the tasks' order"
    wanted, got = set(evaluated), {s.item_id for s in logged.items}
    if extra := [s.item_id for s in logged.items if s.item_id not in wanted]:
        return f"{leaf}: {len(extra)} sample(s) of items lmms-eval does not evaluate ({where}; e.g. {extra[0]})"
    if missing := [i for i in evaluated if i not in got]:
        return f"{leaf}: no sample for {len(missing)} of the items lmms-eval evaluates ({where}; e.g. {missing[0]})"
    return None


def _match_reference(
    logged: Mapping[str, Any], references: Sequence[ReferenceData]
) -> tuple[ReferenceData | None, str | None]:
    """The held dataset that has every logged item, preferring one whose gold answers agree with the log."""
    if not logged:
        return None, None
    holders = [ref for ref in references if all(i in ref.items for i in logged)]
    first_issue = None
    for ref in holders:
        differ = [
            i for i, s in logged.items()
            if (s.logged.pair_id, s.logged.branch, normalize_answer(s.logged.gold))
            != (ref.items[i].pair_id, ref.items[i].branch, normalize_answer(ref.items[i].answer))
        ]  # fmt: skip
        if not differ:
            return ref, None
        if first_issue is None:
            i = differ[0]
            first_issue = (
                f"the samples' gold answers differ from {ref.short} on {len(differ)} item(s) (e.g. {i}: samples "
                f"{logged[i].logged.gold!r}, dataset {ref.items[i].answer!r}): scored on other data"
            )
    return (holders[0], first_issue) if holders else (None, None)


def _evaluated_leaves(
    task: str, samples: Mapping[str, TaskSamples], obj: Mapping[str, Any], ref: ReferenceData | None
) -> tuple[str, ...]:
    """The subtasks whose samples make up ``task`` in this run: all of ``task_leaves``, but a group's
    subtask of a category the data has no items of may be missing (``dybench eval`` does not run it):
    against held data when that data has no item of its category, without held data when the results
    file's own ``group_subtasks`` leaves it out (only the arithmetic is proven then anyway)."""
    leaves = task_leaves(task) or ()
    if task not in GROUPS:
        return leaves
    listed = section(obj, "group_subtasks").get(task)

    def empty(leaf: str) -> bool:
        if ref is not None:
            return not any(_holds(leaf, item.category) for item in ref.items.values())
        return isinstance(listed, list) and bool(listed) and leaf not in listed

    return tuple(leaf for leaf in leaves if leaf in samples or not empty(leaf))


def _holds(task: str, category: str) -> bool:
    """Whether one of dybench's tasks holds items of ``category`` (``dybench_pair_static``: static items)."""
    return any(LEAVES[leaf] in (None, category) for leaf in task_leaves(task) or ())


def _status(checks: Sequence[TaskCheck]) -> Status:
    outcomes = {c.outcome for c in checks}
    if "mismatch" in outcomes:
        return "mismatch"
    if not outcomes or outcomes == {"unchecked"}:
        return "self-reported"
    if "unchecked" in outcomes:
        return "partly verified"
    return "arithmetic" if "arithmetic" in outcomes else "verified"
