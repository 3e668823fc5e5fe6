"""Small generated training data shared by the trainer tests (and the training benchmark).

A square slides left or right across a 56x56 clip; the question asks which way. ``dybench build`` turns
the clips into a real pairs dataset (hflip and reverse counterfactuals, answers mapped by the lexicon).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dybench.pairs import build_pairs
from dybench.video import write_video

SIZE = 56


def moving_square(direction: str, *, frames: int = 8, size: int = SIZE, seed: int = 0) -> np.ndarray:
    """(T, size, size, 3) uint8: a bright square crossing a dark, slightly noisy background."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 40, (frames, size, size, 3), dtype=np.uint8)
    side = size // 4
    y = int(rng.integers(0, size - side))
    for t in range(frames):
        x = round(t * (size - side) / max(frames - 1, 1))
        if direction == "left":
            x = size - side - x
        video[t, y : y + side, x : x + side] = (230, 200, 40)
    return video


def make_source(root: Path, n_videos: int = 2, frames: int = 8) -> Path:
    """Videos + annotations.jsonl (Contract 1), alternating directions."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_videos):
        direction = ("right", "left")[i % 2]
        write_video(root / f"clip{i}.mp4", moving_square(direction, frames=frames, seed=i), fps=4)
        rows.append(
            {
                "id": f"q{i}",
                "video": f"clip{i}.mp4",
                "question": "Which way does the yellow square move?",
                "options": ["left", "right"],
                "answer": "B" if direction == "right" else "A",
                "category": "moving_direction",
            }
        )
    (root / "annotations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def make_pairs_dataset(root: Path, n_videos: int = 2, frames: int = 8) -> Path:
    """A pairs dataset (Contract 2) built by ``dybench build`` from generated clips."""
    report = build_pairs(make_source(root / "src", n_videos, frames), root / "pairs")
    assert report.ok, report.errors
    return root / "pairs"


def make_video_r1_json(root: Path) -> Path:
    """A Video-R1-style QA file over generated clips, with the row kinds the loader must handle."""
    source = make_source(root / "r1", n_videos=2)
    rows = [
        {"problem": "Which way does the square move?", "options": ["A. left", "B. right"],
         "solution": "<answer>B</answer>", "path": "clip0.mp4", "problem_type": "multiple choice",
         "data_type": "video"},
        {"problem": "Is the square moving?", "options": [], "solution": "<answer>Yes</answer>",
         "path": "clip1.mp4", "problem_type": "multiple choice", "data_type": "video"},
        {"problem": "How many squares?", "options": [], "solution": "<answer>1</answer>", "path": "clip1.mp4",
         "problem_type": "numerical", "data_type": "video"},
        {"problem": "Which are true?", "options": ["A. it moves", "B. it is red", "C. it is square"],
         "solution": "<answer>C, A</answer>", "path": "clip1.mp4", "problem_type": "multiple choice",
         "data_type": "video"},
    ]  # fmt: skip
    path = source / "video_r1.json"
    path.write_text(json.dumps(rows))
    return path
