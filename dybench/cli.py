"""The `dybench` command line: it parses arguments and calls the public Python API, nothing more."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand, TyperGroup

from dybench.errors import UserError

if TYPE_CHECKING:
    from dybench.pairs.importers import ImportReport


def _untyped_flags(params: list) -> list:
    """``params`` with no type shown for a flag in help (typer labels ``--strict`` and ``--help`` ``<bool>``,
    as if they took a value)."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    return params


class _Group(TyperGroup):
    def get_params(self, ctx):
        return _untyped_flags(super().get_params(ctx))


class _Command(TyperCommand):
    def get_params(self, ctx):
        return _untyped_flags(super().get_params(ctx))


class _Commands(_Group):
    """The one place where a `UserError` from any command becomes a message and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(1) from e


class _App(typer.Typer):
    """``typer.Typer`` whose commands are :class:`_Command` unless they name their own class."""

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or _Command, **kwargs)


app = _App(
    cls=_Commands,
    name="dybench",
    help="Does this video model actually watch the video? Counterfactual pairs, strict scoring, RL reference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the dybench version."""
    from dybench import __version__

    typer.echo(__version__)


_WORKERS_HELP = "Rendering processes (0: one per 16 videos, at most one per CPU)."


# --- each part adds its command below, in the order of DESIGN.md Contract 5 ---
# synth (dybench.synth)
class SplitChoice(StrEnum):
    """``dybench.synth._bias.SPLITS`` (a test checks they agree)."""

    train = "train"
    test = "test"


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write clips/ and annotations.jsonl to."),
    n: int = typer.Option(200, "--n", min=1, help="Number of clips (one question each)."),
    seed: int = typer.Option(0, "--seed", help="The same seed and arguments give the same clips."),
    size: int = typer.Option(224, "--size", help="Frame width and height in pixels (even, 64 or more)."),
    frames: int = typer.Option(16, "--frames", help="Frames per clip (8 or more)."),
    fps: float = typer.Option(8.0, "--fps", help="Frame rate of the clips."),
    categories: list[str] | None = typer.Option(
        None, "--categories", help="Categories to make, comma-separated or repeated (default: all five)."
    ),
    bias: str | None = typer.Option(
        None, "--bias", help="Shortcut rules, e.g. 'moving_direction:colour=red->right:train=0.95,test=0.5'."
    ),
    split: SplitChoice = typer.Option(SplitChoice.test, "--split", help="Picks bias strengths and the seed stream."),
    max_distractors: int | None = typer.Option(
        None, "--max-distractors", help="At most this many objects no question is about (0: none; default 1-4)."
    ),
    travel: float = typer.Option(
        1.0, "--travel", help="How far a target moving left/right or up/down goes, x the default (smaller: harder)."
    ),
    subtle: float = typer.Option(
        0.0, "--subtle", help="Share of clips whose target moves only --subtle-travel x the default."
    ),
    subtle_travel: float | None = typer.Option(
        None, "--subtle-travel", help="How far a --subtle clip's target moves, x the default (default 0.05: unseen)."
    ),
    workers: int = typer.Option(0, "--workers", min=0, help=_WORKERS_HELP),
) -> None:
    """Render DyBench-Synth clips with known answers, plus annotations.jsonl for `dybench build`."""
    from dybench.synth import SUBTLE_TRAVEL, print_summary, synthesize

    cats = [c.strip() for value in categories or [] for c in value.split(",") if c.strip()] or None
    subtle_travel = SUBTLE_TRAVEL if subtle_travel is None else subtle_travel
    synthesize(out, n=n, seed=seed, size=size, frames=frames, fps=fps, categories=cats, bias=bias,
               split=split.value, max_distractors=max_distractors, travel=travel, subtle=subtle,
               subtle_travel=subtle_travel, workers=workers or None)  # fmt: skip
    print_summary(out)


