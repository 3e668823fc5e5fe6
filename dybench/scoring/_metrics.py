"""Per-item results and the pair metrics over them (DESIGN.md Contract 3).

A metric is a pure function from a list of per-item results to a ``Score``. "Could not score" (the
answer was unparsable) is kept apart from "wrong": it counts as wrong in every metric and is counted
separately (``n_unparsable``). A pair is the unit of every pair metric, and of every interval.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from dybench.records import Branch, Category, Item, Relation, Transform
from dybench.scoring._ci import Score
from dybench.scoring._parse import normalize_answer, parse_answer
from dybench.scoring._util import compact

T = TypeVar("T")


class IncompletePairsWarning(UserWarning):
    """Some pairs have a result for only one of their two items; they count as wrong."""


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
    """Canonical parsed answer, or None when the response could not be parsed."""

    @property
    def parsed(self) -> bool:
        """False when the response held no readable answer ("could not score", not "wrong")."""
        return self.pred is not None

    @property
    def correct(self) -> bool:
        """Exact match with the gold answer; an unparsable answer is never correct."""
        return self.pred is not None and self.pred == self.gold

    def to_row(self) -> dict[str, Any]:
        """A JSON-ready dict (lmms-eval passes per-sample results between its stages as data)."""
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ItemResult:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


def score_item(item: Item, response: str) -> ItemResult:
    """Parse a model's response to ``item`` with the shared parser and compare it with the gold."""
    return ItemResult(
        item_id=item.item_id,
        pair_id=item.pair_id,
        category=item.category,
        relation=item.relation,
        branch=item.branch,
        transform=item.transform,
        gold=normalize_answer(item.answer),
        pred=parse_answer(response, len(item.options)),
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


def incomplete_pairs(results: Sequence[ItemResult]) -> list[str]:
    """Pair ids with a result for only one of their two items, sorted."""
    return sorted(pid for pid, pair in _by_pair(results).items() if not _complete(pair))


def accuracy(results: Sequence[ItemResult]) -> Score:
    """Acc: the fraction of items answered correctly (interval over pairs, see ``_ci``)."""
    return Score.of(_mean([float(r.correct) for r in results]), len(_by_pair(results)))


def pair_accuracy(results: Sequence[ItemResult]) -> Score:
    """P-Acc: a pair scores 1 only when both of its items are answered correctly.

    The mean is over the pairs with at least one result; a pair whose other item has no result is
    wrong (``pair_metrics`` warns about it).
    """
    pairs = _by_pair(results).values()
    return Score.of(_mean([float(_complete(p) and all(r.correct for r in p)) for p in pairs]), len(pairs))


def _consistency(results: Sequence[ItemResult], relation: Relation) -> Score:
    pairs = [p for p in _by_pair(results).values() if p[0].relation == relation]
    values = []
    for p in pairs:
        ok = _complete(p) and all(r.parsed for r in p)
        same = len({r.pred for r in p}) == 1
        values.append(float(ok and (same if relation == "keep" else not same)))
    return Score.of(_mean(values), len(pairs))


def change_consistency(results: Sequence[ItemResult]) -> Score:
    """Of the ``change`` pairs, the fraction whose two items got different answers, right or wrong.

    A pair with an unparsable answer or a missing item is inconsistent: it did not show the change.
    """
    return _consistency(results, "change")


def keep_consistency(results: Sequence[ItemResult]) -> Score:
    """Of the ``keep`` pairs, the fraction whose two items got the same answer, right or wrong.

    A pair with an unparsable answer or a missing item is inconsistent.
    """
    return _consistency(results, "keep")


def grouped(
    metric: Callable[[Sequence[T]], Score], key: str | Callable[[T], str | Iterable[str]]
) -> Callable[[Sequence[T]], dict[str, Score]]:
    """Turn ``metric`` into a per-group breakdown: ``{group: metric(results in group)}``, groups sorted.

    ``key`` is an attribute name (``"category"``) or a function of a result; it may give several groups
    for one result (a TimeBlind instance with two tags). For pair metrics the key must be the same on
    both items of a pair (category, transform, relation), or pairs are split and count as incomplete.
    """
    get = (lambda r: getattr(r, key)) if isinstance(key, str) else key

    def breakdown(results: Sequence[T]) -> dict[str, Score]:
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
    (NaN when there is nothing to score); counts ``n_pairs``, ``n_items``, ``n_unparsable``,
    ``n_incomplete_pairs``; then ``p_acc_<category>`` and ``acc_<category>`` (with intervals) for every
    category present. Warns (``IncompletePairsWarning``) when a pair misses one of its items.
    """
    incomplete = incomplete_pairs(results)
    if incomplete:
        warnings.warn(
            f"{len(incomplete)} pair(s) have a result for only one item and count as wrong: " + compact(incomplete),
            IncompletePairsWarning,
            stacklevel=2,
        )
    out: dict[str, float] = {}
    out |= pair_accuracy(results).as_metrics("p_acc")
    out |= accuracy(results).as_metrics("acc")
    out |= change_consistency(results).as_metrics("change_consistency")
    out |= keep_consistency(results).as_metrics("keep_consistency")
    out |= {
        "n_pairs": len(_by_pair(results)),
        "n_items": len(results),
        "n_unparsable": sum(not r.parsed for r in results),
        "n_incomplete_pairs": len(incomplete),
    }
    for name, metric in (("p_acc", pair_accuracy), ("acc", accuracy)):
        for category, score in grouped(metric, "category")(results).items():
            out |= score.as_metrics(f"{name}_{category}")
    return out
