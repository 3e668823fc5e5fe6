"""CRPO's task router: every lexicon entry, ambiguous wordings, the routes file, the model router, and
its accuracy on DyBench-Synth questions whose category is known."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import yaml

from dybench.records import CATEGORIES
from dybench.synth._synthesize import annotation_row, plan_clips
from dybench.train._config import TrainConfigError
from dybench.train._router import (
    ModelRouter,
    parse_kind,
    route_questions,
    rule_route,
    score_rule_router,
)

LEXICON = yaml.safe_load(resources.files("dybench").joinpath("data/lexicon.yaml").read_text(encoding="utf-8"))
HFLIP_FORMS = sorted({form for pair in LEXICON["hflip"]["swap"] for group in pair for form in group})
REVERSE_ONLY = sorted(
    {form for pair in LEXICON["reverse"]["swap"] for group in pair for form in group} - set(HFLIP_FORMS)
)


@pytest.mark.parametrize("form", HFLIP_FORMS)
def test_every_left_right_lexicon_entry_routes_to_hflip(form):
    route = rule_route("Which one is it?", [form, "neither"])
    assert (route.kind, route.transform, route.dynamic) == ("spatial", "hflip", True)
    moving = rule_route(f"Which way does the ball move: {form}?", [])
    assert (moving.kind, moving.transform) == ("spatiotemporal", "hflip")


@pytest.mark.parametrize("form", REVERSE_ONLY)
def test_every_reversal_lexicon_entry_routes_to_reverse(form):
    route = rule_route("Which one is it?", [form, "neither"])
    assert route.transform == "reverse" and route.kind in ("temporal", "spatiotemporal") and route.dynamic


@pytest.mark.parametrize(
    ("question", "options", "kind", "transform"),
    [
        ("What colour is the cube?", ["red", "blue"], "static", "hflip"),
        ("How many balls are there?", ["1", "2", "3"], "static", "hflip"),
        # the ask decides: a colour question about a moving object is still Static
        ("What colour is the object that moves to the left?", ["red", "blue"], "static", "hflip"),
        ("Does the person open the door before sitting down?", [], "temporal", "reverse"),
        ("What happens first?", ["he sits", "he stands"], "temporal", "reverse"),
        ("How does the size of the balloon change?", ["it grows", "it shrinks"], "temporal", "reverse"),
        # left/right beats reversal words: a mirror changes the answer for sure
        ("Which way does it move first?", ["left", "up"], "spatiotemporal", "hflip"),
        ("Which way does the car move?", ["up", "down"], "spatiotemporal", "reverse"),
        ("Is the cup on the left of the plate?", [], "spatial", "hflip"),
        ("What is the man holding?", ["a cup", "a phone"], None, None),  # no cue: not routed
        ("Describe the video.", [], None, None),
    ],
)  # fmt: skip
def test_rules_on_ambiguous_and_plain_questions(question, options, kind, transform):
    route = rule_route(question, options)
    assert (route.kind, route.transform) == (kind, transform), route.reason


def test_category_wins_over_words():
    assert rule_route("What colour is it?", ["red"], "reversible_dynamics").transform == "reverse"
    assert rule_route("Which way?", ["left", "right"], "moving_direction").transform == "hflip"
    assert rule_route("Which way?", ["up", "down"], "moving_direction").transform == "reverse"
    static = rule_route("Which way does it move?", ["left", "right"], "static", static_transform="reverse")
    assert (static.kind, static.transform, static.dynamic) == ("static", "reverse", False)
    with pytest.raises(TrainConfigError, match="category 'weather'"):
        rule_route("Q?", [], "weather")


def test_routes_file_is_written_reused_and_honours_edits(tmp_path):
    routes_file = tmp_path / "routes.jsonl"
    questions = [("Which way does it move?", ["left", "right"], None), ("What is it?", ["a", "b"], None),
                 ("Which way does it move?", ["left", "right"], None)]  # fmt: skip
    routes, report = route_questions(questions, routes_file)
    assert [r.transform for r in routes] == ["hflip", None, "hflip"]
    assert report.by_transform == {"hflip": 2, "not routed": 1} and report.unrouted == ["What is it?"]
    lines = [json.loads(line) for line in routes_file.read_text().splitlines()]
    assert len(lines) == 2 and lines[0]["by"] == "rules" and lines[1]["kind"] is None
    lines[1].update(kind="static", transform="reverse")  # a reviewer routes the unrouted question
    routes_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    again, report = route_questions(questions, routes_file)
    assert [(r.kind, r.transform, r.by) for r in again][1] == ("static", "reverse", "file")
    assert report.by_router == {"file": 3}
    lines[1]["transform"] = "sideways"
    routes_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(TrainConfigError, match=r"routes.jsonl:2: transform 'sideways'"):
        route_questions(questions, routes_file)


def test_model_router_uses_the_models_word_and_falls_back_to_rules(tmp_path):
    asked = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return "<think>it is about time</think> Temporal" if "door" in prompt else "I am not sure."

    router = ModelRouter("fake", ask=ask)
    questions = [("Does the door open?", [], None), ("Which way does it move?", ["left", "right"], None),
                 ("What colour?", ["red"], "static")]  # fmt: skip
    routes, report = route_questions(questions, tmp_path / "r.jsonl", model_router=router)
    assert (routes[0].kind, routes[0].transform, routes[0].by) == ("temporal", "reverse", "model")
    assert routes[1].by == "rules" and routes[1].transform == "hflip" and "names no kind" in routes[1].reason
    assert routes[2].kind == "static" and len(asked) == 2  # a given category is not asked about
    assert "Spatial, Temporal, Spatiotemporal or Static" in asked[0] and "Does the door open?" in asked[0]
    route_questions(questions, tmp_path / "r.jsonl", model_router=ModelRouter("fake", ask=lambda p: 1 / 0))
    assert parse_kind("Spatio-temporal.") == "spatiotemporal" and parse_kind("Static? No: Spatial") == "spatial"


def test_rule_router_accuracy_on_synth_categories():
    """DyBench-Synth writes each question's category: route its questions without it (seed 1: the rules
    were written looking at seed 0's questions)."""
    clips = plan_clips(n=500, seed=1, size=64, frames=8, categories=CATEGORIES, rules={}, split="train")
    score = score_rule_router(annotation_row(i, c, split="train", seed=1) for i, c in enumerate(clips))
    assert score.questions == 500 and score.unrouted == 0
    assert score.transform_accuracy >= 0.99, score.confusion
    assert score.confusion["static"] == {"static": 100} and score.confusion["spatial"] == {"spatial": 100}


def test_model_router_runs_a_local_text_model_through_transformers(tmp_path):
    """A tiny random Qwen2 text model with dybench's offline tokenizer: it answers nonsense, so every
    question falls back to the rules, but the whole transformers path (chat template, generate) runs."""
    transformers = pytest.importorskip("transformers")
    from dybench.testing._tiny_model import _train_tokenizer

    tokenizer = _train_tokenizer()
    config = transformers.Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)  # fmt: skip
    transformers.Qwen2ForCausalLM(config).save_pretrained(tmp_path / "router")
    tokenizer.save_pretrained(tmp_path / "router")
    router = ModelRouter(tmp_path / "router", max_new_tokens=4)
    route = router.route("Which way does it move?", ["left", "right"])
    assert route.transform == "hflip" and route.by in ("rules", "model")