# build (dybench.pairs)
@app.command()
def build(
    src: Path = typer.Option(..., "--src", help="Folder with your videos and annotations.jsonl."),
    out: Path = typer.Option(..., "--out", help="Where the pairs dataset goes."),
    annotations: Path | None = typer.Option(
        None, "--annotations", help="Annotations file (JSONL, JSON list or CSV); default <src>/annotations.jsonl."
    ),
    lossless: bool = typer.Option(False, "--lossless", help="Exact pixels in the counterfactual renders."),
    workers: int = typer.Option(0, "--workers", min=0, help=_WORKERS_HELP),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first error."),
    crf: int = typer.Option(17, "--crf", help="x264 quality, 0-51 (lower is better; 17 is visually lossless)."),
    preset: str = typer.Option("medium", "--preset", help="x264 speed preset (ultrafast ... veryslow)."),
    pix_fmt: str = typer.Option("yuv420p", "--pix-fmt", help="Pixel format (yuv444p allows odd frame sizes)."),
    lexicon: Path | None = typer.Option(None, "--lexicon", help="Your own counterfactual lexicon (YAML)."),
    copy: bool = typer.Option(
        False, "--copy", help="Copy the originals instead of hard-linking them (the dataset stays apart from --src)."
    ),
    license: str | None = typer.Option(
        None,
        "--license",
        help="The dataset card's licence: a Hugging Face licence id (cc-by-4.0, cc-by-nc-sa-4.0, mit, other, ...); "
        "default: the card's own, else unknown.",
    ),
) -> None:
    """Build counterfactual pairs (hflip, reverse, swap, or given videos) from your videos and annotations.

    The folder is also a Hugging Face dataset repository: README.md is its card (your text above its
    marker is kept) and data/<category>.parquet its per-category configs.
    """
    from dybench.pairs import build_pairs
    from dybench.report import build_progress, print_build_summary
    from dybench.video import EncoderSettings

    settings = EncoderSettings(crf=crf, preset=preset, pix_fmt=pix_fmt)
    with build_progress() as on_progress:
        report = build_pairs(
            src, out, annotations=annotations, lossless=lossless, encoder=settings, workers=workers or None,
            strict=strict, lexicon=lexicon, copy=copy, license=license, on_progress=on_progress,
        )  # fmt: skip
    print_build_summary(report)
    raise typer.Exit(0 if report.ok else 1)


# import (dybench.pairs.importers)
import_app = _App(
    cls=_Group,
    help="Turn a public dataset's own labels into annotations.jsonl (+ video links) for `dybench build`.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")


def _import_done(report: ImportReport) -> None:
    """Print an import's summary; exit 1 when it wrote nothing (the reasons are in the summary)."""
    from dybench.pairs.importers import print_report

    print_report(report)
    raise typer.Exit(0 if report.written else 1)


@import_app.command("ssv2")
def import_ssv2_command(
    labels: Path = typer.Option(..., "--labels", help="SSv2 label file (something-something-v2-train.json)."),
    videos: Path = typer.Option(..., "--videos", help="Folder with SSv2's <id>.webm clips."),
    out: Path = typer.Option(..., "--out", help="Folder for annotations.jsonl and videos/ (links)."),
    templates: Path | None = typer.Option(
        None, "--templates", help="Your own template table (YAML; default dybench/data/ssv2_templates.yaml)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the option order."),
) -> None:
    """Something-Something-v2 labels -> moving-direction and reversible-dynamics questions."""
    from dybench.pairs.importers import import_ssv2

    _import_done(import_ssv2(labels, videos, out, templates=templates, seed=seed))


class SegmentFormatChoice(StrEnum):
    breakfast = "breakfast"
    mstcn = "mstcn"
    salads = "50salads"
    seconds = "seconds"


class LevelChoice(StrEnum):
    high = "high"
    mid = "mid"
    low = "low"


