"""`dybench build`: a user's videos + annotations -> the pairs dataset (Contracts 1 and 2).

The build is a pure function of its inputs and parameters. Every file is written atomically; each
counterfactual render leaves a stamp (source hash, encoder settings, output hash), so a re-run skips
work that is done and valid, and a build killed at any moment and re-run ends identical to an
uninterrupted one. One bad video or row is reported and skipped; the rest of the build goes on.

Nothing is written, renamed or deleted outside ``out``: every writer is given ``within=out`` (see
:func:`dybench.fileio.inside`), annotations name videos inside the source folder only, and two sources
never share an output file (the build refuses the item that would). The pairs files and the manifest
are written to temporaries and moved into place together, the manifest last, so a failed write leaves
the previous dataset whole; stale files are deleted only when a valid manifest lists them under
``videos/``. A source that cannot be read this time keeps the files an earlier build made for it
until its annotation rows are removed. Originals are hard links to the sources (``copy=True``, or
another file system: copies); a source edited in place is reported by the next build, and by
:func:`dybench.pairs.load_items` wherever the dataset is read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dybench import __version__
from dybench.annotations import RowError, load_annotations
from dybench.counterfactual import CounterfactualError, Lexicon, load_lexicon, relation, resolve_counterfactual
from dybench.errors import UserError
from dybench.fileio import (
    FolderBusy,
    JSONInputError,
    OutsideFolder,
    atomic_path,
    exclusive,
    parse_json,
    remove_file,
    remove_stale_temps,
    sha256_file,
    write_json_atomic,
)
from dybench.pairs import FORMAT, MANIFEST, VIDEOS, manifest_files, record_file_stats, write_items
from dybench.records import Annotation, Item, Transform
from dybench.transforms import NotReversible, render_counterfactuals
from dybench.video import EncoderSettings, VideoError, VideoInfo, probe

STAMPS = ".dybench/renders"
#: What makes one source video's work fail as an item, not the build: it is reported and skipped.
_ITEM_ERRORS = (VideoError, OutsideFolder, OSError)


class BuildError(UserError, RuntimeError):
    """Raised by a ``strict`` build at the first problem, or when the build cannot start or finish."""


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
    outputs: dict[Transform, str]
    """Each render's path inside the pairs folder."""
    ids: dict[Transform, tuple[str, ...]]
    """The questions that need each transform, named in errors."""

    @property
    def original(self) -> str:
        return original_video_path(self.video)

    def error(self, message: str, transforms: tuple[Transform, ...] | None = None) -> RowError:
        """The error of this video, or of some of its transforms, naming the questions it skips."""
        ids = dict.fromkeys(i for t in (transforms or tuple(self.ids)) for i in self.ids[t])
        return RowError(str(self.src), None, None, f"{message} (skipped questions: {', '.join(ids)})")


@dataclass
class _Done:
    """What the renders left: the videos and transforms that have pairs, and every file's sha256."""

    infos: dict[str, VideoInfo] = field(default_factory=dict)
    ready: dict[str, set[Transform]] = field(default_factory=dict)
    """Source video -> the transforms whose render is in place."""
    hashes: dict[str, str] = field(default_factory=dict)
    """Every video file the dataset keeps (path inside the pairs folder -> sha256)."""
    kept: set[str] = field(default_factory=set)
    """Those an earlier build made for a source that failed now: their sha256 is the earlier manifest's."""


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
    copy: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Build the pairs dataset from ``src`` (videos + annotations) into ``out``.

    ``encoder`` sets the counterfactual renders' codec settings (default: H.264 yuv420p, visually
    lossless); ``lossless=True`` gives exact pixels. Originals are hard links to the sources, or
    copies with ``copy=True``. ``on_progress(done, total)`` is called per video. Renders are
    byte-identical whatever ``workers`` and the machine (the encoder's thread count is fixed, see
    :class:`~dybench.video.EncoderSettings`).
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
    try:
        lex = load_lexicon(lexicon)
    except (OSError, ValueError) as e:
        raise BuildError(f"{lexicon}: cannot use this lexicon ({e}); fix it or leave out --lexicon") from e
    try:
        out.mkdir(parents=True, exist_ok=True)
        with exclusive(out, "dybench build"):
            remove_stale_temps(out)  # what a killed build left; every finished file was renamed into place
            return _build(src, out, ann_path, encoder, workers, strict, lex, lexicon, copy, on_progress)
    except FolderBusy as e:
        raise BuildError(str(e)) from e
    except OSError as e:  # a full disk, a file size limit, a folder that turned read-only
        raise BuildError(
            f"{out}: the build stopped: {e}. Every file in place is whole, and the pairs files and the manifest "
            "are only replaced together; fix the cause and run the same build again to finish it"
        ) from e


