"""`dybench build`: a user's videos + annotations -> the pairs dataset (Contracts 1 and 2).

A pair's two videos are the source and its ``hflip`` or ``reverse`` render; or, for ``swap``, two renders
of the annotation's segments (A then B is the original, B then A the counterfactual); or, for ``given``,
the source and the counterfactual video the annotation names, packaged as they are. Pairs listed in
``<out>/rejects.txt`` (written via ``dybench review``) are left out of the pairs files; their videos stay.

The build is a pure function of its inputs and parameters. Every file is written atomically; each
render leaves a stamp (sources' hashes, a swap's frames, encoder settings, output hash), so a re-run
skips work that is done and valid, and a build killed at any moment and re-run ends identical to an
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
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from dybench import __version__
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
from dybench.pairs._annotations import RowError, load_annotations
from dybench.pairs._card import CardError, check_license, write_card
from dybench.pairs._counterfactual import CounterfactualError, Lexicon, load_lexicon, relation, resolve_counterfactual
from dybench.pairs._dataset import (
    FORMAT,
    MANIFEST,
    VIDEOS,
    PairsDataset,
    PairsError,
    record_file_stats,
    stamp_path,
    write_items,
)
from dybench.pairs._review import COMMENT, REJECTS, read_rejects
from dybench.pairs._transforms import FrameRange, NotReversible, render_counterfactuals, render_swap
from dybench.records import Annotation, Branch, Item, Segment, Transform
from dybench.video import EncoderSettings, VideoError, VideoInfo, probe, render_workers

Fail = Callable[[RowError, int | None], None]
"""Reports a problem, with the annotation line it is about (problems are listed in line order)."""
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
    rejected: list[str] = field(default_factory=list)
    """Pairs left out because ``<out>/rejects.txt`` names them (their videos are kept)."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        """Pairs per ``category/transform``."""
        pairs = Counter(f"{i.category}/{i.transform}" for i in self.items if i.branch == "original")
        return dict(sorted(pairs.items()))


@dataclass(frozen=True)
class _File:
    """One video of a pair in the pairs folder, and what makes it."""

    path: str
    """Path inside the pairs folder."""
    job: tuple[str, str]
    """The job that makes it: ("video", source path) or ("swap", annotation id)."""
    make: str
    """What makes it: "link" (the source itself), a transform of the source (hflip, reverse), or a swap branch."""


@dataclass(frozen=True)
class _Job:
    """Files made from one read of the same sources: a source video's links (its original, its copy as
    a given counterfactual) and its hflip/reverse renders, or the two renders of one swap annotation."""

    owner: str
    """The source video, or the swap annotation's id: what a clash of output names names."""
    sources: tuple[str, ...]
    """Source videos read (relative to the source folder)."""
    links: tuple[str, ...]
    """Outputs that are the (one) source itself, hard-linked or copied."""
    renders: dict[str, str]
    """Output -> what renders it: a transform of the source, or a swap branch."""
    ids: dict[str, tuple[str, ...]]
    """Output -> the questions that need it, named in errors."""
    line: int
    """The first annotation line that needs this job: where its errors are reported among the rows'."""
    file: str
    """What an error of this job names: the source video, or the annotations file for a swap."""
    row: int | None = None
    id: str | None = None
    segments: tuple[Segment, ...] = ()
    """A swap's segments A and B."""

    @property
    def outputs(self) -> tuple[str, ...]:
        return (*self.links, *self.renders)

    def error(self, message: str, outputs: Iterable[str] | None = None) -> RowError:
        """The error of this job, or of some of its outputs, naming the questions it skips."""
        ids = dict.fromkeys(i for path in (outputs or self.outputs) for i in self.ids[path])
        return RowError(self.file, self.row, self.id, f"{message} (skipped questions: {', '.join(ids)})")


