"""Make one clip of a question family: a scene whose answer is chosen first, and the query about it.

Answer values, option positions, yes/no answers and question kinds are dealt from shuffled decks
(:class:`Balancer`), so over a run each comes up equally often. A dynamic target's track is built
for the "positive" answer (moving right, growing, ...) around the clip's middle frame and played
backwards for the other answer (:func:`~dybench.synth._scene_parts.centred_window`); events are laid out
symmetrically about the middle frame. So the middle frame, the one a single-frame baseline sees,
has the same distribution whatever the dynamic answer: it carries no information about it, unless
a bias rule adds a cue on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from dybench.records import Category
from dybench.synth._bias import BiasRule
from dybench.synth._questions import (
    COUNT_WORDS,
    KINDS,
    MC_QUESTIONS,
    OPTION_WORDS,
    ORDER_SEPARATORS,
    VALUES,
    YN_QUESTIONS,
    Query,
    Question,
    ask,
)
from dybench.synth._scene import COLOURS, EVENT_VERBS, SHAPES, SIZES, TEXTURES, Event, Scene, SceneObject
from dybench.synth._scene_parts import (
    Layout,
    add_distractors,
    centred_frames,
    centred_window,
    distractor_track,
    make_background,
    make_noise,
    make_track,
    middle_frame,
    ramp,
)

T = TypeVar("T")

#: The answer each kind's scenes are built for; the other answer is that scene played backwards.
_POSITIVE = {
    "horizontal": "right",
    "vertical": "down",
    "rotation": "clockwise",
    "depth": "approaching",
    "size": "growing",
    "fill": "filling",
    "presence": "appearing",
    "door": "opening",
    "light": "brightening",
}


class Balancer:
    """Deals choices from shuffled decks, one deck per key, so each choice comes up equally often."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._decks: dict[tuple[str, tuple], list[int]] = {}

    def deal(self, key: str, choices: Sequence[T]) -> T:
        deck_key = (key, tuple(choices))
        deck = self._decks.get(deck_key)
        if not deck:
            deck = [int(i) for i in self._rng.permutation(len(choices))]
            self._decks[deck_key] = deck
        return choices[deck.pop()]


@dataclass(frozen=True)
class Shortcut:
    """How a bias rule shaped one clip (recorded in its annotation)."""

    rule: str
    """The rule with this split's strength, e.g. 'moving_direction:colour=red->right:0.95'."""
    attribute: str
    value: str
    answer: str
    strength: float
    cue: bool
    """The target carries the cue (``attribute == value``)."""
    agrees: bool
    """The clip follows the shortcut (cue and answer go together as the rule says)."""


def _rule_text(rule: BiasRule, strength: float) -> str:
    return f"{rule.family}:{rule.attribute}={rule.value}->{rule.answer}:{strength:g}"


@dataclass(frozen=True)
class Clip:
    """One generated clip: the scene, the question about it and its answer."""

    scene: Scene
    query: Query
    question: Question
    shortcut: Shortcut | None = None
    travel: float = 1.0
    """The motion scale the clip was made with (``Layout.travel``)."""


@dataclass(frozen=True)
class _Look:
    shape: str
    colour: str
    texture: str
    size: str


@dataclass(frozen=True)
class _Cue:
    attribute: str
    value: str
    present: bool


def _look(
    rng: np.random.Generator, *, shape: str | None = None, texture: str | None = None,
    avoid_colours: Sequence[str] = (), cue: _Cue | None = None,
) -> _Look:  # fmt: skip
    """A random look; ``cue`` forces (or forbids) one attribute value."""
    choices = {
        "shape": (shape,) if shape else SHAPES,
        "texture": (texture,) if texture else TEXTURES,
        "colour": tuple(c for c in COLOURS if c not in avoid_colours),
    }
    if cue is not None:
        if cue.present:
            choices[cue.attribute] = (cue.value,)
        else:
            choices[cue.attribute] = tuple(v for v in choices[cue.attribute] if v != cue.value)
    return _Look(
        shape=str(rng.choice(choices["shape"])),
        colour=str(rng.choice(choices["colour"])),
        texture=str(rng.choice(choices["texture"])),
        size=str(rng.choice(list(SIZES))),
    )


def _object(look: _Look, track, shadow: bool = False) -> SceneObject:
    return SceneObject(look.shape, look.colour, look.texture, look.size, track, shadow)


# --- single-target dynamics: moving_direction and reversible_dynamics ------------------------------


