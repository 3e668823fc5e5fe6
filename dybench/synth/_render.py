"""Draw a :class:`~dybench.synth._scene.Scene` into RGB frames with numpy (no other dependency).

Shapes are signed distance functions evaluated at pixel centres, with a one-pixel anti-aliased
edge; every shape, texture and device is symmetric about its own vertical axis, so rendering a
mirrored scene gives exactly the mirrored frames (up to float rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from dybench.synth._scene import COLOURS, Background, Scene, SceneObject

_F32 = np.float32
_WALL = np.array((215.0, 215.0, 210.0), dtype=_F32)
"""Jar walls and door frames: light grey, so they never read as an object colour."""
_DARK = np.array((24.0, 24.0, 28.0), dtype=_F32)
"""A door's interior."""
_SHADE = 0.6
"""Texture pattern colour, as a fraction of the object colour."""
_REACH = 1.45
"""Farthest any drawn pixel (shadows included) lies from an object's centre, in radii."""

Sdf = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _circle(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return np.sqrt(dx * dx + dy * dy) - r


def _square(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    return np.maximum(np.abs(dx), np.abs(dy)) - 0.85 * r


def _triangle(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    # apex (0, -r), base corners (+-r, 0.75 r); the slanted edges' outward normals
    half, top, base = r, -r, 0.75 * r
    norm = math.hypot(half, base - top)
    slant = (np.abs(dx) * (base - top) - (dy - top) * half) / norm
    return np.maximum(dy - base, slant)


def _diamond(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    a, b = 0.95 * r, 1.15 * r
    return (np.abs(dx) / a + np.abs(dy) / b - 1.0) * (a * b / math.hypot(a, b))


def _cross(dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    ax, ay, w = np.abs(dx), np.abs(dy), 0.27 * r
    return np.minimum(np.maximum(ax - r, ay - w), np.maximum(ax - w, ay - r))


SDFS: dict[str, Sdf] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "diamond": _diamond,
    "cross": _cross,
}


def _box(dx: np.ndarray, dy: np.ndarray, cx: float, cy: float, hw: float, hh: float) -> np.ndarray:
    return np.maximum(np.abs(dx - cx) - hw, np.abs(dy - cy) - hh)


def _coverage(sdf: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - sdf, 0.0, 1.0)


def _paint(region: np.ndarray, colour: np.ndarray, weight: np.ndarray) -> None:
    """Blend ``colour`` (RGB, or per-pixel RGB) into ``region`` in place with per-pixel ``weight``."""
    region += (colour - region) * weight[..., None]


def _texture(texture: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray | None:
    """Where the darker pattern shade goes (a boolean mask), or None for a solid surface."""
    k = _F32(2.0 * math.pi / max(0.8 * r, 2.0))
    if texture == "striped":
        return np.cos(k * dx) > 0.2
    if texture == "dotted":
        return np.cos(k * dx) * np.cos(k * dy) > 0.55
    if texture == "checked":
        return np.cos(k * dx) * np.cos(k * dy) > 0.0
    return None


def render_background(background: Background, width: int, height: int) -> np.ndarray:
    """The still backdrop as a (H, W, 3) float32 array (values roughly in 0..255)."""
    xs = np.arange(width, dtype=np.float64) + 0.5
    ys = np.arange(height, dtype=np.float64) + 0.5
    img = np.empty((height, width, 3), dtype=np.float64)
    img[:] = background.base
    if background.floor_y is not None:
        step = np.clip((ys - background.floor_y) / max(1.0, 0.03 * height) + 0.5, 0.0, 1.0)
        img += step[:, None, None] * np.asarray(background.floor_delta)
    for wave in background.waves:
        field = np.cos(wave.kx * xs[None, :] + wave.ky * ys[:, None] + wave.phase)
        img += field[..., None] * np.asarray(wave.amp)
    for blob in background.blobs:
        g = np.exp(-((xs[None, :] - blob.x) ** 2 + (ys[:, None] - blob.y) ** 2) / (2.0 * blob.sigma**2))
        img += g[..., None] * np.asarray(blob.delta)
    return img.astype(_F32)


def _draw_object(img: np.ndarray, obj: SceneObject, t: int) -> None:
    tr = obj.track
    alpha = tr.alpha[t]
    if alpha <= 0.0:
        return
    cx, cy, r = tr.x[t], tr.y[t], tr.radius[t]
    height, width = img.shape[:2]
    reach = _REACH * r + 2.0
    x0, x1 = max(0, math.floor(cx - reach)), min(width, math.ceil(cx + reach))
    y0, y1 = max(0, math.floor(cy - reach)), min(height, math.ceil(cy + reach))
    if x0 >= x1 or y0 >= y1:
        return
    dx = (np.arange(x0, x1, dtype=_F32) + _F32(0.5) - _F32(cx))[None, :]
    dy = (np.arange(y0, y1, dtype=_F32) + _F32(0.5) - _F32(cy))[:, None]
    dx, dy = np.broadcast_arrays(dx, dy)
    region = img[y0:y1, x0:x1]
    colour = np.asarray(COLOURS[obj.colour], dtype=_F32) * _F32(tr.brightness[t])
    if tr.whiten[t] > 0.0:
        colour = colour + (_F32(255.0) - colour) * _F32(tr.whiten[t])
    opacity = _F32(alpha)

    if obj.shadow:
        rx, ry = r, 0.28 * r
        sdf = (np.sqrt((dx / rx) ** 2 + ((dy - 1.05 * r) / ry) ** 2) - 1.0) * ry
        region *= 1.0 - _F32(0.4) * opacity * _coverage(sdf)[..., None]
    if obj.shape == "jar":
        _draw_jar(region, dx, dy, r, tr.level[t], colour, opacity)
    elif obj.shape == "door":
        _draw_door(region, dx, dy, r, tr.level[t], colour, opacity)
    else:
        weight = _coverage(SDFS[obj.shape](dx, dy, r)) * opacity
        pattern = _texture(obj.texture, dx, dy, r)
        if pattern is not None:
            colour = np.where(pattern[..., None], colour * _F32(_SHADE), colour)
        _paint(region, colour, weight)


def _draw_jar(region, dx, dy, r: float, level: float, colour, alpha) -> None:
    """An open-topped container whose liquid (the object's colour) stands at ``level``."""
    iw, ih, th = 0.62 * r, 0.95 * r, max(1.0, 0.14 * r)
    outer = _box(dx, dy, 0.0, th / 2, iw + th, ih + th / 2)
    inner = np.maximum(np.abs(dx) - iw, dy - ih)  # open at the top
    _paint(region, _WALL, _coverage(np.maximum(outer, -inner)) * alpha)
    if level > 0.0:
        surface = ih - 2.0 * ih * level
        liquid = np.maximum(inner, surface - dy)
        _paint(region, colour, _coverage(liquid) * alpha)


def _draw_door(region, dx, dy, r: float, opened: float, colour, alpha) -> None:
    """A framed doorway whose two panels (the object's colour) slide into the frame as it opens."""
    fw, fh, th = 0.75 * r, 1.05 * r, max(1.0, 0.14 * r)
    iw, ih = fw - th, fh - th
    outer = _box(dx, dy, 0.0, 0.0, fw, fh)
    inner = _box(dx, dy, 0.0, 0.0, iw, ih)
    _paint(region, _WALL, _coverage(np.maximum(outer, -inner)) * alpha)
    _paint(region, _DARK, _coverage(inner) * alpha)
    half = (1.0 - opened) * iw / 2.0  # half-width of each panel
    if half > 0.02:
        centre = iw - half
        panels = np.minimum(_box(dx, dy, -centre, 0.0, half, ih), _box(dx, dy, centre, 0.0, half, ih))
        _paint(region, colour, _coverage(panels) * alpha)


def render_scene(scene: Scene) -> np.ndarray:
    """All frames of ``scene`` as a (T, H, W, 3) uint8 RGB array."""
    backdrop = render_background(scene.background, scene.width, scene.height)
    out = np.empty((scene.frames, scene.height, scene.width, 3), dtype=np.uint8)
    noise = scene.noise
    for t in range(scene.frames):
        img = backdrop.copy()
        for obj in scene.objects:
            _draw_object(img, obj, t)
        img *= _F32(noise.gain[t])
        if noise.sigma > 0:
            rng = np.random.default_rng([noise.seed, noise.frame_keys[t]])
            # triangular grain (the sum of two uniforms): near-Gaussian, ten times cheaper to draw
            grain = rng.random(img.shape, dtype=_F32)
            grain += rng.random(img.shape, dtype=_F32)
            grain -= _F32(1.0)
            img += (grain[:, ::-1] if noise.mirrored else grain) * _F32(noise.sigma * math.sqrt(6.0))
        np.clip(img + _F32(0.5), 0.0, 255.0, out=img)
        out[t] = img.astype(np.uint8)
    return out
