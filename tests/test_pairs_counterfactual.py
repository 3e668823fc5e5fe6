"""Counterfactual answers: explicit -> category rule -> lexicon -> events, never a guess."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from dybench.pairs import CounterfactualError, load_lexicon, relation, resolve_counterfactual
from dybench.records import Annotation

SPEC = yaml.safe_load(resources.files("dybench").joinpath("data/lexicon.yaml").read_text())


def ann(options, answer, category="moving_direction", question="Which way does it go?", **kw) -> Annotation:
    return Annotation(
        id="q", video="v.mp4", question=question, options=tuple(options), answer=answer, category=category,
        transforms=("hflip", "reverse"), **kw,
    )  # fmt: skip


def swap_cases():
    """Every form of every swap group, both directions, for every transform with a lexicon."""
    for transform in ("hflip", "reverse", "swap"):
        for group_a, group_b in SPEC[transform]["swap"]:
            for forms, others in ((group_a, group_b), (group_b, group_a)):
                for form in forms:
                    # the counterpart is written with the other group's *last* form: synonyms must be found
                    yield pytest.param(transform, form, others[-1], id=f"{transform}:{form}->{others[-1]}")


@pytest.mark.parametrize("transform,form,counterpart", list(swap_cases()))
def test_every_swap_entry_maps_to_its_counterpart(transform, form, counterpart):
    a = ann([f"it moves {counterpart} now", "it stays", f"it moves {form} now"], "C")
    assert resolve_counterfactual(a, transform) == "A"
    assert relation(a, "A") == "change"


@pytest.mark.parametrize("form", SPEC["hflip"]["keep"])
def test_every_hflip_keep_entry_keeps_the_answer(form):
    a = ann(["something else", f"it goes {form}"], "B")
    assert resolve_counterfactual(a, "hflip") == "B"


@pytest.mark.parametrize("form", SPEC["swap"]["keep"])
def test_every_swap_keep_entry_keeps_the_answer(form):
    a = ann(["something else", f"it goes {form}"], "B")
    assert resolve_counterfactual(a, "swap") == "B"


def test_no_form_is_listed_twice_within_a_transform():
    for transform in ("hflip", "reverse", "swap"):
        forms = [f for pair in SPEC[transform]["swap"] for group in pair for f in group] + SPEC[transform]["keep"]
        assert len(forms) == len(set(forms)), transform


def test_hand_written_directions():
    a = ann(["left", "right", "up", "down"], "A")
    assert resolve_counterfactual(a, "hflip") == "B"
    assert resolve_counterfactual(a, "reverse") == "B"
    up = ann(["left", "right", "up", "down"], "C")
    assert resolve_counterfactual(up, "hflip") == "C"  # a mirror keeps vertical motion
    assert resolve_counterfactual(up, "reverse") == "D"
    rot = ann(["Clockwise", "Anti-clockwise"], "B")
    assert resolve_counterfactual(rot, "hflip") == "A"
    toward = ann(["moving toward the camera", "moving away from the camera"], "A")
    assert resolve_counterfactual(toward, "reverse") == "B"
    assert resolve_counterfactual(toward, "hflip") == "A"


@pytest.mark.parametrize("transform", ["hflip", "reverse"])
def test_category_rule_static_keeps(transform):
    a = ann(["red", "blue"], "B", category="static", question="What colour is the ball moving left?")
    assert resolve_counterfactual(a, transform) == "B"


def test_category_rules_spatial():
    a = ann(["left of the box", "right of the box"], "A", category="spatial", question="Where is the ball?")
    assert resolve_counterfactual(a, "reverse") == "A"  # time does not move things in space
    assert resolve_counterfactual(a, "hflip") == "B"  # mirrored
    unmapped = ann(["on the box", "under the box"], "A", category="spatial")
    with pytest.raises(CounterfactualError, match="hflip lexicon"):
        resolve_counterfactual(unmapped, "hflip")


@pytest.mark.parametrize("category", ["reversible_dynamics", "event_sequence"])
def test_category_rule_temporal_keeps_under_hflip(category):
    a = ann(["growing", "shrinking"], "A", category=category)
    assert resolve_counterfactual(a, "hflip") == "A"
    assert resolve_counterfactual(a, "reverse") == "B"


def test_explicit_cf_answer_always_wins():
    a = ann(["left", "right"], "A", cf_answer={"hflip": "A"})
    assert resolve_counterfactual(a, "hflip") == "A"
    assert resolve_counterfactual(a, "reverse") == "B"


def test_yes_no_questions_flip_on_one_changing_word():
    a = ann([], "yes", question="Is the ball moving to the left?")
    assert resolve_counterfactual(a, "hflip") == "no"
    up = ann([], "no", question="Is the ball moving up?")
    assert resolve_counterfactual(up, "hflip") == "no"
    assert resolve_counterfactual(up, "reverse") == "yes"
    both = ann([], "yes", question="Does it move left and then right?")
    with pytest.raises(CounterfactualError, match="ambiguous"):
        resolve_counterfactual(both, "hflip")


def test_events_order_remaps_first_and_sequences():
    events = ("the red ball bounces", "the blue cube spins", "the green star flashes")
    first = ann(list(events), "A", category="event_sequence", question="Which happens first?", events=events)
    assert resolve_counterfactual(first, "reverse") == "C"
    middle = ann(list(events), "B", category="event_sequence", question="Which happens second?", events=events)
    assert resolve_counterfactual(middle, "reverse") == "B"
    orders = [
        "the red ball bounces, then the blue cube spins",
        "the blue cube spins, then the red ball bounces",
    ]
    seq = ann(orders, "A", category="event_sequence", question="In which order?", events=events[:2])
    assert resolve_counterfactual(seq, "reverse") == "B"


def test_lexicon_wins_before_events_and_falls_through():
    # the options name the events, but also use a lexicon word whose mapping is not an option
    events = ("the ball rolls left", "the cube spins")
    a = ann(list(events), "A", category="event_sequence", question="Which happens first?", events=events)
    assert resolve_counterfactual(a, "reverse") == "B"


def test_unresolvable_items_raise_with_the_fix():
    a = ann(["the red one", "the blue one"], "A", question="Which object moves right?")
    with pytest.raises(CounterfactualError) as e:
        resolve_counterfactual(a, "reverse")
    assert "cf_answer" in str(e.value) and "lexicon" in str(e.value)
    missing = ann(["left", "up"], "A")  # 'right' is not among the options
    with pytest.raises(CounterfactualError, match="matches 0 options"):
        resolve_counterfactual(missing, "hflip")


def test_custom_lexicon_file(tmp_path):
    path = tmp_path / "lex.yaml"
    path.write_text("hflip:\n  swap:\n    - [[port], [starboard]]\nreverse:\n  swap: []\n")
    lex = load_lexicon(path)
    a = ann(["port", "starboard"], "A")
    assert resolve_counterfactual(a, "hflip", lex) == "B"
    with pytest.raises(CounterfactualError):
        resolve_counterfactual(ann(["left", "right"], "A"), "hflip", lex)


def test_swap_follows_the_two_events_before_the_lexicon():
    events = ("take bowl", "pour cereals")
    question = "Which happens first: take bowl or pour cereals?"
    first = ann(list(events), "A", category="event_sequence", question=question, events=events)
    assert resolve_counterfactual(first, "swap") == "B"
    last = ann(list(events), "B", category="event_sequence", question="Which happens last?", events=events)
    assert resolve_counterfactual(last, "swap") == "A"
    # without events, the answer's own order words are swapped: first <-> last, before <-> after
    order = ann(["cutting comes before stirring", "cutting comes after stirring"], "A", category="event_sequence")
    assert resolve_counterfactual(order, "swap") == "B"
    yes_no = ann([], "yes", category="event_sequence", question="Does the cutting happen earlier than the stirring?")
    assert resolve_counterfactual(yes_no, "swap") == "no"


def test_swap_never_guesses():
    three = ("a", "b", "c")
    with pytest.raises(CounterfactualError, match="`events` must name two, not 3"):
        resolve_counterfactual(ann(list(three), "A", category="event_sequence", events=three), "swap")
    # a motion word keeps, unless the question asks about order: the first segment is now the other one
    assert resolve_counterfactual(ann(["left", "right"], "A", question="Which way does it roll?"), "swap") == "A"
    with pytest.raises(CounterfactualError, match="asks about order"):
        resolve_counterfactual(ann(["left", "right"], "A", question="Which way does it roll first?"), "swap")
    with pytest.raises(CounterfactualError, match="is in the swap lexicon"):
        resolve_counterfactual(ann(["the cup", "the plate"], "A", category="spatial"), "swap")
    assert resolve_counterfactual(ann(["red", "blue"], "A", category="static"), "swap") == "A"


def test_a_given_counterfactual_has_only_its_explicit_answer():
    assert resolve_counterfactual(ann(["left", "right"], "A", cf_answer={"given": "B"}), "given") == "B"
    with pytest.raises(CounterfactualError, match='cf_answer {"given"'):
        resolve_counterfactual(ann(["left", "right"], "A"), "given")