def _target(
    rng: np.random.Generator, layout: Layout, kind: str, value: str, look: _Look
) -> tuple[SceneObject, SceneObject]:
    """The object a moving_direction or reversible_dynamics question is about, showing ``value``,
    and the same object showing the opposite answer (same path, played the other way)."""
    width, height, unit = layout.width, layout.height, layout.unit
    frames = centred_frames(layout.frames)  # the track is built long, then windowed (centred_window)
    r = layout.radius(look.size)
    s = ramp(frames)
    if kind == "four_way":
        kind = "horizontal" if value in ("left", "right") else "vertical"
    positive = value == _POSITIVE[kind]
    shadow = False
    if kind in ("horizontal", "vertical"):
        reach, travel = 1.3 * r + 2.0, rng.uniform(0.25, 0.4) * unit * layout.travel
        along = rng.uniform(reach + travel / 2, (width if kind == "horizontal" else height) - reach - travel / 2)
        across = rng.uniform(reach, (height if kind == "horizontal" else width) - reach)
        moving = along + travel * (s - 0.5)
        x, y = (moving, across) if kind == "horizontal" else (across, moving)
        track = make_track(frames, x, y, r)
    elif kind == "rotation":
        reach, orbit = 1.3 * r + 2.0, rng.uniform(0.13, 0.2) * unit
        cx = rng.uniform(reach + orbit, width - reach - orbit)
        cy = rng.uniform(reach + orbit, height - reach - orbit)
        angle = rng.uniform(0.0, 2.0 * math.pi) + rng.uniform(1.2, 1.7) * math.pi * s  # growing angle: clockwise
        track = make_track(frames, cx + orbit * np.cos(angle), cy + orbit * np.sin(angle), r)
    elif kind == "depth":
        near, far, drop = 1.35 * r, 0.65 * r, 0.12 * height
        reach = 1.45 * near + 2.0
        x = rng.uniform(reach, width - reach)
        y0 = rng.uniform(reach, height - reach - drop)
        track = make_track(frames, x, y0 + drop * s, far + (near - far) * s)
        shadow = True
    else:
        big = 1.2 * r if kind in ("fill", "door") else r
        reach = 1.3 * big * (1.4 if kind == "size" else 1.0) + 2.0
        x, y = rng.uniform(reach, width - reach), rng.uniform(reach, height - reach)
        if kind == "size":
            track = make_track(frames, x, y, big * (rng.uniform(0.5, 0.6) + rng.uniform(0.65, 0.8) * s))
        elif kind in ("fill", "door"):
            low, high = rng.uniform(0.05, 0.15), rng.uniform(0.85, 0.95)
            track = make_track(frames, x, y, big, level=low + (high - low) * s)
        elif kind == "presence":
            # absent in the first shown frame and fully there in the last, whichever way it is played
            fade = max(2, layout.frames // 4)
            onset = int(rng.integers(1, layout.frames - fade))
            alpha = np.clip((np.arange(frames) - onset) / fade, 0.0, 1.0)
            track = make_track(frames, x, y, big, alpha=alpha)
        elif kind == "light":
            track = make_track(frames, x, y, big, brightness=rng.uniform(0.48, 0.55) + (1.0 - 0.55) * s)
        else:
            raise ValueError(f"unknown question kind {kind!r}")
    shown, other = (centred_window(track, layout.frames, forward=f) for f in (positive, not positive))
    return _object(look, shown, shadow), _object(look, other, shadow)


def _single_target(
    rng: np.random.Generator, deal: Balancer, layout: Layout, category: Category, kind: str,
    rule: BiasRule | None, strength: float,
) -> tuple[tuple[int, ...], str, Shortcut | None]:  # fmt: skip
    cue, shortcut = None, None
    if rule is not None:
        present = deal.deal(f"{category}/cue", (True, False))
        agrees = bool(rng.random() < strength)
        other = next(v for v in VALUES[kind] if v != rule.answer)
        value = rule.answer if agrees == present else other
        cue = _Cue(rule.attribute, rule.value, present)
        shortcut = Shortcut(
            _rule_text(rule, strength), rule.attribute, rule.value, rule.answer, strength, present, agrees
        )
    else:
        value = deal.deal(f"{kind}/value", VALUES[kind])
    device = {"fill": "jar", "door": "door"}.get(kind)
    look = _look(rng, shape=device, texture="solid" if kind in ("fill", "door", "light") else None, cue=cue)
    target, opposite = _target(rng, layout, kind, value, look)
    if not layout.place(target):
        raise AssertionError(f"a {kind} target left the frame")  # the builders keep it inside
    # distractors keep clear of the target played either way, so that the scene for the opposite
    # answer is this very scene with the target reversed (same draws, same middle frame)
    layout.reserved.append(opposite)
    add_distractors(rng, layout, int(rng.integers(2, 5)), avoid_colours=(look.colour,))
    layout.reserved.clear()
    return (0,), value, shortcut


# --- event_sequence -------------------------------------------------------------------------------


def _event_slots(rng: np.random.Generator, span: int, count: int, duration: int) -> list[int]:
    """Start frames of ``count`` events within frames ``1 .. span - 2``, at least one frame apart,
    uniform over all such arrangements (so an arrangement and its mirror image in time are equally
    likely; with ``span = 2 * middle + 1`` that mirror keeps the middle frame where it is)."""
    free = span - 2 - count * duration - (count - 1)
    cuts = sorted(int(c) for c in rng.choice(free + count, size=count, replace=False))
    gaps = [cuts[0]] + [cuts[i] - cuts[i - 1] - 1 for i in range(1, count)]
    starts, t = [], 1
    for gap in gaps:
        t += gap
        starts.append(t)
        t += duration + 1
    return starts


def _acting_track(layout: Layout, x: float, y: float, r: float, kind: str, start: int, duration: int):
    """A still object that performs one ``kind`` event from ``start``."""
    frames = layout.frames
    profile = np.zeros(frames)
    bump = [0.6, 1.0, 0.6][:duration] if duration == 3 else [0.85] * duration
    profile[start : start + duration] = bump
    xs, ys, rs = np.full(frames, x), np.full(frames, y), np.full(frames, r)
    alpha, whiten = np.ones(frames), np.zeros(frames)
    if kind == "flash":
        whiten = 0.75 * profile
    elif kind == "jump":
        ys = ys - 0.75 * r * profile
    elif kind == "pulse":
        rs = rs * (1.0 + 0.5 * profile)
    elif kind == "blink":
        alpha = 1.0 - profile
    elif kind == "shake":
        sign = np.where(np.arange(frames) % 2 == 0, 1.0, -1.0)
        xs = xs + 0.45 * r * sign * (profile > 0)
    else:
        raise ValueError(f"unknown event kind {kind!r}")
    return make_track(frames, xs, ys, rs, alpha=alpha, whiten=whiten)


def _events(
    rng: np.random.Generator, deal: Balancer, layout: Layout, kind: str, rule: BiasRule | None, strength: float
) -> tuple[tuple[int, ...], list[Event], Shortcut | None]:
    frames = layout.frames
    span = 2 * middle_frame(frames) + 1  # events stay in frames symmetric about the middle frame
    duration = 3 if frames >= 12 else 2
    can_three = span >= 2 + 3 * duration + 2
    count = 2 if rule is not None or not can_three else deal.deal("events/count", (2, 3))
    starts = _event_slots(rng, span, count, duration)
    colours = [str(c) for c in rng.choice(list(COLOURS), size=count, replace=False)]
    shortcut = None
    if rule is not None:
        agrees = bool(rng.random() < strength)
        cue_slot = 0 if agrees == (rule.answer == "first") else 1
        slot_of = [cue_slot, 1 - cue_slot]
        looks = [_look(rng, cue=_Cue(rule.attribute, rule.value, True))]
        looks.append(_look(rng, avoid_colours=(looks[0].colour,), cue=_Cue(rule.attribute, rule.value, False)))
        shortcut = Shortcut(_rule_text(rule, strength), rule.attribute, rule.value, rule.answer, strength, True, agrees)
    else:
        slot_of = list(deal.deal(f"events/order{count}", _permutations(list(range(count)))))
        looks = [replace(_look(rng), colour=c) for c in colours]
    kinds = [str(k) for k in rng.choice(list(EVENT_VERBS), size=count, replace=False)]
    events = []
    for i, look in enumerate(looks):
        r = layout.radius(look.size)
        start = starts[slot_of[i]]
        for _ in range(60):
            x, y = (
                rng.uniform(1.9 * r + 2, layout.width - 1.9 * r - 2),
                rng.uniform(2.3 * r + 2, layout.height - 1.9 * r - 2),
            )
            if layout.place(_object(look, _acting_track(layout, x, y, r, kinds[i], start, duration))):
                break
        else:
            raise _NoRoom()
        events.append(Event(i, kinds[i], start, start + duration - 1))
    add_distractors(rng, layout, int(rng.integers(1, 3)), avoid_colours=[look.colour for look in looks])
    return tuple(range(count)), events, shortcut


# --- spatial and static ---------------------------------------------------------------------------


def _spatial(rng: np.random.Generator, deal: Balancer, layout: Layout) -> tuple[tuple[int, ...], str]:
    value = deal.deal("side/value", VALUES["side"])
    a = _look(rng)
    b = _look(rng, avoid_colours=(a.colour,))
    width, height, frames = layout.width, layout.height, layout.frames
    s = ramp(frames) - 0.5
    bounds = {"left": (0.0, 0.4 * width), "right": (0.6 * width, width)}
    sides = ("left", "right") if value == "left" else ("right", "left")
    for look, side in zip((a, b), sides, strict=True):
        r = layout.radius(look.size)
        reach = 1.3 * r + 2.0
        lo, hi = bounds[side]
        for _ in range(60):
            x = rng.uniform(max(lo, reach + 0.02 * width), min(hi, width - reach - 0.02 * width))
            y = rng.uniform(reach + 0.1 * height, height - reach - 0.1 * height)
            dx, dy = rng.uniform(-0.04, 0.04) * width, rng.uniform(-0.2, 0.2) * height
            if layout.place(_object(look, make_track(frames, x + dx * s, y + dy * s, r))):
                break
        else:
            raise _NoRoom()
    add_distractors(rng, layout, int(rng.integers(1, 4)), avoid_colours=(a.colour, b.colour))
    return (0, 1), value


def _place_moving(rng: np.random.Generator, layout: Layout, look: _Look) -> None:
    for _ in range(60):
        if layout.place(_object(look, distractor_track(rng, layout, layout.radius(look.size)))):
            return
    raise _NoRoom()


def _static(rng: np.random.Generator, deal: Balancer, layout: Layout, kind: str) -> tuple[tuple[int, ...], str, str]:
    """(subjects, answer value, asked) for a colour, shape or count question."""
    if kind == "colour":
        value = deal.deal("colour/value", tuple(COLOURS))
        look = replace(_look(rng), colour=value)
        _place_moving(rng, layout, look)
        add_distractors(rng, layout, int(rng.integers(2, 5)), avoid_shapes=(look.shape,))
        return (0,), value, ""
    if kind == "shape":
        value = deal.deal("shape/value", SHAPES)
        look = _look(rng, shape=value)
        _place_moving(rng, layout, look)
        add_distractors(rng, layout, int(rng.integers(2, 5)), avoid_colours=(look.colour,))
        return (0,), value, ""
    count = deal.deal("count/value", (1, 2, 3, 4))
    colour = str(rng.choice(list(COLOURS)))
    for _ in range(count):
        _place_moving(rng, layout, replace(_look(rng), colour=colour))
    add_distractors(rng, layout, int(rng.integers(1, 3)), avoid_colours=(colour,))
    return tuple(range(count)), str(count), colour


class _NoRoom(Exception):
    """The objects did not fit; the scene is drawn again."""


# --- the query ------------------------------------------------------------------------------------


def _options(rng: np.random.Generator, deal: Balancer, truth: str, others: Sequence[str]) -> tuple[str, ...]:
    """``truth`` at a dealt position among the ``others`` (shuffled)."""
    rest = [others[int(i)] for i in rng.permutation(len(others))]
    position = deal.deal(f"position/{len(rest) + 1}", tuple(range(len(rest) + 1)))
    return tuple(rest[:position] + [truth] + rest[position:])


def _mc_values(rng: np.random.Generator, deal: Balancer, kind: str, truth: str, subjects: tuple[int, ...]):
    if kind in VALUES:
        return _options(rng, deal, truth, [v for v in VALUES[kind] if v != truth])
    if kind in ("first", "last"):
        return _options(rng, deal, truth, [str(i) for i in subjects if str(i) != truth])
    if kind == "order":
        order = truth.split(">")
        backwards = ">".join(reversed(order))
        perms = [">".join(p) for p in _permutations(order) if ">".join(p) not in (truth, backwards)]
        extra = [perms[int(i)] for i in rng.permutation(len(perms))[:2]]
        return _options(rng, deal, truth, [backwards, *extra])
    if kind == "colour":
        others = [c for c in COLOURS if c != truth]
        return _options(rng, deal, truth, [others[int(i)] for i in rng.permutation(len(others))[:3]])
    if kind == "shape":
        others = [s for s in SHAPES if s != truth]
        return _options(rng, deal, truth, [others[int(i)] for i in rng.permutation(len(others))[:3]])
    if kind == "count":
        return ("1", "2", "3", "4")  # in natural order; the dealt counts balance the letters
    raise ValueError(f"unknown question kind {kind!r}")


def _permutations(items: list[T]) -> list[tuple[T, ...]]:
    if len(items) <= 1:
        return [tuple(items)]
    return [(items[i], *rest) for i in range(len(items)) for rest in _permutations(items[:i] + items[i + 1 :])]


def _query(
    rng: np.random.Generator, deal: Balancer, category: Category, kind: str, subjects: tuple[int, ...],
    truth: str, asked: str = "",
) -> Query:  # fmt: skip
    if kind == "before" or (kind in YN_QUESTIONS and deal.deal(f"{kind}/form", ("mc", "mc", "yn")) == "yn"):
        answer = deal.deal("yes_no", ("yes", "no"))
        opposite = next(v for v in VALUES[kind] if v != truth)
        asked = truth if answer == "yes" else opposite
        return Query(category, kind, subjects, int(rng.integers(len(YN_QUESTIONS[kind]))), 0, (), asked)
    values = _mc_values(rng, deal, kind, truth, subjects)
    wordings = {"order": ORDER_SEPARATORS, "count": COUNT_WORDS}.get(kind, OPTION_WORDS.get(kind, ("",)))
    return Query(
        category, kind, subjects, int(rng.integers(len(MC_QUESTIONS[kind]))), int(rng.integers(len(wordings))),
        values, asked,
    )  # fmt: skip


def make_clip(
    rng: np.random.Generator,
    deal: Balancer,
    category: Category,
    *,
    width: int,
    height: int,
    frames: int,
    rule: BiasRule | None = None,
    strength: float = 0.5,
    max_distractors: int | None = None,
    travel: float = 1.0,
) -> Clip:
    """One clip of ``category``: a scene, the question about it and its answer.

    ``rng`` draws this clip's content; ``deal`` balances answers and kinds across the run;
    ``max_distractors`` caps the objects no question is about (None: no cap); ``travel`` scales how far a
    target moving left/right or up/down goes (``Layout.travel``).
    """
    if rule is not None and category == "event_sequence":
        kind = deal.deal(f"{category}/kind", KINDS[category])
    elif rule is not None:
        kind = rule.kind
    else:
        kind = deal.deal(f"{category}/kind", KINDS[category])
    builders: dict[Category, Callable[[Layout], tuple]] = {
        "moving_direction": lambda lay: _single_target(rng, deal, lay, category, kind, rule, strength),
        "reversible_dynamics": lambda lay: _single_target(rng, deal, lay, category, kind, rule, strength),
        "event_sequence": lambda lay: _events(rng, deal, lay, kind, rule, strength),
        "spatial": lambda lay: _spatial(rng, deal, lay),
        "static": lambda lay: _static(rng, deal, lay, kind),
    }
    for _ in range(50):
        layout = Layout(width, height, frames, max_distractors=max_distractors, travel=travel)
        try:
            built = builders[category](layout)
        except _NoRoom:
            continue
        break
    else:
        raise ValueError(f"cannot fit a {category}/{kind} scene into {width}x{height}; use a larger --size")

    events: tuple[Event, ...] = ()
    shortcut, asked = None, ""
    if category in ("moving_direction", "reversible_dynamics"):
        subjects, value, shortcut = built
    elif category == "event_sequence":
        subjects, events, shortcut = built
    elif category == "spatial":
        subjects, value = built
    else:
        subjects, value, asked = built
    scene = Scene(
        width, height, frames, make_background(rng, width, height), tuple(layout.objects), make_noise(rng, frames),
        tuple(events),
    )  # fmt: skip
    if category == "event_sequence":
        starts = {e.obj: e.start for e in events}
        if kind == "before":
            subjects = tuple(int(i) for i in rng.permutation(len(subjects))[:2])
            value = "before" if starts[subjects[0]] < starts[subjects[1]] else "after"
        else:
            order = sorted(subjects, key=lambda i: starts[i])
            value = {"first": str(order[0]), "last": str(order[-1]), "order": ">".join(map(str, order))}[kind]
    query = _query(rng, deal, category, kind, subjects, value, asked)
    question = ask(scene, query)
    if question.truth != value:
        raise AssertionError(f"{category}/{kind}: built for {value!r} but the scene shows {question.truth!r}")
    return Clip(scene, query, question, shortcut, travel)
