"""Offline loaders for local copies of Video-MME, MVBench and TempCompass (layouts in data_cards/).

Each question becomes a *choice document*: ``doc_id``, ``video_path`` (absolute; a folder of frames for
the MVBench subtasks stored that way), ``question`` (the stem, without options), ``options`` (option
texts; empty for yes/no), ``answer`` (gold letter or ``yes``/``no``) and ``categories`` (the slugs of the
``acc_<category>`` metrics the question counts towards). Scoring then needs no judge and no network:
the shared parser reads a letter or yes/no from the response.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from dybench.evaluation._locations import MVBENCH, QA, QA_VIDEOS, TEMPCOMPASS, VIDEOMME, DataLocation
from dybench.fileio import JSONInputError, parse_json
from dybench.records import letter


def slug(name: str) -> str:
    """A category as a metric-name part: ``"OCR Problems"`` -> ``"ocr_problems"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


VIDEOMME_TASK_TYPES = (
    "Temporal Perception",
    "Spatial Perception",
    "Attribute Perception",
    "Action Recognition",
    "Object Recognition",
    "OCR Problems",
    "Counting Problem",
    "Temporal Reasoning",
    "Spatial Reasoning",
    "Action Reasoning",
    "Object Reasoning",
    "Information Synopsis",
)
VIDEOMME_DURATIONS = ("short", "medium", "long")
VIDEOMME_CATEGORIES = tuple(slug(t) for t in VIDEOMME_TASK_TYPES) + VIDEOMME_DURATIONS

#: MVBench subtask -> the folder(s) of its videos inside ``video/``: the official ``data_list`` first, then
#: the names of the segmented copy lmms-eval downloads.
MVBENCH_SOURCES: dict[str, tuple[str, ...]] = {
    "action_sequence": ("star/Charades_v1_480", "star/Charades_segment"),
    "action_prediction": ("star/Charades_v1_480", "star/Charades_segment"),
    "action_antonym": ("ssv2_video", "ssv2_video_mp4"),
    "fine_grained_action": ("Moments_in_Time_Raw/videos",),
    "unexpected_action": ("FunQA_test/test",),
    "object_existence": ("clevrer/video_validation",),
    "object_interaction": ("star/Charades_v1_480", "star/Charades_segment"),
    "object_shuffle": ("perception/videos",),
    "moving_direction": ("clevrer/video_validation",),
    "action_localization": ("sta/sta_video", "sta/sta_video_segment"),
    "scene_transition": ("scene_qa/video",),
    "action_count": ("perception/videos",),
    "moving_count": ("clevrer/video_validation",),
    "moving_attribute": ("clevrer/video_validation",),
    "state_change": ("perception/videos",),
    "fine_grained_pose": ("nturgbd", "nturgbd_convert"),
    "character_order": ("perception/videos",),
    "egocentric_navigation": ("vlnqa",),
    "episodic_reasoning": ("tvqa/frames_fps3_hq", "tvqa/video_fps3_hq_segment"),
    "counterfactual_inference": ("clevrer/video_validation",),
}
MVBENCH_SUBTASKS = tuple(MVBENCH_SOURCES)

TEMPCOMPASS_FORMATS = ("multi-choice", "yes_no", "caption_matching")
"""The formats scored by parsing; ``captioning`` needs an LLM judge and is left out."""
TEMPCOMPASS_DIMENSIONS = ("action", "speed", "direction", "order", "attribute_change")
TEMPCOMPASS_CATEGORIES = TEMPCOMPASS_DIMENSIONS + tuple(slug(f) for f in TEMPCOMPASS_FORMATS)

_LETTERED = re.compile(r"^\s*\(?([A-Z])[.):]\s*(.*)$", re.S)
_CAPTION = re.compile(r"^\s*(?:Option|Sentence|Caption)\s+([A-Z]|\d+)\s*:\s*(.*)$")