@import_app.command("segments")
def import_segments_command(
    segments: list[Path] = typer.Argument(..., help="Label files, one per video, or folders of them."),
    out: Path = typer.Option(..., "--out", help="Folder for annotations.jsonl and videos/ (links)."),
    fmt: SegmentFormatChoice = typer.Option(..., "--format", help="Label file format (data_cards/importers.md)."),
    videos: Path | None = typer.Option(
        None, "--videos", help="Folder with the videos, flat or as Breakfast's P03/cam01/ (default: beside)."
    ),
    frame_times: Path | None = typer.Option(
        None, "--frame-times", help="50salads: folder with timestamps-<name>.txt (one timestamp per frame)."
    ),
    level: LevelChoice | None = typer.Option(
        None, "--level", help="50salads: pair activities (high), steps (mid, the default) or their phases (low)."
    ),
    mapping: Path | None = typer.Option(
        None, "--mapping", help="mstcn: the mapping.txt beside groundTruth/ (checks every label)."
    ),
    fps: float | None = typer.Option(
        None, "--fps", min=0.1, help="breakfast, mstcn: frame rate of the labels (default: the video's)."
    ),
    min_seconds: float = typer.Option(1.0, "--min-seconds", min=0.1, help="Shortest action segment used."),
    per_video: int = typer.Option(2, "--per-video", min=1, help="Questions per video at most."),
    seed: int = typer.Option(0, "--seed", help="Seed of the pair choice and option order."),
) -> None:
    """Action segments (Breakfast, MS-TCN ground truth, 50Salads, seconds) -> event-order questions (`swap`)."""
    from dybench.pairs.importers import import_segments

    report = import_segments(
        segments, videos, out, fmt=fmt.value, frame_times=frame_times, mapping=mapping, fps=fps,
        level=level.value if level else None, min_seconds=min_seconds, per_video=per_video, seed=seed,
    )  # fmt: skip
    _import_done(report)


@import_app.command("tracks")
def import_tracks_command(
    root: Path = typer.Option(..., "--sequences", help="Folder of sequence folders (frames + groundtruth.txt)."),
    out: Path = typer.Option(..., "--out", help="Folder for annotations.jsonl and videos/ (encoded clips)."),
    fps: float = typer.Option(10.0, "--fps", min=0.1, help="Frame rate of the sequences (GOT-10k: 10)."),
    min_displacement: float = typer.Option(
        0.15, "--min-displacement", min=0.01, max=0.99, help="Least net motion, as a fraction of the frame."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the option order."),
) -> None:
    """Tracking sequences (GOT-10k layout) -> moving-direction questions from the box's net motion."""
    from dybench.pairs.importers import import_tracks

    _import_done(import_tracks(root, out, fps=fps, min_displacement=min_displacement, seed=seed))


# review (dybench.pairs)
@app.command()
def review(
    pairs: Path = typer.Option(..., "--pairs", help="The pairs dataset folder to look at."),
    out: Path | None = typer.Option(None, "--out", help="Where the page goes (default <pairs>/review)."),
    frames: int = typer.Option(4, "--frames", min=2, max=16, help="Frames shown per video."),
) -> None:
    """Write a static HTML page showing every pair side by side, to check by eye and reject bad pairs."""
    from dybench.pairs import write_review

    typer.echo(write_review(pairs, out, frames=frames))


# tasks-path, eval, score, demo (dybench.evaluation / dybench.scoring)
@app.command("tasks-path")
def tasks_path() -> None:
    """Print the folder of dybench's lmms-eval tasks, for lmms-eval's --include_path."""
    from dybench.evaluation import tasks_path as path

    typer.echo(path())


@app.command("eval")
def eval_(
    model: str = typer.Option(..., "--model", help="lmms-eval model, e.g. qwen2_5_vl, dybench_random."),
    model_args: str = typer.Option("", "--model-args", help="lmms-eval model args, e.g. pretrained=DIR,device_map=cpu"),
    tasks: str = typer.Option(..., "--tasks", help="Comma-separated, e.g. dybench_pair,dybench_pair_single_frame"),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="The tasks' data folder; else its variable: DYBENCH_PAIRS (dybench_pair*), TIMEBLIND_DIR "
        "(timeblind), VIDEOMME_DIR, MVBENCH_DIR, TEMPCOMPASS_DIR.",
    ),
    output: Path | None = typer.Option(None, "--output", help="Write results JSON and samples here."),
    limit: float | None = typer.Option(None, "--limit", help="Documents per task (for smoke tests only)."),
    batch_size: str = typer.Option("1", "--batch-size", help="lmms-eval batch size."),
    device: str | None = typer.Option(None, "--device", help="e.g. cpu, cuda:0 (not in --model-args)."),
    gen_kwargs: str = typer.Option("", "--gen-kwargs", help="Override generation settings, e.g. max_new_tokens=64"),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    verbosity: str = typer.Option("WARNING", "--verbosity", help="lmms-eval log level."),
) -> None:
    """Run lmms-eval on dybench's tasks; fails (exit 1) when lmms-eval fails or scores nothing."""
    from dybench.evaluation import evaluate, print_summary

    run = evaluate(
        model, tasks, model_args=model_args, data=data, output=output, limit=limit, batch_size=batch_size,
        device=device, gen_kwargs=gen_kwargs or None, seed=seed, verbosity=verbosity,
        log=lambda line: typer.echo(line, err=True),
    )  # fmt: skip
    print_summary(run)


