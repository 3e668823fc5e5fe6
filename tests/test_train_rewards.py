"""Rewards: accuracy and format through the evaluation's parser, and CRPO's relation reward."""

from __future__ import annotations

from pathlib import Path

import pytest

from dybench.train.data import Example, Prompt
from dybench.train.rewards import accuracy_reward, format_reward, relation_reward, score_rollout


def _prompt(answer: str, n_options: int = 4, branch: str = "original") -> Prompt:
    options = tuple(f"option {i}" for i in range(n_options))
    return Prompt("p", Path("/v.mp4"), "Which?", options, answer, branch)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("response", "gold", "reward"),
    [
        ("<think>it moves right</think><answer>B</answer>", "B", 1.0),
        ("<think>The answer is B</think><answer>C</answer>", "C", 1.0),  # the answer tag decides
        ("<think>The answer is B</think><answer>C</answer>", "B", 0.0),
        ("<think>two are true</think><answer>A</answer>", "A,C", 0.5),  # subset of a multi-letter gold
        ("<answer> A and C </answer>", "A,C", 1.0),
        ("<answer>A, B</answer>", "A,C", 0.0),  # not a subset
        ("I cannot tell from the video.", "A", 0.0),  # unparsable earns nothing
        ("B. right", "B", 1.0),  # free text still scores: format is a separate reward
    ],
)
def test_accuracy_reward(response, gold, reward):
    assert accuracy_reward(response, _prompt(gold)) == pytest.approx(reward)


def test_accuracy_reward_yes_no():
    yes = Prompt("p", Path("/v.mp4"), "Is it moving?", (), "yes")
    assert accuracy_reward("<think>it is</think><answer>Yes</answer>", yes) == 1.0
    assert accuracy_reward("<answer>no</answer>", yes) == 0.0


@pytest.mark.parametrize(
    ("response", "ok"),
    [
        ("<think>a</think><answer>B</answer>", True),
        ("  <think>a</think>\n<answer>B</answer>\n", True),
        ("<think>a</think><answer>B</answer> extra words", False),
        ("<answer>B</answer>", False),
        ("<think>a</think>", False),
        ("<think>a</think><answer>B</answer><answer>C</answer>", False),
    ],
)
def test_format_reward(response, ok):
    assert format_reward(response) == float(ok)


@pytest.mark.parametrize("mode", ["differ", "mapped"])
def test_keep_relation_wants_the_same_right_answer_in_both_modes(mode):
    kw = {"relation": "keep", "mode": mode, "original_gold": "A", "counterfactual_gold": "A"}
    assert relation_reward("A", "A", **kw) == 1.0
    assert relation_reward("B", "B", **kw) == 0.0  # consistent but wrong earns nothing
    assert relation_reward("A", "B", **kw) == 0.0
    assert relation_reward(None, "A", **kw) == 0.0
    assert relation_reward(None, None, **kw) == 0.0


def test_change_relation_differ_mode():
    kw = {"relation": "change", "mode": "differ", "original_gold": "B", "counterfactual_gold": "A"}
    assert relation_reward("B", "A", **kw) == 1.0
    assert relation_reward("B", "C", **kw) == 1.0  # any change counts
    assert relation_reward("B", "B", **kw) == 0.0
    assert relation_reward("B", None, **kw) == 0.0


def test_change_relation_mapped_mode():
    kw = {"relation": "change", "mode": "mapped", "original_gold": "B", "counterfactual_gold": "A"}
    assert relation_reward("B", "A", **kw) == 1.0
    assert relation_reward("A", "B", **kw) == 1.0  # the mapping is a swap: consistently mirrored
    assert relation_reward("B", "C", **kw) == 0.0  # changed, but not to the mapped answer
    assert relation_reward("C", "D", **kw) == 0.0  # outside the pair's mapping
    assert relation_reward("B", "B", **kw) == 0.0
    multi = {"relation": "change", "mode": "mapped", "original_gold": "A,C", "counterfactual_gold": "B,D"}
    assert relation_reward("A,C", "B,D", **multi) == 1.0
    assert relation_reward("A", "B,D", **multi) == 0.0


def test_score_rollout_pairs_branches_and_averages_crr():
    orig, cf = _prompt("B", 2), _prompt("A", 2, "counterfactual")
    pair = Example((orig, cf), relation="change", transform="hflip")
    single = Example((_prompt("B", 2),))
    ok = "<think>t</think><answer>{}</answer>"
    texts = [
        ok.format("B"), ok.format("A"),  # original branch, G = 2
        ok.format("A"), "no idea",  # counterfactual branch
        ok.format("B"), "B",  # a third, unpaired prompt
    ]  # fmt: skip
    terms = score_rollout(texts, [pair, single], 2, crr_weight=0.5, crr_mode="mapped")
    assert terms.parsed == ["B", "A", "A", None, "B", "B"]
    assert terms.accuracy == [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    assert terms.format == [1.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    # original "B" maps to "A": matches cf completion 0 only -> 1/2; original "A" maps to "B": none -> 0
    # cf "A" is matched by original completion 0 -> 1/2; cf None -> 0
    assert terms.crr == [0.5, 0.0, 0.5, 0.0, 0.0, 0.0]
    assert terms.total == [a + f + 0.5 * c for a, f, c in zip(terms.accuracy, terms.format, terms.crr, strict=True)]
    with pytest.raises(ValueError, match="completions"):
        score_rollout(texts[:5], [pair, single], 2)
