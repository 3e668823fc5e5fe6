"""Question families: what is asked about a scene, how it is worded, and its answer read off the scene.

A :class:`Query` fixes everything about a question except its answer: the kind, the objects it is
about, the wording and the option order. :func:`ask` words it and computes the answer from the
scene, so the same query asked of the mirrored or reversed scene gives the counterfactual answer.

Option texts use the counterfactual lexicon's words (``dybench/data/lexicon.yaml``), so that
``dybench build`` derives every counterfactual answer on its own; event_sequence options are made of
event names listed in ``events``, which ``build`` reorders under ``reverse``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dybench.records import Category, Transform, letter
from dybench.synth._scene import EVENT_VERBS, Scene

#: Question kinds per category.
KINDS: dict[Category, tuple[str, ...]] = {
    "moving_direction": ("horizontal", "vertical", "four_way", "rotation", "depth"),
    "reversible_dynamics": ("size", "fill", "presence", "door", "light"),
    "event_sequence": ("first", "last", "order", "before"),
    "spatial": ("side",),
    "static": ("colour", "shape", "count"),
}
#: The answers a kind can have, for kinds whose answers are fixed words (the others name objects).
VALUES: dict[str, tuple[str, ...]] = {
    "horizontal": ("right", "left"),
    "vertical": ("up", "down"),
    "four_way": ("right", "left", "up", "down"),
    "rotation": ("clockwise", "counterclockwise"),
    "depth": ("approaching", "receding"),
    "size": ("growing", "shrinking"),
    "fill": ("filling", "emptying"),
    "presence": ("appearing", "disappearing"),
    "door": ("opening", "closing"),
    "light": ("brightening", "dimming"),
    "before": ("before", "after"),
    "side": ("left", "right"),
}
#: Counterfactuals each category's questions get (see DESIGN.md and CRPO's routing in docs/research.md).
TRANSFORMS_BY_CATEGORY: dict[Category, tuple[Transform, ...]] = {
    "moving_direction": ("hflip", "reverse"),
    "reversible_dynamics": ("reverse",),
    "event_sequence": ("reverse",),
    "spatial": ("hflip", "reverse"),
    "static": ("hflip", "reverse"),
}

_MOTION_QUESTIONS = (
    "Which way does {obj} move?",
    "In which direction is {obj} moving?",
    "Which direction does {obj} travel in?",
    "Where is {obj} heading?",
)

#: Multiple-choice question templates per kind ({obj}: the object; {a}, {b}: two objects).
MC_QUESTIONS: dict[str, tuple[str, ...]] = {
    "horizontal": _MOTION_QUESTIONS,
    "vertical": _MOTION_QUESTIONS,
    "four_way": _MOTION_QUESTIONS,
    "rotation": (
        "In which direction does {obj} go around its loop?",
        "Which way does {obj} orbit?",
        "Does {obj} travel clockwise or counterclockwise?",
    ),
    "depth": (
        "Is {obj} approaching or receding?",
        "How does {obj} move relative to the camera?",
        "What is {obj} doing relative to the viewer?",
    ),
    "size": (
        "Is {obj} growing or shrinking?",
        "How does the size of {obj} change?",
        "What happens to {obj} over time?",
    ),
    "fill": (
        "Is {obj} filling or emptying?",
        "What is happening to the liquid in {obj}?",
        "How does the level in {obj} change?",
    ),
    "presence": (
        "Is {obj} appearing or disappearing?",
        "What happens to {obj} during the clip?",
        "Which describes {obj}?",
    ),
    "door": ("Is {obj} opening or closing?", "What is {obj} doing?", "What happens to {obj}?"),
    "light": (
        "Is {obj} brightening or dimming?",
        "How does the brightness of {obj} change?",
        "What happens to the glow of {obj}?",
    ),
    "first": ("Which of these happens first?", "Which event comes first?", "What happens earliest in the video?"),
    "last": ("Which of these happens last?", "Which event comes last?", "What happens latest in the video?"),
    "order": (
        "In what order do these happen?",
        "Which sequence matches the video?",
        "What is the order of the events?",
    ),
    "side": (
        "Where is {a} relative to {b}?",
        "On which side of {b} is {a}?",
        "Is {a} to the left or to the right of {b}?",
    ),
    "colour": ("What colour is the {shape}?", "Which colour does the {shape} have?", "The {shape} is which colour?"),
    "shape": (
        "What shape is the {colour} object?",
        "Which shape is drawn in {colour}?",
        "What is the shape of the {colour} object?",
    ),
    "count": (
        "How many {colour} objects are there?",
        "How many {colour} shapes can you see?",
        "Count the {colour} objects: how many are there?",
    ),
}

#: Option wordings per kind: each maps an answer value to its option text.
OPTION_WORDS: dict[str, tuple[dict[str, str], ...]] = {
    "horizontal": (
        {"left": "left", "right": "right"},
        {"left": "to the left", "right": "to the right"},
        {"left": "leftward", "right": "rightward"},
    ),
    "vertical": ({"up": "up", "down": "down"}, {"up": "upward", "down": "downward"}),
    "four_way": (
        {"left": "left", "right": "right", "up": "up", "down": "down"},
        {"left": "to the left", "right": "to the right", "up": "upward", "down": "downward"},
    ),
    "rotation": (
        {"clockwise": "clockwise", "counterclockwise": "counterclockwise"},
        {"clockwise": "clockwise", "counterclockwise": "anticlockwise"},
    ),
    "depth": (
        {"approaching": "approaching", "receding": "receding"},
        {"approaching": "toward the camera", "receding": "away from the camera"},
        {"approaching": "getting closer", "receding": "getting farther"},
    ),
    "size": (
        {"growing": "growing", "shrinking": "shrinking"},
        {"growing": "getting bigger", "shrinking": "getting smaller"},
        {"growing": "expanding", "shrinking": "contracting"},
    ),
    "fill": ({"filling": "filling", "emptying": "emptying"}, {"filling": "filling up", "emptying": "draining"}),
    "presence": (
        {"appearing": "appearing", "disappearing": "disappearing"},
        {"appearing": "it appears", "disappearing": "it disappears"},
    ),
    "door": ({"opening": "opening", "closing": "closing"}, {"opening": "it opens", "closing": "it closes"}),
    "light": (
        {"brightening": "brightening", "dimming": "dimming"},
        {"brightening": "getting brighter", "dimming": "getting darker"},
    ),
    "side": (
        {"left": "to the left of it", "right": "to the right of it"},
        {"left": "on its left", "right": "on its right"},
        {"left": "left", "right": "right"},
    ),
}
#: Joins event names into an order option.
ORDER_SEPARATORS: tuple[str, ...] = (", then ", ", and then ", ", followed by ")
#: Ways to write a count.
COUNT_WORDS: tuple[dict[str, str], ...] = (
    {"1": "1", "2": "2", "3": "3", "4": "4"},
    {"1": "one", "2": "two", "3": "three", "4": "four"},
)

#: Yes/no questions per kind: (template, the word {v} takes for each answer value).
YN_QUESTIONS: dict[str, tuple[tuple[str, dict[str, str]], ...]] = {
    "horizontal": (
        ("Is {obj} moving to the {v}?", {"left": "left", "right": "right"}),
        ("Does {obj} move {v}?", {"left": "leftward", "right": "rightward"}),
        ("Is {obj} heading {v}?", {"left": "left", "right": "right"}),
    ),
    "vertical": (
        ("Is {obj} moving {v}?", {"up": "up", "down": "down"}),
        ("Does {obj} travel {v}?", {"up": "upward", "down": "downward"}),
    ),
    "rotation": (
        ("Does {obj} go around {v}?", {"clockwise": "clockwise", "counterclockwise": "counterclockwise"}),
        ("Is {obj} orbiting {v}?", {"clockwise": "clockwise", "counterclockwise": "anticlockwise"}),
    ),
    "depth": (
        ("Is {obj} {v}?", {"approaching": "approaching", "receding": "receding"}),
        ("Is {obj} moving {v}?", {"approaching": "toward the camera", "receding": "away from the camera"}),
        ("Is {obj} getting {v}?", {"approaching": "closer", "receding": "farther"}),
    ),
    "size": (
        ("Is {obj} {v}?", {"growing": "growing", "shrinking": "shrinking"}),
        ("Is {obj} getting {v}?", {"growing": "bigger", "shrinking": "smaller"}),
    ),
    "fill": (
        ("Is {obj} {v}?", {"filling": "filling", "emptying": "emptying"}),
        ("Is {obj} {v}?", {"filling": "filling up", "emptying": "draining"}),
    ),
    "presence": (
        ("Is {obj} {v}?", {"appearing": "appearing", "disappearing": "disappearing"}),
        ("Does {obj} {v}?", {"appearing": "appear", "disappearing": "disappear"}),
    ),
    "door": (
        ("Is {obj} {v}?", {"opening": "opening", "closing": "closing"}),
        ("Does {obj} {v}?", {"opening": "open", "closing": "close"}),
    ),
    "light": (
        ("Is {obj} {v}?", {"brightening": "brightening", "dimming": "dimming"}),
        ("Is {obj} getting {v}?", {"brightening": "brighter", "dimming": "darker"}),
    ),
    "before": (
        ("Does {a} {a_verb} {v} {b} {b_verbs}?", {"before": "before", "after": "after"}),
        ("Does {a} {a_verb} {v} {b} {b_verbs}?", {"before": "earlier than", "after": "later than"}),
    ),
    "side": (
        ("Is {a} to the {v} of {b}?", {"left": "left", "right": "right"}),
        ("Is {a} on the {v} side of {b}?", {"left": "left", "right": "right"}),
        ("Is {a} {v} of {b}?", {"left": "left", "right": "right"}),
    ),
}


@dataclass(frozen=True)
class Query:
    """A question about a scene, complete except for its answer."""

    category: Category
    kind: str
    """One of ``KINDS[category]``."""
    subjects: tuple[int, ...]
    """Indices (in ``Scene.objects``) of the objects the question is about."""
    template: int
    """Which question template (``MC_QUESTIONS`` or ``YN_QUESTIONS``)."""
    wording: int
    """Which option wording (``OPTION_WORDS``, ``ORDER_SEPARATORS`` or ``COUNT_WORDS``)."""
    values: tuple[str, ...] = ()
    """Answer values in option order; empty for a yes/no question."""
    asked: str = ""
    """Yes/no: the value the question asks about. count: the colour counted."""

    @property
    def is_yes_no(self) -> bool:
        return not self.values


@dataclass(frozen=True)
class Question:
    """A worded question with its answer, as it goes into ``annotations.jsonl``."""

    text: str
    options: tuple[str, ...]
    answer: str
    """Option letter, or yes/no."""
    truth: str
    """The answer value the scene shows (e.g. 'right', or an event order '0>2>1')."""
    events: tuple[str, ...] = ()
    """Event names in the order they happen (event_sequence only)."""


def _trend(values: tuple[float, ...], up: str, down: str, what: str) -> str:
    change = values[-1] - values[0]
    if change == 0:
        raise ValueError(f"the scene's {what} does not change, so the question has no answer")
    return up if change > 0 else down


def _event_starts(scene: Scene) -> dict[int, int]:
    return {e.obj: e.start for e in scene.events}


def truth(scene: Scene, query: Query) -> str:
    """The answer value the scene shows for ``query``."""
    kind, objects, subjects = query.kind, scene.objects, query.subjects
    track = objects[subjects[0]].track
    if kind in ("horizontal", "vertical", "four_way"):
        dx, dy = track.x[-1] - track.x[0], track.y[-1] - track.y[0]
        horizontal = kind == "horizontal" or (kind == "four_way" and abs(dx) > abs(dy))
        if horizontal:
            return _trend(track.x, "right", "left", "x position")
        return _trend(track.y, "down", "up", "y position")  # image rows grow downwards
    if kind == "rotation":
        x, y = np.asarray(track.x), np.asarray(track.y)
        x, y = x - x.mean(), y - y.mean()
        swept = float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))  # > 0: clockwise on screen (y down)
        if swept == 0:
            raise ValueError("the object does not go around, so the question has no answer")
        return "clockwise" if swept > 0 else "counterclockwise"
    if kind == "depth":
        return _trend(track.radius, "approaching", "receding", "apparent size")
    if kind == "size":
        return _trend(track.radius, "growing", "shrinking", "size")
    if kind == "fill":
        return _trend(track.level, "filling", "emptying", "fill level")
    if kind == "door":
        return _trend(track.level, "opening", "closing", "opening")
    if kind == "presence":
        return _trend(track.alpha, "appearing", "disappearing", "opacity")
    if kind == "light":
        return _trend(track.brightness, "brightening", "dimming", "brightness")
    if kind in ("first", "last", "order", "before"):
        starts = _event_starts(scene)
        order = sorted(subjects, key=lambda i: starts[i])
        if kind == "first":
            return str(order[0])
        if kind == "last":
            return str(order[-1])
        if kind == "order":
            return ">".join(map(str, order))
        return "before" if starts[subjects[0]] < starts[subjects[1]] else "after"
    if kind == "side":
        gap = np.subtract(objects[subjects[0]].track.x, objects[subjects[1]].track.x)
        if np.all(gap < 0):
            return "left"
        if np.all(gap > 0):
            return "right"
        raise ValueError("the two objects swap sides, so the question has no answer")
    if kind == "colour":
        return objects[subjects[0]].colour
    if kind == "shape":
        return objects[subjects[0]].shape
    if kind == "count":
        return str(sum(o.colour == query.asked for o in objects))
    raise ValueError(f"unknown question kind {kind!r}")


def event_name(scene: Scene, obj: int) -> str:
    """'the red circle flashes': how options and ``events`` name an object's event."""
    kind = next(e.kind for e in scene.events if e.obj == obj)
    return f"{scene.objects[obj].name} {EVENT_VERBS[kind][0]}"


