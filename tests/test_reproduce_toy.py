"""The toy model of the answer token (``dybench.reproduce._toy``): what it predicts for CDPO, pinned."""

from __future__ import annotations

import statistics

from dybench.reproduce._toy import ToySettings, simulate


def _mean(settings: ToySettings, field: str, seeds: int = 3) -> float:
    return statistics.fmean(getattr(simulate(settings.__class__(**{**vars(settings), "seed": s})), field)
                            for s in range(seeds))  # fmt: skip


def test_cdpo_gains_once_grpo_has_taken_the_shortcut_and_little_before():
    early, late = ToySettings(visibility=0.5, steps=25), ToySettings(visibility=0.5, steps=400)
    start = simulate(ToySettings(visibility=0.5, steps=0))
    assert start.cue_agreement == 0.5  # the start follows no cue
    assert _mean(late, "cue_agreement") >= 0.85 and _mean(late, "p_acc") < start.p_acc - 0.3  # GRPO: the shortcut
    cdpo = ToySettings(**{**vars(late), "beta": 0.3})  # a confident (95%) colour-only bias model, no bound
    assert _mean(cdpo, "p_acc") > _mean(late, "p_acc") + 0.25
    assert _mean(cdpo, "cue_agreement") < _mean(late, "cue_agreement") - 0.2
    early_gain = _mean(ToySettings(**{**vars(early), "beta": 0.3}), "p_acc") - _mean(early, "p_acc")
    assert abs(early_gain) < 0.06  # before GRPO took up the cue there is nothing to remove


def test_an_unconfident_bias_model_removes_much_less_of_the_shortcut():
    late = ToySettings(visibility=0.5, steps=400, beta=0.3)
    confident = _mean(late, "p_acc", seeds=6)
    unsure = _mean(ToySettings(**{**vars(late), "bias_logit": 0.5}), "p_acc", seeds=6)  # 62% sure of the cue
    assert confident > unsure + 0.15


def test_the_repulsion_deepens_a_lean_toward_one_answer_into_a_collapse():
    # motion hard to see; a start that leans toward -1 (answers it on 97% of the test questions)
    lean = ToySettings(visibility=0.3, start_motion=1.0, start_letter=-2.0)
    start = simulate(ToySettings(**{**vars(lean), "steps": 0}))
    assert start.top_answer_share > 0.95 and start.cue_agreement == 0.5
    # GRPO loses the lean (the reward pulls back wherever a group's samples differ) and takes up the cue
    assert _mean(lean, "top_answer_share") < 0.55 and _mean(lean, "w_letter") > -1.0
    # the repulsion keeps more of it at 0.1 and deepens it into one answer for everything at 0.3
    assert _mean(ToySettings(**{**vars(lean), "beta": 0.1}), "w_letter") < _mean(lean, "w_letter") - 0.3
    collapsed = ToySettings(**{**vars(lean), "beta": 0.3})
    assert _mean(collapsed, "top_answer_share") > 0.95 and _mean(collapsed, "w_letter") < -3.0
    # ... which needs the lean: from no lean the same repulsion leaves both answers in use
    assert _mean(ToySettings(**{**vars(collapsed), "start_letter": 0.0}), "top_answer_share") < 0.55
