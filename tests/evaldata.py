"""Tiny data sets in each layout dybench's lmms-eval tasks read, with 4-frame 64x64 clips.

``make_pairs`` writes a pairs dataset (Contract 2) by hand, independent of ``dybench build``; the
others write minimal local copies of TimeBlind, Video-MME, MVBench and TempCompass in the layouts
documented in data_cards/. Every clip is its own file (written once, then copied).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from videos import make_frames, write_clip

from dybench.evaluation._benchmarks import MVBENCH_SOURCES
from dybench.pairs import write_items
from dybench.records import Item

FRAMES = 4
SIZE = 64


def _clip(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_clip(path, make_frames(FRAMES, SIZE, SIZE, seed=seed), lossless=False)


def _copies(paths: list[Path]) -> None:
    """Write the first clip, copy it to the others (encoding is the slow part)."""
    first = _clip(paths[0])
    for p in paths[1:]:
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(first, p)


#: (source id, category, transform, relation, question, options, original answer, counterfactual answer)
PAIRS = [
    ("md0", "moving_direction", "hflip", "change", "Which way does the square move?", ["left", "right"], "B", "A"),
    ("md1", "moving_direction", "reverse", "change", "Which way does the ball move?", ["left", "right"], "A", "B"),
    (
        "rd0",
        "reversible_dynamics",
        "reverse",
        "change",
        "Is the door opening or closing?",
        ["opening", "closing"],
        "A",
        "B",
    ),
    (
        "ev0",
        "event_sequence",
        "reverse",
        "change",
        "What happens first?",
        ["it falls", "it rolls", "it stops"],
        "A",
        "C",
    ),
    ("st0", "static", "hflip", "keep", "What colour is the square?", ["red", "yellow", "blue"], "B", "B"),
    ("st1", "static", "reverse", "keep", "Is there a ball?", [], "yes", "yes"),
]
"""Six pairs, twelve items; no ``spatial`` item, so that category's task has nothing to score."""


def pair_items() -> list[Item]:
    items = []
    for sid, category, transform, relation, question, options, a0, a1 in PAIRS:
        for branch, answer, video in (
            ("original", a0, f"videos/{sid}.mp4"),
            ("counterfactual", a1, f"videos/{sid}__{transform}.mp4"),
        ):
            items.append(
                Item(
                    item_id=f"{sid}:{transform}:{branch[:4]}",
                    pair_id=f"{sid}:{transform}",
                    branch=branch,  # type: ignore[arg-type]
                    transform=transform,  # type: ignore[arg-type]
                    relation=relation,  # type: ignore[arg-type]
                    category=category,  # type: ignore[arg-type]
                    video=video,
                    question=question,
                    options=tuple(options),
                    answer=answer,
                    source_id=sid,
                )
            )
    return items


def make_pairs(root: Path) -> Path:
    """A pairs dataset at ``root``: pairs.jsonl, pairs.parquet, videos/."""
    items = pair_items()
    _copies([root / v for v in dict.fromkeys(i.video for i in items)])
    write_items(root, items)
    return root


