"""The reproduction as a list of stages: data -> (bias model) -> train -> evaluate -> leaderboard -> report.

``make_plan`` resolves a target (crpo, cdpo, grpo), a preset and the user's inputs into stages (see
``stages.py`` for how they skip and resume); ``reproduce`` runs them, or with ``dry_run`` only checks the
inputs and returns the plan, whose ``describe()`` lists each stage's command and expected compute.
Where the stages write is ``layout.py``'s.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dybench.evaluation import QA_VIDEOS, location_of
from dybench.reproduce import _data_stages as data_stages
from dybench.reproduce._checks import (
    ReproduceInputError,
    eval_data_problems,
    model_parameters_b,
    model_problems,
    train_data_problems,
)
from dybench.reproduce._layout import CONFIRM, Layout
from dybench.reproduce._presets import COMPUTE_NOTE, HUB_IDS, Preset, Target, get_preset, recipes_dir
from dybench.reproduce._stages import (
    Stage,
    StageRecord,
    marker_path,
    missing_files,
    model_folder_problem,
    read_marker,
    run_stages,
)
from dybench.reproduce._summary import PaperColumn, ReportInput, RunInfo, StageInfo, logged_results
from dybench.shipped import shipped_data
from dybench.synth import synth_command


@dataclass(frozen=True)
class TrainRun:
    """One training run of the plan."""

    method: str
    seed: int
    label: str
    model: Path
    data: Path
    output_dir: Path
    bias_model: Path | None = None
    recipe: Path | None = None
    """The recipe it trains with (None: the preset's recipe for ``method``)."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """An ablation: the settings it changes on that recipe."""


@dataclass(frozen=True)
class Plan:
    """A resolved reproduction: its stages, and the problems that stop it (empty when it can run)."""

    target: Target
    preset: Preset
    output_dir: Path
    results_dir: Path
    seeds: tuple[int, ...]
    stages: tuple[Stage, ...]
    runs: tuple[TrainRun, ...]
    eval_labels: tuple[str, ...]
    """Every evaluated model: ``base``, then ``<run>-s<seed>``."""
    test_pairs: Path | None
    """The pairs dataset every model is evaluated on (None: none given, the paper presets)."""
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    bench: Mapping[str, Path] = field(default_factory=dict)
    """The preset's benchmarks whose data was given, and where."""
    confirm_pairs: Path | None = None
    """The confirmation split's pairs (``--confirm``), on which every model is evaluated as well."""

    @property
    def layout(self) -> Layout:
        return Layout(self.output_dir)

    def describe(self) -> str:
        """The plan as text: inputs, then each stage with its command and expected compute."""
        lines = [
            f"dybench reproduce {self.target} --preset {self.preset.name}: {len(self.stages)} stages, "
            f"seeds {', '.join(map(str, self.seeds))}",
            f"output folder: {self.output_dir}",
            f"leaderboard folder: {self.results_dir}",
        ]
        lines += [f"note: {n}" for n in self.notes]
        if self.preset.needs or self.preset.benchmarks:
            lines.append("inputs:")
            lines += [f"  {need}: {what}" for need, what in self.preset.needs.items()]
            test = str(self.test_pairs) if self.test_pairs is not None else "not given (--eval-data)"
            lines.append(f"  test pairs ({', '.join(self.preset.evaluation.tasks)}): {test}")
            ev = self.preset.evaluation
            lines.append(f"benchmarks (every model; {ev.model_class} {ev.model_args} {ev.gen_kwargs}):")
            for name, bench in self.preset.benchmarks.items():
                where = self.bench.get(name, "NOT GIVEN (--bench NAME=PATH)")
                extra = f" {bench.model_args}" if bench.model_args else ""
                lines.append(f"  {name}: {','.join(bench.tasks)}{extra}; data {where}; {bench.about}")
        for i, stage in enumerate(self.stages, 1):
            lines.append(f"[{i:>2}] {stage.name} ({stage.kind}) - {stage.description}")
            lines.append(f"     $ {stage.command}")
            if stage.estimate:
                lines.append(f"     expected compute: {stage.estimate}")
        lines.append(f"expected compute in all: {total_estimate(self)}")
        if self.preset.gpu_hours:
            lines.append(COMPUTE_NOTE)
        if self.problems:
            lines.append("PROBLEMS (nothing will run until they are fixed):")
            lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "target": self.target,
            "preset": self.preset.name,
            "output_dir": str(self.output_dir),
            "results_dir": str(self.results_dir),
            "seeds": list(self.seeds),
            "stages": [
                {"name": s.name, "kind": s.kind, "command": s.command, "estimate": s.estimate, "deps": list(s.deps)}
                for s in self.stages
            ],
            "problems": list(self.problems),
        }

    def report_input(self) -> ReportInput:
        """What the report reads, from this plan and the files its stages wrote so far: each evaluated
        model's logged answers, and how often they follow the cue planted in DyBench-Synth test data."""
        from dybench.synth import answer_diagnostics, planted_cues

        lay = self.layout
        cues = planted_cues(self.test_pairs, lay.synth("test")) if self.test_pairs is not None else {}
        confirm_cues = planted_cues(self.confirm_pairs, lay.synth(CONFIRM)) if self.confirm_pairs else {}

        def evaluated(label: str, method: str, seed: int | None, metrics: Path | None = None,
                      split: str | None = None) -> RunInfo:  # fmt: skip
            answers = tuple(logged_results(lay.eval(label, split)))
            diagnostics = answer_diagnostics({a.item_id: a.pred for a in answers}, confirm_cues if split else cues)
            benchmarks = {b: lay.results(label, b) for b in self.bench} if split is None else {}
            return RunInfo(label, method, seed, lay.results(label, split), answers, diagnostics, metrics, benchmarks)

        # the start model, then every training run's model (the start model is the base row)
        models: list[tuple[str, str, int | None, Path | None]] = [("base", "base", None, None)]
        models += [(r.label, r.method, r.seed, r.output_dir / "metrics.jsonl") for r in self.runs if r.method != "sft"]
        runs = [evaluated(*m) for m in models]
        confirmation = [evaluated(*m, split=CONFIRM) for m in models] if self.confirm_pairs else []
        planned = {r.method for r in self.runs}  # ablation rows are in the report only when this plan runs them
        ablations = {name: (a.base, a.settings) for name, a in self.preset.ablations.items() if name in planned}
        compared = [m for m in self.preset.compared if m in planned]
        return ReportInput(
            target=self.target,
            preset=self.preset.name,
            seeds=self.seeds,
            runs=tuple(runs),
            compared=tuple(compared),
            ablations=ablations,
            tasks=self.preset.evaluation.tasks,
            test_data=_describe_pairs(self.test_pairs),
            stages=tuple(_stage_info(self.output_dir, stage) for stage in self.stages),
            published=lay.published,
            results_dir=self.results_dir,
            warmup=lay.start_run if any(r.method == "sft" for r in self.runs) else None,  # trained here
            report_md=lay.report_md,
            report_json=lay.report_json,
            plots=lay.plots,
            preset_notes=(f"How this preset's settings were chosen: {self.preset.docs}",) if self.preset.docs else (),
            notes=self.notes,
            paper_columns=self.paper_columns(),
            reported_rows=self.preset.reported_rows,
            confirmation=tuple(confirmation),
            confirm_data=_describe_pairs(self.confirm_pairs) if self.confirm_pairs else "",
        )

    def paper_columns(self) -> tuple[PaperColumn, ...]:
        """The paper's table columns this preset measures, each marked with whether its data was given."""
        spec = self.preset
        columns = [PaperColumn("dybench", spec.evaluation.tasks[0], metric, column, self.test_pairs is not None)
                   for metric, column in spec.pairs_columns.items()]  # fmt: skip
        for name, bench in spec.benchmarks.items():
            columns += [PaperColumn(name, bench.tasks[0], metric, column, name in self.bench)
                        for metric, column in bench.columns.items()]  # fmt: skip
        return tuple(columns)