@dataclass
class _Done:
    """What the jobs left: every file's sha256, and what each file is made from."""

    infos: dict[str, VideoInfo] = field(default_factory=dict)
    """Each source video read."""
    hashes: dict[str, str] = field(default_factory=dict)
    """Every video file the dataset keeps (path inside the pairs folder -> sha256)."""
    kept: set[str] = field(default_factory=set)
    """Those an earlier build made for a source that failed now: their sha256 is the earlier manifest's."""
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Every output -> the source videos it is made from."""
    rendered: set[str] = field(default_factory=set)
    """The outputs that are renders (not the sources themselves)."""

    @property
    def ready(self) -> set[str]:
        """The files in place for this build's pairs (not those kept for a failed source)."""
        return set(self.hashes) - self.kept


def build_pairs(
    src: str | Path,
    out: str | Path,
    *,
    annotations: str | Path | None = None,
    lossless: bool = False,
    encoder: EncoderSettings | None = None,
    workers: int | None = None,
    strict: bool = False,
    lexicon: str | Path | None = None,
    copy: bool = False,
    license: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Build the pairs dataset from ``src`` (videos + annotations) into ``out``.

    ``encoder`` sets the counterfactual renders' codec settings (default: H.264 yuv420p, visually
    lossless); ``lossless=True`` gives exact pixels. Originals are hard links to the sources, or
    copies with ``copy=True``. ``on_progress(done, total)`` is called per video. ``workers``: render
    processes (default: automatic, :func:`dybench.video.render_workers`). Renders are
    byte-identical whatever ``workers`` and the machine (the encoder's thread count is fixed, see
    :class:`~dybench.video.EncoderSettings`). Last, the folder gets its dataset card and per-category
    files (:func:`dybench.pairs.write_card`, ``license`` its Hub licence id); a card the build cannot
    update is a warning.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise BuildError(f"{src}: source folder not found; pass the folder that holds your videos with --src")
    if out.resolve() == src.resolve():
        raise BuildError(f"{out}: the output folder must differ from the source folder; pick another --out")
    ann_path = Path(annotations) if annotations is not None else src / "annotations.jsonl"
    try:
        check_license(license)
    except CardError as e:
        raise BuildError(str(e)) from e
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
            report = _build(src, out, ann_path, encoder, workers, strict, lex, lexicon, copy, on_progress)
            try:
                write_card(out, license=license)
            except UserError as e:  # the pairs are built; only their card is not up to date
                report.warnings.append(f"{e} (the dataset card README.md was not updated)")
            return report
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
    workers: int | None,
    strict: bool,
    lex: dict[Transform, Lexicon],
    lexicon: str | Path | None,
    copy: bool,
    on_progress: Callable[[int, int], None] | None,
) -> BuildReport:
    report = BuildReport(out=out)
    lines: list[int] = []  # the annotation line each error is about, to report them in line order

    def fail(error: RowError, line: int | None) -> None:
        report.errors.append(error)
        lines.append(line or 0)
        if strict:
            raise BuildError(str(error))

    previous = _previous_files(out, report)
    try:
        anns, row_errors = load_annotations(ann_path)
    except ValueError as e:
        raise BuildError(str(e)) from e
    for error in row_errors:
        fail(error, error.row)

    resolved = _resolve_all(anns, lex, ann_path, fail)
    jobs = _plan(src, ann_path, resolved, fail)
    done = _run_jobs(jobs, src, encoder, out, workers, copy, previous, report, fail, on_progress)

    items: list[Item] = []
    for ann, cf in resolved:
        for transform, cf_answer in cf.items():
            files = _pair_files(ann, transform)
            if not {f.path for f in files} <= done.ready:
                continue
            if done.hashes[files[0].path] == done.hashes[files[1].path]:
                same = _same_video(src, ann, transform, done.hashes[files[0].path])
                fail(RowError(str(ann_path), ann.row, ann.id, same), ann.row)
                continue
            items.extend(_pair_items(ann, transform, cf_answer))
    order = sorted(range(len(lines)), key=lines.__getitem__)  # stable: one line's problems keep their order
    report.errors = [report.errors[i] for i in order]
    used = sorted({source for item in items for source in done.sources[item.video]})
    _apply_rejects(out, items, report)
    if any(done.infos[s].has_audio for path in done.ready & done.rendered for s in done.sources[path]):
        report.warnings.append("audio tracks were dropped from the renders (originals and given videos keep theirs)")

    videos = dict(sorted(done.hashes.items()))

    def manifest(pairs_files: dict[str, str]) -> dict:
        facts = {source: done.infos[source] for source in used}
        return _manifest(src, ann_path, encoder, lexicon, copy, report, facts, {**pairs_files, **videos})

    write_items(out, report.items, manifest=manifest)
    _prune_stale(out, previous, set(videos), report)
    record_file_stats(out, videos, unhashed=done.kept)
    return report


