"""DyBench-Synth questions, without rendering: every wording resolves to the right counterfactual,
answers are balanced, the middle frame never gives a dynamic answer away, and bias rules do what
they say."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dybench.pairs import load_annotations, resolve_counterfactual
from dybench.records import CATEGORIES
from dybench.synth import BiasSpecError, SynthError, parse_bias, plan_clips, synthesize
from dybench.synth._families import Balancer, Clip, make_clip
from dybench.synth._questions import (
    COUNT_WORDS,
    MC_QUESTIONS,
    OPTION_WORDS,
    ORDER_SEPARATORS,
    VALUES,
    YN_QUESTIONS,
    ask,
)
from dybench.synth._render import render_scene
from dybench.synth._scene import transform_scene
from dybench.synth._scene_parts import middle_frame
from dybench.synth._synthesize import annotation_row

DYNAMIC_KINDS = {
    "moving_direction": ("horizontal", "vertical", "four_way", "rotation", "depth"),
    "reversible_dynamics": ("size", "fill", "presence", "door", "light"),
}


def _rows(clips: list[Clip], split: str = "test") -> list[dict]:
    return [annotation_row(i, clip, split=split, seed=0) for i, clip in enumerate(clips)]


def _variants(clip: Clip):
    """The clip's query in every template and wording (and, for yes/no, asking either value)."""
    q = clip.query
    if q.is_yes_no:
        for template in range(len(YN_QUESTIONS[q.kind])):
            for asked in VALUES[q.kind]:
                yield dataclasses.replace(q, template=template, asked=asked)
        return
    wordings = {"order": ORDER_SEPARATORS, "count": COUNT_WORDS}.get(q.kind, OPTION_WORDS.get(q.kind, ("",)))
    for template in range(len(MC_QUESTIONS[q.kind])):
        for wording in range(len(wordings)):
            yield dataclasses.replace(q, template=template, wording=wording)


def test_every_wording_resolves_to_the_counterfactual_scenes_answer(tmp_path: Path) -> None:
    """For every question kind and every phrasing, the counterfactual answer that dybench's resolver
    derives from the text (no cf_answer is written) equals the answer of the mirrored or reversed
    scene, read off the scene itself."""
    clips = plan_clips(n=150, seed=1, size=64, frames=16, categories=CATEGORIES, rules={}, split="test")
    rows, expected, seen = [], [], set()
    for i, clip in enumerate(clips):
        for j, query in enumerate(_variants(clip)):
            seen.add((query.kind, query.is_yes_no, query.template, query.wording))
            variant = Clip(clip.scene, query, ask(clip.scene, query))
            row = annotation_row(i, variant, split="test", seed=0)
            row["id"] = f"{row['id']}-{j}"
            assert "cf_answer" not in row
            rows.append(row)
            expected.append({t: ask(transform_scene(clip.scene, t), query).answer for t in row["transforms"]})
    path = tmp_path / "annotations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    annotations, errors = load_annotations(path)
    assert not errors
    assert len(annotations) == len(rows)
    every = {
        (k, False, t, w)
        for k in MC_QUESTIONS
        for t in range(len(MC_QUESTIONS[k]))
        for w in range(len({"order": ORDER_SEPARATORS, "count": COUNT_WORDS}.get(k, OPTION_WORDS.get(k, ("",)))))
    }
    every |= {(k, True, t, 0) for k in YN_QUESTIONS for t in range(len(YN_QUESTIONS[k]))}
    assert seen == every, f"phrasings never tried: {sorted(every - seen)}"
    changed = Counter()
    for ann, want in zip(annotations, expected, strict=True):
        for transform, answer in want.items():
            assert resolve_counterfactual(ann, transform) == answer, (ann.question, ann.options, ann.answer, transform)
            changed[ann.category, transform, answer != ann.answer] += 1
    # the routing the design asks for: static keeps, spatial changes only under hflip, the rest change
    assert not changed["static", "hflip", True] and not changed["static", "reverse", True]
    assert changed["spatial", "hflip", True] and not changed["spatial", "reverse", True]
    assert not changed["event_sequence", "reverse", False] and not changed["reversible_dynamics", "reverse", False]
    assert changed["moving_direction", "hflip", False]  # up/down and approaching/receding keep under a mirror


