"""`dybench build`: a user's videos + annotations -> the pairs dataset (Contracts 1 and 2).

The build is a pure function of its inputs and parameters. Every file is written atomically; each
counterfactual render leaves a stamp (source hash, encoder settings, output hash), so a re-run skips
work that is done and valid, and a build killed at any moment and re-run ends identical to an
uninterrupted one. One bad video or row is reported and skipped; the rest of the build goes on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dybench import __version__
from dybench.annotations import RowError, load_annotations
from dybench.counterfactual import CounterfactualError, Lexicon, load_lexicon, relation, resolve_counterfactual
from dybench.errors import UserError
from dybench.fileio import FolderBusy, atomic_path, exclusive, remove_stale_temps, sha256_file, write_json_atomic
from dybench.pairs import FORMAT, MANIFEST, PAIRS_JSONL, PAIRS_PARQUET, VIDEOS, write_items
from dybench.records import Annotation, Item, Transform
from dybench.transforms import render_counterfactuals
from dybench.video import EncoderSettings, VideoError, VideoInfo, probe

STAMPS = ".dybench/renders"


class BuildError(UserError, RuntimeError):
    """Raised by a ``strict`` build at the first problem, or when the build cannot start at all."""


@dataclass
class BuildReport:
    """What a build produced and what went wrong, item by item."""

    out: Path
    items: list[Item] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rendered: int = 0
    """Counterfactual videos rendered by this run."""
    reused: int = 0
    """Counterfactual videos found done and valid (by hash) and skipped."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        """Pairs per ``category/transform``."""
        pairs = Counter(f"{i.category}/{i.transform}" for i in self.items if i.branch == "original")
        return dict(sorted(pairs.items()))


@dataclass(frozen=True)
class _Job:
    """The renders one source video needs."""

    video: str
    """Path relative to the source folder."""
    src: Path
    outputs: dict[Transform, Path]
    ids: tuple[str, ...]
    """The questions about this video, named in its errors."""

    def error(self, message: str) -> RowError:
        return RowError(str(self.src), None, None, f"{message} (skipped questions: {', '.join(self.ids)})")


def build_pairs(
    src: str | Path,
    out: str | Path,
    *,
    annotations: str | Path | None = None,
    lossless: bool = False,
    encoder: EncoderSettings | None = None,
    workers: int = 1,
    strict: bool = False,
    lexicon: str | Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Build the pairs dataset from ``src`` (videos + annotations) into ``out``.

    ``encoder`` sets the counterfactual renders' codec settings (default: H.264 yuv420p, visually
    lossless); ``lossless=True`` gives exact pixels. ``on_progress(done, total)`` is called per video.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise BuildError(f"{src}: source folder not found; pass the folder that holds your videos with --src")
    if out.resolve() == src.resolve():
        raise BuildError(f"{out}: the output folder must differ from the source folder; pick another --out")
    ann_path = Path(annotations) if annotations is not None else src / "annotations.jsonl"
    encoder = encoder or EncoderSettings()
    if lossless:
        encoder = dataclasses.replace(encoder, lossless=True)
    lex = load_lexicon(lexicon)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive(out, "dybench build"):
            remove_stale_temps(out)  # what a killed build left; every finished file was renamed into place
            return _build(src, out, ann_path, encoder, workers, strict, lex, lexicon, on_progress)
    except FolderBusy as e:
        raise BuildError(str(e)) from e


def _build(
    src: Path,
    out: Path,
    ann_path: Path,
    encoder: EncoderSettings,
    workers: int,
    strict: bool,
    lex: dict[Transform, Lexicon],
    lexicon: str | Path | None,
    on_progress: Callable[[int, int], None] | None,
) -> BuildReport:
    report = BuildReport(out=out)

    def fail(error: RowError) -> None:
        report.errors.append(error)
        if strict:
            raise BuildError(str(error))

    try:
        anns, row_errors = load_annotations(ann_path)
    except ValueError as e:
        raise BuildError(str(e)) from e
    for error in row_errors:
        fail(error)

    resolved = _resolve_all(anns, lex, ann_path, fail)
    jobs = _plan(src, out, resolved)
    infos, hashes = _run_jobs(jobs, encoder, out, workers, report, fail, on_progress)

    for ann, cf in resolved:
        info = infos.get(ann.video)
        if info is None:
            continue  # the video's error is already reported, for each of its items
        for transform, cf_answer in cf.items():
            report.items.extend(_pair_items(ann, transform, cf_answer))
    if any(info.has_audio for info in infos.values()):
        report.warnings.append("audio tracks were dropped from the counterfactual renders (originals keep theirs)")

    write_items(out, report.items)
    _write_manifest(out, src, ann_path, encoder, lexicon, report, infos, hashes)
    return report


def _resolve_all(
    anns: list[Annotation], lex: dict[Transform, Lexicon], ann_path: Path, fail: Callable[[RowError], None]
) -> list[tuple[Annotation, dict[Transform, str]]]:
    """Each annotation with its counterfactual answer per transform; unresolvable ones are reported."""
    resolved = []
    for ann in anns:
        cf: dict[Transform, str] = {}
        for transform in ann.transforms:
            try:
                cf[transform] = resolve_counterfactual(ann, transform, lex)
            except CounterfactualError as e:
                fail(RowError(str(ann_path), ann.row, ann.id, str(e)))
        if cf:
            resolved.append((ann, cf))
    return resolved


def _plan(src: Path, out: Path, resolved: list[tuple[Annotation, dict[Transform, str]]]) -> list[_Job]:
    """One job per source video, with every transform any of its questions needs."""
    needed: dict[str, set[Transform]] = {}
    ids: dict[str, list[str]] = {}
    for ann, cf in resolved:
        needed.setdefault(ann.video, set()).update(cf)
        ids.setdefault(ann.video, []).append(ann.id)
    return [
        _Job(video, src / video, {t: out / cf_video_path(video, t) for t in sorted(transforms)}, tuple(ids[video]))
        for video, transforms in needed.items()
    ]


def original_video_path(video: str) -> str:
    """Where the original of ``video`` (relative to the source) lives inside the pairs folder."""
    return f"{VIDEOS}/original/{video}"


def cf_video_path(video: str, transform: Transform) -> str:
    """Where the ``transform`` render of ``video`` lives; always mp4, never colliding across suffixes."""
    name = video if video.lower().endswith(".mp4") else f"{video}.mp4"
    return f"{VIDEOS}/{transform}/{name}"


def _pair_items(ann: Annotation, transform: Transform, cf_answer: str) -> tuple[Item, Item]:
    pair_id = f"{ann.id}:{transform}"
    common = dict(
        pair_id=pair_id,
        transform=transform,
        relation=relation(ann, cf_answer),
        category=ann.category,
        question=ann.question,
        options=ann.options,
        source_id=ann.id,
    )
    return (
        Item(
            item_id=f"{pair_id}:original",
            branch="original",
            video=original_video_path(ann.video),
            answer=ann.answer,
            **common,
        ),  # fmt: skip
        Item(
            item_id=f"{pair_id}:counterfactual",
            branch="counterfactual",
            video=cf_video_path(ann.video, transform),
            answer=cf_answer,
            **common,
        ),  # fmt: skip
    )


# --- running the renders ---------------------------------------------------------------------------


def _stamp_path(out: Path, job: _Job, transform: Transform) -> Path:
    return out / STAMPS / f"{job.video}.{transform}.json"


def _stamp_key(src_sha: str, encoder: EncoderSettings) -> dict:
    return {"source_sha256": src_sha, "encoder": dataclasses.asdict(encoder), "dybench": __version__}


def _is_done(out: Path, job: _Job, transform: Transform, key: dict) -> str | None:
    """The output's hash when its stamp matches ``key`` and the file still hashes as stamped."""
    stamp, output = _stamp_path(out, job, transform), job.outputs[transform]
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if recorded.get("key") != key or not output.is_file():
        return None
    digest = sha256_file(output)
    return digest if digest == recorded.get("output_sha256") else None