def total_estimate(plan: Plan) -> str:
    """Sum of the per-stage estimates of the preset (GPU-hours, or CPU minutes)."""
    kinds = [s.kind for s in plan.stages]
    if plan.preset.gpu_hours:
        hours = sum(plan.preset.gpu_hours.get(k, 0.0) for k in kinds)
        return f"~{hours:.1f} GPU-hours (estimate)"
    minutes = sum(plan.preset.cpu_minutes.get(k, 0.0) for k in kinds)
    return f"~{minutes:.0f} min on 2 free CPU cores (estimate; a shared CPU is slower)"


@dataclass(frozen=True)
class Reproduction:
    """What ``reproduce`` did."""

    plan: Plan
    records: tuple[StageRecord, ...] = ()
    report: Path | None = None
    wall_s: float = 0.0
    """Wall time of this call."""


def make_plan(
    target: Target,
    *,
    preset: str | Preset = "tiny",
    model: str | os.PathLike | None = None,
    train_data: str | os.PathLike | None = None,
    eval_data: str | os.PathLike | None = None,
    bias_data: str | os.PathLike | None = None,
    output_dir: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    seeds: Sequence[int] | None = None,
    ablation_seeds: Sequence[int] | None = None,
    extra_runs: Sequence[str] | None = None,
    bench: Mapping[str, str | os.PathLike] | None = None,
    video_root: str | os.PathLike | None = None,
    synthetic: bool = False,
    confirm: bool = False,
    train_start: bool = False,
    train_overrides: Mapping[str, Any] | None = None,
) -> Plan:
    """Resolve the stages of ``dybench reproduce target``; input problems are collected, not raised.

    ``extra_runs``: rows of the preset's ``extra_runs`` to add (``["all"]`` for every one). ``bench``: each of
    the preset's benchmarks' data (a QA json or a folder), ``video_root`` the folder a QA json's videos are
    relative to. ``synthetic``: a preset that ``needs`` the user's data (the paper presets) trains and tests on
    its DyBench-Synth data instead, on purpose. ``confirm``: every model is also evaluated on the confirmation split
    (``SynthData.confirm_seed``), where the report checks the premise and compares the methods again.
    ``train_start``: a preset with a shipped start model (``Preset.start_model``) trains its start here instead."""
    spec = preset if isinstance(preset, Preset) else get_preset(preset, target)
    problems: list[str] = []
    if extra_runs:
        wanted = list(spec.extra_runs) if "all" in extra_runs else list(dict.fromkeys(extra_runs))
        unknown = [r for r in wanted if r not in spec.extra_runs]
        if unknown:
            problems.append(f"--extra-runs {','.join(unknown)}: this preset's extra rows are "
                            f"{', '.join(spec.extra_runs) or 'none'}")  # fmt: skip
        spec = spec.replace(runs=(*spec.runs, *(r for r in wanted if r in spec.extra_runs and r not in spec.runs)))
    if ablation_seeds is not None:
        spec = spec.replace(ablation_seeds=tuple(ablation_seeds))
    else:  # the preset's default seeds train the rows that are not opt-in
        spec = spec.replace(ablations={name: a for name, a in spec.ablations.items() if not a.opt_in})
    if train_overrides:
        spec = spec.replace(train={**spec.train, **train_overrides})
    if video_root is not None:  # a Video-R1 json's videos: where training reads them too
        spec = spec.replace(train={**spec.train, "video_root": str(Path(video_root).expanduser().resolve())})
    out = Path(output_dir or f"reproduce-{target}-{spec.name}").expanduser().resolve()
    lay = Layout(out)
    results = Path(results_dir).expanduser().resolve() if results_dir else lay.leaderboard
    seeds = tuple(spec.seeds if seeds is None or not len(seeds) else seeds)
    notes: list[str] = []
    stages: list[Stage] = []
    runs = spec.runs

    # --- inputs ---------------------------------------------------------------------------------------
    model, train_data, eval_data, bias_data, video_root = (
        Path(p).expanduser() if p is not None else None for p in (model, train_data, eval_data, bias_data, video_root)
    )
    given = {"model": model, "train_data": train_data, "bias_data": bias_data, "eval_data": eval_data}
    synthesize = synthetic or not spec.needs  # the paper presets never fall back on synthetic data silently
    for need, what in spec.needs.items():
        if given.get(need) is None and not (synthetic and need != "model"):
            flag = "--" + need.replace("_", "-")
            problems.append(f"{flag} is required with --preset {spec.name}: {what}")
    if synthetic and spec.needs:
        notes.append(f"--synthetic: trained and tested on DyBench-Synth data, not the {spec.name} preset's own")
    benches = {name: Path(path).expanduser().resolve() for name, path in (bench or {}).items()}
    unknown = sorted(set(benches) - set(spec.benchmarks))
    if unknown:
        problems.append(f"--bench {', '.join(unknown)}: this preset's benchmarks are "
                        f"{', '.join(spec.benchmarks) or 'none'}")  # fmt: skip
    for name, path in benches.items():
        if name not in spec.benchmarks:
            continue
        location = location_of(spec.benchmarks[name].tasks[0])
        kind = location.kind if location is not None else "folder"
        if not (path.is_file() if kind == "file" else path.is_dir()):
            problems.append(f"--bench {name}={path}: not a {kind}; give {spec.benchmarks[name].about}")
    for name in spec.benchmarks:
        if name not in benches:
            notes.append(f"benchmark {name}: no data given (--bench {name}=PATH), not evaluated")
    if spec.model is None and model is None and spec.start is None and "model" not in spec.needs:
        problems.append(
            f"--model is required with --preset {spec.name}: a local folder of {HUB_IDS[spec.arch]} "
            "(nothing is downloaded)"
        )
    if model is not None:
        problems += model_problems(model, arch=spec.arch, hub_id=HUB_IDS[spec.arch])
        size = model_parameters_b(model)
        if size is not None and spec.model_params_b:
            if size < spec.model_params_b / 4:
                notes.append(
                    f"WARNING: --model has ~{size:.2g}B parameters; the {spec.name} preset's settings (lr, steps, "
                    f"frames) are the papers' for a ~{spec.model_params_b:g}B model and will not carry over"
                )
            if spec.gpu_hours:  # the estimates follow the model's size
                ratio = size / spec.model_params_b
                spec = spec.replace(gpu_hours={k: round(v * ratio, 2) for k, v in spec.gpu_hours.items()})
    if train_data is not None:
        problems += train_data_problems(train_data, video_root, spec.min_questions.get("train_data"))
    if eval_data is not None:
        problems += eval_data_problems(eval_data)
    if bias_data is not None and "bias" in runs:
        bias_problems = train_data_problems(bias_data, video_root, spec.min_questions.get("bias_data"))
        problems += [p.replace("--train-data", "--bias-data") for p in bias_problems]
    if len(set(seeds)) != len(seeds):
        problems.append(f"--seeds {' '.join(map(str, seeds))}: give each seed once")

    # --- data -----------------------------------------------------------------------------------------
    # inputs no stage produces: their fingerprints go into the keys of the stages that read them
    external = {Path(p).expanduser().resolve() for p in (train_data, eval_data, bias_data, model) if p is not None}
    train_pairs: Path | None
    if train_data is None and synthesize:
        stages += _synth_stages(spec, lay, "train")
        train_pairs = lay.pairs("train")
        synth_dir: Path | None = lay.synth("train")
        train_deps: tuple[str, ...] = ("build-train",)
    elif train_data is not None and Path(train_data).is_dir():
        train_pairs, synth_dir, train_deps = Path(train_data).resolve(), None, ()
    else:  # a Video-R1 json, or nothing given (a problem reported above)
        train_pairs, synth_dir, train_deps = None, None, ()
    if train_pairs is not None:
        stages.append(_reading(_train_files_stage(lay, train_pairs, synth_dir, train_deps), external, train_pairs))
        original, shortcut = lay.train_files / "original.json", lay.train_files / "shortcut.json"
        file_deps: tuple[str, ...] = ("train-files",)
    else:  # a Video-R1 json given
        original = shortcut = Path(train_data).resolve() if train_data is not None else Path("<--train-data>")
        file_deps = ()
        if "bias" in runs and bias_data is None and "bias_data" not in spec.needs:
            notes.append("the bias model trains on all of --train-data; pass --bias-data for a shortcut subset")
    if bias_data is not None:
        shortcut = Path(bias_data).resolve()
    test_pairs: Path | None
    test_deps: tuple[str, ...]
    if eval_data is not None:
        test_pairs, test_deps = Path(eval_data).resolve(), ()
    elif synthesize:
        stages += _synth_stages(spec, lay, "test")
        test_pairs, test_deps = lay.pairs("test"), ("build-test",)
    else:
        test_pairs, test_deps = None, ()
        notes.append(f"no pairs dataset (--eval-data): {', '.join(spec.evaluation.tasks)} not evaluated")

    confirm_pairs: Path | None = None
    if confirm:
        if eval_data is None and synthesize and spec.data is not None and spec.data.confirm_seed is not None:
            stages += _synth_stages(spec, lay, CONFIRM)
            confirm_pairs = lay.pairs(CONFIRM)
        else:
            problems.append(
                "--confirm: the confirmation split is drawn like the preset's own DyBench-Synth test split from its "
                "data's confirm_seed; this run has " + ("--eval-data instead" if eval_data is not None else
                f"no such split (preset {spec.name})") + ". Leave --confirm out, or evaluate on a second pairs "
                "dataset with another --eval-data run"
            )  # fmt: skip

    # --- the start model ------------------------------------------------------------------------------
    plan_runs: list[TrainRun] = []
    base_deps: tuple[str, ...]
    if model is not None or spec.model is not None:
        base, base_deps = Path(model or spec.model or "").expanduser().resolve(), ()
    elif spec.start is None or spec.tiny_model is None:  # reported above: this preset needs --model
        base, base_deps = Path("<--model>"), ()
    elif spec.start_model is not None and not train_start:
        shipped = shipped_data(spec.start_model)
        problems += [p.replace("--model", "the shipped start model") for p in
                     model_problems(shipped, arch=spec.arch, hub_id=HUB_IDS[spec.arch])]  # fmt: skip
        stages.append(_start_model_stage(shipped, lay))
        base, base_deps = lay.start_model, ("start-model",)
        notes.append(f"RL starts from the shipped start model {shipped} (--train-start trains one here instead)")
    else:
        start_data, start_deps = (train_pairs, train_deps) if train_pairs else (original, file_deps)
        if train_data is None and synthesize and spec.data is not None and spec.data.n_start:
            stages += _synth_stages(spec, lay, "start")  # the start's own clips, whose motion is all visible
            start_data, start_deps = lay.pairs("start"), ("build-start",)
        start = TrainRun("sft", spec.data.seed if spec.data else 0, "start", lay.init_model, start_data,
                         lay.start_run, recipe=recipes_dir() / spec.start)  # fmt: skip
        stages.append(_reading(_model_init_stage(spec, lay), external))
        stages.append(_reading(_train_stage(spec, start, ("model-init", *start_deps)), external, start_data))
        plan_runs.append(start)
        base, base_deps = start.output_dir / "model", ("train-start",)

    # --- train and evaluate ---------------------------------------------------------------------------
    evaluations = _eval_stages(spec, lay, test_pairs, test_deps, benches, video_root, confirm_pairs)
    stages += [_reading(stage, external, base, test_pairs) for stage in evaluations("base", base, base_deps)]
    eval_labels = ["base"]
    bias_on = original if spec.bias_data == "all" and bias_data is None else shortcut
    data_for = {"bias": bias_on, "crpo": train_pairs}  # the rest train on the original branch
    ablation_seeds = seeds if spec.ablation_seeds is None else tuple(s for s in seeds if s in spec.ablation_seeds)
    # the method and its baseline on every seed first, then the ablations (a cut-short run has the main rows)
    # one bias model (the first seed's) for every CDPO seed unless the preset trains one per seed
    bias_seed = {seed: seed if spec.bias_per_seed else seeds[0] for seed in seeds}
    todo: list[tuple[int, str, str, Mapping[str, Any]]] = [
        (seed, run, run, {}) for seed in seeds for run in runs if run != "bias" or bias_seed[seed] == seed
    ]
    todo += [(seed, name, a.base, a.settings) for seed in ablation_seeds for name, a in spec.ablations.items()]
    for seed, run, role, overrides in todo:
        label = f"{run}-s{seed}"
        bias_label = f"bias-s{bias_seed.get(seed, seeds[0])}"
        bias_model = lay.run(bias_label) / "model" if role == "cdpo" else None
        deps = base_deps + (file_deps if role != "crpo" else train_deps)
        if role == "cdpo":
            deps += (f"train-{bias_label}",)
        if role == "bias" and bias_data is not None:
            deps = base_deps
        train_run = TrainRun(run, seed, label, base, data_for.get(role, original) or original, lay.run(label),
                             bias_model, recipe=spec.recipe(role), overrides=overrides)  # fmt: skip
        plan_runs.append(train_run)
        stages.append(_reading(_train_stage(spec, train_run, deps), external, base, train_run.data))
        trained = evaluations(label, train_run.output_dir / "model", (f"train-{label}",))
        stages += [_reading(stage, external, test_pairs) for stage in trained]
        eval_labels.append(label)

    # --- leaderboard and report -----------------------------------------------------------------------
    all_evals = tuple(s.name for s in stages if s.kind == "eval")
    if test_pairs is not None:  # the leaderboard holds the pairs tasks' results
        pairs_evals = tuple(f"eval-{label}" for label in eval_labels)
        stages.append(_publish_stage(target, spec, lay, results, eval_labels, pairs_evals))
    resolved: list[Plan] = []  # the report stage reads the finished plan (its own stage included)
    report_deps = all_evals + (("leaderboard",) if test_pairs is not None else ())
    stages.append(_report_stage(lay, lambda: resolved[0].report_input(), report_deps))
    plan = Plan(target, spec, out, results, seeds, tuple(stages), tuple(plan_runs), tuple(eval_labels),
                test_pairs, tuple(problems), tuple(notes), bench=benches, confirm_pairs=confirm_pairs)  # fmt: skip
    resolved.append(plan)
    return plan


