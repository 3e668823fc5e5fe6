"""Building blocks of a scene: tracks, collision-free placement, distractors, backdrops and noise.

Every random choice here is symmetric under time reversal (a track and its reverse are equally
likely), which is what keeps a single frame from giving away a dynamic answer.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dybench.synth._scene import COLOURS, SHAPES, SIZES, TEXTURES, Background, Blob, Noise, SceneObject, Track, Wave

#: An object's reach beyond its radius, for spacing (shapes stay within 1.25 radii, shadows 1.4).
_REACH = 1.3
_REACH_SHADOW = 1.45
#: The smallest object radius, in pixels.
MIN_RADIUS = 6.0


def _values(value: float | np.ndarray, frames: int) -> tuple[float, ...]:
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (frames,))
    return tuple(round(float(v), 4) for v in array)


def make_track(
    frames: int,
    x: float | np.ndarray,
    y: float | np.ndarray,
    radius: float | np.ndarray,
    *,
    alpha: float | np.ndarray = 1.0,
    brightness: float | np.ndarray = 1.0,
    whiten: float | np.ndarray = 0.0,
    level: float | np.ndarray = 0.0,
) -> Track:
    """A track from per-frame arrays or constants (values rounded to 1e-4, so descriptions are stable)."""
    return Track(
        x=_values(x, frames),
        y=_values(y, frames),
        radius=_values(radius, frames),
        alpha=_values(alpha, frames),
        brightness=_values(brightness, frames),
        whiten=_values(whiten, frames),
        level=_values(level, frames),
    )


def ramp(frames: int) -> np.ndarray:
    """0 at the first frame, 1 at the last."""
    return np.linspace(0.0, 1.0, frames)


def middle_frame(frames: int) -> int:
    """The frame a single-frame baseline sees (``dybench.video.sample_indices(frames, num_frames=1)``)."""
    return (frames - 1) // 2


def centred_frames(frames: int) -> int:
    """Length of a track centred on the middle frame that any window of the clip fits in, forwards or back."""
    return 2 * (frames - 1 - middle_frame(frames)) + 1


def centred_window(track: Track, frames: int, forward: bool) -> Track:
    """A clip's ``frames`` from a :func:`centred_frames`-long track, played forwards or backwards, such
    that the clip's middle frame is the track's centre either way.

    A dynamic answer and its opposite then show the same state in the middle frame (exactly the same
    distribution of it), so that frame alone cannot tell them apart; playing a clip-long track
    backwards would not do, because with an even frame count the middle frame moves by one.
    """
    centre = centred_frames(frames) // 2
    start = centre - middle_frame(frames)
    return (track if forward else track.reversed()).window(start, frames)


@dataclass
class Layout:
    """The frame and the objects placed so far; places new ones only where they touch nothing."""

    width: int
    height: int
    frames: int
    objects: list[SceneObject] = field(default_factory=list)
    reserved: list[SceneObject] = field(default_factory=list)
    """Paths new objects keep clear of without being drawn (a target played the other way)."""
    max_distractors: int | None = None
    """At most this many distractor objects per scene (None: as many as each family asks for)."""
    travel: float = 1.0
    """How far a target moving left/right or up/down travels, as a multiple of the default (0.25-0.4 of the
    frame): below 1 the motion is smaller and harder to see (DyBench-Synth's perception difficulty)."""

    @property
    def unit(self) -> float:
        """The shorter frame side: sizes and distances are fractions of it."""
        return float(min(self.width, self.height))

    @property
    def gap(self) -> float:
        return 0.03 * self.unit + 1.0

    def radius(self, size: str) -> float:
        """Radius in pixels of a nominal size; never under 6 pixels, below which shapes blur together."""
        return max(MIN_RADIUS, SIZES[size] * self.unit)

    def inside(self, obj: SceneObject) -> bool:
        tr = obj.track
        x, y, reach = np.asarray(tr.x), np.asarray(tr.y), _reach(obj)
        return bool(
            np.all(x - reach >= 1.0)
            and np.all(x + reach <= self.width - 1.0)
            and np.all(y - reach >= 1.0)
            and np.all(y + reach <= self.height - 1.0)
        )

    def fits(self, obj: SceneObject, others: Sequence[SceneObject] | None = None) -> bool:
        """Inside the frame and never touching any placed object, in any frame."""
        if not self.inside(obj):
            return False
        for other in self.objects + self.reserved if others is None else others:
            dist = np.hypot(np.subtract(obj.track.x, other.track.x), np.subtract(obj.track.y, other.track.y))
            if np.any(dist < _reach(obj) + _reach(other) + self.gap):
                return False
        return True

    def place(self, obj: SceneObject) -> bool:
        if self.fits(obj):
            self.objects.append(obj)
            return True
        return False


def _reach(obj: SceneObject) -> np.ndarray:
    return np.asarray(obj.track.radius) * (_REACH_SHADOW if obj.shadow else _REACH)


def random_point(rng: np.random.Generator, layout: Layout, margin: float) -> tuple[float, float]:
    """A uniform point at least ``margin`` from every edge."""
    x = rng.uniform(margin, max(margin, layout.width - margin))
    y = rng.uniform(margin, max(margin, layout.height - margin))
    return float(x), float(y)


def distractor_track(rng: np.random.Generator, layout: Layout, radius: float) -> Track:
    """Still, drifting in a straight line, or bobbing to and fro; directions are uniform, so the
    motion is as likely as its own reverse."""
    frames, unit = layout.frames, layout.unit
    x0, y0 = random_point(rng, layout, _REACH * radius + 1.0)
    motion = rng.choice(3, p=(0.3, 0.5, 0.2))
    angle = rng.uniform(0.0, 2.0 * math.pi)
    if motion == 0:
        x, y = np.full(frames, x0), np.full(frames, y0)
    elif motion == 1:
        length = rng.uniform(0.1, 0.3) * unit
        s = ramp(frames) - 0.5
        x, y = x0 + length * math.cos(angle) * s, y0 + length * math.sin(angle) * s
    else:
        amp = rng.uniform(0.03, 0.06) * unit
        phase = rng.uniform(0.0, 2.0 * math.pi)
        swing = amp * np.sin(2.0 * math.pi * rng.uniform(0.5, 1.5) * ramp(frames) + phase)
        x, y = x0 + swing * math.cos(angle), y0 + swing * math.sin(angle)
    return make_track(frames, x, y, radius)


def add_distractors(
    rng: np.random.Generator,
    layout: Layout,
    count: int,
    *,
    avoid_colours: Sequence[str] = (),
    avoid_shapes: Sequence[str] = (),
    attempts: int = 40,
) -> None:
    """Up to ``count`` distractor objects in colours and shapes not in the avoid lists (fewer when
    the frame is full, or when ``layout.max_distractors`` caps them)."""
    if layout.max_distractors is not None:
        count = min(count, layout.max_distractors)
    colours = [c for c in COLOURS if c not in avoid_colours]
    shapes = [s for s in SHAPES if s not in avoid_shapes]
    for _ in range(count):
        colour = str(rng.choice(colours))
        shape = str(rng.choice(shapes))
        texture = str(rng.choice(TEXTURES))
        size = str(rng.choice(list(SIZES)))
        for _ in range(attempts):
            track = distractor_track(rng, layout, layout.radius(size))
            if layout.place(SceneObject(shape, colour, texture, size, track)):
                break


def make_background(rng: np.random.Generator, width: int, height: int) -> Background:
    """A varied, low-saturation backdrop that keeps every pixel well away from object colours."""
    unit = float(min(width, height))
    hue, sat, val = rng.uniform(0, 1), rng.uniform(0.0, 0.15), rng.uniform(0.5, 0.72)
    base = tuple(round(255.0 * c, 3) for c in colorsys.hsv_to_rgb(hue, sat, val))

    def grey(scale: float) -> tuple[float, float, float]:
        level = rng.uniform(-scale, scale)
        return tuple(round(level + rng.uniform(-2.0, 2.0), 3) for _ in range(3))  # type: ignore[return-value]

    floor_y = round(float(rng.uniform(0.45, 0.75) * height), 3) if rng.random() < 0.5 else None
    waves = []
    for _ in range(rng.integers(0, 3)):
        k = 2.0 * math.pi / (rng.uniform(0.15, 0.6) * unit)
        angle = rng.uniform(0.0, math.pi)
        waves.append(
            Wave(
                round(k * math.cos(angle), 6), round(k * math.sin(angle), 6), round(rng.uniform(0, 6.28), 4), grey(9.0)
            )
        )
    blobs = []
    for _ in range(rng.integers(0, 4)):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        blobs.append(Blob(round(x, 3), round(y, 3), round(rng.uniform(0.08, 0.25) * unit, 3), grey(18.0)))
    return Background(base, floor_y, grey(18.0), tuple(waves), tuple(blobs))  # type: ignore[arg-type]


def make_noise(rng: np.random.Generator, frames: int) -> Noise:
    """Per-pixel grain (standard deviation 1 to 2.5 levels) and a small per-frame flicker."""
    return Noise(
        seed=int(rng.integers(0, 2**62)),
        sigma=round(float(rng.uniform(1.0, 2.5)), 3),
        frame_keys=tuple(range(frames)),
        gain=tuple(round(float(g), 4) for g in rng.uniform(0.975, 1.025, size=frames)),
    )