def _run_jobs(
    jobs: list[_Job],
    encoder: EncoderSettings,
    out: Path,
    workers: int,
    report: BuildReport,
    fail: Callable[[RowError], None],
    on_progress: Callable[[int, int], None] | None,
) -> tuple[dict[str, VideoInfo], dict[str, str]]:
    """Probe, place the original and render what is missing, per video; returns the good videos' info
    and the sha256 of every file written into the pairs folder (relative path -> hash)."""
    infos: dict[str, VideoInfo] = {}
    hashes: dict[str, str] = {}
    pending: list[tuple[_Job, dict[Transform, Path], dict, VideoInfo]] = []
    done = 0
    for job in jobs:
        try:
            info = probe(job.src)
            src_sha = sha256_file(job.src)
        except (VideoError, OSError) as e:
            fail(job.error(str(e)))
            done += 1
            continue
        if info.variable_frame_rate:
            report.warnings.append(
                f"{job.src}: variable frame rate; counterfactuals are rendered at a constant "
                f"{info.fps:.3f} fps with the same {info.frame_count} frames"
            )
        key = _stamp_key(src_sha, encoder)
        todo: dict[Transform, Path] = {}
        for transform, output in job.outputs.items():
            digest = _is_done(out, job, transform, key)
            if digest is None:
                todo[transform] = output
            else:
                hashes[cf_video_path(job.video, transform)] = digest
                report.reused += 1
        _place_original(job.src, out / original_video_path(job.video), src_sha)
        hashes[original_video_path(job.video)] = src_sha
        if todo:
            pending.append((job, todo, key, info))
        else:
            infos[job.video] = info
            done += 1
    if on_progress:
        on_progress(done, len(jobs))

    def finished(job: _Job, todo: dict[Transform, Path], key: dict, info: VideoInfo, future: Future | None,
                 error: BaseException | None) -> None:  # fmt: skip
        nonlocal done
        done += 1
        if error is None and future is not None:
            error = future.exception()
        if error is not None:
            if not isinstance(error, VideoError | OSError):
                raise error
            fail(job.error(str(error)))
        else:
            for transform, output in todo.items():
                digest = sha256_file(output)
                hashes[cf_video_path(job.video, transform)] = digest
                write_json_atomic(_stamp_path(out, job, transform), {"key": key, "output_sha256": digest})
                report.rendered += 1
            infos[job.video] = info
        if on_progress:
            on_progress(done, len(jobs))

    if workers <= 1 or len(pending) <= 1:
        for job, todo, key, info in pending:
            try:
                render_counterfactuals(job.src, todo, encoder)
            except (VideoError, OSError) as e:
                finished(job, todo, key, info, None, e)
                continue
            finished(job, todo, key, info, None, None)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [(pool.submit(render_counterfactuals, j.src, t, encoder), j, t, k, i) for j, t, k, i in pending]
            try:
                for future, job, todo, key, info in futures:
                    future.exception()  # wait, in submission order, so results are recorded deterministically
                    finished(job, todo, key, info, future, None)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return infos, hashes