def _apply_rejects(out: Path, items: list[Item], report: BuildReport) -> None:
    """Leave out the pairs ``<out>/rejects.txt`` names (see :func:`dybench.pairs.write_review`); their videos stay."""
    rejects = read_rejects(out)
    built = {item.pair_id for item in items}
    report.rejected = sorted(rejects & built)
    report.items = [item for item in items if item.pair_id not in rejects]
    unknown = sorted(line for line in rejects - built if not line.startswith(COMMENT))
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        report.warnings.append(
            f"{out / REJECTS} names {len(unknown)} pair id(s) this build did not make: {shown}; check them for typos"
        )


def _resolve_all(
    anns: list[Annotation], lex: dict[Transform, Lexicon], ann_path: Path, fail: Fail
) -> list[tuple[Annotation, dict[Transform, str]]]:
    """Each annotation with its counterfactual answer per transform; unresolvable ones are reported."""
    resolved = []
    for ann in anns:
        cf: dict[Transform, str] = {}
        for transform in ann.transforms:
            try:
                cf[transform] = resolve_counterfactual(ann, transform, lex)
            except CounterfactualError as e:
                fail(RowError(str(ann_path), ann.row, ann.id, str(e)), ann.row)
        if cf:
            resolved.append((ann, cf))
    return resolved


def _plan(
    src: Path,
    ann_path: Path,
    resolved: list[tuple[Annotation, dict[Transform, str]]],
    fail: Fail,
) -> list[_Job]:
    """One job per source video, with every file any pair needs of it, then one job per swap annotation.

    Output names are the source's own path (renders: plus ``.mp4`` unless it ends so), which can still
    meet: ``x`` and ``x.mp4`` would share one render, and a file cannot also be a folder. The video
    whose name is its render's own keeps it; the other is refused, so no two sources share a file.
    """
    needs: dict[tuple[str, str], dict[str, _File]] = {}
    ids: dict[str, list[str]] = {}
    by_swap: dict[str, Annotation] = {}
    line = {ann.id: ann.row or 0 for ann, _ in resolved}
    for ann, cf in resolved:
        for transform in cf:
            for f in _pair_files(ann, transform):
                needs.setdefault(f.job, {})[f.path] = f
                ids.setdefault(f.path, []).append(ann.id)
            if transform == "swap":
                by_swap[ann.id] = ann
    jobs = []
    for kind, name in sorted(needs, key=lambda k: (k[0] == "swap", not k[1].lower().endswith(".mp4"), k[1])):
        files = needs[(kind, name)]
        links = tuple(p for p, f in files.items() if f.make == "link")
        renders = {p: f.make for p, f in sorted(files.items()) if f.make != "link"}
        outputs = {p: tuple(dict.fromkeys(ids[p])) for p in files}
        first = min(line[i] for needed in outputs.values() for i in needed)
        if kind == "video":
            jobs.append(_Job(name, (name,), links, renders, outputs, first, file=str(src / name)))
            continue
        ann = by_swap[name]
        sources = tuple(dict.fromkeys(seg.video for seg in ann.segments))
        jobs.append(
            _Job(
                f"{name} (swap)", sources, links, renders, outputs, first, str(ann_path), ann.row, ann.id, ann.segments
            )
        )
    kept = []
    taken: dict[str, str] = {}  # output path -> the job that writes it
    folders: dict[str, str] = {}  # every folder above an output -> a job that writes below it
    for job in jobs:
        clash = next((c for p in job.outputs if (c := _clash(p, job.owner, taken, folders))), None)
        if clash:
            problem = f"its output {clash[0]} is also that of {clash[1]!r}; rename one of the two files"
            fail(job.error(problem), job.line)
            continue
        for path in job.outputs:
            taken[path] = job.owner
            for parent in PurePosixPath(path).parents:
                folders[str(parent)] = job.owner
        kept.append(job)
    return kept


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


