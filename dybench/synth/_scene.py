"""What a DyBench-Synth clip shows, as data: objects with per-frame state, events, background, noise.

A :class:`Scene` is a complete description: :func:`dybench.synth._render.render_scene` turns it into
frames and nothing else goes into the pixels. Answers are read off the description too, so the
mirror (:func:`mirror_scene`) or the reversal (:func:`reverse_scene`) of a scene is the scene a
counterfactual video shows, and its answer is the counterfactual answer.

Coordinates are continuous pixels: pixel ``i`` covers ``[i, i + 1)``, so the mirror of ``x`` in a
frame ``width`` wide is ``width - x``. Every shape and texture is symmetric about its vertical axis,
so mirroring a scene mirrors its pixels exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dybench.records import Transform

#: Saturated object colours, at least 45 degrees of hue apart so a colour is never mistaken for another.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 45, 45),
    "yellow": (230, 200, 35),
    "green": (45, 180, 70),
    "cyan": (35, 190, 210),
    "blue": (55, 90, 230),
    "purple": (160, 70, 220),
}
#: Shapes any object may take; all are mirror-symmetric about their vertical axis.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross")
#: Objects with moving parts, used by the filling/emptying and opening/closing questions.
DEVICES: tuple[str, ...] = ("jar", "door")
#: Surface patterns, drawn in a darker shade of the object's own colour.
TEXTURES: tuple[str, ...] = ("solid", "striped", "dotted", "checked")
#: Nominal object radius as a fraction of the shorter frame side.
SIZES: dict[str, float] = {"small": 0.075, "medium": 0.09, "large": 0.105}


@dataclass(frozen=True)
class Track:
    """An object's state in every frame (one value per frame in each field)."""

    x: tuple[float, ...]
    """Centre, pixels from the left edge."""
    y: tuple[float, ...]
    """Centre, pixels from the top edge."""
    radius: tuple[float, ...]
    """Half the object's extent, pixels."""
    alpha: tuple[float, ...]
    """Opacity, 0 (absent) to 1."""
    brightness: tuple[float, ...]
    """Multiplies the object's colour (1 = its palette colour)."""
    whiten: tuple[float, ...]
    """Mix towards white (a flash), 0 to 1."""
    level: tuple[float, ...]
    """A jar's fill level or a door's open fraction, 0 to 1 (unused by plain shapes)."""

    def reversed(self) -> Track:
        return Track(*(tuple(reversed(values)) for values in self._fields()))

    def mirrored(self, width: int) -> Track:
        return replace(self, x=tuple(width - x for x in self.x))

    def window(self, start: int, frames: int) -> Track:
        """Frames ``start`` to ``start + frames - 1`` of this track."""
        if not 0 <= start <= len(self.x) - frames:
            raise ValueError(f"window {start}..{start + frames - 1} lies outside a {len(self.x)}-frame track")
        return Track(*(values[start : start + frames] for values in self._fields()))

    def _fields(self) -> tuple[tuple[float, ...], ...]:
        return (self.x, self.y, self.radius, self.alpha, self.brightness, self.whiten, self.level)


@dataclass(frozen=True)
class SceneObject:
    """One object: what it is (static attributes) and where it is when (its track)."""

    shape: str
    """One of :data:`SHAPES` or :data:`DEVICES`."""
    colour: str
    """One of :data:`COLOURS`."""
    texture: str
    """One of :data:`TEXTURES` (devices are always solid)."""
    size: str
    """Nominal size, one of :data:`SIZES` (the track's radius is what is drawn)."""
    track: Track
    shadow: bool = False
    """Draw a ground shadow (objects moving in depth)."""

    @property
    def name(self) -> str:
        """How questions refer to the object: 'the red circle'."""
        return f"the {self.colour} {self.shape}"