def _place_original(src: Path, dest: Path, src_sha: str) -> None:
    """Hard-link the original into the pairs folder (copy across file systems); skip if already there."""
    if dest.is_file() and (os.path.samefile(src, dest) or sha256_file(dest) == src_sha):
        return
    with atomic_path(dest) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


# --- the manifest ----------------------------------------------------------------------------------


def _write_manifest(
    out: Path,
    src: Path,
    ann_path: Path,
    encoder: EncoderSettings,
    lexicon: str | Path | None,
    report: BuildReport,
    infos: dict[str, VideoInfo],
    hashes: dict[str, str],
) -> None:
    """manifest.json: tool version, parameters, counts, per-file sha256, per-item errors.

    It holds no timestamps, so that a resumed build's manifest equals an uninterrupted one's.
    """
    import av

    files = {PAIRS_PARQUET: sha256_file(out / PAIRS_PARQUET), PAIRS_JSONL: sha256_file(out / PAIRS_JSONL)}
    files.update(sorted(hashes.items()))
    _prune_stale(out, set(files))
    manifest = {
        "format": FORMAT,
        "tool": {"dybench": __version__, "pyav": av.__version__},
        "parameters": {
            "src": str(src),
            "annotations": str(ann_path),
            "encoder": dataclasses.asdict(encoder),
            "lexicon": str(lexicon) if lexicon is not None else "builtin",
        },
        "audio": "counterfactual renders carry no audio; originals are kept as given",
        "counts": {
            "items": len(report.items),
            "pairs": len(report.items) // 2,
            "videos": len(infos),
            "pairs_by_category_transform": report.counts(),
            "errors": len(report.errors),
        },
        "videos": {
            video: {
                "fps": info.fps,
                "frames": info.frame_count,
                "width": info.width,
                "height": info.height,
                "rotation": info.rotation,
                "variable_frame_rate": info.variable_frame_rate,
                "audio_dropped": info.has_audio,
            }  # fmt: skip
            for video, info in sorted(infos.items())
        },
        "files": files,
        "errors": [dataclasses.asdict(e) for e in report.errors],
        "warnings": report.warnings,
    }
    write_json_atomic(out / MANIFEST, manifest)


def _prune_stale(out: Path, keep: set[str]) -> None:
    """Remove videos an earlier build of this folder wrote that this build no longer has."""
    try:
        previous = json.loads((out / MANIFEST).read_text()).get("files", {})
    except (OSError, ValueError):
        return
    for rel in previous:
        if rel not in keep and rel.startswith(f"{VIDEOS}/"):
            (out / rel).unlink(missing_ok=True)


def read_manifest(out: str | Path) -> dict:
    """The manifest of a built pairs folder."""
    return json.loads((Path(out) / MANIFEST).read_text())


__all__ = ["BuildError", "BuildReport", "build_pairs", "cf_video_path", "original_video_path", "read_manifest"]