def reproduce(
    target: Target,
    *,
    dry_run: bool = False,
    log: Callable[[str], None] = print,
    **inputs: Any,
) -> Reproduction:
    """Run (or resume) a reproduction; with ``dry_run``, check the inputs and return the plan only.

    ``inputs`` are :func:`make_plan`'s (preset, model, train_data, eval_data, bias_data, output_dir,
    results_dir, seeds, train_overrides). A dry run runs nothing and raises nothing for bad inputs:
    they are listed in ``plan.problems`` (and in ``plan.describe()``). Otherwise raises
    :class:`ReproduceInputError` listing every input problem before anything runs, and ``StageError``
    when a stage fails (rerun the same call to resume from that stage).
    """
    t0 = time.perf_counter()
    plan = make_plan(target, **inputs)
    if dry_run:
        return Reproduction(plan)
    if plan.problems:
        raise ReproduceInputError(list(plan.problems))
    from dybench.fileio import exclusive, write_json_atomic

    plan.output_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(plan.output_dir, "dybench reproduce"):
        write_json_atomic(plan.output_dir / "plan.json", plan.to_json())
        records = run_stages(plan.stages, plan.output_dir, log=log)
    return Reproduction(plan, tuple(records), plan.output_dir / "report.md", time.perf_counter() - t0)