def given_video_path(video: str) -> str:
    """Where a given counterfactual ``video`` (relative to the source) lives inside the pairs folder."""
    return f"{VIDEOS}/given/{video}"


def swap_video_path(ann_id: str, branch: Branch) -> str:
    """Where a swap annotation's ``branch`` render lives: ``videos/swap/<id>/<branch>.mp4``.

    The id is percent-encoded (``a/b`` -> ``a%2Fb``, a leading dot -> ``%2E``), so every id gets a folder
    of its own directly inside ``videos/swap``; an id too long for a file name is cut and ends with
    ``%~`` and a hash of the whole id (``%~`` is never part of an encoded id).
    """
    name = quote(ann_id, safe="", errors="surrogatepass")
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name) > 200:
        digest = hashlib.sha256(ann_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = f"{name[:150]}%~{digest}"
    return f"{VIDEOS}/swap/{name}/{branch}.mp4"


def _pair_files(ann: Annotation, transform: Transform) -> tuple[_File, _File]:
    """The original's and the counterfactual's video of a pair, and what makes each.

    A swap pair's original is its A-then-B render, not the source; a given pair's counterfactual is the
    annotation's ``cf_video``, packaged as it is.
    """
    if transform == "swap":
        a_then_b = _File(swap_video_path(ann.id, "original"), ("swap", ann.id), "original")
        return a_then_b, _File(swap_video_path(ann.id, "counterfactual"), ("swap", ann.id), "counterfactual")
    original = _File(original_video_path(ann.video), ("video", ann.video), "link")
    if transform == "given":
        assert ann.cf_video is not None  # the annotations reader refuses given without cf_video
        return original, _File(given_video_path(ann.cf_video), ("video", ann.cf_video), "link")
    return original, _File(cf_video_path(ann.video, transform), ("video", ann.video), transform)


def _same_video(src: Path, ann: Annotation, transform: Transform, sha: str) -> str:
    """Why a pair whose two videos have the same content is refused (a given ``cf_video`` that is the original)."""
    fix = "point cf_video at the counterfactual video, or leave the question out"
    if transform != "given":
        what, fix = f"its {transform} video is identical to the original {ann.video!r}", f"leave {transform} out"
    elif os.path.samefile(src / str(ann.cf_video), src / ann.video):
        what = f"cf_video {ann.cf_video!r} is a link to the original video {ann.video!r} (the same file)"
    else:
        what = f"cf_video {ann.cf_video!r} has the same content as the original video {ann.video!r}"
    return f"{what} (sha256 {sha[:12]}): the pair's two branches would be one video; {fix}"


def _pair_items(ann: Annotation, transform: Transform, cf_answer: str) -> tuple[Item, Item]:
    pair_id = f"{ann.id}:{transform}"
    original, counterfactual = _pair_files(ann, transform)
    first = Item(
        item_id=f"{pair_id}:original",
        pair_id=pair_id,
        branch="original",
        transform=transform,
        relation=relation(ann, cf_answer),
        category=ann.category,
        video=original.path,
        question=ann.question,
        options=ann.options,
        answer=ann.answer,
        source_id=ann.id,
    )
    second = dataclasses.replace(
        first, item_id=f"{pair_id}:counterfactual", branch="counterfactual", video=counterfactual.path, answer=cf_answer
    )
    return first, second


# --- running the renders ---------------------------------------------------------------------------


def _stamp_key(shas: list[str], encoder: EncoderSettings, frames: tuple[FrameRange, ...] = ()) -> dict:
    """What a render is made from: its sources' content, the encoder, and a swap's frame ranges."""
    key: dict = {"source_sha256": shas[0] if not frames else shas}
    if frames:
        key["frames"] = [[f.start, f.stop] for f in frames]
    return {**key, "encoder": dataclasses.asdict(encoder), "dybench": __version__}


def _is_done(out: Path, output: str, key: dict) -> str | None:
    """The output's hash when its stamp matches ``key`` and the file still hashes as stamped."""
    try:
        recorded = parse_json(stamp_path(out, output).read_bytes())
    except (OSError, JSONInputError):
        return None
    if not isinstance(recorded, dict) or recorded.get("key") != key or not (out / output).is_file():
        return None
    digest = sha256_file(out / output)
    return digest if digest == recorded.get("output_sha256") else None


def _render(
    job: _Job, src: Path, todo: dict[str, Path], frames: tuple[FrameRange, ...], encoder: EncoderSettings, out: Path
) -> tuple[list[str], str] | None:
    """Render ``todo`` (output -> where); a video that cannot be reversed gets its other transforms, and
    the refused outputs come back with the reason."""
    wanted = {job.renders[output]: path for output, path in todo.items()}
    if frames:
        render_swap(frames[0], frames[1], wanted, encoder, within=out)  # type: ignore[arg-type]
        return None
    source = src / job.sources[0]
    try:
        render_counterfactuals(source, wanted, encoder, within=out)  # type: ignore[arg-type]
        return None
    except NotReversible as e:
        rest = {t: path for t, path in wanted.items() if t != "reverse"}
        if rest:
            render_counterfactuals(source, rest, encoder, within=out)  # type: ignore[arg-type]
        return [output for output in todo if job.renders[output] == "reverse"], str(e)


def _frames(job: _Job, src: Path, infos: dict[str, VideoInfo]) -> tuple[FrameRange, ...]:
    """A swap's segments as frame ranges of their videos (empty for other jobs)."""
    return tuple(
        FrameRange.of_seconds(src / seg.video, infos[seg.video].fps, seg.start_s, seg.end_s) for seg in job.segments
    )


def _run_jobs(
    jobs: list[_Job],
    src: Path,
    encoder: EncoderSettings,
    out: Path,
    workers: int | None,
    copy: bool,
    previous: dict[str, str],
    report: BuildReport,
    fail: Fail,
    on_progress: Callable[[int, int], None] | None,
) -> _Done:
    """Probe the sources, place the links and render what is missing, job by job."""
    result = _Done()
    pending: list[tuple[_Job, dict[str, Path], dict, tuple[FrameRange, ...]]] = []
    done = 0

    def skip(job: _Job, error: BaseException) -> None:
        """The whole job fails: report it; keep what an earlier build made for it."""
        kept = [p for p in job.outputs if p not in result.hashes and p in previous and (out / p).is_file()]
        result.hashes.update({p: previous[p] for p in kept})
        result.kept.update(kept)
        note = f"; the {len(kept)} file(s) an earlier build made for it are kept until its rows go" if kept else ""
        fail(job.error(f"{error}{note}"), job.line)

    def warn(message: str) -> None:
        if message not in report.warnings:  # a source read by several jobs warns once
            report.warnings.append(message)

    for job in jobs:
        try:
            infos = {video: probe(src / video) for video in job.sources}
            shas = [sha256_file(src / video) for video in job.sources]
            for link in job.links:
                if previous.get(link, shas[0]) != shas[0]:
                    warn(
                        f"{src / job.sources[0]}: changed since the last build of {out} (its sha256 differs from "
                        f"{MANIFEST}); its pairs are made again from the new content"
                    )
                _place_source(src / job.sources[0], out, link, shas[0], copy)
            frames = _frames(job, src, infos)
        except _ITEM_ERRORS as e:
            skip(job, e)
            done += 1
            continue
        result.infos.update(infos)
        result.hashes.update({link: shas[0] for link in job.links})
        result.sources.update({output: job.sources for output in job.outputs})
        result.rendered.update(job.renders)
        for info in infos.values():
            if job.renders and info.variable_frame_rate:
                warn(
                    f"{info.path}: variable frame rate; its renders are made at a constant {info.fps:.3f} fps "
                    "with the same frames"
                )
        key = _stamp_key(shas, encoder, frames)
        todo: dict[str, Path] = {}
        for output in job.renders:
            digest = _is_done(out, output, key)
            if digest is None:
                todo[output] = out / output
            else:
                result.hashes[output] = digest
                report.reused += 1
        if todo:
            pending.append((job, todo, key, frames))
        else:
            done += 1
    if on_progress:
        on_progress(done, len(jobs))

    def finished(job: _Job, todo: dict[str, Path], key: dict, future: Future | None,
                 outcome: tuple[list[str], str] | BaseException | None) -> None:  # fmt: skip
        nonlocal done
        done += 1
        if future is not None:
            outcome = future.exception() or future.result()
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, _ITEM_ERRORS):
                raise outcome
            skip(job, outcome)
        else:
            refused: list[str] = []
            if outcome is not None:  # why the video has no reverse
                refused, reason = outcome
                fail(job.error(reason, refused), job.line)
            for output, path in todo.items():
                if output in refused:
                    continue
                digest = result.hashes[output] = sha256_file(path)
                write_json_atomic(
                    stamp_path(out, output), {"key": key, "output": output, "output_sha256": digest}, within=out
                )
                report.rendered += 1
        if on_progress:
            on_progress(done, len(jobs))

    workers = render_workers(len(pending), workers)
    if workers <= 1 or len(pending) <= 1:
        for job, todo, key, frames in pending:
            try:
                outcome: tuple[list[str], str] | BaseException | None = _render(job, src, todo, frames, encoder, out)
            except _ITEM_ERRORS as e:
                outcome = e
            finished(job, todo, key, None, outcome)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [(pool.submit(_render, j, src, t, f, encoder, out), j, t, k) for j, t, k, f in pending]
            try:
                for future, job, todo, key in futures:
                    future.exception()  # wait, in submission order, so results are recorded deterministically
                    finished(job, todo, key, future, None)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return result


