"""On a balanced split, one frame does not give a dynamic answer away; on a biased split it does.

How this is checked: a classifier sees the middle frame of each clip (the frame a single-frame
baseline gets, ``sample_indices(T, num_frames=1)``) and predicts the dynamic answer. It is told
which object the question is about, as a model reading the question would be, and gets that
object's measurements in the frame (area, centroid, spread, brightness, saturation) plus its colour.
It is a ridge-regularised linear classifier, one per question kind, scored by 5-fold
cross-validation. Chance is 0.5 (answers are balanced); "no better than chance" means accuracy
under the one-sided 99% binomial bound for a coin. Two controls show the test can fail: the same
classifier given the whole clip instead (first and last frames, and when each object is active) is
accurate, so the features carry the dynamics;
and given one frame of a split biased with ``--bias`` it finds the colour cue.

``test_synth_questions.py`` checks the same property exactly for moving_direction and
reversible_dynamics (an answer and its opposite share a pixel-identical middle frame).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from test_synth_frames import colour_mask, hsv

from dybench.fileio import read_jsonl
from dybench.synth import synthesize
from dybench.synth._scene import COLOURS
from dybench.video import read_frames, sample_indices

FRAMES = 16
POSITIVE = {"right", "down", "clockwise", "approaching", "growing", "filling", "appearing", "opening", "brightening"}
DYNAMIC = ("moving_direction", "reversible_dynamics", "event_sequence")


def _object_features(frames: np.ndarray, colour: str) -> np.ndarray:
    """(T, 13) per frame: the object's area, centroid, spread, brightness, saturation, and its colour."""
    hue_sat_val = hsv(frames)
    mask = colour_mask(frames, colour).reshape(len(frames), -1).astype(float)
    h, w = frames.shape[1:3]
    ys, xs = (g.reshape(-1) for g in np.mgrid[0:h, 0:w])
    area = mask.sum(1)
    n = np.maximum(area, 1.0)
    cx, cy = mask @ xs / n, mask @ ys / n
    spread_x = np.sqrt(np.maximum(mask @ xs**2 / n - cx**2, 0.0))
    spread_y = np.sqrt(np.maximum(mask @ ys**2 / n - cy**2, 0.0))
    sat, val = (c.reshape(len(frames), -1) for c in hue_sat_val[1:])
    feats = [
        area / (h * w),
        cx / w,
        cy / h,
        spread_x / w,
        spread_y / h,
        (mask * val).sum(1) / n,
        (mask * sat).sum(1) / n,
    ]
    one_hot = [np.full(len(frames), float(colour == c)) for c in COLOURS]
    return np.stack(feats + one_hot, 1)


def _activity_time(per_frame: np.ndarray) -> float:
    """When the object departs most from its median look, as a fraction of the clip."""
    activity = np.abs(per_frame[:, :7] - np.median(per_frame[:, :7], 0)).sum(1) + 1e-9
    return float((activity * np.arange(len(per_frame))).sum() / activity.sum() / len(per_frame))


def _label(row: dict) -> bool:
    """The dynamic answer as a yes/no fact: a positive direction, or subject 0 acting before subject 1."""
    if row["category"] == "event_sequence":
        order = [e["event"].split()[1] for e in row["event_frames"]]  # 'the red circle flashes' -> 'red'
        return order.index(row["subjects"][0]["colour"]) < order.index(row["subjects"][1]["colour"])
    return row["truth"] in POSITIVE


def _dataset(folder: Path, frames: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per question kind (events pooled): features and labels, from the middle frame only, or (the
    control) from the whole clip: first and last frame plus each object's time of activity."""
    middle = sample_indices(FRAMES, num_frames=1)
    data: dict[str, list] = defaultdict(list)
    for row in read_jsonl(folder / "annotations.jsonl"):
        subjects = row["subjects"][:2] if row["category"] == "event_sequence" else row["subjects"][:1]
        if frames == "middle":
            shown = read_frames(folder / row["video"], indices=middle)
            x = [f for s in subjects for f in _object_features(shown, s["colour"])[0]]
        else:
            clip = read_frames(folder / row["video"])
            per_object = [_object_features(clip, s["colour"]) for s in subjects]
            x = [f for p in per_object for f in (*p[0], *p[-1], _activity_time(p))]
        group = row["category"] if row["category"] == "event_sequence" else row["family"]
        data[group].append((x, _label(row)))
    return {g: (np.array([x for x, _ in v]), np.array([y for _, y in v])) for g, v in data.items()}


def _cv_correct(x: np.ndarray, y: np.ndarray, folds: int = 5) -> np.ndarray:
    """Per-item correctness of a ridge classifier under k-fold cross-validation."""
    target = np.where(y, 1.0, -1.0)
    correct = np.zeros(len(y), dtype=bool)
    for k in range(folds):
        test = np.arange(len(y)) % folds == k
        mu, sd = x[~test].mean(0), x[~test].std(0) + 1e-6
        a = np.c_[(x[~test] - mu) / sd, np.ones((~test).sum())]
        w = np.linalg.solve(a.T @ a + 1.0 * np.eye(a.shape[1]), a.T @ target[~test])
        pred = np.c_[(x[test] - mu) / sd, np.ones(test.sum())] @ w
        correct[test] = (pred > 0) == y[test]
    return correct


def _accuracy(data: dict[str, tuple[np.ndarray, np.ndarray]], category: str) -> tuple[float, int]:
    correct = [_cv_correct(x, y) for g, (x, y) in data.items() if g.startswith(category)]
    pooled = np.concatenate(correct)
    return float(pooled.mean()), len(pooled)


def _chance_bound(n: int) -> float:
    return 0.5 + 2.33 * 0.5 / np.sqrt(n)


@pytest.fixture(scope="module")
def balanced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("balanced"), n=240, seed=21, size=64, frames=FRAMES,
                      categories=DYNAMIC, workers=2, progress=False)  # fmt: skip


def test_one_frame_of_a_balanced_split_predicts_no_dynamic_answer(balanced: Path) -> None:
    one_frame, whole_clip = _dataset(balanced, "middle"), _dataset(balanced, "whole")
    for category in DYNAMIC:
        accuracy, n = _accuracy(one_frame, category)
        control, _ = _accuracy(whole_clip, category)
        print(f"{category}: one frame {accuracy:.2f} (bound {_chance_bound(n):.2f}, n={n}), whole clip {control:.2f}")
        assert accuracy < _chance_bound(n), f"{category}: one frame predicts the answer ({accuracy:.2f} over {n})"
        assert control > 0.8, f"{category}: the classifier cannot even read the whole clip ({control:.2f})"


BIAS = (
    "moving_direction:colour=red->right:train=0.95,test=0.5;reversible_dynamics:colour=red->growing:train=0.95,test=0.5"
)


@pytest.mark.parametrize("split", ["train", "test"])
def test_one_frame_finds_the_cue_only_where_the_bias_put_it(split: str, tmp_path: Path) -> None:
    folder = synthesize(tmp_path / split, n=100, seed=22, size=64, frames=FRAMES, bias=BIAS, split=split,
                        categories=DYNAMIC[:2], workers=2, progress=False)  # fmt: skip
    data = _dataset(folder, "middle")
    for category in DYNAMIC[:2]:
        accuracy, n = _accuracy(data, category)
        print(f"{split} {category}: one frame {accuracy:.2f} (n={n})")
        if split == "train":
            assert accuracy > 0.8, f"{category}: the colour cue went unnoticed ({accuracy:.2f})"
        else:
            assert accuracy < _chance_bound(n), f"{category}: the balanced split leaks ({accuracy:.2f} over {n})"