def _build(
    src: Path,
    out: Path,
    ann_path: Path,
    encoder: EncoderSettings,
    workers: int,
    strict: bool,
    lex: dict[Transform, Lexicon],
    lexicon: str | Path | None,
    copy: bool,
    on_progress: Callable[[int, int], None] | None,
) -> BuildReport:
    report = BuildReport(out=out)

    def fail(error: RowError) -> None:
        report.errors.append(error)
        if strict:
            raise BuildError(str(error))

    previous = _previous_files(out, report)
    try:
        anns, row_errors = load_annotations(ann_path)
    except ValueError as e:
        raise BuildError(str(e)) from e
    for error in row_errors:
        fail(error)

    resolved = _resolve_all(anns, lex, ann_path, fail)
    jobs = _plan(src, resolved, fail)
    done = _run_jobs(jobs, encoder, out, workers, copy, previous, report, fail, on_progress)

    for ann, cf in resolved:
        for transform, cf_answer in cf.items():
            if transform in done.ready.get(ann.video, ()):
                report.items.extend(_pair_items(ann, transform, cf_answer))
    if any(done.infos[video].has_audio for video in done.ready):
        report.warnings.append("audio tracks were dropped from the counterfactual renders (originals keep theirs)")

    videos = dict(sorted(done.hashes.items()))

    def manifest(pairs_files: dict[str, str]) -> dict:
        return _manifest(src, ann_path, encoder, lexicon, copy, report, done, {**pairs_files, **videos})

    write_items(out, report.items, manifest=manifest)
    _prune_stale(out, previous, set(videos), report)
    record_file_stats(out, videos, unhashed=done.kept)
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


def _plan(
    src: Path, resolved: list[tuple[Annotation, dict[Transform, str]]], fail: Callable[[RowError], None]
) -> list[_Job]:
    """One job per source video, with every transform any of its questions needs.

    Output names are the source's own path (renders: plus ``.mp4`` unless it ends so), which can still
    meet: ``x`` and ``x.mp4`` would share one render, and a file cannot also be a folder. The video
    whose name is its render's own keeps it; the other is refused, so no two sources share a file.
    """
    ids: dict[str, dict[Transform, list[str]]] = {}
    for ann, cf in resolved:
        for transform in cf:
            ids.setdefault(ann.video, {}).setdefault(transform, []).append(ann.id)
    jobs = []
    taken: dict[str, str] = {}  # output path -> the video that writes it
    folders: dict[str, str] = {}  # every folder above an output -> a video that writes below it
    for video in sorted(ids, key=lambda v: (not v.lower().endswith(".mp4"), v)):
        job = _Job(
            video,
            src / video,
            {t: cf_video_path(video, t) for t in sorted(ids[video])},
            {t: tuple(ids[video][t]) for t in sorted(ids[video])},
        )  # fmt: skip
        paths = [job.original, *job.outputs.values()]
        clash = next((_clash(p, video, taken, folders) for p in paths if _clash(p, video, taken, folders)), None)
        if clash:
            fail(job.error(f"its output {clash[0]} is also that of {clash[1]!r}; rename one of the two files"))
            continue
        for path in paths:
            taken[path] = video
            for parent in PurePosixPath(path).parents:
                folders[str(parent)] = video
        jobs.append(job)
    return jobs


def _clash(path: str, video: str, taken: dict[str, str], folders: dict[str, str]) -> tuple[str, str] | None:
    """(path, other video) when ``path`` is, or is a folder of, or lies below, another video's output."""
    for other in (taken.get(path), folders.get(path), *(taken.get(str(p)) for p in PurePosixPath(path).parents)):
        if other is not None and other != video:
            return path, other
    return None


def original_video_path(video: str) -> str:
    """Where the original of ``video`` (relative to the source) lives inside the pairs folder."""
    return f"{VIDEOS}/original/{video}"


