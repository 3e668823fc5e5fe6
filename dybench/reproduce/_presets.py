"""What `dybench reproduce` runs: presets, read from YAML recipes in ``recipes/`` (``reproduce_<name>.yaml``).

A preset file is headed by the command that runs it and holds, for every target it serves (``targets:``),
the training runs, their recipes, the ablation rows, the data, the start model and the evaluation. A
target's section overrides the file's top-level keys of the same name. ``Preset`` is the typed record a
file becomes; a key the record does not know is an error naming the file and the key.

``tiny`` (the default) runs on a CPU with nothing downloaded (DyBench-Synth data with a planted shortcut, a
tiny Qwen2.5-VL built offline and started by ``dybench train sft``); ``paper`` holds the published settings
for GPUs and local weights. How each tiny setting was chosen is in ``docs/reproduce.md``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from dybench.errors import UserError
from dybench.shipped import shipped_folder
from dybench.testing import Arch

Target = Literal["crpo", "cdpo", "grpo"]
"""What ``dybench reproduce`` reproduces: a method with its GRPO baseline, or the baseline alone."""
TARGETS: tuple[Target, ...] = get_args(Target)
PresetName = Literal["tiny", "paper"]
PRESET_NAMES: tuple[PresetName, ...] = get_args(PresetName)
BASELINE = "grpo"
"""The run every other one is compared with."""
#: Runs that are tools of another method, evaluated for reference but not compared (CDPO's bias model).
TOOLS = ("bias",)


class PresetError(UserError, ValueError):
    """A preset file that cannot be read into a ``Preset``; names the file, the key and the fix."""


def recipes_dir() -> Path:
    """The training recipes: ``recipes/`` in a checkout, ``dybench/_recipes`` in a wheel (``dybench.shipped``)."""
    return shipped_folder("recipes")


@dataclass(frozen=True)
class SynthData:
    """The DyBench-Synth training and test splits a preset generates when no data is given."""

    n_train: int
    """Training clips (each gives one question and its counterfactual pairs)."""
    n_test: int
    """Held-out test clips; every one gives one pair per transform of its category."""
    size: int
    """Frame width and height in pixels."""
    frames: int
    fps: float
    categories: tuple[str, ...]
    bias: str
    """The shortcut rule(s) (``dybench.synth._bias`` grammar): strong on ``train``, 0.5 (no shortcut,
    balanced) on ``test``."""
    seed: int = 0
    """Data seed, fixed across training seeds: every seed trains and is tested on the same clips."""
    max_distractors: int | None = None
    """At most this many objects no question is about (``dybench synth --max-distractors``)."""
    travel: float = 1.0
    """How far a moving target goes, x the default (``dybench synth --travel``; smaller motion is harder to see)."""
    selection: Literal["all", "fixed_order"] = "all"
    """Which synthesized questions are built into pairs: all, or only multiple-choice questions whose
    options come in their family's fixed order (``data.fixed_order``; the tiny preset's choice)."""
    subtle: float = 0.0
    """Share of the TRAINING clips whose target moves too little to see (``dybench synth --subtle``): their
    answer is given by the planted cue alone, so correctness-only RL is paid for the shortcut. The test split
    has none."""
    subtle_travel: float | None = None
    """How far a subtle clip's target moves, x the default (``dybench synth --subtle-travel``; None: synth's
    default, about one pixel at 64x64, too small to see; 0.1: 2-3 pixels, hard to see, the tiny preset's; at 0.25
    the start model already sees it on 0.71 of the clips and GRPO takes no shortcut, docs/reproduce.md)."""
    n_start: int = 0
    """Clips of the start model's own split (``data/start``: drawn like the training split from ``seed``, no
    subtle clips), on which ``start`` fine-tunes; 0: the start fine-tunes on the training split."""
    train_seed: int | None = None
    """The RL training split's data seed (None: ``seed``). With a start split, another seed than ``seed``
    keeps the start model from having seen the RL split's scenes (a small model half-remembers them)."""
    confirm_seed: int | None = None
    """The confirmation split's data seed (``dybench reproduce --confirm``): a second balanced test split, drawn
    like ``test`` (``n_test`` clips) from a seed no setting of the preset was chosen on. The report checks the
    premise and compares the methods on it again, so a result tuned to the test split shows. None: no such split."""

    def synth_settings(self, part: str) -> dict:
        """:func:`dybench.synth.synthesize`'s arguments for one part of the data: ``train`` (the RL training
        split, with its ``subtle`` share), ``start`` (the start model's split), ``test`` or ``confirm`` (the
        confirmation split: ``test`` drawn from ``confirm_seed``)."""
        n = {"train": self.n_train, "start": self.n_start, "test": self.n_test, "confirm": self.n_test}[part]
        seed = {"train": self.train_seed, "confirm": self.confirm_seed}.get(part)
        if part == "confirm" and seed is None:
            raise ValueError("this preset's data has no confirm_seed: there is no confirmation split to draw")
        test = part in ("test", "confirm")
        settings: dict = {
            "n": n, "seed": self.seed if seed is None else seed, "size": self.size, "frames": self.frames,
            "fps": self.fps, "categories": list(self.categories), "bias": self.bias,
            "split": "test" if test else "train",
        }  # fmt: skip
        if self.max_distractors is not None:
            settings["max_distractors"] = self.max_distractors
        if self.travel != 1.0:
            settings["travel"] = self.travel
        if part == "train" and self.subtle:
            settings["subtle"] = self.subtle
            if self.subtle_travel is not None:
                settings["subtle_travel"] = self.subtle_travel
        return settings