class ScoreTaskChoice(StrEnum):
    """``dybench.scoring.TASKS`` (a test checks they agree)."""

    dybench_pair = "dybench_pair"
    dybench_pair_r1 = "dybench_pair_r1"
    dybench_pair_single_frame = "dybench_pair_single_frame"
    dybench_pair_single_frame_r1 = "dybench_pair_single_frame_r1"
    dybench_pair_moving_direction = "dybench_pair_moving_direction"
    dybench_pair_reversible_dynamics = "dybench_pair_reversible_dynamics"
    dybench_pair_event_sequence = "dybench_pair_event_sequence"
    dybench_pair_spatial = "dybench_pair_spatial"
    dybench_pair_static = "dybench_pair_static"
    dybench_pair_r1_moving_direction = "dybench_pair_r1_moving_direction"
    dybench_pair_r1_reversible_dynamics = "dybench_pair_r1_reversible_dynamics"
    dybench_pair_r1_event_sequence = "dybench_pair_r1_event_sequence"
    dybench_pair_r1_spatial = "dybench_pair_r1_spatial"
    dybench_pair_r1_static = "dybench_pair_r1_static"
    timeblind = "timeblind"


_SCORE_TASKS_HELP = (
    "Every dybench_pair task (dybench_pair[_r1], dybench_pair_single_frame[_r1], dybench_pair[_r1]_<category>) "
    "or timeblind; the other benchmarks score inside `dybench eval`."
)


@app.command()
def score(
    task: ScoreTaskChoice = typer.Option(..., "--task", metavar="TASK", help=_SCORE_TASKS_HELP),
    predictions: Path = typer.Option(..., "--predictions", help="{item_id,response} JSONL; predictions.json"),
    data: Path = typer.Option(..., "--data", help="Pairs dataset, or TimeBlind folder with data.jsonl."),
) -> None:
    """Score a predictions file offline: metrics as JSON on stdout, a summary table on stderr."""
    import warnings

    from dybench.scoring import metrics_json, print_score_summary, score_predictions

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = score_predictions(task.value, predictions, data)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    print_score_summary(task.value, metrics, notes)
    typer.echo(metrics_json(metrics))


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Where the clips, pairs, results and log go."),
    n: int = typer.Option(96, "--n", min=1, help="DyBench-Synth test clips to render (about a third are kept)."),
    seed: int = typer.Option(1, "--seed", help="Seed of the clips and the random baseline (0 made the models' data)."),
    trained: bool = typer.Option(True, "--trained/--floor-only", help="Also evaluate the shipped tiny models."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show lmms-eval's progress bars and warnings."),
) -> None:
    """Does correctness-only RL teach a shortcut? Floor models and the shipped start, GRPO and CRPO
    models on fresh held-out pairs, offline, in about a minute."""
    from dybench.demo import demo

    demo(out, n=n, seed=seed, trained=trained, verbose=verbose)


# tiny-model (dybench.testing), train (dybench.train)
class ArchChoice(StrEnum):
    """``dybench.testing.ARCHES`` (a test checks they agree)."""

    qwen2_5_vl = "qwen2_5_vl"
    qwen3_vl = "qwen3_vl"


