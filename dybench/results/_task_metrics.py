"""The one reader of the numbers in an lmms-eval results JSON: task -> its `TaskMetric` records.

lmms-eval writes ``results.<task>`` as ``{"<metric>,<filter>": value, "<metric>_stderr,<filter>": ...,
"alias": ...}``. dybench's tasks report each metric's 95 % interval as data beside it, in the
section ``dybench_intervals`` that ``dybench.evaluation.evaluate`` adds (``{task: {metric: [low, high]}}``),
not as metrics of their own. Files written before that (task version 2 before the change, results
already published) carry the bounds as pseudo-metrics ``<metric>_ci_low`` / ``<metric>_ci_high``;
they are read as the same interval, so old and new files give the same records.

Evaluation's summary, the leaderboard's rows and the verification of submitted samples all read a
results file through `task_metrics`; `scored_tasks` is the one "does it have scores?" check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dybench.scoring import Proportion

#: The results JSON's section of intervals (``{task: {metric: [low, high]}}``), written by dybench.
INTERVALS_KEY = "dybench_intervals"
_BOUNDS = ("_ci_low", "_ci_high")


@dataclass(frozen=True)
class TaskMetric:
    """One metric of one task in one run, as its results file reports it, with its uncertainty."""

    task: str
    metric: str
    score: Proportion
    """Its value (dybench's metrics are fractions in [0, 1]) and the task's own 95 % interval, if it reports
    one; a results file does not say over how many units (``n`` is None)."""
    stderr: float | None = None
    """lmms-eval's standard error (``<metric>_stderr``), if it is a number."""

    @property
    def value(self) -> float:
        """The metric's value (a results file always gives a number)."""
        return math.nan if self.score.value is None else self.score.value

    def as_metrics(self) -> dict[str, float]:
        """``{metric: value}``, plus ``<metric>_ci_low``/``<metric>_ci_high`` when the task gave an interval:
        the names ``dybench.scoring`` gives its numbers, to compare a file with a re-scoring."""
        return self.score.as_metrics(self.metric)

    def interval(self) -> tuple[float, float] | None:
        """The task's own confidence interval, else a normal 95% interval from the stderr, else None."""
        if self.score.interval is not None:
            return self.score.interval
        if self.stderr is not None:
            half = 1.96 * self.stderr
            return max(0.0, self.value - half), min(1.0, self.value + half)
        return None


def task_metrics(obj: Mapping[str, Any]) -> dict[str, tuple[TaskMetric, ...]]:
    """Every task of ``obj["results"]`` -> its metrics, sorted by name (a task without any has none).

    A metric is a numeric ``<metric>,<filter>`` entry (the ``none`` filter wins over others); its
    stderr and interval are folded into its record, so bounds and stderrs are never metrics of their own.
    """
    results = obj.get("results")
    intervals = obj.get(INTERVALS_KEY)
    intervals = intervals if isinstance(intervals, Mapping) else {}
    if not isinstance(results, Mapping):
        return {}
    return {
        task: _metrics(task, values, intervals.get(task))
        for task, values in results.items()
        if isinstance(values, Mapping)
    }


def section(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``obj[key]`` when it is a JSON object, else an empty one (results files come from anyone)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def scored_tasks(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The tasks that report at least one metric: a results file without any scored nothing."""
    return tuple(task for task, metrics in task_metrics(obj).items() if metrics)


def interval_issues(obj: Mapping[str, Any]) -> list[str]:
    """What is wrong with the results file's interval section (empty when it is absent or sound)."""
    section = obj.get(INTERVALS_KEY)
    if section is None:
        return []
    if not isinstance(section, Mapping):
        return [f"`{INTERVALS_KEY}` must be an object of tasks"]
    issues = []
    for task, metrics in section.items():
        if not isinstance(metrics, Mapping):
            issues.append(f"`{INTERVALS_KEY}.{task}` must be an object of metrics")
            continue
        for metric, bounds in metrics.items():
            if _bounds(bounds) is None:
                issues.append(
                    f"`{INTERVALS_KEY}.{task}.{metric}` must be [low, high], two numbers with 0 <= low <= high <= 1"
                )
    return issues


def _metrics(task: str, values: Mapping[str, Any], intervals: Any) -> tuple[TaskMetric, ...]:
    by_metric: dict[str, float] = {}
    stderr: dict[str, float] = {}
    for key, v in values.items():
        if "," not in key or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        metric, filt = key.split(",", 1)
        if filt != "none" and f"{metric},none" in values:
            continue  # the unfiltered value wins
        if metric.endswith("_stderr"):
            stderr[metric.removesuffix("_stderr")] = float(v)
        else:
            by_metric.setdefault(metric, float(v))
    given = intervals if isinstance(intervals, Mapping) else {}
    records = []
    for m, v in sorted(by_metric.items()):
        if m.endswith(_BOUNDS):
            continue  # a bound written as a metric (files before ``dybench_intervals``): folded into its metric
        low, high = _bounds(given.get(m)) or (by_metric.get(f"{m}_ci_low"), by_metric.get(f"{m}_ci_high"))
        records.append(TaskMetric(task, m, Proportion(v, low, high), stderr.get(m)))
    return tuple(records)


def _bounds(v: Any) -> tuple[float, float] | None:
    """``[low, high]`` as two floats, or None when it is not a sound interval of fractions."""
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        return None
    if any(isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) for x in v):
        return None
    low, high = float(v[0]), float(v[1])
    return (low, high) if 0.0 <= low <= high <= 1.0 else None