@dataclass(frozen=True)
class Event:
    """A short action of one object, for the event_sequence questions."""

    obj: int
    """Index of the acting object in ``Scene.objects``."""
    kind: str
    """One of ``EVENT_VERBS``' keys."""
    start: int
    """First frame of the action."""
    end: int
    """Last frame of the action (inclusive)."""


#: Event kinds and their verb forms (third person, base form), as questions use them.
EVENT_VERBS: dict[str, tuple[str, str]] = {
    "flash": ("flashes", "flash"),
    "jump": ("jumps", "jump"),
    "pulse": ("pulses", "pulse"),
    "blink": ("blinks", "blink"),
    "shake": ("shakes", "shake"),
}


@dataclass(frozen=True)
class Wave:
    """A sinusoidal background pattern: ``amp * cos(kx * x + ky * y + phase)`` per channel."""

    kx: float
    ky: float
    phase: float
    amp: tuple[float, float, float]


@dataclass(frozen=True)
class Blob:
    """A soft Gaussian patch of the background."""

    x: float
    y: float
    sigma: float
    delta: tuple[float, float, float]


@dataclass(frozen=True)
class Background:
    """A still, low-saturation backdrop: base colour, an optional floor, waves and blobs."""

    base: tuple[float, float, float]
    floor_y: float | None
    """Horizon height in pixels; below it the floor colour is added (None: no floor)."""
    floor_delta: tuple[float, float, float]
    waves: tuple[Wave, ...]
    blobs: tuple[Blob, ...]

    def mirrored(self, width: int) -> Background:
        # cos(kx * (W - x) + ky * y + p) = cos(-kx * x + ky * y + (p + kx * W))
        waves = tuple(replace(w, kx=-w.kx, phase=w.phase + w.kx * width) for w in self.waves)
        blobs = tuple(replace(b, x=width - b.x) for b in self.blobs)
        return replace(self, waves=waves, blobs=blobs)


@dataclass(frozen=True)
class Noise:
    """Camera noise and flicker: fresh Gaussian noise and a global gain per frame."""

    seed: int
    sigma: float
    """Standard deviation of the per-pixel noise, in 8-bit levels."""
    frame_keys: tuple[int, ...]
    """Frame ``t`` draws its noise from the stream ``(seed, frame_keys[t])``."""
    gain: tuple[float, ...]
    """Per-frame brightness gain (flicker)."""
    mirrored: bool = False
    """The noise fields are drawn mirrored (the mirror of a scene mirrors its noise too)."""


@dataclass(frozen=True)
class Scene:
    """Everything one clip shows."""

    width: int
    height: int
    frames: int
    background: Background
    objects: tuple[SceneObject, ...]
    noise: Noise
    events: tuple[Event, ...] = ()


def mirror_scene(scene: Scene) -> Scene:
    """The scene seen in a left-right mirror (what ``hflip`` of its video shows)."""
    w = scene.width
    objects = tuple(replace(o, track=o.track.mirrored(w)) for o in scene.objects)
    noise = replace(scene.noise, mirrored=not scene.noise.mirrored)
    return replace(scene, background=scene.background.mirrored(w), objects=objects, noise=noise)


def reverse_scene(scene: Scene) -> Scene:
    """The scene played backwards (what ``reverse`` of its video shows)."""
    last = scene.frames - 1
    objects = tuple(replace(o, track=o.track.reversed()) for o in scene.objects)
    noise = replace(
        scene.noise, frame_keys=tuple(reversed(scene.noise.frame_keys)), gain=tuple(reversed(scene.noise.gain))
    )
    events = tuple(replace(e, start=last - e.end, end=last - e.start) for e in scene.events)
    return replace(scene, objects=objects, noise=noise, events=events)


def transform_scene(scene: Scene, transform: Transform) -> Scene:
    """The scene a ``transform`` counterfactual of its video shows."""
    if transform == "hflip":
        return mirror_scene(scene)
    if transform == "reverse":
        return reverse_scene(scene)
    raise ValueError(f"unknown transform {transform!r}; use hflip or reverse")
