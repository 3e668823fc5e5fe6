"""`dybench synth`: plan the clips, render them (in parallel, resumably) and write ``annotations.jsonl``.

The output is a source folder for ``dybench build`` (Contract 1)::

    <out>/annotations.jsonl       one question per clip
    <out>/clips/<id>.mp4          the rendered clips
    <out>/synth.json              the parameters, versions and counts (how to regenerate the folder)
    <out>/.synth/<id>.json        per-clip stamps that let a re-run skip finished clips

Everything is a function of the arguments: clip ``i`` is drawn from the seed stream
``(seed, split, i)`` and answers are balanced over the run in order, so the same arguments give
byte-identical annotations and identical frames, and ``--n 100`` is a prefix of ``--n 1000``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shlex
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dybench import __version__
from dybench.errors import UserError
from dybench.fileio import inside, read_jsonl, sha256_file, write_json_atomic, write_jsonl_atomic
from dybench.records import CATEGORIES, Category
from dybench.synth._bias import SPLITS, BiasRule, parse_bias
from dybench.synth._families import Balancer, Clip, make_clip
from dybench.synth._questions import TRANSFORMS_BY_CATEGORY, event_name
from dybench.synth._render import render_scene
from dybench.synth._scene import Scene
from dybench.video import EncoderSettings, render_workers, write_video

ANNOTATIONS = "annotations.jsonl"
CLIPS = "clips"
MANIFEST = "synth.json"
STAMPS = ".synth"
SUBTLE_TRAVEL = 0.05
"""How far a subtle clip's target moves by default, x the default travel (``--subtle``, ``--subtle-travel``):
about one pixel at 64x64, none a small model sees."""
#: Encoder for the clips: H.264 yuv420p at crf 20 (near-lossless on these flat scenes), one thread per
#: worker process. Preset ``superfast`` because it turns off x264's mb-tree and lookahead: with them on,
#: the x264 bundled with PyAV 15 gives output that depends on leftover heap memory (the same frames
#: encode to different files from run to run), and DyBench-Synth promises identical decoded frames.
SYNTH_ENCODER = EncoderSettings(crf=20, preset="superfast", threads=1)


class SynthError(UserError, ValueError):
    """Arguments ``synthesize`` cannot work with; the message says which and how to fix them."""


@dataclass(frozen=True)
class _Job:
    """One clip to render: where it goes and the stamp that proves it is done."""

    scene: Scene
    path: Path
    stamp: Path
    key: str
    fps: float
    encoder: EncoderSettings


def synthesize(
    out_dir: str | os.PathLike,
    *,
    n: int = 200,
    seed: int = 0,
    size: int = 224,
    frames: int = 16,
    fps: float = 8.0,
    categories: Sequence[str] | None = None,
    bias: str | Sequence[BiasRule] | None = None,
    split: str = "test",
    max_distractors: int | None = None,
    travel: float = 1.0,
    subtle: float = 0.0,
    subtle_travel: float = SUBTLE_TRAVEL,
    workers: int | None = None,
    encoder: EncoderSettings = SYNTH_ENCODER,
    progress: bool = True,
) -> Path:
    """Render ``n`` DyBench-Synth clips into ``out_dir`` with one question each; returns ``out_dir``.

    Categories take turns (clip ``i`` gets ``categories[i % len(categories)]``). ``bias`` is a rule
    string (see :mod:`dybench.synth._bias`) or parsed rules; ``split`` picks the rules' strength and
    the seed stream, so train and test clips never coincide. ``max_distractors`` caps the objects
    no question is about (0: only the objects the question needs; simpler scenes for small models;
    None: 1-4 per scene as each family draws them). ``travel`` scales how far a target moving left/right
    or up/down goes (1: 0.25-0.4 of the frame; smaller motion is harder to see). ``subtle`` is the share of
    clips (spread evenly over the run, see :func:`is_subtle`) whose target moves only ``subtle_travel`` x the
    default (``SUBTLE_TRAVEL``: motion a small model cannot see, so that only a planted cue gives their answer;
    0.1: 2-3 pixels at 64x64, hard to see but learnable). ``workers`` processes
    render in parallel (default: automatic, see :func:`dybench.video.render_workers`). A clip whose stamp
    matches is not rendered again, so an interrupted run picks up where it stopped; ``annotations.jsonl``
    is written, atomically, last.
    """
    out = Path(out_dir)
    cats = _check_args(n, size, frames, fps, categories, split)
    if max_distractors is not None and max_distractors < 0:
        raise SynthError(f"--max-distractors {max_distractors}: use 0 or more")
    if not 0.05 <= travel <= 1.0:
        raise SynthError(f"--travel {travel}: use a scale between 0.05 and 1 (1: the default 0.25-0.4 of the frame)")
    if not 0.0 <= subtle <= 1.0:
        raise SynthError(f"--subtle {subtle}: use a share between 0 and 1 (0: every clip moves --travel x the default)")
    if not 0.0 < subtle_travel <= 1.0:
        raise SynthError(f"--subtle-travel {subtle_travel}: use a scale above 0, at most 1 (default {SUBTLE_TRAVEL})")
    rules = parse_bias(bias) if bias is None or isinstance(bias, str) else tuple(bias)
    by_family = {r.family: r for r in rules}
    missing = [r.family for r in rules if r.family not in cats]
    if missing:
        raise SynthError(f"--bias has a rule for {', '.join(missing)}, which --categories leaves out; add it")
    for rule in rules:
        rule.strength(split)  # fails early, naming the rule, when the split has no strength

    clips = plan_clips(
        n=n, seed=seed, size=size, frames=frames, categories=cats, rules=by_family, split=split,
        max_distractors=max_distractors, travel=travel, subtle=subtle, subtle_travel=subtle_travel,
    )  # fmt: skip
    rows = [annotation_row(i, clip, split=split, seed=seed) for i, clip in enumerate(clips)]

    jobs = []
    for row, clip in zip(rows, clips, strict=True):
        key = _stamp_key(clip.scene, fps, encoder)
        path, stamp = inside(out, out / row["video"]), inside(out, out / STAMPS / f"{row['id']}.json")
        if not _is_done(path, stamp, key):
            jobs.append(_Job(clip.scene, path, stamp, key, fps, encoder))
    with contextlib.ExitStack() as stack:
        finished = _render_all(jobs, workers, stack)  # starts the workers before the progress bar's thread
        update = stack.enter_context(_progress(progress))
        done = n - len(jobs)
        update(done, n)
        for _ in finished:
            done += 1
            update(done, n)

    write_jsonl_atomic(out / ANNOTATIONS, rows, within=out)
    params = dict(n=n, seed=seed, size=size, frames=frames, fps=fps, categories=list(cats), split=split)
    if max_distractors is not None:
        params["max_distractors"] = max_distractors
    if travel != 1.0:
        params["travel"] = travel
    if subtle:
        params["subtle"] = subtle
        if subtle_travel != SUBTLE_TRAVEL:
            params["subtle_travel"] = subtle_travel
    write_json_atomic(out / MANIFEST, _manifest(rows, params, rules, encoder), within=out)
    return out


def plan_clips(
    *, n: int, seed: int, size: int, frames: int, categories: Sequence[Category],
    rules: Mapping[Category, BiasRule], split: str, max_distractors: int | None = None, travel: float = 1.0,
    subtle: float = 0.0, subtle_travel: float = SUBTLE_TRAVEL,
) -> list[Clip]:  # fmt: skip
    """The scenes and questions of a run, without rendering anything."""
    code = SPLITS.index(split) + 1
    deal = Balancer(np.random.default_rng([seed, code, 0]))
    clips = []
    for i in range(n):
        category = categories[i % len(categories)]
        rule = rules.get(category)
        rng = np.random.default_rng([seed, code, 1, i])
        strength = rule.strength(split) if rule is not None else 0.5
        clips.append(
            make_clip(
                rng,
                deal,
                category,
                width=size,
                height=size,
                frames=frames,
                rule=rule,
                strength=strength,
                max_distractors=max_distractors,
                travel=subtle_travel if is_subtle(i, subtle) else travel,
            )  # fmt: skip
        )
    return clips


def is_subtle(index: int, share: float) -> bool:
    """Whether clip ``index`` of a run is a subtle one: exactly ``share`` of every run's clips, evenly spread
    (clip i is subtle when ``floor((i + 1) * share)`` steps up), drawing nothing from the random streams, so
    a subtle clip is the same scene as with ``subtle=0``, its target moving less."""
    return math.floor((index + 1) * share) > math.floor(index * share)


def _check_args(
    n: int, size: int, frames: int, fps: float, categories: Sequence[str] | None, split: str
) -> tuple[Category, ...]:
    if n < 1:
        raise SynthError(f"--n {n}: make at least one clip")
    if size < 64 or size % 2:
        raise SynthError(f"--size {size}: use an even number of pixels, 64 or more (H.264 yuv420p needs even sizes)")
    if frames < 8:
        raise SynthError(f"--frames {frames}: use 8 or more, so that motions and event orders are visible")
    if not fps > 0:
        raise SynthError(f"--fps {fps}: use a positive frame rate")
    if split not in SPLITS:
        raise SynthError(f"--split {split!r}: use {' or '.join(SPLITS)}")
    cats = tuple(categories) if categories else CATEGORIES
    bad = [c for c in cats if c not in CATEGORIES]
    if bad or len(set(cats)) != len(cats):
        raise SynthError(f"--categories {','.join(cats)}: use distinct names among {', '.join(CATEGORIES)}")
    return cats  # type: ignore[return-value]


def annotation_row(index: int, clip: Clip, *, split: str, seed: int) -> dict:
    """The clip's Contract 1 record (``annotations.jsonl`` row), plus what it was made of (extra fields)."""
    q, query, scene = clip.question, clip.query, clip.scene
    clip_id = f"synth-{split}-{index:05d}"
    row: dict = {
        "id": clip_id,
        "video": f"{CLIPS}/{clip_id}.mp4",
        "question": q.text,
        "options": list(q.options),
        "answer": q.answer,
        "category": query.category,
        "transforms": list(TRANSFORMS_BY_CATEGORY[query.category]),
    }
    if q.events:
        row["events"] = list(q.events)
    truth = q.truth
    if query.kind in ("first", "last", "order"):
        truth = " > ".join(event_name(scene, int(i)) for i in q.truth.split(">"))
    row.update(
        {
            "family": f"{query.category}/{query.kind}",
            "truth": truth,
            "subjects": [
                {"colour": o.colour, "shape": o.shape, "texture": o.texture, "size": o.size}
                for o in (scene.objects[i] for i in query.subjects)
            ],
            "split": split,
            "seed": seed,
            "index": index,
            **({"travel": clip.travel} if clip.travel != 1.0 else {}),
            "bias": clip.shortcut.rule if clip.shortcut else None,
            "shortcut": dataclasses.asdict(clip.shortcut) if clip.shortcut else None,
        }
    )
    if scene.events:
        row["event_frames"] = [
            {"event": event_name(scene, e.obj), "start": e.start, "end": e.end}
            for e in sorted(scene.events, key=lambda e: e.start)
        ]
    return row