# --- stage builders ----------------------------------------------------------------------------------


def _synth_stages(spec: Preset, lay: Layout, split: str) -> list[Stage]:
    d = spec.data
    if d is None:
        raise ValueError(f"preset {spec.name} has no synthetic data to make")
    synth_settings = d.synth_settings(split)
    n = synth_settings["n"]
    subtle = ""
    if "subtle" in synth_settings:
        travel = synth_settings.get("subtle_travel")
        how = "too small to see" if travel is None else f"{travel:g}x as far (hard to see)"
        subtle = f"; {synth_settings['subtle']:g} of them with motion {how}"
    src, out = lay.synth(split), lay.pairs(split)
    lossless = spec.name == "tiny"
    return [
        Stage(
            name=f"synth-{split}",
            kind="synth",
            description=f"render {n} DyBench-Synth {split} clips, seed {synth_settings['seed']} "
            f"({', '.join(d.categories)}; bias {d.bias}{subtle})",
            run=lambda: data_stages.synthesize_split(d, src, split),
            outputs=(src,),
            command=synth_command(src, synth_settings),
            settings=synth_settings,
            check=lambda: missing_files(src / "annotations.jsonl"),
            estimate=_estimate(spec, "synth"),
        ),
        Stage(
            name=f"build-{split}",
            kind="build",
            description=f"build the {split} counterfactual pairs (hflip, reverse)",
            run=lambda: data_stages.build_split(src, out, lossless=lossless, selection=d.selection),
            outputs=(out,),
            command=f"dybench build --src {src} --out {out}"
            + (" --lossless" if lossless else "")
            + (f" --annotations {src}/annotations.{d.selection}.jsonl" if d.selection != "all" else ""),
            settings={"lossless": lossless, "selection": d.selection},
            deps=(f"synth-{split}",),
            check=lambda: data_stages.pairs_problem(out),
            estimate=_estimate(spec, "build"),
        ),
    ]


