"""lmms-eval metrics of dybench's tasks: records in, dybench.scoring's numbers out, groups pooled exactly."""

from __future__ import annotations

import copy
import json
import pickle
import warnings

import pytest
from evaldata import pair_items

from dybench.evaluation import _lmms_metrics
from dybench.evaluation._lmms_metrics import Pooled, aggregation, intervals, metric_names, pair_metric_keys, pool
from dybench.scoring import IncompletePairsWarning, ItemResult, pair_metrics, score_item, timeblind_metrics

ITEMS = pair_items()


def _responses(pattern: str) -> dict[str, str]:
    """item_id -> a response: the gold answer where ``pattern`` has 1, else a wrong or unreadable one."""
    out = {}
    for item, right in zip(ITEMS, pattern, strict=True):
        wrong = "no" if item.answer == "yes" else ("A" if item.answer != "A" else "B")
        out[item.item_id] = {"1": item.answer, "0": wrong, "?": "I cannot tell"}[right]
    return out


def _per_metric(docs_and_responses) -> dict[str, list[dict]]:
    """What lmms-eval hands the aggregations: for each metric, the records of the documents reporting it."""
    lists: dict[str, list[dict]] = {}
    for doc, response in docs_and_responses:
        for key, record in _lmms_metrics.pair_results(doc, response).items():
            lists.setdefault(key, []).append(record)
    return lists


def _aggregate(lists: dict[str, list[dict]]) -> dict[str, float]:
    names = metric_names("pair", sorted({i.category for i in ITEMS}))
    return {key: aggregation("pair", names[key])(records) for key, records in lists.items()}


PATTERN = "1101111110?1"
"""Right/wrong/unreadable per item: one moving-direction pair keeps its answer, the others change it."""


def test_pair_task_metrics_equal_scoring_of_the_same_responses():
    responses = _responses(PATTERN)
    lists = _per_metric((item.to_row(), responses[item.item_id]) for item in ITEMS)
    got = _aggregate(lists)
    want = pair_metrics([score_item(item, responses[item.item_id]) for item in ITEMS])
    for key, value in got.items():
        assert value == pytest.approx(want[key]), key
        assert value.interval == pytest.approx((want[f"{key}_ci_low"], want[f"{key}_ci_high"])), key
    reported = {k for k in want if not k.startswith(("n_", "coverage")) and not k.endswith(("_ci_low", "_ci_high"))}
    assert reported == set(got)  # lmms-eval answers every doc; intervals ride on the values, not as metrics
    assert "keep_consistency" in got and all(r["relation"] == "keep" for r in lists["keep_consistency"])


def test_placeholder_documents_report_nothing():
    row = ITEMS[0].to_row() | {"placeholder": True}
    assert _lmms_metrics.pair_results(row, "A") == {}
    assert pair_metric_keys("static", "keep") == ["p_acc", "acc", "keep_consistency", "p_acc_static", "acc_static"]


def test_group_pools_subtasks_instead_of_averaging_them():
    responses = _responses(PATTERN)
    by_category: dict[str, dict[str, float]] = {}
    for category in sorted({i.category for i in ITEMS}):
        docs = [(i.to_row(), responses[i.item_id]) for i in ITEMS if i.category == category]
        by_category[category] = _aggregate(_per_metric(docs))
    want = pair_metrics([score_item(item, responses[item.item_id]) for item in ITEMS])
    for key in ("p_acc", "acc", "change_consistency", "keep_consistency", "p_acc_static"):
        values = [m[key] for m in by_category.values() if key in m]
        pooled = pool(values, [1] * len(values), True)
        assert pooled == pytest.approx(want[key]), key
        assert pooled.interval == pytest.approx((want[f"{key}_ci_low"], want[f"{key}_ci_high"])), key
    means = [m["change_consistency"] for m in by_category.values() if "change_consistency" in m]
    assert sum(means) / len(means) != pytest.approx(want["change_consistency"]), "a mean of means would differ here"


@pytest.mark.filterwarnings("ignore:.*only one evaluated item")
def test_pool_refuses_foreign_or_mixed_values():
    a = aggregation("pair", "acc")([score_item(ITEMS[0], "B").to_row()])
    b = aggregation("pair", "p_acc")([score_item(ITEMS[1], "A").to_row()])
    with pytest.raises(TypeError, match="dybench metrics only"):
        pool([a, 0.5], [1, 1])
    with pytest.raises(TypeError, match="cannot pool different metrics"):
        pool([a, b], [1, 1])


