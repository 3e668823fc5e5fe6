"""Pair metrics on a hand-computed case: P-Acc, Acc, consistency, per category, intervals, counts."""

from __future__ import annotations

import math

import pytest

from dybench.records import Item
from dybench.scoring import (
    CoverageWarning,
    IncompletePairsWarning,
    ItemResult,
    Proportion,
    accuracy,
    change_consistency,
    grouped,
    incomplete_pairs,
    keep_consistency,
    pair_accuracy,
    pair_metrics,
    score_item,
    whole_pairs,
    wilson_interval,
)

OPTS = ("left", "right", "up", "down")


def item(pair, branch, answer, category="moving_direction", relation="change", options=OPTS) -> Item:
    return Item(
        item_id=f"{pair}-{branch[:2]}",
        pair_id=pair,
        branch=branch,
        transform="hflip",
        relation=relation,
        category=category,
        video=f"videos/{pair}-{branch}.mp4",
        question="What happens?",
        options=options,
        answer=answer,
        source_id=pair,
    )


# (original item, original response, counterfactual item, counterfactual response); None = no result
CASE = [
    # p1 change, both right, answers differ
    (item("p1", "original", "B"), "B", item("p1", "counterfactual", "A"), "The answer is (A)."),
    # p2 change, counterfactual wrong, answers the same: inconsistent
    (item("p2", "original", "B"), "B. right", item("p2", "counterfactual", "A"), "B"),
    # p3 keep, counterfactual unparsable: wrong, inconsistent, counted as unparsable
    (item("p3", "original", "A", "static", "keep"), "A", item("p3", "counterfactual", "A", "static", "keep"),
     "I cannot tell"),
    # p4 keep, both wrong but the same answer: consistent
    (item("p4", "original", "C", "static", "keep"), "D", item("p4", "counterfactual", "C", "static", "keep"),
     "<answer>D</answer>"),
    # p5 multi-letter: original right, counterfactual names a subset (wrong), answers differ
    (item("p5", "original", "A,C", "event_sequence"), "A and C",
     item("p5", "counterfactual", "B,D", "event_sequence"), "<think>B or D</think><answer>B</answer>"),
    # p6 incomplete: the counterfactual has no result
    (item("p6", "original", "B"), "B", None, None),
    # p7 yes/no
    (item("p7", "original", "yes", "reversible_dynamics", options=()), "Yes.",
     item("p7", "counterfactual", "no", "reversible_dynamics", options=()), "No, it does not."),
]  # fmt: skip


def results() -> list[ItemResult]:
    out = []
    for orig, orig_resp, cf, cf_resp in CASE:
        out.append(score_item(orig, orig_resp))
        if cf is not None:
            out.append(score_item(cf, cf_resp))
    return out


def test_item_results():
    r = {x.item_id: x for x in results()}
    assert r["p1-co"].pred == "A" and r["p1-co"].correct
    assert r["p3-co"].pred is None and not r["p3-co"].parsed and not r["p3-co"].correct
    assert r["p4-or"].parsed and not r["p4-or"].correct  # wrong is not unparsable
    assert r["p5-or"].gold == "A,C" and r["p5-or"].correct
    assert r["p5-co"].pred == "B" and not r["p5-co"].correct
    assert r["p7-or"].pred == "yes" and r["p7-or"].correct
    assert ItemResult.from_row(r["p5-or"].to_row()) == r["p5-or"]


def test_hand_computed_metrics():
    rs = results()
    assert len(rs) == 13
    assert accuracy(rs).value == pytest.approx(8 / 13)  # p1 2, p2 1, p3 1, p4 0, p5 1, p6 1, p7 2
    assert pair_accuracy(rs).value == pytest.approx(2 / 7)  # p1 and p7
    assert change_consistency(rs).value == pytest.approx(3 / 5)  # p1, p5, p7 of p1 p2 p5 p6 p7
    assert keep_consistency(rs).value == pytest.approx(1 / 2)  # p4 of p3 p4
    assert pair_accuracy(rs).n == accuracy(rs).n == 7  # intervals are over pairs
    assert incomplete_pairs(rs) == ["p6"]


def test_pair_metrics_names_counts_and_categories():
    with pytest.warns(IncompletePairsWarning, match="1 pair.*p6"):
        m = pair_metrics(results())
    assert m["p_acc"] == pytest.approx(2 / 7)
    assert m["acc"] == pytest.approx(8 / 13)
    assert m["change_consistency"] == pytest.approx(3 / 5)
    assert m["keep_consistency"] == pytest.approx(1 / 2)
    assert (m["n_pairs"], m["n_items"], m["n_unparsable"], m["n_incomplete_pairs"]) == (7, 13, 1, 1)
    assert m["p_acc_moving_direction"] == pytest.approx(1 / 3)  # p1 of p1 p2 p6
    assert m["acc_moving_direction"] == pytest.approx(4 / 5)
    assert m["p_acc_static"] == 0.0 and m["acc_static"] == pytest.approx(1 / 4)
    assert m["p_acc_event_sequence"] == 0.0 and m["acc_event_sequence"] == pytest.approx(1 / 2)
    assert m["p_acc_reversible_dynamics"] == 1.0 and m["acc_reversible_dynamics"] == 1.0
    assert "p_acc_spatial" not in m  # only categories present
    assert (m["p_acc_ci_low"], m["p_acc_ci_high"]) == pytest.approx(wilson_interval(2 / 7, 7))
    assert (m["p_acc_static_ci_low"], m["p_acc_static_ci_high"]) == pytest.approx(wilson_interval(0.0, 2))
    for name in m:
        if name.endswith("_ci_low"):
            base = name.removesuffix("_ci_low")
            assert m[name] <= m[base] <= m[f"{base}_ci_high"]