def _start_model_stage(shipped: Path, lay: Layout) -> Stage:
    out = lay.start_model
    return Stage(
        name="start-model",
        kind="model",
        description=f"the shipped start model {shipped.name} in float32 (the start the regime was measured from)",
        run=lambda: data_stages.copy_in_float32(shipped, out),
        outputs=(out,),
        command=f"(python) dybench.reproduce._data_stages.copy_in_float32({shipped}, {out})",
        settings={"shipped": shipped.name, "dtype": "float32"},
        check=lambda: model_folder_problem(out),
        estimate="seconds",
        inputs=(shipped,),  # its files' fingerprints: another shipped start reruns everything after it
    )


def _reading(stage: Stage, external: set[Path], *reads: Path | None) -> Stage:
    """``stage`` with the external inputs among ``reads`` declared, so that its key follows their contents."""
    found = tuple(dict.fromkeys(p for p in reads if p is not None and p in external))
    return replace(stage, inputs=found) if found else stage


def _train_files_stage(lay: Layout, pairs: Path, synth_dir: Path | None, deps: tuple[str, ...]) -> Stage:
    out = lay.train_files
    files = (out / "original.json", out / "shortcut.json")
    return Stage(
        name="train-files",
        kind="data",
        description="original branch as Video-R1 json (GRPO, CDPO) and the shortcut subset (bias model)",
        run=lambda: data_stages.write_training_files(pairs, out, synth_dir=synth_dir),
        outputs=files,
        command=f"(python) dybench.reproduce._data_stages.write_training_files({pairs}, {out})",
        settings={"pairs": str(pairs), "synth": str(synth_dir), "format": 1},
        deps=deps,
        check=lambda: missing_files(*files),
        estimate="seconds",
    )