@app.command("tiny-model")
def tiny_model(
    arch: ArchChoice = typer.Option(..., "--arch", help="The model family."),
    out: Path = typer.Option(..., "--out", help="Folder to write the checkpoint to (replaced if it exists)."),
    seed: int = typer.Option(0, "--seed", help="Weight-init seed; the same seed gives the same checkpoint."),
    init_std: float | None = typer.Option(
        None, "--init-std", help="Std of the random weights (default transformers' 0.02; 0.1 lets video through)."
    ),
    width: int = typer.Option(64, "--width", help="Language model width (a multiple of 32); vision is half as wide."),
    layers: int = typer.Option(2, "--layers", min=1, help="Language model layers (and vision blocks)."),
) -> None:
    """Build a tiny random Qwen2.5-VL / Qwen3-VL checkpoint with a locally trained tokenizer (offline)."""
    from dybench.testing import build_tiny_model

    if init_std is not None and not init_std > 0:
        raise typer.BadParameter(f"--init-std must be positive, got {init_std}")
    try:
        typer.echo(build_tiny_model(arch.value, out, seed=seed, init_std=init_std, width=width, layers=layers))
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e


class MethodChoice(StrEnum):
    """``dybench.train.METHODS`` (a test checks they agree; listed here so the CLI starts without them)."""

    grpo = "grpo"
    sft = "sft"
    tgrpo = "tgrpo"
    arrowrl = "arrowrl"
    crpo = "crpo"
    bias = "bias"
    cdpo = "cdpo"


class _TrainCommand(_Command):
    """``dybench train --help`` ends with every training setting and its default, read from ``TrainConfig``
    when help is asked for (the config module loads YAML, which every other command can do without)."""

    def format_help(self, ctx, formatter):
        self.epilog = _settings_help()
        return super().format_help(ctx, formatter)


def _settings_help() -> str:
    """``key=default`` for every field of ``TrainConfig``, as one wrapped paragraph (escaped: rich markup)."""
    import dataclasses

    from rich.markup import escape

    from dybench.train import TrainConfig

    def default(f: dataclasses.Field) -> object:
        if f.default_factory is not dataclasses.MISSING:
            return f.default_factory()
        return "(required)" if f.default is dataclasses.MISSING else f.default

    lines = []
    for f in dataclasses.fields(TrainConfig):
        text = repr(default(f))
        line = f"{f.name}={text if len(text) <= 48 else text[:45] + '...'}"
        if "choices" in f.metadata:
            line += f" ({'|'.join(f.metadata['choices'])})"
        if "range" in f.metadata:
            line += f" ({f.metadata['range']})"
        lines.append(escape(line))
    return (
        "Settings (key=value; a --config recipe sets them too), with their defaults (and allowed values):\n\n"
        + "   ".join(lines)
    )