def test_answers_kinds_and_letters_are_balanced() -> None:
    rows = _rows(plan_clips(n=300, seed=2, size=64, frames=16, categories=CATEGORIES, rules={}, split="test"))
    assert Counter(r["category"] for r in rows) == {c: 60 for c in CATEGORIES}
    families = Counter(r["family"] for r in rows)
    for category in CATEGORIES:
        counts = [n for f, n in families.items() if f.startswith(category)]
        assert max(counts) - min(counts) <= 1, families
    yes_no = Counter(r["answer"] for r in rows if not r["options"])
    assert abs(yes_no["yes"] - yes_no["no"]) <= 1
    for n_options in (2, 3, 4):
        letters = Counter(r["answer"] for r in rows if len(r["options"]) == n_options and r["family"] != "static/count")
        assert len(letters) == n_options and max(letters.values()) - min(letters.values()) <= 1, (n_options, letters)
    for kind, values in VALUES.items():
        truths = Counter(r["truth"] for r in rows if r["family"].endswith("/" + kind))
        if kind in ("before",):
            continue
        assert set(truths) <= set(values)
        if truths:
            assert max(truths.values()) - min(truths.values()) <= 1, (kind, truths)


class _Forced(Balancer):
    """A balancer that deals given choices for some keys (to build the same clip with another answer)."""

    def __init__(self, forced: dict[str, object]) -> None:
        super().__init__(np.random.default_rng(0))
        self.forced = forced

    def deal(self, key, choices):
        return self.forced[key] if key in self.forced else super().deal(key, choices)


@pytest.mark.parametrize("category", list(DYNAMIC_KINDS))
@pytest.mark.parametrize("frames", [16, 9])
def test_the_middle_frame_is_identical_whichever_the_answer(category: str, frames: int) -> None:
    """How a single frame is kept from giving a dynamic answer away, checked exactly: the clip built
    from the same random draws for an answer and for its opposite shows pixel-identical middle frames
    (the frame `sample_indices(T, num_frames=1)` picks), while the clips and answers differ."""
    for kind in DYNAMIC_KINDS[category]:
        values = ("right", "left") if kind == "four_way" else VALUES[kind]
        for seed in range(3):
            clips = [
                make_clip(
                    np.random.default_rng([seed, 5]),
                    _Forced({f"{category}/kind": kind, f"{kind}/value": value}),
                    category,
                    width=64,
                    height=64,
                    frames=frames,
                )  # fmt: skip
                for value in values
            ]
            a, b = (render_scene(c.scene) for c in clips)
            assert clips[0].question.truth == values[0] and clips[1].question.truth == values[1]
            m = middle_frame(frames)
            assert np.array_equal(a[m], b[m]), f"{kind}: the middle frame differs between {values}"
            assert not np.array_equal(a, b)


def test_a_bias_rule_sets_how_often_the_cue_predicts_the_answer() -> None:
    rules = {r.family: r for r in parse_bias(
        "moving_direction:colour=red->right:train=0.9,test=0.5;event_sequence:shape=square->first:train=0.8,test=0.5"
    )}  # fmt: skip
    cats = ("moving_direction", "event_sequence")
    for split, p in (("train", 0.9), ("test", 0.5)):
        rows = _rows(plan_clips(n=400, seed=3, size=64, frames=16, categories=cats, rules=rules, split=split), split)
        moving = [r for r in rows if r["category"] == "moving_direction"]
        assert {r["family"] for r in moving} == {"moving_direction/horizontal"}
        assert all(r["bias"] == f"moving_direction:colour=red->right:{p:g}" for r in moving)
        cued = [r for r in moving if r["subjects"][0]["colour"] == "red"]
        assert len(cued) == len(moving) // 2 and all(r["shortcut"]["cue"] for r in cued)
        right_given_cue = np.mean([r["truth"] == "right" for r in cued])
        right_given_none = np.mean([r["truth"] == "right" for r in moving if r not in cued])
        tolerance = 3 * np.sqrt(0.25 / len(cued))
        assert abs(right_given_cue - p) < tolerance and abs(right_given_none - (1 - p)) < tolerance
        assert abs(np.mean([r["truth"] == "right" for r in moving]) - 0.5) < tolerance
        events = [r for r in rows if r["category"] == "event_sequence"]
        q = 0.8 if split == "train" else 0.5
        square_first = [r["event_frames"][0]["event"].split()[2] == "square" for r in events]
        assert all(len(r["event_frames"]) == 2 for r in events)
        assert sum(s["shape"] == "square" for r in events for s in r["subjects"]) == len(events)
        assert abs(np.mean(square_first) - q) < 3 * np.sqrt(0.25 / len(events))