def make_timeblind(root: Path) -> Path:
    """Two TimeBlind instances (one yes/no, one A/B): data.jsonl and videos/vid_XXXXX_{0,1}.mp4."""
    rows = []
    for k, qtype in enumerate(("yes_no", "multiple_choice")):
        for role in range(4):
            q = role // 2
            question = (
                f"Does the square move {'left' if q == 0 else 'right'} first?"
                if qtype == "yes_no"
                else f"Which comes {'first' if q == 0 else 'last'}? A. red B. blue"
            )
            rows.append(
                {
                    "index": 4 * k + role,
                    "video_path": f"videos/vid_{k:05d}_{role % 2}.mp4",
                    "question": question,
                    "answer": ("Yes", "No", "No", "Yes")[role] if qtype == "yes_no" else "ABBA"[role],
                    "type": qtype,
                }
            )
    _copies([root / "videos" / f"vid_{k:05d}_{v}.mp4" for k in range(2) for v in range(2)])
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def make_videomme(root: Path) -> Path:
    """Four Video-MME questions: videomme/test-00000-of-00001.parquet and data/<videoID>.mp4."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {
            "video_id": f"{i:03d}",
            "duration": ("short", "medium", "long", "short")[i],
            "domain": "Knowledge",
            "sub_category": "Astronomy",
            "videoID": f"vid{i}",
            "question_id": f"{i:03d}-1",
            "task_type": ("Temporal Perception", "Action Reasoning", "OCR Problems", "Temporal Perception")[i],
            "question": f"What happens in clip {i}?",
            "options": ["A. it spins", "B. it falls", "C. it grows", "D. nothing"],
            "answer": "ABCD"[i],
        }
        for i in range(4)
    ]
    (root / "videomme").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "videomme" / "test-00000-of-00001.parquet")
    _copies([root / "data" / f"vid{i}.mp4" for i in range(4)])
    return root


def make_mvbench(root: Path) -> Path:
    """One question per MVBench subtask: json/<subtask>.json and video/<source>/<file>.mp4."""
    videos = []
    for n, (subtask, sources) in enumerate(MVBENCH_SOURCES.items()):
        candidates = ["left", "right", "up"]
        row = {"video": f"{subtask}.mp4", "question": f"Question about {subtask}?", "candidates": candidates}
        row["answer"] = candidates[n % 3]
        (root / "json").mkdir(parents=True, exist_ok=True)
        (root / "json" / f"{subtask}.json").write_text(json.dumps([row]))
        videos.append(root / "video" / sources[0] / f"{subtask}.mp4")
    _copies(videos)
    return root


def make_tempcompass(root: Path) -> Path:
    """TempCompass in the GitHub layout: questions/<format>.json and videos/<video_id>.mp4."""
    questions = {
        "multi-choice": {
            "v1": {"direction": [{"question": "Where does it go?\nA. left\nB. right\nC. up", "answer": "B. right"}]},
            "v2": {"speed": [{"question": "How fast?\nA. slow\nB. fast", "answer": "A. slow"}]},
        },
        "yes_no": {"v1": {"direction": [{"question": "Does it go left?", "answer": "no"}]}},
        "caption_matching": {
            "v2": {
                "order": [
                    {
                        "question": "Which caption matches the video better?\nCaption A: red then blue\n"
                        "Caption B: blue then red",
                        "answer": "Caption B: blue then red",
                    }
                ]
            }
        },
    }
    (root / "questions").mkdir(parents=True)
    for fmt, nested in questions.items():
        (root / "questions" / f"{fmt}.json").write_text(json.dumps(nested))
    _copies([root / "videos" / f"{v}.mp4" for v in ("v1", "v2")])
    return root


def make_qa(root: Path) -> Path:
    """A Video-R1-style evaluation json as VideoThinker releases it (``video`` paths written from the data root:
    ``/clips/...``), the videos under ``root/data``; returns the json (its videos root: ``root/data``)."""
    rows = [
        {"problem_id": 1, "problem": "Which way does it move?", "options": ["A. left", "B. right"],
         "solution": "<answer>A</answer>", "video": "/clips/a.mp4", "problem_type": "multiple choice",
         "data_type": "video"},
        {"problem": "If the cube were removed, which would collide?", "options": ["A. x", "B. y", "C. z"],
         "solution": "<answer>A,C</answer>", "video": "/clips/b.mp4"},  # CLEVRER: two answers, no problem_type
        {"problem": "Is it open?", "options": [], "solution": "<answer>yes</answer>", "video": "/clips/a.mp4",
         "problem_type": "yes/no"},
        {"problem": "How many?", "options": [], "solution": "<answer>3</answer>", "video": "/clips/a.mp4",
         "problem_type": "numerical"},  # left out: not multiple choice or yes/no
    ]  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    (root / "eval_qa.json").write_text(json.dumps(rows))
    _copies([root / "data" / "clips" / f"{v}.mp4" for v in ("a", "b")])
    return root / "eval_qa.json"


def make_all(root: Path) -> dict[str, Path]:
    """Every data set above, under ``root``, keyed by the environment variable that points its tasks at it."""
    return {
        "DYBENCH_PAIRS": make_pairs(root / "pairs"),
        "TIMEBLIND_DIR": make_timeblind(root / "TimeBlind"),
        "VIDEOMME_DIR": make_videomme(root / "Video-MME"),
        "MVBENCH_DIR": make_mvbench(root / "MVBench"),
        "TEMPCOMPASS_DIR": make_tempcompass(root / "TempCompass"),
        "DYBENCH_QA": make_qa(root / "qa"),
        "DYBENCH_QA_VIDEOS": root / "qa" / "data",
    }


def rescore(samples: list[Path], task: str, data: Path, tmp: Path) -> dict[str, float]:
    """dybench's own scoring (``dybench.scoring.score_predictions``) of the responses lmms-eval logged."""
    from dybench.evaluation import predictions_from_samples
    from dybench.fileio import write_jsonl_atomic
    from dybench.scoring import score_predictions

    predictions = tmp / f"predictions-{task}.jsonl"
    write_jsonl_atomic(predictions, [row for path in samples for row in predictions_from_samples(path)])
    return score_predictions(task, predictions, data)


def reported(results: dict, task: str) -> dict[str, float]:
    """The metrics the results report for ``task``, with their interval bounds named as the scorer names
    them (read by ``dybench.results.task_metrics``, as the leaderboard reads them)."""
    from dybench.results import task_metrics

    return {k: v for m in task_metrics(results)[task] for k, v in m.as_metrics().items()}


def interval_section(obj: dict) -> dict:
    """An older results file (bounds as ``*_ci_low``/``*_ci_high`` metrics) the way ``dybench eval`` writes it
    now: the bounds moved to the ``dybench_intervals`` section, ``{task: {metric: [low, high]}}``."""
    from dybench.results import INTERVALS_KEY

    obj = json.loads(json.dumps(obj))
    section: dict[str, dict[str, list[float]]] = {}
    for task, values in obj["results"].items():
        for key in [k for k in values if "_ci_low," in k]:
            metric = key.split("_ci_low,")[0]
            section.setdefault(task, {})[metric] = [values.pop(key), values.pop(f"{metric}_ci_high,none")]
    return obj | {INTERVALS_KEY: section}
