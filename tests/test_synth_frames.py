"""DyBench-Synth's answers are right: checks computed from the decoded frames agree with every answer.

The checks are independent of the generator: they find objects by colour in the decoded pixels
(hue, saturation and value thresholds), then measure centroid tracks, areas, brightness, event
onsets and object shapes, and compare those with what the written answer's text claims. They
run on a synthesized folder *and* on the pairs dataset ``dybench build`` makes from it, so every
counterfactual answer that build derives (mirror, reversal) is checked against its own video too.
"""

from __future__ import annotations

import colorsys
import re
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from dybench.fileio import read_jsonl
from dybench.pairs import build_pairs, load_items
from dybench.records import letter_index
from dybench.synth import synthesize
from dybench.synth._scene import COLOURS
from dybench.video import read_frames

# --- finding objects by colour --------------------------------------------------------------------

_HUES = {name: colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0] * 360 for name, rgb in COLOURS.items()}


def hsv(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees, saturation and value in [0, 1], for uint8 RGB frames."""
    rgb = frames.astype(np.float32) / 255.0
    mx, mn = rgb.max(-1), rgb.min(-1)
    delta = mx - mn
    safe = np.where(delta == 0, 1.0, delta)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hue = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60
    sat = np.where(mx == 0, 0.0, delta / np.where(mx == 0, 1.0, mx))
    return hue, sat, mx


def colour_mask(frames: np.ndarray, colour: str) -> np.ndarray:
    """Pixels of a palette colour: hue within 20 degrees, clearly saturated, not dark."""
    hue, sat, val = hsv(frames)
    dist = np.abs((hue - _HUES[colour] + 180) % 360 - 180)
    return (dist < 20) & (sat > 0.45) & (val > 0.3)


def measure(frames: np.ndarray, colour: str) -> dict[str, np.ndarray]:
    """Per frame: area (pixels), centroid, mean value of the colour's pixels."""
    mask = colour_mask(frames, colour)
    _, _, val = hsv(frames)
    area = mask.sum((1, 2)).astype(float)
    ys, xs = np.mgrid[0 : frames.shape[1], 0 : frames.shape[2]]
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = (mask * xs).sum((1, 2)) / area
        cy = (mask * ys).sum((1, 2)) / area
        v = (mask * val).sum((1, 2)) / area
    return {"area": area, "x": cx, "y": cy, "v": v}


def components(mask: np.ndarray) -> list[np.ndarray]:
    """Connected components (8-neighbour) of a 2-D mask, as (N, 2) arrays of (row, col)."""
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        queue, pixels = deque([start]), []
        seen[start] = True
        while queue:
            y, x = queue.popleft()
            pixels.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        queue.append((ny, nx))
        if len(pixels) >= 6:  # specks of codec noise are not objects
            out.append(np.array(pixels))
    return out


#: Ideal features of each shape, from its geometry: fill of the bounding box, width of the row a
#: quarter down and a quarter up, mean fill of the box's four corner cells, height / width.
_SHAPE_TEMPLATES = {
    "square": (1.0, 1.0, 1.0, 1.0, 1.0),
    "circle": (0.785, 0.87, 0.87, 0.3, 1.0),
    "diamond": (0.5, 0.5, 0.5, 0.0, 1.21),
    "cross": (0.46, 0.27, 0.27, 0.0, 1.0),
    "triangle": (0.5, 0.25, 0.75, 0.38, 0.875),
}


def classify_shape(pixels: np.ndarray) -> str:
    """The template shape nearest to a component's features."""
    ys, xs = pixels[:, 0], pixels[:, 1]
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    box = np.zeros((h, w), dtype=bool)
    box[ys - ys.min(), xs - xs.min()] = True
    q, p = max(1, h // 4), max(1, w // 4)
    corners = np.mean([box[:q, :p].mean(), box[:q, -p:].mean(), box[-q:, :p].mean(), box[-q:, -p:].mean()])
    feats = np.array([box.mean(), box[h // 4].sum() / w, box[(3 * h) // 4].sum() / w, corners, h / w])
    return min(_SHAPE_TEMPLATES, key=lambda s: np.linalg.norm(feats - np.array(_SHAPE_TEMPLATES[s])))


# --- what an answer claims ------------------------------------------------------------------------

#: The checker's own reading of answer words (independent of the generator's phrase tables).
_MEANINGS = {
    "right": ["right", "rightward"],
    "left": ["left", "leftward"],
    "up": ["up", "upward"],
    "down": ["down", "downward"],
    "clockwise": ["clockwise"],
    "counterclockwise": ["counterclockwise", "anticlockwise"],
    "approaching": ["approaching", "toward", "closer"],
    "receding": ["receding", "away", "farther"],
    "growing": ["growing", "bigger", "expanding"],
    "shrinking": ["shrinking", "smaller", "contracting"],
    "filling": ["filling"],
    "emptying": ["emptying", "draining"],
    "appearing": ["appearing", "appears", "appear"],
    "disappearing": ["disappearing", "disappears", "disappear"],
    "opening": ["opening", "opens", "open"],
    "closing": ["closing", "closes", "close"],
    "brightening": ["brightening", "brighter"],
    "dimming": ["dimming", "darker"],
    "before": ["before", "earlier"],
    "after": ["after", "later"],
}
_OPPOSITE = {}
for _a, _b in [
    ("right", "left"), ("up", "down"), ("clockwise", "counterclockwise"), ("approaching", "receding"),
    ("growing", "shrinking"), ("filling", "emptying"), ("appearing", "disappearing"), ("opening", "closing"),
    ("brightening", "dimming"), ("before", "after"),
]:  # fmt: skip
    _OPPOSITE[_a], _OPPOSITE[_b] = _b, _a


def meanings(text: str) -> list[str]:
    words = re.findall(r"[a-z]+", text.lower().replace("filling up", "filling"))
    return [m for w in words for m, forms in _MEANINGS.items() if w in forms]


def claimed(question: str, options: list[str], answer: str) -> str:
    """The value the written answer asserts: the option's meaning, or the yes/no question's."""
    if options:
        found = meanings(options[letter_index(answer)])
        assert len(found) == 1, f"option {options[letter_index(answer)]!r} has no single meaning"
        return found[0]
    found = meanings(question)
    assert len(found) == 1, f"question {question!r} has no single meaning"
    return found[0] if answer == "yes" else _OPPOSITE[found[0]]


def colours_in(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w in COLOURS]


# --- the check ------------------------------------------------------------------------------------


def onsets(frames: np.ndarray, colour: str) -> list[int]:
    """Frames where the object of ``colour`` departs from its resting look (area, place)."""
    m = measure(frames, colour)
    area = np.nan_to_num(m["area"])
    rest = np.median(area)
    radius = np.sqrt(rest / np.pi)
    moved = np.hypot(np.nan_to_num(m["x"] - np.nanmedian(m["x"])), np.nan_to_num(m["y"] - np.nanmedian(m["y"])))
    deviation = np.abs(area - rest) / rest + moved / radius
    return [int(t) for t in np.nonzero(deviation > 0.3)[0]]


def check(family: str, question: str, options: list[str], answer: str, subjects: list[dict], frames: np.ndarray):
    """Assert that ``frames`` show what ``answer`` says; ``family`` is '<category>/<kind>'."""
    kind = family.split("/")[1]
    size = frames.shape[2]
    colour = subjects[0]["colour"]
    if kind in ("horizontal", "vertical", "four_way", "rotation", "depth", "size", "fill", "presence", "door", "light"):
        claim = claimed(question, options, answer)
        m = measure(frames, colour)
        a0, a1 = m["area"][:2].mean(), m["area"][-2:].mean()
    if kind in ("horizontal", "vertical", "four_way"):
        dx, dy = m["x"][-1] - m["x"][0], m["y"][-1] - m["y"][0]
        seen = ("right" if dx > 0 else "left") if abs(dx) > abs(dy) else ("down" if dy > 0 else "up")
        assert max(abs(dx), abs(dy)) > 0.12 * size, f"the {colour} object hardly moves ({dx:.1f}, {dy:.1f})"
    elif kind == "rotation":
        x, y = m["x"] - m["x"].mean(), m["y"] - m["y"].mean()
        seen = "clockwise" if np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]) > 0 else "counterclockwise"
    elif kind in ("depth", "size", "fill"):
        assert max(a0, a1) > 1.5 * min(a0, a1), f"the {colour} object's area barely changes ({a0}, {a1})"
        seen = {"depth": ("approaching", "receding"), "size": ("growing", "shrinking"),
                "fill": ("filling", "emptying")}[kind][0 if a1 > a0 else 1]  # fmt: skip
        if kind == "depth":  # coming closer also comes down the frame
            assert (m["y"][-1] > m["y"][0]) == (seen == "approaching")
    elif kind == "presence":
        big = m["area"].max()
        assert min(a0, a1) < 0.1 * big < big * 0.5 < max(a0, a1), f"the {colour} object neither appears nor goes"
        seen = "appearing" if a1 > a0 else "disappearing"
    elif kind == "door":
        assert max(a0, a1) > 1.5 * min(a0, a1), f"the {colour} door's panels barely move"
        seen = "opening" if a1 < a0 else "closing"
    elif kind == "light":
        v0, v1 = m["v"][:2].mean(), m["v"][-2:].mean()
        assert abs(v1 - v0) > 0.15, f"the {colour} object's brightness barely changes ({v0:.2f}, {v1:.2f})"
        seen = "brightening" if v1 > v0 else "dimming"
    elif kind in ("first", "last", "order", "before"):
        starts = {}
        for subject in subjects:
            active = onsets(frames, subject["colour"])
            assert active, f"no event seen for the {subject['colour']} object"
            starts[subject["colour"]] = active[0]
        order = sorted(starts, key=starts.get)
        assert len(set(starts.values())) == len(starts), f"events start together: {starts}"
        if kind == "before":
            claim = claimed(question, options, answer)
            a, b = subjects[0]["colour"], subjects[1]["colour"]
            seen = "before" if starts[a] < starts[b] else "after"
        else:
            claim = colours_in(options[letter_index(answer)])
            seen = {"first": order[:1], "last": order[-1:], "order": order}[kind]
    elif kind == "side":
        claim = claimed(question, options, answer)
        xa, xb = measure(frames, subjects[0]["colour"])["x"], measure(frames, subjects[1]["colour"])["x"]
        assert np.all(xa < xb) or np.all(xa > xb), "the two objects swap sides"
        seen = "left" if np.all(xa < xb) else "right"
    elif kind in ("colour", "shape", "count"):
        frame = frames[len(frames) // 2 : len(frames) // 2 + 1]
        if kind == "count":
            claim = (
                int(options[letter_index(answer)]) if options[0].isdigit() else _WORDS[options[letter_index(answer)]]
            )
            seen = len(components(colour_mask(frame, colour)[0]))
        elif kind == "shape":
            claim = options[letter_index(answer)]
            (blob,) = components(colour_mask(frame, colour)[0])
            seen = classify_shape(blob)
        else:
            claim = options[letter_index(answer)]
            shape = subjects[0]["shape"]
            found = [
                c for c in COLOURS for blob in components(colour_mask(frame, c)[0]) if classify_shape(blob) == shape
            ]
            assert len(found) == 1, f"expected one {shape}, found {len(found)} ({found})"
            seen = found[0]
    else:
        raise AssertionError(f"no check for {family}")
    assert seen == claim, (
        f"{family}: the frames show {seen!r} but the answer says {claim!r}: {question} {options} {answer}"
    )


_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4}


# --- the tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 clips (10 per category, every question kind), 96x96, 16 frames."""
    return synthesize(tmp_path_factory.mktemp("synth"), n=50, seed=7, size=96, frames=16, workers=2, progress=False)


def test_every_answer_matches_the_frames(synth_dir: Path) -> None:
    rows = read_jsonl(synth_dir / "annotations.jsonl")
    kinds = {r["family"] for r in rows}
    assert len(kinds) == 18, f"the set should cover every question kind, got {sorted(kinds)}"
    for row in rows:
        frames = read_frames(synth_dir / row["video"])
        check(row["family"], row["question"], row["options"], row["answer"], row["subjects"], frames)


def test_every_counterfactual_answer_build_derives_matches_its_video(synth_dir: Path, tmp_path: Path) -> None:
    """`dybench build` runs on the folder with no other input; each of its items, original and
    counterfactual, passes the same frame check against its own video."""
    report = build_pairs(synth_dir, tmp_path / "pairs", workers=2)
    assert report.ok, report.errors
    rows = {r["id"]: r for r in read_jsonl(synth_dir / "annotations.jsonl")}
    items = load_items(tmp_path / "pairs")
    expected = sum(len(r["transforms"]) for r in rows.values()) * 2
    assert len(items) == expected
    changed = 0
    for item in items:
        source = rows[item.source_id]
        frames = read_frames(tmp_path / "pairs" / item.video)
        check(source["family"], item.question, list(item.options), item.answer, source["subjects"], frames)
        changed += item.branch == "counterfactual" and item.relation == "change"
    assert changed > len(rows) // 2  # the counterfactuals really differ, most of the time


def test_a_wrong_answer_fails_the_check(synth_dir: Path) -> None:
    """The checks can fail: flipping the answer of a dynamic question is caught."""
    rows = read_jsonl(synth_dir / "annotations.jsonl")
    caught = 0
    for row in rows:
        if row["category"] == "static":
            continue
        if row["options"]:
            wrong = "B" if row["answer"] == "A" else "A"
        else:
            wrong = "no" if row["answer"] == "yes" else "yes"
        frames = read_frames(synth_dir / row["video"])
        with pytest.raises(AssertionError):
            check(row["family"], row["question"], row["options"], wrong, row["subjects"], frames)
        caught += 1
    assert caught >= 30