@dataclass(frozen=True)
class TinyModel:
    """A model built offline at random (``dybench tiny-model``), for presets that start from nothing."""

    width: int = 64
    layers: int = 2
    init_std: float | None = None
    """Std of its random weights (``dybench.testing.build_tiny_model``)."""


@dataclass(frozen=True)
class Evaluation:
    """How every trained model is evaluated: lmms-eval with dybench's pair tasks on the test pairs."""

    model_class: str
    """lmms-eval model (``qwen2_5_vl``, ``qwen3_vl``)."""
    model_args: str = ""
    """Extra ``--model_args`` after ``pretrained=<checkpoint>``."""
    tasks: tuple[str, ...] = ("dybench_pair_r1",)
    """The R1 variants of the pair tasks: they ask for ``<think>``/``<answer>`` with the trainer's own
    instruction, so the evaluation asks what training taught (see ``_evaluation.py``)."""
    gen_kwargs: str = ""
    batch_size: int = 1
    device: str | None = None

    @property
    def prompt(self) -> str:
        """The prompt style of the tasks: ``r1`` when they are the R1 variants."""
        return "r1" if all("_r1" in t for t in self.tasks) else "default"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark a preset evaluates every model on (the paper presets: the paper's table's columns)."""

    tasks: tuple[str, ...]
    """dybench's lmms-eval task(s) for it (``dybench_pair_r1``, ``dyb_qa_videor1``, ``timeblind``, ...)."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """The task's metric -> the column of ``reported.yaml`` the paper reports it in (``acc`` -> ``CLEVRER_cf``)."""
    about: str = ""
    """Which file of the release to give, and the paper's settings for it."""
    model_args: str = ""
    """Extra ``--model_args`` for this benchmark (e.g. its frame count), after the preset's."""


@dataclass(frozen=True)
class Ablation:
    """An ablation row: a run's recipe with some settings changed."""

    base: str
    """The run whose recipe it starts from (``crpo``, ``cdpo``, ...)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The settings it changes on that recipe."""
    about: str = ""
    """What the row isolates, in a few words (printed in the report)."""
    opt_in: bool = False
    """True: the row trains only when ``--ablation-seeds`` is given (a control the default run has no time for)."""