def _model_init_stage(spec: Preset, lay: Layout) -> Stage:
    tiny = spec.tiny_model
    assert tiny is not None
    seed = spec.data.seed if spec.data else 0

    def build() -> None:
        from dybench.testing import build_tiny_model

        build_tiny_model(spec.arch, lay.init_model, seed=seed, init_std=tiny.init_std, width=tiny.width,
                         layers=tiny.layers)  # fmt: skip

    return Stage(
        name="model-init",
        kind="model",
        description=f"build a tiny random {spec.arch} model offline (seed {seed})",
        run=build,
        outputs=(lay.init_model,),
        command=f"dybench tiny-model --arch {spec.arch} --out {lay.init_model} --seed {seed}"
        + (f" --init-std {tiny.init_std:g}" if tiny.init_std is not None else "")
        + f" --width {tiny.width} --layers {tiny.layers}",
        settings={"arch": spec.arch, "seed": seed, **dataclasses.asdict(tiny)},
        check=lambda: model_folder_problem(lay.init_model),
        estimate=_estimate(spec, "model"),
    )


def _train_config(spec: Preset, run: TrainRun):
    """The run's ``TrainConfig``: its recipe (which names the trainer method), the plan's paths, the ablation's
    settings and the preset's settings on top.

    The run's name and the trainer method differ in one place: the tiny preset trains its bias model with
    ``grpo`` (see recipes/reproduce_tiny_bias.yaml).
    """
    from dybench.train import load_config

    settings = {**({} if run.method == "sft" else spec.train), **run.overrides}  # an ablation's own settings win
    # a setting cleared on purpose (bias_kl_max: null) is a command-line override: an argument of None means "not
    # given" and would leave the recipe's value in place
    cleared = [f"{key}=null" for key, value in settings.items() if value is None]
    return load_config(
        run.recipe or spec.recipe(run.method),
        cleared,
        model=str(run.model),
        data=str(run.data),
        output_dir=str(run.output_dir),
        seed=run.seed,
        bias_model=str(run.bias_model) if run.bias_model else None,
        **{k: v for k, v in settings.items() if v is not None},
    )