def test_pooled_is_a_plain_number_outside():
    value = aggregation("pair", "acc")([score_item(item, "B").to_row() for item in ITEMS[:2]])
    assert ITEMS[0].pair_id == ITEMS[1].pair_id and (ITEMS[0].answer, ITEMS[1].answer) == ("B", "A")
    assert isinstance(value, float) and value == 0.5
    assert json.dumps({"acc,none": value}) == '{"acc,none": 0.5}'
    for clone in (copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert clone == value and clone.records == value.records and clone.metric == "acc"
        assert clone.interval == value.interval


def test_a_pair_cut_in_half_by_limit_is_left_out_with_a_warning():
    """lmms-eval answers every document it evaluates: a pair with one record lost its other item to
    ``--limit`` (DESIGN.md Contract 3: P-Acc over the evaluated pairs, --limit cuts whole pairs)."""
    rows = [score_item(item, item.answer).to_row() for item in ITEMS[:3]]  # pair 0 whole, pair 1 cut
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert aggregation("pair", "p_acc")(rows) == 1.0
        assert aggregation("pair", "acc")(rows).interval == aggregation("pair", "acc")(rows[:2]).interval
    assert any("1 pair(s) have only one evaluated item" in str(w.message) for w in caught)
    assert not any(issubclass(w.category, IncompletePairsWarning) for w in caught)


def test_item_rows_logged_before_missing_existed_still_load():
    row = score_item(ITEMS[0], "B").to_row()
    del row["missing"]
    assert ItemResult.from_row(row) == score_item(ITEMS[0], "B")


def test_timeblind_aggregation_is_the_official_scorer():
    docs = [{"index": i, "type": "yes_no" if i < 4 else "multiple_choice"} for i in range(8)]
    answers = ["Yes", "No", "no.", "Yes!", "A", "B", "answer: B", "(A)"]
    lists: dict[str, list[dict]] = {}
    for doc, answer in zip(docs, answers, strict=True):
        for key, record in _lmms_metrics.timeblind_results(doc, answer).items():
            lists.setdefault(key, []).append(record)
    want = timeblind_metrics(dict(enumerate(answers)), types=[d["type"] for d in docs])
    assert want["i_acc"] == 1.0
    for key, records in lists.items():
        assert aggregation("timeblind", key)(records) == pytest.approx(want[key]), key


def test_choice_metrics_by_category():
    docs = [
        {"doc_id": "q1", "answer": "B", "options": ["x", "y"], "categories": ["speed", "yes_no"]},
        {"doc_id": "q2", "answer": "yes", "options": [], "categories": ["speed"]},
        {"doc_id": "q3", "answer": "A", "options": ["x", "y", "z"], "categories": ["order"]},
    ]
    lists: dict[str, list[dict]] = {}
    for doc, response in zip(docs, ["The answer is B.", "maybe", "A"], strict=True):
        for key, record in _lmms_metrics.choice_results(doc, response).items():
            lists.setdefault(key, []).append(record)
    names = metric_names("choice", ["speed", "order", "yes_no"])
    got = {k: aggregation("choice", names[k])(v) for k, v in lists.items()}
    assert got["acc"] == pytest.approx(2 / 3) and got["acc_speed"] == 0.5 and got["acc_order"] == 1.0
    low, high = got["acc"].interval
    assert 0 < low < got["acc"] < high < 1


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="timeblind tasks have no metric 'p_acc'"):
        aggregation("timeblind", "p_acc")


def test_pooled_family_and_metric_travel_with_the_value():
    value = aggregation("choice", "acc")([{"doc_id": "q", "gold": "A", "pred": "A"}])
    assert isinstance(value, Pooled) and (value.family, value.metric) == ("choice", "acc")


def test_bounds_are_not_metrics_of_the_tasks():
    """A bound registered as a metric would be listed, and sortable, as a score (issue 17)."""
    for family in ("pair", "timeblind", "choice"):
        assert not any(name.endswith(("_ci_low", "_ci_high")) for name in metric_names(family, ["static"]))
        with pytest.raises(ValueError, match="has no metric|have no metric"):
            aggregation(family, "acc_ci_low")


def test_intervals_are_collected_beside_their_metrics():
    records = [score_item(item, item.answer).to_row() for item in ITEMS[:2]]
    p_acc = aggregation("pair", "p_acc")(records)
    results = {
        "dybench_pair": {"alias": "dybench_pair", "p_acc,none": p_acc, "p_acc_stderr,none": "N/A"},
        "videomme": {"videomme_perception_score,none": 55.0},  # another suite's plain number: no interval
    }
    assert intervals(results) == {"dybench_pair": {"p_acc": list(p_acc.interval)}}
    assert p_acc.interval[0] < 1.0 == p_acc.interval[1]