def videomme_docs(folder: str | Path | None = None) -> list[dict]:
    """Video-MME questions (``videomme/test-*.parquet``), videos ``data/<videoID>.mp4``.

    Categories: the question's task type and the video's duration (short, medium, long).
    """
    root = VIDEOMME.folder(folder)
    files = sorted((root / "videomme").glob("*.parquet")) or sorted(root.glob("*.parquet"))
    if not files:
        raise VIDEOMME.error(f"no videomme/test-*.parquet in {root}")
    docs = []
    for row in _parquet_rows(files):
        where = f"question {row.get('question_id')}"
        options = [_option_text(o, i, VIDEOMME, where) for i, o in enumerate(row["options"])]
        video = _first_file(root / "data", str(row["videoID"]), (".mp4", ".MP4", ".mkv", ".webm"))
        categories = [
            c for c in (slug(str(row.get("task_type", ""))), str(row.get("duration", ""))) if c in VIDEOMME_CATEGORIES
        ]
        docs.append(
            _choice_doc(str(row["question_id"]), video, str(row["question"]), options, str(row["answer"]), categories)
        )
    _require_videos(VIDEOMME, docs)
    return docs


def mvbench_docs(subtask: str, folder: str | Path | None = None) -> list[dict]:
    """One MVBench subtask (``json/<subtask>.json``), videos under ``video/<source>/`` (or ``<source>/``)."""
    if subtask not in MVBENCH_SOURCES:
        raise ValueError(f"unknown MVBench subtask {subtask!r}; the subtasks are {', '.join(MVBENCH_SUBTASKS)}")
    root = MVBENCH.folder(folder)
    path = root / "json" / f"{subtask}.json"
    if not path.is_file():
        raise MVBENCH.error(f"{path} does not exist")
    try:
        rows = parse_json(path.read_bytes())
    except JSONInputError as e:
        raise MVBENCH.error(f"{path}: {e}") from None
    bases = [top / source for source in MVBENCH_SOURCES[subtask] for top in (root / "video", root)]
    base = next((b for b in bases if b.is_dir()), bases[0])
    docs = []
    for i, row in enumerate(rows):
        candidates = [str(c) for c in row["candidates"]]
        if row["answer"] not in candidates:
            raise MVBENCH.error(f"{path}[{i}]: the answer {row['answer']!r} is not among the candidates")
        gold = letter(candidates.index(row["answer"]))
        docs.append(
            _choice_doc(f"{subtask}/{i}", base / str(row["video"]), str(row["question"]), candidates, gold, [subtask])
        )
    _require_videos(MVBENCH, docs)
    return docs


def tempcompass_docs(folder: str | Path | None = None) -> list[dict]:
    """TempCompass multi-choice, yes/no and caption-matching questions, videos ``videos/<video_id>.mp4``.

    Reads lmms-lab/TempCompass (``<format>/test-*.parquet``) or the GitHub repo's
    ``questions/<format>.json``. Caption-matching options (``Option 1``, ``Sentence A``, ``Caption B``)
    are shown lettered like every other question, so one parser reads them all; the texts are TempCompass's.
    Categories: the temporal dimension (action, speed, direction, order, attribute_change) and the format.
    """
    root = TEMPCOMPASS.folder(folder)
    docs = []
    for fmt in TEMPCOMPASS_FORMATS:
        for n, (video_id, dim, question, answer) in enumerate(_tempcompass_rows(root, fmt)):
            stem, options, gold = _tempcompass_question(fmt, question, answer, f"{fmt} question {n}")
            categories = [c for c in (slug(dim), slug(fmt)) if c in TEMPCOMPASS_CATEGORIES]
            video = root / "videos" / f"{video_id}.mp4"
            docs.append(_choice_doc(f"{fmt}/{video_id}/{dim}/{n}", video, stem, options, gold, categories))
    _require_videos(TEMPCOMPASS, docs)
    return docs


# --- helpers ---------------------------------------------------------------------------------------


def _choice_doc(
    doc_id: str, video: Path, question: str, options: list[str], answer: str, categories: list[str]
) -> dict:
    return {
        "doc_id": doc_id,
        "video_path": str(video),
        "question": question,
        "options": options,
        "answer": answer.strip() if options else answer.strip().lower(),
        "categories": categories,
    }


def _parquet_rows(files: Iterable[Path]) -> list[dict]:
    import pyarrow.parquet as pq

    return [row for f in files for row in pq.read_table(f).to_pylist()]


def _option_text(option: str, index: int, location: DataLocation, where: str) -> str:
    """``"B. a dog"`` -> ``"a dog"``; the label must be the option's own letter."""
    m = _LETTERED.match(option)
    if not m or m.group(1) != letter(index):
        raise location.error(f"{where}: option {option!r} should start with {letter(index)}.")
    return m.group(2).strip()


