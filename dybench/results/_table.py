"""Search, filter and sort runs; the shortcut gap. Pure functions over `RunRow`s (no UI, no pandas)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from dybench.results._columns import COLUMNS_BY_KEY, Column
from dybench.results._runs import Origin, RunRow

_ACC, _P_ACC = COLUMNS_BY_KEY["acc"], COLUMNS_BY_KEY["p_acc"]


def matches(run: RunRow, query: str) -> bool:
    """True when every whitespace-separated term of ``query`` occurs (any case) in the run's model,
    model class, arguments, date or run id."""
    haystack = " ".join((run.model, run.model_class, run.model_args, run.display_date, run.run_id)).lower()
    return all(term in haystack for term in query.lower().split())


def select_runs(
    runs: Iterable[RunRow],
    *,
    query: str = "",
    origins: Collection[Origin] | None = None,
    sort_by: Column | None = None,
) -> list[RunRow]:
    """The runs matching ``query`` and ``origins``, best first by ``sort_by`` (runs without it last).

    "Best" follows the column's ``higher_is_better``; ties keep the incoming order (newest first).
    """
    chosen = [r for r in runs if matches(r, query) and (origins is None or r.origin in origins)]
    if sort_by is None:
        return chosen
    sign = -1.0 if sort_by.higher_is_better else 1.0

    def key(r: RunRow) -> tuple[bool, float]:
        v = r.value(sort_by)
        return (v is None, 0.0 if v is None else sign * v)

    return sorted(chosen, key=key)


def shortcut_gap(run: RunRow) -> float | None:
    """DyBench Acc minus P-Acc: items a model gets right without getting their counterfactual right.

    A high Acc with a low P-Acc means answers that do not follow the video (shortcuts).
    """
    acc, p_acc = run.value(_ACC), run.value(_P_ACC)
    return None if acc is None or p_acc is None else acc - p_acc