@app.command("train", cls=_TrainCommand)
def train_command(
    method: MethodChoice = typer.Argument(..., help="The training method (docs/research.md)."),
    settings: list[str] | None = typer.Argument(None, help="More settings as key=value (listed below)."),
    model: str | None = typer.Option(None, "--model", help="Policy checkpoint folder."),
    data: str | None = typer.Option(None, "--data", help="Pairs dataset folder or Video-R1 json."),
    output_dir: str | None = typer.Option(None, "--output-dir", help="Run folder (resumes if it has a checkpoint)."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Optimiser steps."),
    config: Path | None = typer.Option(None, "--config", help="YAML recipe (recipes/*.yaml)."),
    bias_model: str | None = typer.Option(None, "--bias-model", help="cdpo: the bias model folder."),
    smoke: bool = typer.Option(
        False, "--smoke", help="2 steps of tiny rollouts (about a minute on a CPU): try a model and data first."
    ),
) -> None:
    """Train with SFT, GRPO, T-GRPO, ArrowRL, CRPO, the CDPO bias stage or CDPO (recipes/, docs/research.md)."""
    from dybench.train import load_config, train

    cfg = load_config(
        config,
        settings or [],
        smoke=smoke,
        method=method.value,
        model=model,
        data=data,
        output_dir=output_dir,
        max_steps=max_steps,
        bias_model=bias_model,
    )
    typer.echo(train(cfg))


# reproduce (dybench.reproduce)
class TargetChoice(StrEnum):
    """``dybench.reproduce.TARGETS`` (a test checks they agree)."""

    crpo = "crpo"
    cdpo = "cdpo"
    grpo = "grpo"


class PresetChoice(StrEnum):
    """``dybench.reproduce._presets.PRESET_NAMES`` (a test checks they agree)."""

    tiny = "tiny"
    paper = "paper"


@app.command("reproduce")
def reproduce_command(
    target: TargetChoice = typer.Argument(
        ..., help="crpo or cdpo, each with its GRPO baseline; grpo: the baseline alone."
    ),
    settings: list[str] | None = typer.Argument(
        None, help="Training settings applied on top of every recipe, key=value (e.g. max_steps=50)."
    ),
    preset: PresetChoice = typer.Option(
        PresetChoice.tiny, "--preset", help="tiny (CPU, no downloads) or paper (GPUs, local weights)."
    ),
    model: Path | None = typer.Option(None, "--model", help="Local base checkpoint (paper preset)."),
    train_data: Path | None = typer.Option(None, "--train-data", help="Pairs dataset or Video-R1 json."),
    eval_data: Path | None = typer.Option(None, "--eval-data", help="Pairs dataset to evaluate on."),
    bias_data: Path | None = typer.Option(None, "--bias-data", help="cdpo: the bias model's shortcut subset."),
    output_dir: Path | None = typer.Option(None, "--output-dir", help="Run folder (resumes if it exists)."),
    results_dir: Path | None = typer.Option(None, "--results-dir", help="Leaderboard folder for the results."),
    seeds: str | None = typer.Option(None, "--seeds", help="Training seeds, e.g. 0,1,2 (default: the preset's)."),
    ablation_seeds: str | None = typer.Option(
        None,
        "--ablation-seeds",
        help="Seeds the ablation rows train on, e.g. 0, or none (default: the preset's; tiny crpo: 0); given, it "
        "also trains the opt-in rows (tiny: crpo's GRPO at CRPO's batch, cdpo's bias_beta sweep).",
    ),
    extra_runs: str | None = typer.Option(
        None, "--extra-runs", help="More rows of the preset, e.g. tgrpo,arrowrl (crpo: CRPO's table), or all."
    ),
    bench: list[str] | None = typer.Option(
        None, "--bench", help="A benchmark's data, NAME=PATH (repeat; --dry-run lists the preset's benchmarks)."
    ),
    video_root: Path | None = typer.Option(
        None, "--video-root", help="Folder the Video-R1 jsons' video paths are relative to (training and --bench)."
    ),
    synthetic: bool = typer.Option(
        False, "--synthetic", help="paper preset: train and test on DyBench-Synth instead of the paper's data."
    ),
    confirm: bool = typer.Option(
        False,
        "--confirm",
        help="Also evaluate every model on a second test split from a seed no setting was "
        "chosen on, and check the premise and the verdicts there (tiny preset; ~3 min more).",
    ),
    train_start: bool = typer.Option(
        False,
        "--train-start",
        help="tiny preset: train the start model here (dybench train sft) instead of "
        "starting RL from the shipped one the preset was measured from (another CPU can end elsewhere).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the inputs and print the plan; run nothing."),
) -> None:
    """Reproduce CRPO / CDPO against GRPO: data, training, lmms-eval, leaderboard, report; resumable."""
    from dybench.reproduce import reproduce
    from dybench.train import parse_overrides

    def seed_list(option: str, text: str | None) -> list[int] | None:
        """``0,1,2`` or ``0 1 2`` as integers; ``none`` (ablation rows only) as no seed."""
        if text is None or (option == "--seeds" and not text):
            return None
        if option == "--ablation-seeds" and text.strip().lower() in ("none", ""):
            return []
        try:
            return [int(s) for s in text.replace(",", " ").split()]
        except ValueError as e:
            raise typer.BadParameter(f"{option} {text!r}: give integers, e.g. 0,1,2") from e

    try:
        overrides = parse_overrides(settings or [])
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    benchmarks = {}
    for item in bench or []:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise typer.BadParameter(f"--bench {item!r}: write it as NAME=PATH, e.g. mmvu=eval_mmvu.json")
        benchmarks[name.strip()] = Path(path.strip())
    try:
        done = reproduce(
            target.value, preset=preset.value, model=model, train_data=train_data, eval_data=eval_data,
            bias_data=bias_data, output_dir=output_dir, results_dir=results_dir, seeds=seed_list("--seeds", seeds),
            ablation_seeds=seed_list("--ablation-seeds", ablation_seeds), dry_run=dry_run,
            extra_runs=[r.strip() for r in extra_runs.split(",") if r.strip()] if extra_runs else None,
            bench=benchmarks or None, video_root=video_root, synthetic=synthetic, confirm=confirm,
            train_start=train_start,
            train_overrides=overrides or None,
            log=lambda line: typer.echo(line, err=True),
        )  # fmt: skip
    except ValueError as e:  # a bad preset or target name; its own errors are UserErrors
        raise UserError(str(e)) from e
    if dry_run:
        typer.echo(done.plan.describe())
        raise typer.Exit(1 if done.plan.problems else 0)
    typer.echo(f"report: {done.report} ({done.wall_s / 60:.1f} min)")


# leaderboard (leaderboard/app.py)
@app.command()
def leaderboard(
    results: Path | None = typer.Option(
        None, "--results", envvar="DYBENCH_RESULTS", help="lmms-eval results folder (default: bundled runs)."
    ),
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="Port on 127.0.0.1."),
    data: list[Path] | None = typer.Option(
        None, "--data", help="A pairs dataset held to verify submitted samples against (repeatable)."
    ),
) -> None:
    """Serve the leaderboard (Gradio) on 127.0.0.1 over a folder of lmms-eval results files."""
    from dybench.shipped import shipped_module

    try:
        serve = shipped_module("leaderboard", "app").serve
    except ModuleNotFoundError as e:
        typer.secho(f"error: {e}; install the extra: pip install 'dybench[leaderboard]'", fg="red", err=True)
        raise typer.Exit(1) from e
    try:
        serve(results, port=port, data=tuple(data or ()))
    except FileNotFoundError as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        raise typer.Exit(1) from e