def cf_video_path(video: str, transform: Transform) -> str:
    """Where the ``transform`` render of ``video`` lives; always mp4 (``x.avi`` -> ``x.avi.mp4``)."""
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


def _stamp_path(out: Path, output: str) -> Path:
    """The stamp of the render at ``output``: a flat name, so no output's path can clash with a stamp's."""
    return out / STAMPS / f"{hashlib.sha256(output.encode()).hexdigest()[:32]}.json"


def _stamp_key(src_sha: str, encoder: EncoderSettings) -> dict:
    return {"source_sha256": src_sha, "encoder": dataclasses.asdict(encoder), "dybench": __version__}


def _is_done(out: Path, output: str, key: dict) -> str | None:
    """The output's hash when its stamp matches ``key`` and the file still hashes as stamped."""
    try:
        recorded = parse_json(_stamp_path(out, output).read_bytes())
    except (OSError, JSONInputError):
        return None
    if not isinstance(recorded, dict) or recorded.get("key") != key or not (out / output).is_file():
        return None
    digest = sha256_file(out / output)
    return digest if digest == recorded.get("output_sha256") else None


def _render(src: Path, todo: dict[Transform, Path], encoder: EncoderSettings, out: Path) -> str | None:
    """Render ``todo``; a video that cannot be reversed gets its other transforms, and the reason back."""
    try:
        render_counterfactuals(src, todo, encoder, within=out)
        return None
    except NotReversible as e:
        rest = {t: path for t, path in todo.items() if t != "reverse"}
        if rest:
            render_counterfactuals(src, rest, encoder, within=out)
        return str(e)


def _run_jobs(
    jobs: list[_Job],
    encoder: EncoderSettings,
    out: Path,
    workers: int,
    copy: bool,
    previous: dict[str, str],
    report: BuildReport,
    fail: Callable[[RowError], None],
    on_progress: Callable[[int, int], None] | None,
) -> _Done:
    """Probe, place the original and render what is missing, per video."""
    result = _Done()
    pending: list[tuple[_Job, dict[Transform, Path], dict]] = []
    done = 0

    def skip(job: _Job, error: BaseException) -> None:
        """The whole video fails: report it; keep what an earlier build made for it."""
        kept = [p for p in (job.original, *job.outputs.values()) if p not in result.hashes and p in previous]
        kept = [p for p in kept if (out / p).is_file()]
        result.hashes.update({p: previous[p] for p in kept})
        result.kept.update(kept)
        note = f"; the {len(kept)} file(s) an earlier build made for it are kept until its rows go" if kept else ""
        fail(job.error(f"{error}{note}"))

    for job in jobs:
        try:
            info = probe(job.src)
            src_sha = sha256_file(job.src)
            if previous.get(job.original, src_sha) != src_sha:
                report.warnings.append(
                    f"{job.src}: changed since the last build of {out} (its sha256 differs from {MANIFEST}); "
                    "its pairs are made again from the new content"
                )
            _place_original(job.src, out, job.original, src_sha, copy)
        except _ITEM_ERRORS as e:
            skip(job, e)
            done += 1
            continue
        result.hashes[job.original] = src_sha
        if info.variable_frame_rate:
            report.warnings.append(
                f"{job.src}: variable frame rate; counterfactuals are rendered at a constant "
                f"{info.fps:.3f} fps with the same {info.frame_count} frames"
            )
        key = _stamp_key(src_sha, encoder)
        todo: dict[Transform, Path] = {}
        for transform, output in job.outputs.items():
            digest = _is_done(out, output, key)
            if digest is None:
                todo[transform] = out / output
            else:
                result.hashes[output] = digest
                report.reused += 1
        result.infos[job.video] = info
        if todo:
            pending.append((job, todo, key))
        else:
            result.ready[job.video] = set(job.outputs)
            done += 1
    if on_progress:
        on_progress(done, len(jobs))

    def finished(job: _Job, todo: dict[Transform, Path], key: dict, future: Future | None,
                 outcome: str | BaseException | None) -> None:  # fmt: skip
        nonlocal done
        done += 1
        if future is not None:
            outcome = future.exception() or future.result()
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, _ITEM_ERRORS):
                raise outcome
            skip(job, outcome)
        else:
            refused: set[Transform] = set()
            if outcome is not None:  # why the video has no reverse
                refused.add("reverse")
                fail(job.error(outcome, ("reverse",)))
            for transform, path in todo.items():
                if transform in refused:
                    continue
                output = job.outputs[transform]
                digest = result.hashes[output] = sha256_file(path)
                write_json_atomic(
                    _stamp_path(out, output), {"key": key, "output": output, "output_sha256": digest}, within=out
                )
                report.rendered += 1
            result.ready[job.video] = set(job.outputs) - refused
        if on_progress:
            on_progress(done, len(jobs))

    if workers <= 1 or len(pending) <= 1:
        for job, todo, key in pending:
            try:
                outcome: str | BaseException | None = _render(job.src, todo, encoder, out)
            except _ITEM_ERRORS as e:
                outcome = e
            finished(job, todo, key, None, outcome)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [(pool.submit(_render, j.src, t, encoder, out), j, t, k) for j, t, k in pending]
            try:
                for future, job, todo, key in futures:
                    future.exception()  # wait, in submission order, so results are recorded deterministically
                    finished(job, todo, key, future, None)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return result