@dataclass(frozen=True)
class Preset:
    """Everything one ``dybench reproduce TARGET --preset NAME`` run does."""

    name: str
    target: Target
    arch: Arch
    runs: tuple[str, ...]
    """The training runs, in order (the bias model before CDPO): the target, its baseline and rows beside them."""
    recipes: Mapping[str, str]
    """Training run -> recipe file name in ``recipes/``."""
    evaluation: Evaluation
    benchmarks: Mapping[str, Benchmark] = field(default_factory=dict)
    """Benchmarks beyond the test pairs (``evaluation.tasks``), each with its data given by ``--bench NAME=PATH``."""
    needs: Mapping[str, str] = field(default_factory=dict)
    """Inputs the preset cannot run without (``train_data``, ``bias_data``, ``eval_data``, ``model``) -> what
    to give."""
    min_questions: Mapping[str, int] = field(default_factory=dict)
    """``train_data`` / ``bias_data`` -> the fewest scorable questions the released run used."""
    reported_rows: Mapping[str, str] = field(default_factory=dict)
    """Run (``base``, ``grpo``, the method...) -> the model name of its row in ``reported.yaml``."""
    pairs_columns: Mapping[str, str] = field(default_factory=dict)
    """The pair tasks' metric -> its ``reported.yaml`` column (the CRPO paper's DyBench Acc and P-Acc)."""
    extra_runs: tuple[str, ...] = ()
    """More rows, run only when asked for (``--extra-runs``), e.g. the other baselines of CRPO's table."""
    model: str | None = None
    """Base checkpoint; None = build a tiny random model offline (``tiny_model``) and start it (``start``)."""
    data: SynthData | None = None
    """The synthetic data the preset generates when ``--train-data`` / ``--eval-data`` are not given."""
    tiny_model: TinyModel | None = None
    start: str | None = None
    """The recipe (``dybench train sft``; a name in ``recipes/`` or a path) that makes the start model out of
    the tiny random one."""
    start_model: str | None = None
    """A start model shipped with dybench (a folder under ``dybench/data``): the one the preset's regime was
    measured from. RL starts from it (the ``start-model`` stage copies it into the run folder in float32) and
    ``start`` runs only with ``--train-start``. Training the start again on another CPU can end elsewhere and
    take the regime with it (docs/reproduce.md, round 8)."""
    train: Mapping[str, Any] = field(default_factory=dict)
    """Settings applied on top of every RL recipe, not the start's (e.g. a step count for a quick look)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    ablations: Mapping[str, Ablation] = field(default_factory=dict)
    ablation_seeds: tuple[int, ...] | None = None
    """The seeds the ablation rows train on; None = every seed, () = none (``--ablation-seeds`` adds them)."""
    bias_data: Literal["shortcut", "all"] = "shortcut"
    """What CDPO's bias model trains on: ``shortcut``, the training items the planted cue answers
    (VideoThinker's "observational" subset); ``all``, every original item, for a bias recipe whose input
    carries only the cue (the tiny preset's: the middle frame alone, ``num_frames: 1``)."""
    bias_per_seed: bool = False
    """False: one bias model (the first seed's) serves every CDPO seed, as VideoThinker trains one."""
    launcher: Literal["inprocess", "accelerate"] = "inprocess"
    """inprocess: ``dybench.train.train`` in this process (CPU, one GPU); accelerate: ``accelerate launch``."""
    num_processes: int = 1
    """GPUs for ``accelerate launch`` (and for the compute estimate)."""
    model_params_b: float | None = None
    """The size (billions of parameters) the preset's settings and GPU-hours are for; a model far smaller is
    warned about, and the GPU-hour estimates scale with the size of the model given."""
    run_processes: Mapping[str, int] = field(default_factory=dict)
    """Runs that launch on another number of GPUs (VideoThinker's bias stage: 1)."""
    gpu_hours: Mapping[str, float] = field(default_factory=dict)
    """Estimated GPU-hours per stage kind (an estimate from the published step counts and H100-class
    throughput, not a measurement; see ``COMPUTE_NOTE``)."""
    cpu_minutes: Mapping[str, float] = field(default_factory=dict)
    """Estimated minutes per stage kind on a 2-core CPU (measured on the tiny preset; shared CPUs are slower)."""
    docs: str = ""
    """Where the preset's choices are explained (printed in the report)."""
    source: str = ""
    """The preset file it was read from."""

    @property
    def compared(self) -> tuple[str, ...]:
        """The runs compared with the baseline: every run but the baseline and the tools, then the ablations."""
        return tuple(r for r in (*self.runs, *self.ablations) if r != BASELINE and r not in TOOLS)

    def recipe(self, run: str) -> Path:
        return recipes_dir() / self.recipes[run]

    def replace(self, **changes: Any) -> Preset:
        return dataclasses.replace(self, **changes)


COMPUTE_NOTE = (
    "GPU-hours are estimates, not measurements: published step counts x an assumed H100-class throughput "
    "(Qwen2.5-VL-3B ~ 20 s per GRPO step of 8 x 768-token completions on 2 GPUs; Qwen3-VL-8B ~ 45 s per "
    "CRPO step of 2 x 8 completions on 8 GPUs), plus evaluation at the paper's frames."
)


def preset_file(name: str) -> Path:
    return recipes_dir() / f"reproduce_{name}.yaml"


def get_preset(name: str, target: Target) -> Preset:
    """The preset ``name`` for reproducing ``target`` (``recipes/reproduce_<name>.yaml``)."""
    if target not in TARGETS:
        raise ValueError(f"cannot reproduce {target!r}; choose one of {', '.join(TARGETS)}")
    if name not in PRESET_NAMES:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")
    return load_preset(preset_file(name), target)


def load_preset(path: str | Path, target: Target) -> Preset:
    """Read a preset file for ``target``: its top-level keys, overridden by ``targets.<target>``."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise PresetError(f"{path}: cannot read the preset ({e})") from e
    if not isinstance(raw, dict):
        raise PresetError(f"{path}: a preset is a YAML mapping")
    targets = raw.pop("targets", None) or {}
    if target not in targets:
        raise PresetError(f"{path}: no `targets: {target}:` section; this preset serves {', '.join(targets)}")
    merged = {**raw, **(targets[target] or {}), "target": target, "source": str(path)}
    return _typed(Preset, merged, f"{path} (target {target})")


def _typed(cls: type, values: Any, where: str) -> Any:
    """``values`` (a YAML mapping) as the dataclass ``cls``: nested records built, sequences as tuples."""
    if not isinstance(values, dict):
        raise PresetError(f"{where}: expected a mapping of {cls.__name__} settings, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise PresetError(f"{where}: unknown key(s) {unknown}; {cls.__name__} takes {sorted(known)}")
    return cls(**{key: _value(hints[key], value, f"{where}: {key}") for key, value in values.items()})


def _value(hint: Any, value: Any, where: str) -> Any:
    options = get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else ()
    if options:
        if value is None and type(None) in options:
            return None
        hint = next(o for o in options if o is not type(None))
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _typed(hint, value, where)  # type: ignore[arg-type]
    if origin is Literal:
        if value not in get_args(hint):
            raise PresetError(f"{where}: {value!r}; choose one of {', '.join(map(str, get_args(hint)))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise PresetError(f"{where}: expected a list, got {value!r}")
        return tuple(value)
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, dict):
            raise PresetError(f"{where}: expected a mapping, got {value!r}")
        args = get_args(hint)
        inner = args[1] if len(args) == 2 else Any
        return {k: _value(inner, v, f"{where}.{k}") for k, v in value.items()}
    return value


#: The published start models, by architecture: what ``--model`` must hold for the paper presets.
HUB_IDS: dict[Arch, str] = {"qwen2_5_vl": "Qwen/Qwen2.5-VL-3B-Instruct", "qwen3_vl": "Qwen/Qwen3-VL-8B-Instruct"}