# verify, compare (dybench.results)
@app.command()
def verify(
    results: Path = typer.Argument(
        ..., help="A *_results.json (its *_samples_<task>.jsonl beside it) or a folder of runs."
    ),
    data: list[Path] | None = typer.Option(
        None, "--data", help="A pairs dataset held to verify the samples against (repeatable)."
    ),
) -> None:
    """The label the leaderboard would give each run (verified, arithmetic verified, mismatch, self-reported)
    and why; exit 0 only when every run is verified."""
    from dybench.results import verification_text, verify_results

    listing = verify_results(results, data=data or ())
    typer.echo(verification_text(listing))
    raise typer.Exit(0 if listing.all_verified else 1)


@app.command()
def compare(
    run_a: str = typer.Argument(..., help="Run id (or a unique prefix) in --results, or a results JSON file."),
    run_b: str = typer.Argument(..., help="The other run, the same way."),
    results: Path | None = typer.Option(
        None, "--results", envvar="DYBENCH_RESULTS", help="lmms-eval results folder (default: bundled runs)."
    ),
    data: list[Path] | None = typer.Option(
        None, "--data", help="A pairs dataset the runs were scored on, held as reference data (repeatable)."
    ),
    task: str | None = typer.Option(
        None,
        "--task",
        help="The dybench_pair task to compare on (default: the first both runs have, dybench_pair "
        "before dybench_pair_r1).",
    ),
) -> None:
    """Two verified runs pair by pair: P-Acc difference, McNemar's exact test, the pairs they disagree on."""
    from dybench.results import compare as compare_runs
    from dybench.results import comparison_text

    typer.echo(comparison_text(compare_runs(run_a, run_b, results=results, data=data or (), task=task)))


if __name__ == "__main__":
    app()
