"""TimeBlind: the official extraction and scores (github.com/Baiqi-Li/TimeBlind utils.py, 644fdf4).

Expected values are hand-computed from the official scorer's documented behaviour; the constructed
prediction set was also checked against the official ``build_answers`` + ``get_scores``
(Acc 0.5625, Q-Acc 0.5, V-Acc 0.375, I-Acc 0.25).
"""

from __future__ import annotations

import pytest

from dybench.scoring import ROLES, timeblind_extract, timeblind_instances, timeblind_metrics


@pytest.mark.parametrize(
    "response, expected",
    [
        ("Yes", 1),
        ("no.", 0),
        ("Final answer: no. Yes it was", 0),  # a stated answer beats the first yes/no word
        ("prediction：yes", 1),  # full-width colon
        ("ｙｅｓ", 1),  # NFKC
        ("Yes, it moves left", 1),
        ("Yes: it moves", -1),  # the official word rule wants whitespace, . , ! ? ) or the end after it
        ("eyes closed", -1),
        ("", -1),
        (None, -1),
        ("   ", -1),
    ],
)
def test_extract_yes_no(response, expected):
    assert timeblind_extract(response, "yes_no") == expected


@pytest.mark.parametrize(
    "response, expected",
    [
        ("A", 1),
        ("(b) maybe A", 0),  # brackets beat a lone letter
        ("Option: b", 0),
        ("b.x", 0),  # a label directly followed by a word character
        ("B. left", 0),  # not a label there (space after the dot), but a lone B
        ("A/B", -1),  # next to a slash: not a letter
        ("I think a", 1),  # the article "a" reads as A: official behaviour, kept
        ("A seems plausible, but the answer is B", 1),  # lone letters before the answer keyword first
        ("The video shows a dog. Answer: B", 0),  # a stated answer beats everything
        ("Yes", -1),
    ],
)
def test_extract_multiple_choice(response, expected):
    assert timeblind_extract(response, "multiple_choice") == expected


def test_extract_unknown_type():
    assert timeblind_extract("", "open") == -1  # empty first, as officially
    with pytest.raises(ValueError, match="yes_no"):
        timeblind_extract("Yes", "open")


# Five instances (20 items); instance 2 misses role 3 and instance 4 has no prediction at all.
TYPES = ["yes_no"] * 4 + ["multiple_choice"] * 4 + ["yes_no"] * 8 + ["multiple_choice"] * 4
OUTPUTS = {
    # 0: all right -> acc 4, Q 2, V 2, I 1
    0: "Yes", 1: "No.", 2: "no", 3: "Yes, it does",
    # 1: extracted 1, 0, 1 (the article "a"), 1 -> right, right, wrong, right: acc 3, Q 1, V 1, I 0
    4: "(A)", 5: "The answer is B", 6: "a cat appears", 7: "Answer: A",
    # 2: role 3 missing -> all four -1, all wrong
    8: "Yes", 9: "No", 10: "No",
    # 3: -1, -1, 0, 1 -> wrong, wrong, right, right: acc 2, Q 1, V 0, I 0
    12: "", 13: "I cannot tell", 14: "No", 15: "Yes",
}  # fmt: skip


def test_instances_roles_and_missing():
    assert ROLES == ("q0_i0", "q0_i1", "q1_i0", "q1_i1")
    shuffled = dict(reversed(list(OUTPUTS.items())))  # grouping is by index, not by order
    got = {x.instance: x for x in timeblind_instances(shuffled, types=TYPES, n_instances=5)}
    assert got[0].extracted == (1, 0, 0, 1) and got[0].status == "scored"
    assert got[1].extracted == (1, 0, 1, 1)
    assert got[2].extracted == (-1, -1, -1, -1) and got[2].status == "incomplete"
    assert got[3].extracted == (-1, -1, 0, 1)
    assert got[4].status == "missing" and not any(got[4].correct)


def test_metrics_official_semantics():
    m = timeblind_metrics(OUTPUTS, types=TYPES)  # N = 4 instances with predictions, as officially
    assert m["acc"] == pytest.approx(9 / 16)
    assert m["q_acc"] == pytest.approx(4 / 8)
    assert m["v_acc"] == pytest.approx(3 / 8)
    assert m["i_acc"] == pytest.approx(1 / 4)
    assert (m["n_instances"], m["n_items"], m["n_unparsable"]) == (4, 15, 2)
    assert (m["n_incomplete_instances"], m["n_missing_instances"]) == (1, 0)
    assert m["i_acc_ci_low"] < m["i_acc"] < m["i_acc_ci_high"]


def test_metrics_missing_instances_count_as_wrong():
    m = timeblind_metrics(OUTPUTS, 5, types=TYPES)
    assert (m["acc"], m["q_acc"], m["v_acc"], m["i_acc"]) == pytest.approx((9 / 20, 4 / 10, 3 / 10, 1 / 5))
    assert m["n_missing_instances"] == 1
    with pytest.raises(ValueError, match="outside the 2 instances"):
        timeblind_metrics(OUTPUTS, 2, types=TYPES)


def test_out_of_bounds_and_unknown_type_void_the_instance():
    preds = {0: "Yes", 1: "No", 2: "No", 3: "Yes"}
    assert timeblind_metrics(preds, types=["yes_no"] * 3)["i_acc"] == 0.0  # index 3 outside the data
    assert timeblind_metrics(preds, types=["yes_no"] * 3 + ["open"])["acc"] == 0.0  # extraction raises
    assert timeblind_metrics(preds, types=dict.fromkeys(range(4), "yes_no"))["i_acc"] == 1.0


def test_per_tag_breakdown():
    tags = {"Speed": list(range(8)), "Force": [12, 13, 14, 15], "Both": [0, 1, 2, 3, 12]}
    m = timeblind_metrics(OUTPUTS, types=TYPES, tags=tags)
    assert m["i_acc_speed"] == pytest.approx(1 / 2) and m["acc_speed"] == pytest.approx(7 / 8)
    assert m["i_acc_force"] == 0.0 and m["acc_force"] == pytest.approx(2 / 4)
    assert m["i_acc_both"] == pytest.approx(1 / 2)  # an instance may carry several tags