# --- rendering ------------------------------------------------------------------------------------


def _stamp_key(scene: Scene, fps: float, encoder: EncoderSettings) -> str:
    """What a clip's file depends on: the scene, the frame rate, the encoder and the versions."""
    import av

    blob = json.dumps(
        {"scene": dataclasses.asdict(scene), "fps": fps, "encoder": dataclasses.asdict(encoder),
         "dybench": __version__, "pyav": av.__version__},
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()


def _is_done(path: Path, stamp: Path, key: str) -> bool:
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("key") == key and path.is_file() and sha256_file(path) == recorded.get("sha256")


def render_clip(job: _Job) -> None:
    """Render one clip to its mp4 (atomically), then stamp it."""
    write_video(job.path, render_scene(job.scene), job.fps, job.encoder)
    write_json_atomic(job.stamp, {"key": job.key, "sha256": sha256_file(job.path)})


def _render_all(jobs: list[_Job], workers: int | None, stack: contextlib.ExitStack) -> Iterator[None]:
    """Render ``jobs``; the iterator yields once per finished clip. With several workers, every job is
    submitted (and every worker process forked) before this returns."""
    workers = render_workers(len(jobs), workers)
    if workers <= 1 or len(jobs) <= 2:
        return map(render_clip, jobs)  # lazily, one clip per step, like the pool
    pool = stack.enter_context(ProcessPoolExecutor(max_workers=min(workers, len(jobs))))
    return pool.map(render_clip, jobs, chunksize=4)


def _progress(show: bool):
    if not show:
        return contextlib.nullcontext(lambda done, total: None)
    from dybench.report import progress_bar

    return progress_bar("rendering DyBench-Synth clips")


def _manifest(rows: list[dict], params: dict, rules: Sequence[BiasRule], encoder: EncoderSettings) -> dict:
    """synth.json: what made the folder (parameters, versions), how to make it again, what is in it."""
    import av

    split = params["split"]
    command = synth_command("DIR", {**params, "bias": ";".join(r.describe() for r in rules) or None})
    return {
        "dataset": "dybench-synth",
        "tool": {"dybench": __version__, "pyav": av.__version__, "numpy": np.__version__},
        "parameters": {**params, "bias": [r.describe(split) for r in rules], "encoder": dataclasses.asdict(encoder)},
        "regenerate": command,
        "counts": summarize_rows(rows),
    }


def synth_command(out: str | os.PathLike, params: Mapping[str, object]) -> str:
    """The ``dybench synth`` command line that makes ``out`` from :func:`synthesize`'s arguments (None: left out)."""
    words = ["dybench synth --out", shlex.quote(str(out))]
    for key, value in params.items():
        if value is None:
            continue
        text = (",".join(value) if isinstance(value, (list, tuple))
                else format(value, "g") if isinstance(value, float) else str(value))  # fmt: skip
        words.append(f"--{key.replace('_', '-')} {shlex.quote(text)}")
    return " ".join(words)


def summarize_rows(rows: list[dict]) -> dict:
    """Counts per family, per answer and per split, for the summary table and ``synth.json``."""
    return {
        "clips": len(rows),
        "by_family": dict(sorted(Counter(r["family"] for r in rows).items())),
        "by_answer": dict(sorted(Counter(r["answer"] for r in rows).items())),
        "biased": sum(r.get("shortcut") is not None for r in rows),
    }


def read_summary(out_dir: str | os.PathLike) -> dict:
    """The counts of a synthesized folder, read back from its ``annotations.jsonl``."""
    return summarize_rows(read_jsonl(Path(out_dir) / ANNOTATIONS))