def _train_stage(spec: Preset, run: TrainRun, deps: tuple[str, ...]) -> Stage:
    cfg = _train_config(spec, run)
    extra = {**({} if run.method == "sft" else spec.train), **run.overrides}
    settings = [f"seed={run.seed}"] + [f"{k}={'null' if v is None else v}" for k, v in extra.items()]
    if run.bias_model is not None:
        settings.append(f"bias_model={run.bias_model}")
    recipe = run.recipe or spec.recipe(run.method)
    command = (
        f"dybench train {cfg.method} --config {recipe} --model {run.model} --data {run.data} "
        f"--output-dir {run.output_dir} {' '.join(settings)}"
    )
    if spec.launcher == "accelerate":
        processes = spec.run_processes.get(run.method, spec.num_processes)
        command = (
            f"accelerate launch --num_processes {processes} --use_deepspeed --zero_stage 3 "
            f"--mixed_precision bf16 -m dybench.train {command.removeprefix('dybench train ')}"
        )

    def train() -> None:
        if spec.launcher == "accelerate":
            import subprocess

            subprocess.run(shlex.split(command), check=True)
        else:
            from dybench.train import train as run_training

            run_training(cfg)
        if cfg.method == "sft":
            _check_start(cfg, run.output_dir)

    what = "the start model (supervised, from the tiny random model)" if cfg.method == "sft" else (
        f"{run.method} from the start model")  # fmt: skip
    return Stage(
        name=f"train-{run.label}",
        kind="train",
        description=f"{what}, seed {run.seed}, up to {cfg.max_steps} steps"
        + (f" (trainer method {cfg.method})" if cfg.method not in (run.method, "sft") else "")
        + (f" (ablation: {', '.join(f'{k}={v}' for k, v in run.overrides.items())})" if run.overrides else ""),
        run=train,
        outputs=(run.output_dir,),
        command=command,
        settings={"config": cfg.to_dict()},
        deps=deps,
        check=lambda: model_folder_problem(run.output_dir / "model"),
        estimate=_estimate(spec, "train"),
    )


def _check_start(cfg: Any, out: Path) -> None:
    """The start model must have reached its recipe's held-back accuracy and answer in the format."""
    import json

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    held = summary.get("held_back") or {}
    if cfg.sft_stop_accuracy is not None and held.get("accuracy", 0.0) < cfg.sft_stop_accuracy:
        raise RuntimeError(
            f"after {summary.get('steps')} sft steps held-back accuracy is {held.get('accuracy')}, short of the "
            f"recipe's sft_stop_accuracy {cfg.sft_stop_accuracy}; raise its max_steps"
        )
    if held.get("format_rate", 0.0) < 0.5:
        raise RuntimeError(
            f"after {summary.get('steps')} sft steps only {held.get('format_rate', 0.0):.0%} of held-back answers "
            "are in the <think>...</think><answer>...</answer> format; raise the recipe's max_steps"
        )


