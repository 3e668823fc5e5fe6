"""lmms-eval metrics for dybench's tasks, computed by ``dybench.scoring`` and pooled exactly across groups.

lmms-eval asks each document for ``{metric: value}`` (``process_results``) and then aggregates each
metric's list of values on its own. dybench's value for a document is a *record*, the JSON-ready facts
the scorer needs (an ``ItemResult`` row for a pair item, the raw response and type for TimeBlind, gold
and parsed answer for a choice question); every metric of the document gets the same record. A
metric's aggregation then runs the family's scorer over the records it received:

- overall metrics (``p_acc``, ``acc``...) get every record;
- ``change_consistency``/``keep_consistency`` get the records of that relation's pairs only;
- ``p_acc_<category>``, ``acc_<category>`` get that category's records only, and reuse the overall
  aggregation (``p_acc``, ``acc``...), so a breakdown is the overall formula on a subset.

A group (``dybench_pair``, ``dyb_mvbench``) must not average its subtasks' numbers: P-Acc, consistency
and intervals are not means of means. So each aggregated value is a :class:`Pooled` float that keeps
its records, and the group's aggregation (:func:`pool`) rescores the union: a group's numbers are the
numbers of one task over all of its subtasks' documents, exactly.

Intervals are data beside their metric, not metrics: lmms-eval would list a ``p_acc_ci_high`` as a score
with ``higher_is_better``, and a leaderboard could sort by it. Each :class:`Pooled` value carries its
95 % interval, and :func:`intervals` collects them from lmms-eval's results for ``evaluate`` to write
(``dybench_intervals``, read back by ``dybench.results.task_metrics``).
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, get_args

from dybench.evaluation._docs import PLACEHOLDER
from dybench.records import Item
from dybench.scoring import (
    ItemResult,
    Proportion,
    normalize_answer,
    pair_metrics,
    parse_answer,
    score_item,
    timeblind_metrics,
    whole_pairs,
)

Family = Literal["pair", "timeblind", "choice"]
FAMILIES: tuple[Family, ...] = get_args(Family)
Record = dict
"""One document's facts for the scorer (JSON-ready: lmms-eval logs it with the sample)."""


#: The scorer's names each family's aggregations compute (``<name>_<category>`` reuse them).
METRICS: dict[Family, tuple[str, ...]] = {
    "pair": ("p_acc", "acc", "change_consistency", "keep_consistency"),
    "timeblind": ("i_acc", "acc", "q_acc", "v_acc"),
    "choice": ("acc",),
}
#: The metrics a family breaks down by category (``<name>_<category>``).
BREAKDOWNS: dict[Family, tuple[str, ...]] = {"pair": ("p_acc", "acc"), "timeblind": (), "choice": ("acc",)}


# --- per document -----------------------------------------------------------------------------------


def pair_results(doc: Mapping, response: str) -> dict[str, Record]:
    """``process_results`` of the dybench_pair tasks: the item scored by ``dybench.scoring.score_item``."""
    if doc.get(PLACEHOLDER):
        return {}
    item = Item.from_row(dict(doc))
    record = score_item(item, response).to_row()
    return dict.fromkeys(pair_metric_keys(item.category, item.relation), record)


def pair_metric_keys(category: str, relation: str) -> list[str]:
    """The metrics a pair item counts towards: overall, its relation's consistency, its category's."""
    return ["p_acc", "acc", f"{relation}_consistency", f"p_acc_{category}", f"acc_{category}"]


def timeblind_results(doc: Mapping, response: str) -> dict[str, Record]:
    """``process_results`` of ``timeblind``: the raw response (the official rules read it at aggregation)."""
    record = {"index": int(doc["index"]), "type": str(doc["type"]), "response": response}
    return dict.fromkeys(METRICS["timeblind"], record)


def choice_results(doc: Mapping, response: str) -> dict[str, Record]:
    """``process_results`` of the Video-MME / MVBench / TempCompass tasks: parsed answer vs gold."""
    record = {
        "doc_id": str(doc["doc_id"]),
        "gold": normalize_answer(str(doc["answer"])),
        "pred": parse_answer(response, len(doc["options"]), doc["options"]),
    }
    return dict.fromkeys([*METRICS["choice"], *(f"acc_{c}" for c in doc["categories"])], record)


# --- per metric ---------------------------------------------------------------------------------------


def pair_scores(records: Sequence[Record]) -> dict[str, float]:
    """``dybench.scoring.pair_metrics`` over the evaluated pairs (DESIGN.md Contract 3).

    lmms-eval answers every document it evaluates, and the two items of a pair are adjacent documents
    (``pair_docs``), so a pair with only one record was cut in half by ``--limit``: its other item was
    never evaluated. It is left out, with a warning, so that ``--limit`` cuts whole pairs.
    """
    results, cut = whole_pairs([ItemResult.from_row(r) for r in records])
    if cut:
        warnings.warn(
            f"{len(cut)} pair(s) have only one evaluated item (--limit ends inside a pair): left out of "
            f"the scores; give an even --limit to evaluate whole pairs: {', '.join(cut[:5])}",
            stacklevel=2,
        )
    return pair_metrics(results)