def _option_text(scene: Scene, query: Query, value: str) -> str:
    kind = query.kind
    if kind in ("first", "last"):
        return event_name(scene, int(value))
    if kind == "order":
        return ORDER_SEPARATORS[query.wording].join(event_name(scene, int(i)) for i in value.split(">"))
    if kind == "colour" or kind == "shape":
        return value
    if kind == "count":
        return COUNT_WORDS[query.wording][value]
    return OPTION_WORDS[kind][query.wording][value]


def _question_text(scene: Scene, query: Query) -> str:
    objects, subjects = scene.objects, query.subjects
    names = [objects[i].name for i in subjects]
    fields: dict[str, str] = {"obj": names[0], "a": names[0], "b": names[-1]}
    if query.kind == "colour":
        fields["shape"] = objects[subjects[0]].shape
    elif query.kind == "shape":
        fields["colour"] = objects[subjects[0]].colour
    elif query.kind == "count":
        fields["colour"] = query.asked
    if query.is_yes_no:
        template, words = YN_QUESTIONS[query.kind][query.template]
        fields["v"] = words[query.asked]
        if query.kind == "before":
            kinds = {e.obj: e.kind for e in scene.events}
            fields["a_verb"] = EVENT_VERBS[kinds[subjects[0]]][1]
            fields["b_verbs"] = EVENT_VERBS[kinds[subjects[1]]][0]
        return template.format(**fields)
    return MC_QUESTIONS[query.kind][query.template].format(**fields)


def ask(scene: Scene, query: Query) -> Question:
    """Word ``query`` and answer it from ``scene``."""
    value = truth(scene, query)
    if query.is_yes_no:
        answer = "yes" if value == query.asked else "no"
    else:
        if value not in query.values:
            raise ValueError(f"the scene's answer {value!r} is not among the options {query.values!r}")
        answer = letter(query.values.index(value))
    events: tuple[str, ...] = ()
    if query.category == "event_sequence":
        ordered = sorted(scene.events, key=lambda e: e.start)
        events = tuple(event_name(scene, e.obj) for e in ordered)
    options = tuple(_option_text(scene, query, v) for v in query.values)
    return Question(_question_text(scene, query), options, answer, value, events)
