"""Where the planted cue points (``dybench.synth._cues``), on real DyBench-Synth pairs with a bias rule."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dybench.fileio import read_jsonl
from dybench.pairs import load_items
from dybench.reproduce import build_split, get_preset, synthesize_split
from dybench.synth import answer_diagnostics, cue_halves, planted_cues


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cues")
    spec = dataclasses.replace(get_preset("tiny", "crpo").data, n_test=24, seed=3)
    synthesize_split(spec, root / "synth", "test", workers=1)
    build_split(root / "synth", root / "pairs", lossless=True, selection=spec.selection)
    return root / "pairs", root / "synth"


def test_the_cue_points_to_the_answer_exactly_when_the_clip_follows_the_rule(split):
    pairs, synth = split
    cues = planted_cues(pairs, synth)
    items = load_items(pairs)
    assert cues.keys() == {i.item_id for i in items}  # every question is on the rule's axis
    rows = {r["id"]: r for r in read_jsonl(synth / "annotations.jsonl")}
    for item in items:
        if item.branch == "original":
            assert (cues[item.item_id] == item.answer) == rows[item.source_id]["shortcut"]["agrees"]
        else:  # the counterfactual looks the same (colour, shape): the cue points to the same letter
            assert cues[item.item_id] == cues[item.item_id.replace(":counterfactual", ":original")]


def test_agreement_is_one_for_the_cue_and_one_half_for_the_truth(split):
    pairs, synth = split
    cues = planted_cues(pairs, synth)
    items = load_items(pairs)
    assert answer_diagnostics(dict(cues), cues)["cue_agreement"] == 1.0
    truth = answer_diagnostics({i.item_id: i.answer for i in items}, cues)
    assert truth["cue_agreement"] == 0.5  # each change pair: the cue is right on exactly one branch
    always_a = answer_diagnostics({i.item_id: "A" for i in items}, cues)
    assert always_a["top_answer_share"] == 1.0


def test_the_cues_halves_tell_a_shortcut_from_a_lean_toward_one_answer(split):
    pairs, synth = split
    cues = planted_cues(pairs, synth)
    items = load_items(pairs)
    assert set(cues.values()) == {"A", "B"}  # the rule ties the cue to both answers
    assert cue_halves(answer_diagnostics(dict(cues), cues)) == {"A": 1.0, "B": 1.0}  # the shortcut: both halves
    truth = cue_halves(answer_diagnostics({i.item_id: i.answer for i in items}, cues))
    assert truth == {"A": 0.5, "B": 0.5}  # watching: the cue is right on one branch of every pair, on each half
    lean = answer_diagnostics({i.item_id: "B" for i in items}, cues)  # always B: all of one half, none of the other
    assert cue_halves(lean) == {"A": 0.0, "B": 1.0}
    share_b = sum(c == "B" for c in cues.values()) / len(cues)
    assert lean["cue_agreement"] == pytest.approx(share_b)  # the overall number is the split's mix


def test_no_cues_without_a_bias_rule(tmp_path, split):
    pairs, _ = split
    assert planted_cues(pairs, tmp_path) == {}