def timeblind_scores(records: Sequence[Record]) -> dict[str, float]:
    """``dybench.scoring.timeblind_metrics`` over responses (an instance missing a role counts as wrong)."""
    preds = {r["index"]: r["response"] for r in records}
    return timeblind_metrics(preds, types={r["index"]: r["type"] for r in records})


def choice_scores(records: Sequence[Record]) -> dict[str, float]:
    """Accuracy over independent questions; an unparsable answer is wrong. Interval: Wilson over questions
    (``acc_ci_low``/``acc_ci_high``, like the other scorers' dicts)."""
    correct = [r["pred"] is not None and r["pred"] == r["gold"] for r in records]
    return Proportion.of(sum(correct) / len(correct), len(correct)).as_metrics("acc")


SCORERS: dict[Family, Callable[[Sequence[Record]], dict[str, float]]] = {
    "pair": pair_scores,
    "timeblind": timeblind_scores,
    "choice": choice_scores,
}


class Pooled(float):
    """A metric value that keeps the records it was computed from, so a group can rescore their union,
    and its 95 % interval, so ``evaluate`` can report it beside the value.

    It is a float everywhere else (tables, JSON), so lmms-eval's results hold plain numbers.
    """

    family: Family
    metric: str
    records: tuple[Record, ...]
    interval: tuple[float, float]
    """The scorer's 95 % interval of the value (NaN ends when there was nothing to score)."""

    def __new__(
        cls, value: float, family: Family, metric: str, records: Sequence[Record], interval: tuple[float, float]
    ) -> Pooled:
        self = super().__new__(cls, value)
        self.family, self.metric, self.records, self.interval = family, metric, tuple(records), interval
        return self

    def __reduce__(self):
        return (Pooled, (float(self), self.family, self.metric, self.records, self.interval))


def aggregation(family: Family, metric: str) -> Callable[[list[Record]], Pooled]:
    """The lmms-eval ``aggregation`` of one of the scorer's metrics (see ``METRICS``)."""
    if metric not in METRICS[family]:
        raise ValueError(f"{family} tasks have no metric {metric!r}; they have {', '.join(METRICS[family])}")

    def aggregate(records: list[Record]) -> Pooled:
        scores = _scores(family, records)
        interval = (scores[f"{metric}_ci_low"], scores[f"{metric}_ci_high"])
        return Pooled(scores[metric], family, metric, records, interval)

    aggregate.__name__ = aggregate.__qualname__ = f"{family}_{metric}"
    return aggregate


_recent: OrderedDict[tuple, tuple[tuple[Record, ...], dict[str, float]]] = OrderedDict()


def _scores(family: Family, records: Sequence[Record]) -> dict[str, float]:
    """The family's scorer over ``records``, computed once per list of records.

    lmms-eval aggregates each metric on its own, but most of a task's metrics get the very same record
    objects (``p_acc``, ``acc``, their intervals...): they share one scoring. The cache holds the records
    it is keyed by, so their ids stay unique while it does.
    """
    key = (family, *map(id, records))
    if key in _recent:
        _recent.move_to_end(key)
        return _recent[key][1]
    scores = SCORERS[family](records)
    _recent[key] = (tuple(records), scores)
    while len(_recent) > 16:
        _recent.popitem(last=False)
    return scores


def pool(values: Sequence[float], sizes: Sequence[int] = (), weight_by_size: bool = True) -> Pooled:
    """A group's ``aggregate_metric_list`` aggregation: the metric rescored over all subtasks' records.

    (``sizes`` and ``weight_by_size`` are lmms-eval's averaging inputs; pooling needs neither.)
    """
    pooled = [v for v in values if isinstance(v, Pooled)]
    if not values or len(pooled) != len(values):
        raise TypeError("dybench groups pool dybench metrics only; a subtask's value is not a dybench metric")
    first = pooled[0]
    if any((v.family, v.metric) != (first.family, first.metric) for v in pooled):
        raise TypeError(f"cannot pool different metrics: {sorted({(v.family, v.metric) for v in pooled})}")
    return aggregation(first.family, first.metric)([r for v in pooled for r in v.records])


def intervals(results: Mapping[str, Mapping[str, object]]) -> dict[str, dict[str, list[float]]]:
    """The 95 % intervals of dybench's metrics in lmms-eval's ``results`` (``{task: {"<metric>,none":
    value}}``): ``{task: {metric: [low, high]}}``, finite ones only (other suites' metrics have none)."""
    out: dict[str, dict[str, list[float]]] = {}
    for task, values in results.items():
        for key, value in values.items():
            metric, _, filt = key.partition(",")
            if filt == "none" and isinstance(value, Pooled) and all(map(math.isfinite, value.interval)):
                out.setdefault(task, {})[metric] = [float(value.interval[0]), float(value.interval[1])]
    return out


def metric_names(family: Family, categories: Sequence[str] = ()) -> dict[str, str]:
    """Every lmms-eval metric a task of ``family`` can report -> the aggregation computing it.

    ``categories``: the breakdowns the task reports (``<name>_<category>``). The task YAMLs list exactly
    these (a test checks it).
    """
    names = {name: name for name in METRICS[family]}
    for category in categories:
        names |= {f"{base}_{category}": base for base in BREAKDOWNS[family]}
    return names