def _eval_stages(
    spec: Preset,
    lay: Layout,
    test_pairs: Path | None,
    test_deps: tuple[str, ...],
    bench: Mapping[str, Path],
    video_root: Path | None,
    confirm_pairs: Path | None = None,
) -> Callable[[str, Path, tuple[str, ...]], list[Stage]]:
    """``make(label, model, deps)``: the evaluation stages of one model: the test pairs (``eval-<label>``), each
    benchmark whose data was given (``eval-<benchmark>-<label>``), then the confirmation split
    (``eval-confirm-<label>``)."""
    from dybench.reproduce._evaluation import evaluate_model, results_problem

    ev = spec.evaluation
    # (benchmark, tasks, data, extra model args, the stages that make the data)
    jobs: list[tuple[str | None, tuple[str, ...], Path, str, tuple[str, ...]]] = []
    if test_pairs is not None:
        jobs.append((None, ev.tasks, test_pairs, "", test_deps))
    jobs += [(name, b.tasks, bench[name], b.model_args, ()) for name, b in spec.benchmarks.items() if name in bench]
    if confirm_pairs is not None:
        jobs.append((CONFIRM, ev.tasks, confirm_pairs, "", (f"build-{CONFIRM}",)))
    env = {QA_VIDEOS: str(video_root)} if video_root is not None else {}
    where = {None: "the test pairs", CONFIRM: "the confirmation split"}

    def one(benchmark: str | None, tasks: tuple[str, ...], data: Path, extra: str, data_deps: tuple[str, ...],
            label: str, model: Path, deps: tuple[str, ...]) -> Stage:  # fmt: skip
        out = lay.eval(label, benchmark)
        model_args = ",".join(a for a in (f"pretrained={model}", ev.model_args, extra) if a)
        command = (f"dybench eval --model {ev.model_class} --model-args {model_args} --tasks {','.join(tasks)} "
                   f"--data {data} --output {out}")  # fmt: skip
        if env:
            command = f"{QA_VIDEOS}={video_root} " + command
        return Stage(
            name=f"eval-{label}" if benchmark is None else f"eval-{benchmark}-{label}",
            kind="eval",
            description=f"evaluate {label} on {where.get(benchmark, benchmark)} with lmms-eval ({','.join(tasks)})",
            run=lambda: evaluate_model(
                ev, model, data, out, label=label, preset=spec.name, tasks=tasks, model_args=extra, env=env
            ),  # fmt: skip
            outputs=(out,),
            command=command,
            settings={
                "evaluation": dataclasses.asdict(ev),
                "tasks": list(tasks),
                "extra": extra,
                "env": env,
                "model": str(model),
                "data": str(data),
                "format": 1,
            },  # fmt: skip
            deps=data_deps + deps,
            check=lambda: results_problem(out / "results.json"),
            estimate=_estimate(spec, "eval"),
            inputs=() if data_deps else (data,),  # data no stage makes: its contents are in the key
        )

    def make(label: str, model: Path, deps: tuple[str, ...]) -> list[Stage]:
        return [one(*job, label, model, deps) for job in jobs]

    return make


def _publish_stage(
    target: Target, spec: Preset, lay: Layout, results: Path, labels: list[str], deps: tuple[str, ...]
) -> Stage:
    from dybench.reproduce._evaluation import publish

    marker = lay.published
    return Stage(
        name="leaderboard",
        kind="publish",
        description=f"store the {len(labels)} results files in the leaderboard folder {results}",
        run=lambda: publish([lay.results(label) for label in labels], results, marker),
        outputs=(marker,),
        command=f"(python) dybench.results.ResultsStore({results}).submit(<each eval/*/results.json>)",
        settings={"results_dir": str(results), "labels": labels},
        deps=deps,
        check=lambda: missing_files(marker),
        estimate="seconds",
    )


def _report_stage(lay: Layout, inputs: Callable[[], ReportInput], deps: tuple[str, ...]) -> Stage:
    from dybench.reproduce._report_markdown import write_report

    return Stage(
        name="report",
        kind="report",
        description="report.md with plots, report.json and the leaderboard rows",
        run=lambda: write_report(inputs()),
        outputs=(lay.report_md, lay.report_json, lay.plots),
        command=f"(python) dybench.reproduce._report_markdown.write_report(<plan of {lay.root}>)",
        settings={"format": 1},
        deps=deps,
        check=lambda: missing_files(lay.report_md, lay.report_json),
        estimate="seconds",
        always=True,
    )


def _estimate(spec: Preset, kind: str) -> str:
    if spec.gpu_hours:
        hours = spec.gpu_hours.get(kind, 0.0)
        if not hours:
            return "CPU, minutes"
        gpus = spec.num_processes if kind == "train" else 1
        return f"~{hours:g} GPU-hours, {gpus} GPU(s) (estimate)"
    minutes = spec.cpu_minutes.get(kind)
    return f"~{minutes:g} min on 2 CPU cores (estimate)" if minutes is not None else ""


def _stage_info(out: Path, stage: Stage) -> StageInfo:
    """``stage`` with the wall time and load average its done-marker recorded (None while not done)."""
    done = read_marker(marker_path(out, stage.name, "done")) or {}
    wall, load, where = done.get("wall_s"), done.get("load_average"), done.get("machine")
    return StageInfo(
        stage.name,
        stage.kind,
        stage.command,
        float(wall) if isinstance(wall, (int, float)) else None,
        float(load) if isinstance(load, (int, float)) else None,
        where if isinstance(where, str) else None,
    )


def _describe_pairs(pairs: Path | None) -> str:
    """``2 pairs, 4 items in <folder>`` (the folder alone when it is not a pairs dataset yet)."""
    from dybench.pairs import load_items

    if pairs is None:
        return "none given"
    try:
        items = load_items(pairs)
    except ValueError:
        return str(pairs)
    return f"{len({i.pair_id for i in items})} pairs, {len(items)} items in {pairs}"