def _first_file(folder: Path, stem: str, suffixes: tuple[str, ...]) -> Path:
    return next(
        (folder / f"{stem}{s}" for s in suffixes if (folder / f"{stem}{s}").exists()),
        folder / f"{stem}{suffixes[0]}",
    )


def _tempcompass_rows(root: Path, fmt: str) -> list[tuple[str, str, str, str]]:
    """(video_id, dimension, question, answer) rows of one format, from either layout."""
    parquet = sorted((root / fmt).glob("*.parquet"))
    if parquet:
        return [
            (str(r["video_id"]), str(r["dim"]), str(r["question"]), str(r["answer"])) for r in _parquet_rows(parquet)
        ]
    questions = root / "questions" / f"{fmt}.json"
    if not questions.is_file():
        raise TEMPCOMPASS.error(f"neither {root / fmt}/test-*.parquet nor {questions} exists")
    try:
        nested = parse_json(questions.read_bytes())
    except JSONInputError as e:
        raise TEMPCOMPASS.error(f"{questions}: {e}") from None
    return [
        (video_id, dim, str(q["question"]), str(q["answer"]))
        for video_id, dims in nested.items()
        for dim, qs in dims.items()
        for q in qs
    ]


def _tempcompass_question(fmt: str, question: str, answer: str, where: str) -> tuple[str, list[str], str]:
    """(stem, option texts, gold) of one TempCompass question."""
    if fmt == "yes_no":
        gold = answer.strip().lower().rstrip(".")
        if gold not in ("yes", "no"):
            raise TEMPCOMPASS.error(f"{where}: a yes/no answer must be yes or no, got {answer!r}")
        return question.strip(), [], gold
    pattern = _LETTERED if fmt == "multi-choice" else _CAPTION
    stem, labels, options = [], [], []
    for line in question.splitlines():
        m = pattern.match(line)
        if m:
            labels.append(m.group(1))
            options.append(m.group(2).strip())
        elif not options:
            stem.append(line)
    m = pattern.match(answer.strip())
    if len(options) < 2 or not m or m.group(1) not in labels:
        raise TEMPCOMPASS.error(f"{where}: cannot read the options and the answer of {question!r} / {answer!r}")
    return "\n".join(stem).strip(), options, letter(labels.index(m.group(1)))


def _require_videos(location: DataLocation, docs: list[dict]) -> None:
    missing = [d for d in docs if not Path(d["video_path"]).exists()]
    if missing:
        shown = "; ".join(f"{d['doc_id']}: {d['video_path']}" for d in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise location.error(f"{len(missing)} video(s) are missing ({shown}{more}); unzip the videos")


def qa_docs(path: str | Path | None = None, video_root: str | Path | None = None) -> list[dict]:
    """The multiple-choice and yes/no questions of a Video-R1-style QA json (``dybench.video_r1``: Video-R1's and
    VideoThinker's evaluation files, CLEVRER_cf, MMVU, Video-Holmes...), videos relative to ``video_root``
    (default ``$DYBENCH_QA_VIDEOS``, else the json's folder). Questions of other types are left out, counted in a
    warning. A multi-letter gold ('A,C', CLEVRER's) counts only when the answer is that exact set, as
    VideoThinker's evaluation scores it."""
    import os
    import warnings

    from dybench.video_r1 import VideoR1Error, read_video_r1

    json_path = QA.folder(path)
    root = video_root or os.environ.get(QA_VIDEOS) or json_path.parent
    try:
        read = read_video_r1(json_path, root)
    except VideoR1Error as e:
        raise QA.error(str(e)) from e
    if read.skipped:
        reasons = ", ".join(f"{n} x {why}" for why, n in read.skipped.most_common())
        warnings.warn(f"{json_path}: {sum(read.skipped.values())} question(s) left out ({reasons})", stacklevel=2)
    if not read.questions:
        raise QA.error(f"{json_path} holds no multiple-choice or yes/no video question")
    docs = [
        _choice_doc(str(q.extra.get("problem_id", q.index)), q.video, q.question, list(q.options), q.answer, [])
        for q in read.questions
    ]
    _require_videos(QA, docs)
    return docs
