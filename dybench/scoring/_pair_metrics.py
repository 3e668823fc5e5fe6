"""Per-item results and the pair metrics over them (DESIGN.md Contract 3).

A metric is a pure function from a list of per-item results to a ``Proportion``. "Could not score" (the
answer was unparsable) is kept apart from "wrong": it counts as wrong in every metric and is counted
separately (``n_unparsable``). So is "not answered" (no prediction for the item at all, ``missing``):
wrong in every metric, counted in ``n_missing_items`` and in ``coverage``, the share of items that
have a prediction. A pair is the unit of every pair metric, and of every interval.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from dybench.records import Branch, Category, Item, Relation, Transform
from dybench.scoring._ci import Proportion
from dybench.scoring._messages import compact
from dybench.scoring._parse import normalize_answer, parse_answer

T = TypeVar("T")
R = TypeVar("R")


class IncompletePairsWarning(UserWarning):
    """Some pairs have a result for only one of their two items; they count as wrong."""


class CoverageWarning(UserWarning):
    """Some items have no prediction (coverage < 1); they count as wrong."""


@dataclass(frozen=True)
class ItemResult:
    """How a model did on one item of the pairs dataset."""

    item_id: str
    pair_id: str
    """Shared by the two items of a pair."""
    category: Category
    relation: Relation
    """'change': the two items' gold answers differ; 'keep': they are the same."""
    branch: Branch
    transform: Transform
    gold: str
    """Canonical gold answer (``normalize_answer``): 'B', 'A,C', 'yes'."""
    pred: str | None
    """Canonical parsed answer, or None when the response could not be parsed (or is missing)."""
    missing: bool = False
    """True when the item got no prediction at all: wrong, and not counted as unparsable."""

    @property
    def parsed(self) -> bool:
        """False when there was no readable answer ("could not score", not "wrong")."""
        return self.pred is not None

    @property
    def unparsable(self) -> bool:
        """A response was given but held no readable answer."""
        return not self.missing and self.pred is None

    @property
    def correct(self) -> bool:
        """Exact match with the gold answer; an unparsable answer is never correct."""
        return self.pred is not None and self.pred == self.gold

    def to_row(self) -> dict[str, Any]:
        """A JSON-ready dict (lmms-eval passes per-sample results between its stages as data)."""
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ItemResult:
        """The inverse of ``to_row``; a field with a default may be absent (rows logged by older versions)."""
        return cls(**{k: row[k] for k in cls.__dataclass_fields__ if k in row})


def score_item(item: Item, response: str | None) -> ItemResult:
    """Parse a model's response to ``item`` with the shared parser and compare it with the gold.

    ``response=None``: the item got no prediction at all; the result is ``missing`` (and wrong).
    """
    return ItemResult(
        item_id=item.item_id,
        pair_id=item.pair_id,
        category=item.category,
        relation=item.relation,
        branch=item.branch,
        transform=item.transform,
        gold=normalize_answer(item.answer),
        pred=None if response is None else parse_answer(response, len(item.options), item.options),
        missing=response is None,
    )


def _by_pair(results: Iterable[ItemResult]) -> dict[str, list[ItemResult]]:
    pairs: dict[str, list[ItemResult]] = defaultdict(list)
    for r in results:
        pairs[r.pair_id].append(r)
    return pairs


def _complete(pair: list[ItemResult]) -> bool:
    return {r.branch for r in pair} == {"original", "counterfactual"}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _answered(pair: list[ItemResult]) -> set[str]:
    return {r.branch for r in pair if not r.missing}


def incomplete_pairs(results: Sequence[ItemResult]) -> list[str]:
    """Pair ids with a prediction for only one of their two items, sorted.

    (The other item has no result, or a ``missing`` one; a pair with no prediction at all is not
    incomplete but unanswered, see ``unanswered_pairs``.)
    """
    return sorted(pid for pid, pair in _by_pair(results).items() if len(_answered(pair)) == 1)


def whole_pairs(results: Sequence[ItemResult]) -> tuple[list[ItemResult], list[str]]:
    """(the results of pairs whose two items were both evaluated, the ids of pairs cut in half), for
    scores over the evaluated documents: under lmms-eval a pair's items are adjacent documents, so a
    pair with one result was cut by ``--limit`` and is left out rather than counted wrong."""
    cut = incomplete_pairs(results)
    dropped = set(cut)
    return [r for r in results if r.pair_id not in dropped], cut


def unanswered_pairs(results: Sequence[ItemResult]) -> list[str]:
    """Pair ids none of whose items has a prediction, sorted."""
    return sorted(pid for pid, pair in _by_pair(results).items() if not _answered(pair))


def coverage(results: Sequence[ItemResult]) -> float:
    """The share of items that have a prediction (NaN when there are no items)."""
    return _mean([float(not r.missing) for r in results])


def accuracy(results: Sequence[ItemResult]) -> Proportion:
    """Acc: the fraction of items answered correctly (interval over pairs, see ``_ci``)."""
    return Proportion.of(_mean([float(r.correct) for r in results]), len(_by_pair(results)))