def _place_original(src: Path, out: Path, dest: str, src_sha: str, copy: bool) -> None:
    """Hard-link the original into the pairs folder (a copy with ``copy``, or across file systems);
    skip when the right file is already there. A link ``src`` is followed: only read, never written."""
    target = out / dest
    if target.is_file() and not target.is_symlink():
        linked = os.path.samefile(src, target)
        if linked != copy and (linked or sha256_file(target) == src_sha):
            return
    with atomic_path(target, within=out) as tmp:
        if not copy:
            tmp.unlink()
            try:
                os.link(src, tmp)
                return
            except OSError:
                pass
        shutil.copyfile(src, tmp)


# --- the manifest ----------------------------------------------------------------------------------


def _manifest(
    src: Path,
    ann_path: Path,
    encoder: EncoderSettings,
    lexicon: str | Path | None,
    copy: bool,
    report: BuildReport,
    done: _Done,
    files: dict[str, str],
) -> dict:
    """manifest.json: tool version, parameters, counts, per-file sha256, per-item errors.

    ``files`` lists every file the dataset keeps, including those an earlier build made for a source
    that could not be read this time. It holds no timestamps, so that a resumed build's manifest equals
    an uninterrupted one's.
    """
    import av

    videos = {video: done.infos[video] for video, transforms in sorted(done.ready.items()) if transforms}
    return {
        "format": FORMAT,
        "tool": {"dybench": __version__, "pyav": av.__version__},
        "parameters": {
            "src": str(src),
            "annotations": str(ann_path),
            "encoder": dataclasses.asdict(encoder),
            "lexicon": str(lexicon) if lexicon is not None else "builtin",
            "originals": "copies" if copy else "hard links to the sources (copies across file systems)",
        },
        "audio": "counterfactual renders carry no audio; originals are kept as given",
        "counts": {
            "items": len(report.items),
            "pairs": len(report.items) // 2,
            "videos": len(videos),
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
            for video, info in videos.items()
        },
        "files": files,
        "errors": [dataclasses.asdict(e) for e in report.errors],
        "warnings": report.warnings,
    }


def _previous_files(out: Path, report: BuildReport) -> dict[str, str]:
    """The files an earlier build of ``out`` recorded; none when its manifest is not one dybench wrote."""
    try:
        return manifest_files(out) or {}
    except ValueError as e:
        report.warnings.append(f"{e}; ignored, so files an earlier build left in {out} are not cleaned up")
        return {}


def _prune_stale(out: Path, previous: dict[str, str], keep: set[str], report: BuildReport) -> None:
    """Delete the videos an earlier build recorded that this build no longer has, only inside videos/."""
    for rel in previous:
        if rel in keep or not rel.startswith(f"{VIDEOS}/"):
            continue
        try:
            remove_file(out / rel, within=out / VIDEOS)
        except OutsideFolder as e:
            report.warnings.append(f"{MANIFEST} lists {rel}, not deleted: {e}")


def read_manifest(out: str | Path) -> dict:
    """The manifest of a built pairs folder."""
    return json.loads((Path(out) / MANIFEST).read_text())


__all__ = ["BuildError", "BuildReport", "build_pairs", "cf_video_path", "original_video_path", "read_manifest"]