def test_complete_pairs_do_not_warn(recwarn):
    pair_metrics([r for r in results() if r.pair_id != "p6"])
    assert not [w for w in recwarn if issubclass(w.category, IncompletePairsWarning)]


@pytest.mark.filterwarnings("ignore::dybench.scoring.IncompletePairsWarning")
def test_a_missing_item_is_wrong_and_lowers_coverage():
    """DESIGN.md Contract 3: a missing item is wrong, the mean is over every pair, coverage is reported."""
    answered = results()
    p6_co = item("p6", "counterfactual", "A")
    p8 = [item("p8", "original", "B", "static", "keep"), item("p8", "counterfactual", "B", "static", "keep")]
    rs = [*answered, score_item(p6_co, None), *(score_item(it, None) for it in p8)]
    missing = rs[-3]
    assert missing.missing and not missing.correct and not missing.unparsable and missing.pred is None
    with pytest.warns(CoverageWarning, match=r"coverage 13/16 items: 3 item\(s\) have no prediction .* 1 pair"):
        m = pair_metrics(rs)
    assert m["p_acc"] == pytest.approx(2 / 8) and m["acc"] == pytest.approx(8 / 16)
    assert m["keep_consistency"] == pytest.approx(1 / 3)  # p4 of p3 p4 p8: no answer is no consistency
    assert (m["n_pairs"], m["n_items"], m["n_unparsable"], m["n_missing_items"]) == (8, 16, 1, 3)
    assert (m["n_incomplete_pairs"], m["n_missing_pairs"]) == (1, 1)  # p6 half answered, p8 not at all
    assert m["coverage"] == pytest.approx(13 / 16) and m["coverage_static"] == pytest.approx(4 / 6)
    assert m["coverage_moving_direction"] == pytest.approx(5 / 6)
    assert incomplete_pairs(rs) == ["p6"]


def test_grouped_is_the_one_breakdown():
    by_relation = grouped(pair_accuracy, "relation")(results())
    assert list(by_relation) == ["change", "keep"]
    assert by_relation["change"].value == pytest.approx(2 / 5) and by_relation["keep"].value == 0.0
    by_letter = grouped(accuracy, lambda r: r.gold.split(","))(results())  # several groups per result
    assert by_letter["A"].value == pytest.approx(3 / 5)  # p1-co, p3-or, p5-or right; p2-co, p3-co not
    assert by_letter["C"].n == 2  # p4 and p5


def test_empty_is_nan_not_an_error():
    s = pair_accuracy([])
    assert s.n == 0 and math.isnan(s.value) and math.isnan(s.ci_low)
    assert math.isnan(pair_metrics([])["change_consistency"])


def test_wilson_interval():
    assert wilson_interval(0.5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)  # textbook value
    low, high = wilson_interval(0.0, 7)
    assert low == 0.0 and 0.3 < high < 0.4  # stays inside [0, 1] at 0 %
    assert wilson_interval(1.0, 7)[1] == 1.0
    assert Proportion.of(0.25, 4).as_metrics("x").keys() == {"x", "x_ci_low", "x_ci_high"}


def test_one_record_of_a_value_and_its_interval_for_computed_read_and_missing_numbers():
    computed = Proportion.of(0.25, 4)
    assert computed.interval == (computed.ci_low, computed.ci_high) and computed.n == 4
    read = Proportion(0.4)  # a results file's number without an interval (dybench.results.TaskMetric.score)
    assert read.interval is None and read.n is None and read.as_metrics("acc") == {"acc": 0.4}
    missing = Proportion(None)  # a metric the run does not report (dybench reproduce's report)
    assert missing.interval is None and math.isnan(missing.as_metrics("acc")["acc"])


def test_whole_pairs_leaves_out_only_pairs_cut_in_half():
    """The one rule behind lmms-eval's pair scores and the leaderboard's re-scoring of them."""
    results = [
        score_item(item("p1", "original", "A"), "A"),
        score_item(item("p1", "counterfactual", "B"), "B"),
        score_item(item("p2", "original", "A"), "A"),  # its counterfactual was never evaluated
        score_item(item("p3", "original", "A"), "C"),
        score_item(item("p3", "counterfactual", "B"), "nonsense"),  # answered (wrongly): stays
    ]
    kept, cut = whole_pairs(results)
    assert cut == ["p2"]
    assert [r.pair_id for r in kept] == ["p1", "p1", "p3", "p3"]
    assert pair_accuracy(kept).value == 0.5