def test_the_same_arguments_give_the_same_questions_and_runs_extend_as_prefixes() -> None:
    args = dict(seed=4, size=64, frames=12, categories=CATEGORIES, rules={}, split="test")
    first = json.dumps(_rows(plan_clips(n=30, **args)))
    assert first == json.dumps(_rows(plan_clips(n=30, **args)))
    assert _rows(plan_clips(n=15, **args)) == _rows(plan_clips(n=30, **args))[:15]
    other_split = _rows(plan_clips(n=15, **{**args, "split": "train"}), "train")
    assert [r["question"] for r in other_split] != [r["question"] for r in _rows(plan_clips(n=15, **args))]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("moving_direction:colour=red->right", "is not FAMILY:ATTRIBUTE=VALUE->ANSWER:STRENGTH"),
        ("spatial:colour=red->left:0.9", "cannot be biased"),
        ("moving_direction:weight=red->right:0.9", "attribute 'weight'"),
        ("moving_direction:colour=pink->right:0.9", "colour 'pink' does not exist"),
        ("moving_direction:colour=red->growing:0.9", "'growing' is not a moving_direction answer"),
        ("reversible_dynamics:shape=circle->filling:0.9", "cannot be a cue"),
        ("moving_direction:colour=red->right:1.5", "must be a number from 0 to 1"),
        ("moving_direction:colour=red->right:dev=0.9", "unknown split 'dev'"),
        ("moving_direction:colour=red->right:0.9;moving_direction:colour=blue->left:0.9", "two bias rules"),
    ],
)
def test_bad_bias_rules_are_refused_with_the_fix(spec: str, message: str) -> None:
    with pytest.raises(BiasSpecError, match=message):
        parse_bias(spec)


def test_bias_rules_parse_and_describe_themselves() -> None:
    (rule,) = parse_bias(" moving_direction : color = red -> right : train=0.95, test=0.5 ")
    assert (rule.family, rule.attribute, rule.value, rule.answer, rule.kind) == (
        "moving_direction", "colour", "red", "right", "horizontal"
    )  # fmt: skip
    assert rule.strength("train") == 0.95 and rule.strength("test") == 0.5
    assert rule.describe() == "moving_direction:colour=red->right:train=0.95,test=0.5"
    assert rule.describe("train") == "moving_direction:colour=red->right:0.95"
    (plain,) = parse_bias("reversible_dynamics:texture=striped->shrinking:0.7")
    assert plain.strength("train") == plain.strength("test") == 0.7
    (partial,) = parse_bias("event_sequence:colour=red->last:train=0.9")
    with pytest.raises(BiasSpecError, match="no strength for split 'test'"):
        partial.strength("test")
    assert parse_bias(None) == () and parse_bias("  ") == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "--n 0"),
        ({"size": 63}, "--size 63"),
        ({"size": 32}, "--size 32"),
        ({"frames": 4}, "--frames 4"),
        ({"fps": 0}, "--fps 0"),
        ({"split": "dev"}, "--split 'dev'"),
        ({"categories": ["moving", "static"]}, "--categories moving,static"),
        ({"categories": ["static"], "bias": "moving_direction:colour=red->right:0.9"}, "leaves out"),
        ({"bias": "event_sequence:colour=red->last:train=0.9"}, "no strength for split 'test'"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises((SynthError, BiasSpecError), match=message):
        synthesize(tmp_path / "out", **{"n": 2, "progress": False, **kwargs})
    assert not (tmp_path / "out").exists()
