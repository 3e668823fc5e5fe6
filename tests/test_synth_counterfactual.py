"""Mirroring or reversing a rendered clip gives the clip of the mirrored or reversed scene, and that
scene's answer is the counterfactual answer ``dybench build`` derives from the annotation.

"Within codec tolerance" is measured against the codec itself: two encodes of the same content
differ by less than encoding changes a clip (yuv420p subsamples chroma, which moves saturated
edges by tens of levels at these small sizes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dybench.pairs import apply_transform, load_annotations, resolve_counterfactual
from dybench.records import CATEGORIES
from dybench.synth import ask, plan_clips, render_scene, synthesize, transform_scene
from dybench.synth._synthesize import SYNTH_ENCODER
from dybench.video import read_frames, write_video

ARGS = dict(n=15, seed=11, size=64, frames=12)


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("synth"), **ARGS, workers=1, progress=False)


def _close(a: np.ndarray, b: np.ndarray, codec: np.ndarray) -> bool:
    """Two decoded clips agree within codec tolerance: on average and at the 99th percentile they
    differ less than encoding alone changes a clip."""
    diff = np.abs(a - b)
    return bool(diff.mean() < 0.6 * codec.mean() and np.percentile(diff, 99) <= np.percentile(codec, 99))


def test_transformed_clips_match_renders_of_the_transformed_scenes(synth_dir: Path, tmp_path: Path) -> None:
    clips = plan_clips(**ARGS, categories=CATEGORIES, rules={}, split="test")
    annotations, errors = load_annotations(synth_dir / "annotations.jsonl")
    assert not errors and len(annotations) == len(clips)
    checked = set()
    for ann, clip in zip(annotations, clips, strict=True):
        decoded = read_frames(synth_dir / ann.video)
        raw = render_scene(clip.scene)
        for transform in ann.transforms:
            scene = transform_scene(clip.scene, transform)
            rendered = render_scene(scene)
            # before the codec: the same pixels, up to float rounding
            assert np.abs(rendered.astype(int) - apply_transform(raw, transform).astype(int)).max() <= 1
            # after the codec: the transformed decoded clip matches the transformed scene's own clip
            write_video(tmp_path / "cf.mp4", rendered, 8, SYNTH_ENCODER)
            theirs = read_frames(tmp_path / "cf.mp4").astype(int)
            ours = apply_transform(decoded, transform).astype(int)
            codec = np.abs(decoded.astype(int) - raw)  # what encoding does to a clip (chroma, quantisation)
            assert _close(theirs, ours, codec), (ann.id, transform)
            assert not _close(theirs, decoded.astype(int), codec), (ann.id, transform)  # the check can fail
            # and the transformed scene's answer is the one build derives from the text
            assert ask(scene, clip.query).answer == resolve_counterfactual(ann, transform), (ann.id, transform)
            checked.add((ann.category, transform))
    assert len(checked) == 8  # every category under each of its transforms
