"""Rewards: accuracy and format through the evaluation's parser, and CRPO's relation reward."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dybench.train._data import Example, Prompt
from dybench.train._loss import group_advantages
from dybench.train._rewards import (
    Probes,
    RewardWeights,
    accuracy_reward,
    behave_reward,
    format_reward,
    relation_reward,
    reverse_reward,
    score_rollout,
    temporal_bonus,
)


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


def test_score_rollout_differ_mapped_pairs_branches_and_averages_crr():
    orig, cf = _prompt("B", 2), _prompt("A", 2, "counterfactual")
    pair = Example((orig, cf), relation="change", transform="hflip")
    single = Example((_prompt("B", 2),))
    texts = [
        OK.format("B"), OK.format("A"),  # original branch, G = 2
        OK.format("A"), "no idea",  # counterfactual branch
        OK.format("B"), "B",  # a third, unpaired prompt
    ]  # fmt: skip
    terms = score_rollout(texts, [pair, single], 2, weights=RewardWeights(crr=0.5), crr_mode="mapped")
    assert terms.parsed == ["B", "A", "A", None, "B", "B"]
    assert terms.correct == [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]  # both branches earn accuracy in mapped mode
    assert terms.format == [1.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    # original "B" maps to "A": matches cf completion 0 only -> 1/2; original "A" maps to "B": none -> 0
    # cf "A" is matched by original completion 0 -> 1/2; cf None -> 0
    assert terms.crr_orig == [0.5, 0.0, None, None, None, None]
    assert terms.crr_aug == [None, None, 0.5, 0.0, None, None]
    assert terms.behave == [None] * 6
    assert terms.total == [2.25, 1.0, 2.25, 0.0, 2.0, 1.0]
    assert terms.means()["reward_crr_orig"] == 0.25 and terms.means()["reward_behave"] == 0.0
    paired = score_rollout(texts, [pair, single], 2, weights=RewardWeights(crr=1), crr_mode="differ",
                           crr_partner="paired")  # fmt: skip
    assert paired.crr_orig[:2] == [1.0, 0.0] and paired.crr_aug[2:4] == [1.0, 0.0]  # B/A differ; A/None earns 0
    with pytest.raises(ValueError, match="completions"):
        score_rollout(texts[:5], [pair, single], 2)


# --- crr_mode=published (the CRPO project page) -------------------------------------------------------------

OK = "<think>t</think><answer>{}</answer>"


def _null_pair(gold: str, relation: str) -> Example:
    """A two-option question with the null option appended (C = "None of the above")."""
    orig = Prompt("o", Path("/v.mp4"), "Which way?", ("left", "right"), gold).with_null_option()
    cf = Prompt("c", Path("/cf.mp4"), "Which way?", ("left", "right"), None, "counterfactual").with_null_option()
    return Example((orig, cf), relation=relation, transform="hflip")  # type: ignore[arg-type]


def _published(texts, example, **kw):
    return score_rollout(texts, [example], 2, weights=RewardWeights(crr=1.0), crr_mode="published", **kw)


def test_published_dynamic_pair_by_hand():
    texts = [OK.format("B"), "B",  # original: right in format; right out of format
             OK.format("None of the above"), OK.format("B")]  # cf: the null option (a change); unchanged  # fmt: skip
    t = _published(texts, _null_pair("B", "change"))
    assert t.parsed == ["B", "B", "C", "B"]
    assert t.correct == [1.0, 1.0, None, None]  # the counterfactual branch earns no correctness term
    assert t.behave == [None, None, 1.0, 0.0]
    # crr_orig_i = [correct_i] x mean(behave) = 1 x 1/2; crr_aug_j = [behave_j] x mean(correct) = 1 x 1 or 0
    assert t.crr_orig == [0.5, 0.5, None, None] and t.crr_aug == [None, None, 1.0, 0.0]
    assert t.total == [1 + 1 + 0.5, 1 + 0 + 0.5, 1 + 1 + 1, 1 + 0 + 0]
    assert t.means() == {"reward_correct": 1.0, "reward_format": 0.75, "reward_behave": 0.5,
                         "reward_crr_orig": 0.5, "reward_crr_aug": 0.5, "reward_temporal": 0.0,
                         "reward_reverse": 0.0}  # fmt: skip


def test_published_gates_close_on_wrong_or_unparsable_original_rollouts():
    texts = [OK.format("A"), "I cannot tell", OK.format("A"), "nothing readable"]
    t = _published(texts, _null_pair("B", "change"))
    assert t.parsed == ["A", None, "A", None] and t.correct == [0.0, 0.0, None, None]
    assert t.behave == [None, None, 1.0, 0.0]  # "A" differs from the original's gold B; unparsable never behaves
    assert t.crr_orig == [0.0, 0.0, None, None]  # gate shut: no original rollout is correct
    assert t.crr_aug == [None, None, 0.0, 0.0]  # gate open for rollout 2, but no original is correct
    assert t.total == [1.0, 0.0, 2.0, 0.0]
    ungated = _published(texts, _null_pair("B", "change"), crr_gated=False)
    assert ungated.crr_orig == [0.5, 0.5, None, None]  # the cf behave rate, whatever this rollout said
    assert ungated.crr_aug == [None, None, 0.0, 0.0]


def test_published_static_pair_wants_the_original_answer_kept():
    example = _null_pair("A", "keep")
    texts = [OK.format("A"), OK.format("B"), OK.format("A"), OK.format("C")]  # cf: kept; the null option
    t = _published(texts, example)
    assert t.behave == [None, None, 1.0, 0.0]  # for a static question the null option is not the answer
    assert t.crr_orig == [0.5, 0.0, None, None]  # rollout 0 correct x behave rate 1/2; rollout 1 wrong
    assert t.crr_aug == [None, None, 0.5, 0.0]  # rollout 2 behaves x correct rate 1/2
    assert t.total == [2.5, 1.0, 2.5, 1.0]
    paired = _published(texts, example, crr_partner="paired")
    assert paired.crr_orig == [1.0, 0.0, None, None] and paired.crr_aug == [None, None, 1.0, 0.0]


def test_published_weights_apply_per_term():
    texts = [OK.format("B"), "B", OK.format("C"), OK.format("B")]
    t = score_rollout(texts, [_null_pair("B", "change")], 2, crr_mode="published",
                      weights=RewardWeights(correct=2.0, format=0.5, behave=3.0, crr=0.25))  # fmt: skip
    assert t.total == [2 + 0.5 + 0.125, 2 + 0 + 0.125, 0.5 + 3 + 0.25, 0.5]


def test_null_option_is_last_and_never_doubled():
    p = Prompt("p", Path("/v.mp4"), "Which way?", ("left", "right"), "B").with_null_option()
    assert p.options == ("left", "right", "None of the above") and p.answer == "B"
    assert p.with_null_option() == p
    assert Prompt("y", Path("/v.mp4"), "Moving?", (), "yes").with_null_option().options == ()
    assert "C. None of the above" in p.text("Answer.")


@pytest.mark.parametrize(
    ("answer", "relation", "reward"),
    [("C", "change", 1.0), ("A", "change", 1.0), ("B", "change", 0.0), (None, "change", 0.0),
     ("B", "keep", 1.0), ("C", "keep", 0.0), (None, "keep", 0.0)],
)  # fmt: skip
def test_behave_reward(answer, relation, reward):
    assert behave_reward(answer, relation=relation, gold="B") == reward


# --- which CRPO settings let the relation terms change an advantage -----------------------------------------


def _crr_shift(rng, *, advantage_groups: str, crr_partner: str, in_format: bool = True) -> float:
    """Largest |advantage with the relation terms - without| over one random dynamic pair (G = 4)."""
    G = 4
    answers = rng.choice(["A", "B", "C"], size=2 * G)
    texts = [OK.format(a) if in_format or rng.random() < 0.5 else a for a in answers]
    terms = score_rollout(texts, [_null_pair("B", "change")], G, weights=RewardWeights(crr=1.0),
                          crr_mode="published", crr_partner=crr_partner)  # fmt: skip
    shape = (1, 2 * G) if advantage_groups == "pair" else (2, G)
    with_crr = group_advantages(torch.tensor(terms.total).view(shape))
    without = group_advantages(torch.tensor(terms.total_without_relation()).view(shape))
    return float((with_crr - without).abs().max())


def test_relation_terms_cancel_under_per_branch_groups_with_group_rates_and_constant_format():
    """crr_orig_i = [correct_i] x (a rate shared by the group) and crr_aug_j = [behave_j] x (a shared rate):
    inside a per-branch group each is a constant multiple of the term it is gated on, so standardising the
    group removes it (up to the advantage's epsilon). Any of: a joint pair group, a per-rollout partner or
    varying format lets it act."""
    rng = np.random.default_rng(0)
    inert = max(_crr_shift(rng, advantage_groups="branch", crr_partner="group") for _ in range(300))
    assert inert < 1e-3
    for groups, partner, fmt in (("pair", "group", True), ("branch", "paired", True), ("branch", "group", False)):
        acting = max(_crr_shift(rng, advantage_groups=groups, crr_partner=partner, in_format=fmt) for _ in range(300))
        assert acting > 0.1, (groups, partner, fmt)


# --- T-GRPO (Video-R1) and ArrowRL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ordered", "shuffled", "mu", "bonus", "held"),
    [
        ([1.0, 0.0, 1.0, 1.0], [1.0, 0.0], 0.8, [1.0, 0.0, 1.0, 1.0], True),  # 0.75 >= 0.8 x 0.5
        ([1.0, 0.0, 0.0, 0.0], [1.0, 0.0], 0.8, [0.0] * 4, False),  # 0.25 < 0.4: no bonus at all
        ([0.0] * 4, [0.0, 0.0], 0.8, [0.0] * 4, True),  # 0 >= 0 holds, but nobody is correct
        ([1.0, 1.0, 0.0, 0.0], [1.0, 0.0], 1.0, [1.0, 1.0, 0.0, 0.0], True),  # ties earn it (>=)
        ([0.5, 0.05, 1.0, 0.0], [0.0, 0.0], 0.8, [1.0, 0.0, 1.0, 0.0], True),  # "correct" = accuracy > 0.1
    ],
)
def test_temporal_bonus_by_hand(ordered, shuffled, mu, bonus, held):
    assert temporal_bonus(ordered, shuffled, mu) == (bonus, held)


def test_tgrpo_scores_ordered_rows_from_the_shuffled_probes():
    prompt = _prompt("B", 2)
    texts = [OK.format("B"), OK.format("A"), OK.format("B"), "B"]  # ordered: correct, wrong, correct, correct
    probes = Probes("shuffled", [OK.format("B"), OK.format("A")], 2, mu=0.8)  # shuffled accuracy 0.5
    t = score_rollout(texts, [Example((prompt,))], 4, weights=RewardWeights(temporal=0.3), probes=probes)
    assert t.temporal == [1.0, 0.0, 1.0, 1.0]
    assert t.total == pytest.approx([2.3, 1.0, 2.3, 1.3])
    assert t.probes == {"ordered_acc": 0.75, "shuffled_acc": 0.5, "temporal_condition": 1.0}
    assert t.means()["reward_temporal"] == 0.75
    # Video-R1 issue #51: with binary accuracy and constant format the bonus is an affine change of the group's
    # rewards, which standardisation removes; here format varies, so it acts
    in_format = [OK.format("B"), OK.format("A"), OK.format("B"), OK.format("B")]
    plain = score_rollout(in_format, [Example((prompt,))], 4)
    bonus = score_rollout(in_format, [Example((prompt,))], 4, weights=RewardWeights(temporal=0.3), probes=probes)
    same = group_advantages(torch.tensor([plain.total])) - group_advantages(torch.tensor([bonus.total]))
    assert same.abs().max() < 1e-3


@pytest.mark.parametrize(
    ("answers", "reversed_answer", "aot", "reward"),
    [
        (["A", "B", None], "A", True, [0.0, 1.0, 0.0]),  # the arrow of time decides: diverge from the reversed
        (["A", "B", None], "A", False, [1.0, 0.0, 0.0]),  # it does not: agree with it
        (["A", "B"], None, True, [0.0, 0.0]),  # nothing readable on the reversed clip: no reward
        (["A", "B"], "A", None, [None, None]),  # not routed: no term
    ],
)
def test_reverse_reward_by_hand(answers, reversed_answer, aot, reward):
    assert reverse_reward(answers, reversed_answer, aot) == reward


def test_arrowrl_scores_forward_rows_against_the_reversed_answer():
    prompt = Prompt("p", Path("/v.mp4"), "Which way does the ball move?", ("left", "right"), "B")
    texts = [OK.format("B"), OK.format("A"), "nothing"]
    probes = Probes("reversed", [OK.format("A")], 1, aot=[True])
    t = score_rollout(texts, [Example((prompt,))], 3, weights=RewardWeights(reverse=0.5), probes=probes)
    assert t.reverse == [1.0, 0.0, 0.0]
    assert t.total == [2.5, 1.0, 0.0]
    assert t.probes == {"reversed_acc": 0.0}  # the reversed clip's answer A is not the forward gold B
