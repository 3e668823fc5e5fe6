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
    confident = _mean(late, "p_acc")
    unsure = _mean(ToySettings(**{**vars(late), "bias_logit": 0.5}), "p_acc")  # 62% sure of the cue
    assert confident > unsure + 0.15