def _place_source(src: Path, out: Path, dest: str, src_sha: str, copy: bool) -> None:
    """Hard-link a source (an original, or a given counterfactual) into the pairs folder (a copy with
    ``copy``, or across file systems); skip when the right file is already there. A link ``src`` is
    followed: only read, never written."""
    target = out / dest
    if target.is_file() and not target.is_symlink():
        linked = os.path.samefile(src, target)
        if linked != copy and (linked or sha256_file(target) == src_sha):
            return
    with atomic_path(target, within=out) as tmp:
        if not copy:
            tmp.unlink()
            try:
                os.link(os.path.realpath(src), tmp)  # the file itself: link() would link a link
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
    videos: dict[str, VideoInfo],
    files: dict[str, str],
) -> dict:
    """manifest.json: tool version, parameters, counts, per-file sha256, per-item errors.

    ``files`` lists every file the dataset keeps, including those an earlier build made for a source
    that could not be read this time, and the videos of pairs rejected in review. ``videos`` are the
    source videos the pairs are made from. It holds no timestamps, so that a resumed build's manifest
    equals an uninterrupted one's.
    """
    import av

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
        "audio": "renders carry no audio; originals and given videos are kept as given",
        "counts": {
            "items": len(report.items),
            "pairs": len(report.items) // 2,
            "videos": len(videos),
            "pairs_by_category_transform": report.counts(),
            "errors": len(report.errors),
            "rejected": len(report.rejected),
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
        "rejected": report.rejected,
        "errors": [dataclasses.asdict(e) for e in report.errors],
        "warnings": report.warnings,
    }


def _previous_files(out: Path, report: BuildReport) -> dict[str, str]:
    """The files an earlier build of ``out`` recorded; none when its manifest is not one dybench wrote."""
    try:
        manifest = PairsDataset(out).manifest()
    except PairsError as e:
        report.warnings.append(f"{e}; ignored, so files an earlier build left in {out} are not cleaned up")
        return {}
    return manifest["files"] if manifest else {}


def _prune_stale(out: Path, previous: dict[str, str], keep: set[str], report: BuildReport) -> None:
    """Delete the videos an earlier build recorded that this build no longer has, only inside videos/."""
    for rel in previous:
        if rel in keep or not rel.startswith(f"{VIDEOS}/"):
            continue
        try:
            remove_file(out / rel, within=out)
        except OutsideFolder as e:
            report.warnings.append(f"{MANIFEST} lists {rel}, not deleted: {e}")


__all__ = [
    "BuildError",
    "BuildReport",
    "build_pairs",
    "cf_video_path",
    "given_video_path",
    "original_video_path",
    "swap_video_path",
]