def pair_accuracy(results: Sequence[ItemResult]) -> Proportion:
    """P-Acc: a pair scores 1 only when both of its items are answered correctly.

    The mean is over the pairs with at least one result; a pair with an item that has no result, or
    a ``missing`` one, is wrong (``pair_metrics`` warns about it).
    """
    pairs = _by_pair(results).values()
    return Proportion.of(_mean([float(_complete(p) and all(r.correct for r in p)) for p in pairs]), len(pairs))


def _consistency(results: Sequence[ItemResult], relation: Relation) -> Proportion:
    pairs = [p for p in _by_pair(results).values() if p[0].relation == relation]
    values = []
    for p in pairs:
        ok = _complete(p) and all(r.parsed for r in p)
        same = len({r.pred for r in p}) == 1
        values.append(float(ok and (same if relation == "keep" else not same)))
    return Proportion.of(_mean(values), len(pairs))


def change_consistency(results: Sequence[ItemResult]) -> Proportion:
    """Of the ``change`` pairs, the fraction whose two items got different answers, right or wrong.

    A pair with an unparsable answer or a missing item is inconsistent: it did not show the change.
    """
    return _consistency(results, "change")


def keep_consistency(results: Sequence[ItemResult]) -> Proportion:
    """Of the ``keep`` pairs, the fraction whose two items got the same answer, right or wrong.

    A pair with an unparsable answer or a missing item is inconsistent.
    """
    return _consistency(results, "keep")


def grouped(
    metric: Callable[[Sequence[T]], R], key: str | Callable[[T], str | Iterable[str]]
) -> Callable[[Sequence[T]], dict[str, R]]:
    """Turn ``metric`` into a per-group breakdown: ``{group: metric(results in group)}``, groups sorted.

    ``key`` is an attribute name (``"category"``) or a function of a result; it may give several groups
    for one result (a TimeBlind instance with two tags). For pair metrics the key must be the same on
    both items of a pair (category, transform, relation), or pairs are split and count as incomplete.
    """
    get = (lambda r: getattr(r, key)) if isinstance(key, str) else key

    def breakdown(results: Sequence[T]) -> dict[str, R]:
        groups: dict[str, list[T]] = defaultdict(list)
        for r in results:
            k = get(r)
            for g in [k] if isinstance(k, str) else k:
                groups[g].append(r)
        return {g: metric(groups[g]) for g in sorted(groups)}

    return breakdown


def pair_metrics(results: Sequence[ItemResult]) -> dict[str, float]:
    """Every pair metric as a flat dict with the lmms-eval names the leaderboard reads.

    ``p_acc``, ``acc``, ``change_consistency``, ``keep_consistency``, each with ``_ci_low``/``_ci_high``
    (NaN when there is nothing to score), over every pair and item in ``results``: give a ``missing``
    result (``score_item(item, None)``) for each item without a prediction and it counts as wrong.
    ``coverage``, the share of items with a prediction; counts ``n_pairs``, ``n_items``,
    ``n_unparsable``, ``n_missing_items``, ``n_incomplete_pairs`` (one item predicted) and
    ``n_missing_pairs`` (none); then ``p_acc_<category>``, ``acc_<category>`` (with intervals) and
    ``coverage_<category>`` for every category present. Warns when coverage is below 1
    (``CoverageWarning``) and when a pair has a prediction for only one item (``IncompletePairsWarning``).
    """
    incomplete = incomplete_pairs(results)
    missing = [r.item_id for r in results if r.missing]
    if missing:
        unanswered = unanswered_pairs(results)
        warnings.warn(
            f"coverage {len(results) - len(missing)}/{len(results)} items: {len(missing)} item(s) have no "
            f"prediction and count as wrong (no prediction at all for {len(unanswered)} pair(s)): {compact(missing)}",
            CoverageWarning,
            stacklevel=2,
        )
    if incomplete:
        warnings.warn(
            f"{len(incomplete)} pair(s) have a prediction for only one item and count as wrong: " + compact(incomplete),
            IncompletePairsWarning,
            stacklevel=2,
        )
    out: dict[str, float] = {}
    out |= pair_accuracy(results).as_metrics("p_acc")
    out |= accuracy(results).as_metrics("acc")
    out |= change_consistency(results).as_metrics("change_consistency")
    out |= keep_consistency(results).as_metrics("keep_consistency")
    out |= {
        "coverage": coverage(results),
        "n_pairs": len(_by_pair(results)),
        "n_items": len(results),
        "n_unparsable": sum(r.unparsable for r in results),
        "n_missing_items": len(missing),
        "n_incomplete_pairs": len(incomplete),
        "n_missing_pairs": len(unanswered_pairs(results)),
    }
    for name, metric in (("p_acc", pair_accuracy), ("acc", accuracy)):
        for category, score in grouped(metric, "category")(results).items():
            out |= score.as_metrics(f"{name}_{category}")
    for category, share in grouped(coverage, "category")(results).items():
        out[f"coverage_{category}"] = share
    return out
