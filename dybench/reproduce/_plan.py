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

from dybench.reproduce import _data_stages as data_stages
from dybench.reproduce._checks import ReproduceInputError, eval_data_problems, model_problems, train_data_problems
from dybench.reproduce._layout import Layout
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
from dybench.reproduce._summary import ReportInput, RunInfo, StageInfo, logged_results


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
    test_pairs: Path
    """The pairs dataset every model is evaluated on."""
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

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
        cues = planted_cues(self.test_pairs, lay.synth("test"))

        def evaluated(label: str, method: str, seed: int | None, metrics: Path | None = None) -> RunInfo:
            answers = tuple(logged_results(lay.eval(label)))
            diagnostics = answer_diagnostics({a.item_id: a.pred for a in answers}, cues)
            return RunInfo(label, method, seed, lay.results(label), answers, diagnostics, metrics)

        runs = [evaluated("base", "base", None)]  # the start model, then every training run's model
        trained = [r for r in self.runs if r.method != "sft"]  # the start model is the base row
        runs += [evaluated(r.label, r.method, r.seed, r.output_dir / "metrics.jsonl") for r in trained]
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
            warmup=lay.start_run if self.preset.start else None,
            report_md=lay.report_md,
            report_json=lay.report_json,
            plots=lay.plots,
            preset_notes=(f"How this preset's settings were chosen: {self.preset.docs}",) if self.preset.docs else (),
            notes=self.notes,
        )


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
    train_overrides: Mapping[str, Any] | None = None,
) -> Plan:
    """Resolve the stages of ``dybench reproduce target``; input problems are collected, not raised.

    ``extra_runs``: rows of the preset's ``extra_runs`` to add (``["all"]`` for every one)."""
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
    if train_overrides:
        spec = spec.replace(train={**spec.train, **train_overrides})
    out = Path(output_dir or f"reproduce-{target}-{spec.name}").expanduser().resolve()
    lay = Layout(out)
    results = Path(results_dir).expanduser().resolve() if results_dir else lay.leaderboard
    seeds = tuple(spec.seeds if seeds is None or not len(seeds) else seeds)
    notes: list[str] = []
    stages: list[Stage] = []
    runs = spec.runs

    # --- inputs ---------------------------------------------------------------------------------------
    if spec.model is None and model is None and spec.start is None:
        problems.append(
            f"--model is required with --preset {spec.name}: a local folder of {HUB_IDS[spec.arch]} "
            "(nothing is downloaded)"
        )
    if model is not None:
        problems += model_problems(model, arch=spec.arch, hub_id=HUB_IDS[spec.arch])
    if train_data is not None:
        problems += train_data_problems(train_data)
    if eval_data is not None:
        problems += eval_data_problems(eval_data)
    if bias_data is not None and "bias" in runs:
        bias_problems = train_data_problems(bias_data)
        problems += [p.replace("--train-data", "--bias-data") for p in bias_problems]
    if len(set(seeds)) != len(seeds):
        problems.append(f"--seeds {' '.join(map(str, seeds))}: give each seed once")

    # --- data -----------------------------------------------------------------------------------------
    # inputs no stage produces: their fingerprints go into the keys of the stages that read them
    external = {Path(p).expanduser().resolve() for p in (train_data, eval_data, bias_data, model) if p is not None}
    train_pairs: Path | None
    if train_data is None:
        stages += _synth_stages(spec, lay, "train")
        train_pairs = lay.pairs("train")
        synth_dir: Path | None = lay.synth("train")
        train_deps: tuple[str, ...] = ("build-train",)
    elif Path(train_data).is_dir():
        train_pairs, synth_dir, train_deps = Path(train_data).resolve(), None, ()
    else:
        train_pairs, synth_dir, train_deps = None, None, ()
    if train_pairs is not None:
        stages.append(_reading(_train_files_stage(lay, train_pairs, synth_dir, train_deps), external, train_pairs))
        original, shortcut = lay.train_files / "original.json", lay.train_files / "shortcut.json"
        file_deps: tuple[str, ...] = ("train-files",)
    else:  # a Video-R1 json given
        original = shortcut = Path(train_data).resolve()  # type: ignore[arg-type]
        file_deps = ()
        if "bias" in runs and bias_data is None:
            notes.append("the bias model trains on all of --train-data; pass --bias-data for a shortcut subset")
    if bias_data is not None:
        shortcut = Path(bias_data).resolve()
    if eval_data is None:
        stages += _synth_stages(spec, lay, "test")
        test_pairs, test_deps = lay.pairs("test"), ("build-test",)
    else:
        test_pairs, test_deps = Path(eval_data).resolve(), ()

    # --- the start model ------------------------------------------------------------------------------
    plan_runs: list[TrainRun] = []
    if model is not None or spec.model is not None:
        base, base_deps = Path(model or spec.model).expanduser().resolve(), ()  # type: ignore[arg-type]
    elif spec.start is None or spec.tiny_model is None:  # reported above: this preset needs --model
        base, base_deps = Path("<--model>"), ()
    else:
        start_data, start_deps = (train_pairs, train_deps) if train_pairs else (original, file_deps)
        start = TrainRun("sft", spec.data.seed if spec.data else 0, "start", lay.init_model, start_data,
                         lay.start_run, recipe=recipes_dir() / spec.start)  # fmt: skip
        stages.append(_reading(_model_init_stage(spec, lay), external))
        stages.append(_reading(_train_stage(spec, start, ("model-init", *start_deps)), external, start_data))
        plan_runs.append(start)
        base, base_deps = start.output_dir / "model", ("train-start",)

    # --- train and evaluate ---------------------------------------------------------------------------
    evaluate_stage = _eval_stage_factory(spec, lay, test_pairs, test_deps)
    stages.append(_reading(evaluate_stage("base", base, base_deps), external, base, test_pairs))
    eval_labels = ["base"]
    bias_on = original if spec.bias_data == "all" and bias_data is None else shortcut
    data_for = {"bias": bias_on, "crpo": train_pairs}  # the rest train on the original branch
    ablation_seeds = seeds if spec.ablation_seeds is None else tuple(s for s in seeds if s in spec.ablation_seeds)
    # the method and its baseline on every seed first, then the ablations (a cut-short run has the main rows)
    # one bias model (the first seed's) for every CDPO seed unless the preset trains one per seed
    bias_seed = {seed: seed if spec.bias_per_seed else seeds[0] for seed in seeds}
    todo = [(seed, run, run, {}) for seed in seeds for run in runs if run != "bias" or bias_seed[seed] == seed]
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
        trained = evaluate_stage(label, train_run.output_dir / "model", (f"train-{label}",))
        stages.append(_reading(trained, external, test_pairs))
        eval_labels.append(label)

    # --- leaderboard and report -----------------------------------------------------------------------
    eval_stages = tuple(f"eval-{label}" for label in eval_labels)
    stages.append(_publish_stage(target, spec, lay, results, eval_labels, eval_stages))
    resolved: list[Plan] = []  # the report stage reads the finished plan (its own stage included)
    stages.append(_report_stage(lay, lambda: resolved[0].report_input(), eval_stages))
    plan = Plan(target, spec, out, results, seeds, tuple(stages), tuple(plan_runs), tuple(eval_labels),
                test_pairs, tuple(problems), tuple(notes))  # fmt: skip
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
    n = d.n_train if split == "train" else d.n_test
    synth_settings = {
        "n": n, "seed": d.seed, "size": d.size, "frames": d.frames, "fps": d.fps,
        "categories": list(d.categories), "bias": d.bias, "split": split,
    }  # fmt: skip
    distractors = ""
    if d.max_distractors is not None:
        synth_settings["max_distractors"] = d.max_distractors
        distractors = f" --max-distractors {d.max_distractors}"
    if d.travel != 1.0:
        synth_settings["travel"] = d.travel
        distractors += f" --travel {d.travel:g}"
    src, out = lay.synth(split), lay.pairs(split)
    lossless = spec.name == "tiny"
    return [
        Stage(
            name=f"synth-{split}",
            kind="synth",
            description=f"render {n} DyBench-Synth {split} clips ({', '.join(d.categories)}; bias {d.bias})",
            run=lambda: data_stages.synthesize_split(d, src, split),
            outputs=(src,),
            command=(
                f"dybench synth --out {src} --n {n} --seed {d.seed} --size {d.size} --frames {d.frames} "
                f"--fps {d.fps:g} --categories {','.join(d.categories)} --split {split} --bias {shlex.quote(d.bias)}"
                + distractors
            ),
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

    return load_config(
        run.recipe or spec.recipe(run.method),
        [],
        model=str(run.model),
        data=str(run.data),
        output_dir=str(run.output_dir),
        seed=run.seed,
        bias_model=str(run.bias_model) if run.bias_model else None,
        **{**run.overrides, **({} if run.method == "sft" else spec.train)},
    )


def _train_stage(spec: Preset, run: TrainRun, deps: tuple[str, ...]) -> Stage:
    cfg = _train_config(spec, run)
    extra = {**run.overrides, **({} if run.method == "sft" else spec.train)}
    settings = [f"seed={run.seed}"] + [f"{k}={v}" for k, v in extra.items()]
    if run.bias_model is not None:
        settings.append(f"bias_model={run.bias_model}")
    recipe = run.recipe or spec.recipe(run.method)
    command = (
        f"dybench train {cfg.method} --config {recipe} --model {run.model} --data {run.data} "
        f"--output-dir {run.output_dir} {' '.join(settings)}"
    )
    if spec.launcher == "accelerate":
        command = (
            f"accelerate launch --num_processes {spec.num_processes} --use_deepspeed --zero_stage 3 "
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


def _eval_stage_factory(spec: Preset, lay: Layout, test_pairs: Path, test_deps: tuple[str, ...]):
    ev = spec.evaluation

    def make(label: str, model: Path, deps: tuple[str, ...]) -> Stage:
        from dybench.reproduce._evaluation import evaluate_model, results_problem

        model_args = f"pretrained={model}" + (f",{ev.model_args}" if ev.model_args else "")
        tasks = ",".join(ev.tasks)
        command = f"dybench eval --model {ev.model_class} --model-args {model_args} --tasks {tasks} --data {test_pairs}"
        command += f" --output {lay.eval(label)}"
        return Stage(
            name=f"eval-{label}",
            kind="eval",
            description=f"evaluate {label} on the test pairs with lmms-eval ({tasks})",
            run=lambda: evaluate_model(ev, model, test_pairs, lay.eval(label), label=label, preset=spec.name),
            outputs=(lay.eval(label),),
            command=command,
            settings={"evaluation": vars(ev), "model": str(model), "data": str(test_pairs), "format": 1},
            deps=test_deps + deps,
            check=lambda: results_problem(lay.results(label)),
            estimate=_estimate(spec, "eval"),
        )

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
        deps=(*deps, "leaderboard"),
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
    wall, load = done.get("wall_s"), done.get("load_average")
    return StageInfo(
        stage.name,
        stage.kind,
        stage.command,
        float(wall) if isinstance(wall, (int, float)) else None,
        float(load) if isinstance(load, (int, float)) else None,
    )


def _describe_pairs(pairs: Path) -> str:
    """``2 pairs, 4 items in <folder>`` (the folder alone when it is not a pairs dataset yet)."""
    from dybench.pairs import load_items

    try:
        items = load_items(pairs)
    except ValueError:
        return str(pairs)
    return f"{len({i.pair_id for i in items})} pairs, {len(items)} items in {pairs}"
