"""What `dybench reproduce` runs: presets as typed records.

``tiny`` (the default) runs on a CPU with nothing downloaded: DyBench-Synth data with a planted
shortcut, a tiny Qwen2.5-VL built offline and given partial perception by a short supervised warm-up
(see its notes), then the method and its GRPO baseline from the same start over several seeds.
``paper`` holds the published settings (RESEARCH.md): CDPO on Qwen2.5-VL-3B-Instruct, CRPO on
Qwen3-VL-8B-Instruct with dybench's documented choices where the paper is silent, for machines with GPUs
and local weights.

Every number here is a setting, not a result: what the tiny preset measured with them is in the report
it writes, including what was tried when the effect did not
show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from dybench.shipped import shipped_folder
from dybench.testing import Arch

Target = Literal["crpo", "cdpo", "grpo"]
"""What ``dybench reproduce`` reproduces: a method with its GRPO baseline, or the baseline alone."""
TARGETS: tuple[Target, ...] = get_args(Target)
PresetName = Literal["tiny", "paper"]
PRESET_NAMES: tuple[PresetName, ...] = get_args(PresetName)

#: The training runs each target needs, in order (the bias model before CDPO).
RUNS: dict[Target, tuple[str, ...]] = {
    "crpo": ("grpo", "crpo"),
    "cdpo": ("grpo", "bias", "cdpo"),
    "grpo": ("grpo",),
}
#: The runs that are evaluated and compared (the bias model is a tool of CDPO, evaluated for reference).
COMPARED: dict[Target, tuple[str, ...]] = {
    "crpo": ("grpo", "crpo"),
    "cdpo": ("grpo", "cdpo"),
    "grpo": ("grpo",),
}

#: Ablation runs per target, reported beside the method: run name -> (the run whose recipe it starts
#: from, settings on top). CRPO's: dybench's earlier relation rewards, before the method was published
#: (no null option, accuracy on both branches, a relation reward that any change satisfies or only the
#: pair's mapped answer).
ABLATIONS: dict[Target, dict[str, tuple[str, dict[str, Any]]]] = {
    "crpo": {"crpo_differ": ("crpo", {"crr_mode": "differ"}), "crpo_mapped": ("crpo", {"crr_mode": "mapped"})},
    # CDPO's sweep (issue 19), on the first seed when asked (--ablation-seeds 0): the repulsion's weight
    # around VideoThinker's 0.01, and a larger weight with each token's repulsive KL bounded
    # (the recipe's own setting, bias_beta 0.3 bounded at 1, is the cdpo row itself)
    "cdpo": {
        "cdpo_beta0.01": ("cdpo", {"bias_beta": 0.01, "bias_kl_max": None}),
        "cdpo_beta0.03": ("cdpo", {"bias_beta": 0.03, "bias_kl_max": None}),
        "cdpo_beta0.1": ("cdpo", {"bias_beta": 0.1, "bias_kl_max": None}),
        "cdpo_beta0.3": ("cdpo", {"bias_beta": 0.3, "bias_kl_max": None}),
        "cdpo_beta0.3_klmax3": ("cdpo", {"bias_beta": 0.3, "bias_kl_max": 3.0}),
    },
    "grpo": {},
}


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
    selection: Literal["all", "fixed_order"] = "all"
    """Which synthesized questions are built into pairs: all, or only multiple-choice questions whose
    options come in their family's fixed order (``data.fixed_order``; the tiny preset's choice)."""


@dataclass(frozen=True)
class Warmup:
    """The supervised start of a randomly initialised model (see ``warmup.py``)."""

    steps: int
    """Steps at most (fewer when ``stop_accuracy`` is reached first)."""
    lr: float
    batch_size: int
    think: str = ""
    """The fixed reasoning text of every target (default empty: a tiny model has no reasoning to give,
    and every token of it would be sampled and scored in each rollout). The warm-up teaches the tags,
    not how to reason."""
    targets: Literal["random", "gold"] = "random"
    """``random``: answers drawn uniformly among the question's choices (the format only, no content),
    on the original branch. ``gold``: the true answers on BOTH branches of every training pair (the
    planted cue is right on one branch and wrong on the other, so it carries nothing): perception, the
    way an instruction-tuned start model has some."""
    stop_accuracy: float | None = None
    """Stop once greedy accuracy on the held-back prompts reaches this (checked every ``check_every``
    steps): a start that perceives only partly, as the papers' start models do."""
    check_every: int = 50
    held_back: int = 16
    """Prompts kept out of the warm-up to measure it (whole pairs with ``gold``)."""


@dataclass(frozen=True)
class Evaluation:
    """How every trained model is evaluated: lmms-eval with dybench's pair tasks on the test pairs."""

    model_class: str
    """lmms-eval model (``qwen2_5_vl``, ``qwen3_vl``)."""
    model_args: str
    """Extra ``--model_args`` after ``pretrained=<checkpoint>``."""
    tasks: tuple[str, ...] = ("dybench_pair_r1",)
    """The R1 variants of the pair tasks: they ask for ``<think>``/``<answer>`` with the trainer's own
    instruction, so the evaluation asks what training taught (see ``evaluation.py``)."""
    gen_kwargs: str = ""
    batch_size: int = 1
    device: str | None = None

    @property
    def prompt(self) -> str:
        """The prompt style of the tasks: ``r1`` when they are the R1 variants."""
        return "r1" if all("_r1" in t for t in self.tasks) else "default"


@dataclass(frozen=True)
class Preset:
    """Everything one ``dybench reproduce`` run does, given a target method."""

    name: PresetName
    arch: Arch
    model: str | None
    """Base checkpoint; None = build a tiny random model offline (then warm it up)."""
    data: SynthData
    warmup: Warmup | None
    recipes: Mapping[str, str]
    """Training run (grpo, crpo, bias, cdpo) -> recipe file name in ``recipes/``."""
    init_std: float | None = None
    """Tiny model only: std of its random weights (``dybench.testing.build_tiny_model``)."""
    model_width: int = 64
    model_layers: int = 2
    """Tiny model only: its size (``build_tiny_model(width=, layers=)``)."""
    train: Mapping[str, Any] = field(default_factory=dict)
    """Settings applied on top of every recipe (e.g. a step count for a quick look)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    ablation_seeds: tuple[int, ...] | None = None
    """The seeds the target's ablation runs (``ABLATIONS``) train on; None = every seed, () = none."""
    bias_data: Literal["shortcut", "all"] = "shortcut"
    """What CDPO's bias model trains on: ``shortcut``, the training items the planted cue answers
    (VideoThinker's "observational" subset); ``all``, every original item, for a bias recipe whose input
    carries only the cue (the tiny preset's: the middle frame alone, ``num_frames: 1``)."""
    bias_per_seed: bool = False
    """False: one bias model (the first seed's) serves every CDPO seed, as VideoThinker trains one;
    True: a bias model per seed."""
    evaluation: Evaluation = field(default_factory=lambda: Evaluation("qwen2_5_vl", ""))
    launcher: Literal["inprocess", "accelerate"] = "inprocess"
    """inprocess: ``dybench.train.train`` in this process (CPU, one GPU); accelerate: ``accelerate launch``."""
    num_processes: int = 1
    """GPUs for ``accelerate launch`` (and for the compute estimate)."""
    gpu_hours: Mapping[str, float] = field(default_factory=dict)
    """Estimated GPU-hours per stage kind and run (an estimate from the published step counts and
    H100-class throughput, not a measurement; see ``COMPUTE_NOTE``)."""
    cpu_minutes: Mapping[str, float] = field(default_factory=dict)
    """Estimated minutes per stage kind on a 2-core CPU (measured on the tiny preset; shared CPUs are slower)."""
    notes: tuple[str, ...] = ()
    """How the preset's settings were chosen (printed in every report made with it)."""

    def recipe(self, run: str) -> Path:
        return recipes_dir() / self.recipes[run]

    def replace(self, **changes: Any) -> Preset:
        return dataclasses.replace(self, **changes)


COMPUTE_NOTE = (
    "GPU-hours are estimates, not measurements: published step counts x an assumed H100-class throughput "
    "(Qwen2.5-VL-3B ~ 20 s per GRPO step of 8 x 768-token completions on 2 GPUs; Qwen3-VL-8B ~ 45 s per "
    "CRPO step of 2 x 8 completions on 8 GPUs), plus evaluation of the test pairs at 32 frames."
)

#: A static cue predicts the dynamic answer in training (95 %), not at test time (50 %, balanced):
#: a red target moves right, any other moves left.
TINY_BIAS = "moving_direction:colour=red->right:train=0.95,test=0.5"

TINY = Preset(
    name="tiny",
    arch="qwen2_5_vl",
    model=None,
    data=SynthData(
        n_train=1024,
        n_test=192,
        size=64,
        frames=8,
        fps=8.0,
        categories=("moving_direction",),
        bias=TINY_BIAS,
        max_distractors=0,
        selection="fixed_order",
    ),
    warmup=Warmup(steps=1200, lr=1e-3, batch_size=16, targets="gold", stop_accuracy=0.7, check_every=50, held_back=64),
    init_std=0.08,
    model_width=128,
    model_layers=4,
    recipes={
        "grpo": "reproduce_tiny_grpo.yaml",
        "crpo": "reproduce_tiny_crpo.yaml",
        "bias": "reproduce_tiny_bias.yaml",
        "cdpo": "reproduce_tiny_cdpo.yaml",
    },
    seeds=(0, 1, 2),
    ablation_seeds=(0,),  # the ablation rows (crpo_differ, crpo_mapped) on the first seed: 2 runs, not 6
    bias_data="all",  # with reproduce_tiny_bias.yaml's middle frame: the cue is all the bias model can see
    evaluation=Evaluation(
        model_class="qwen2_5_vl",
        model_args="device_map=cpu,min_pixels=3136,max_pixels=3136,max_num_frames=4",
        tasks=("dybench_pair_r1",),
        batch_size=8,
        device="cpu",
    ),
    cpu_minutes={"synth": 0.1, "build": 0.1, "model": 0.2, "warmup": 2.7, "train": 3.5, "eval": 0.1, "report": 0.1},
    notes=(
        "Model: dybench.testing's tiny Qwen2.5-VL at 4 layers x 128 wide (vision tower 4 blocks x 64; ~1.1M "
        "parameters), weights of std 0.08 (init_std). Smaller did not work: at 2 x 64 no variant learned motion "
        "direction even with gold labels on both branches (600 steps x 16 at init 0.02; 300 at 0.1; 500 on "
        "one-object clips; 300 at 112x112 px and 8 frames; a linear head on the vision tower, 300): test "
        "accuracy 0.5, P-Acc 0. Transformers' default init 0.02 is sized for ~2,000-wide models and leaves a "
        "64-wide model nearly blind to its input (last hidden state 1e-6 apart between a clip and its mirror).",
        "Scenes: one object per clip (max_distractors=0). With 2-4 distractors the 4 x 128 model had not learned "
        "motion direction after 900 gold steps; on one-object clips it went from 0.5 to 0.97 test accuracy "
        "between steps 600 and 800.",
        "Start model: a perception warm-up with the true answers on BOTH branches of every training pair (the cue "
        "is right on one branch and wrong on the other, so it teaches no shortcut), stopped once held-back "
        "accuracy reaches 0.7: partial perception, as the papers' instruction-tuned start models have. Without "
        "it (format-only warm-up, earlier version of this preset): GRPO learned the cue on all 3 seeds (cue "
        "agreement 1.0), CRPO did not (0.51) but P-Acc was 0 for every model, and CRPO run from a format-only "
        "start on this model still had accuracy reward 0.50 at step 300: RL alone did not find perception "
        "within the time budget. A start that perceives fully leaves the cue nothing to add, so GRPO would "
        "have no reason to learn it.",
        "Questions: only multiple-choice questions with options in a fixed order are kept (with synth's shuffled "
        "options and yes/no wordings a small model learned neither cue nor motion in 800 gold steps).",
        "RL settings: lr 5e-4 (2e-3 broke the answer format at this size within 40 steps), a KL anchor to the "
        "start (kl_beta 0.2; without one GRPO collapsed to one answer at 2 x 64), 16 prompts x G = 4 per step "
        "(GRPO: 16 questions; CRPO: 8 pairs x 2 branches), 200 steps, completions of up to 12 tokens.",
        "CDPO's bias model sees only the middle frame of every training clip (reproduce_tiny_bias.yaml, "
        "num_frames 1, all original items): a still frame shows the cue (colour) and no motion, so the cue is all "
        "it can learn. Measured on the balanced test pairs (seed 0, two trainings of the recipe): it follows the cue "
        "on 0.95-0.97 of the shortcut questions (P-Acc 0.06-0.11). The VideoThinker-style alternative, all 4 "
        "frames on the shortcut subset, follows it on 0.66 (P-Acc 0.623), about what GRPO learns (0.63): at "
        "a 95% cue the subset is 356 of the 374 items "
        "GRPO trains on, so that bias model was nearly the policy (KL ~4e-5 to it in the earlier preset, a "
        "repulsion with nearly no gradient). One bias model (seed 0's) serves every CDPO seed.",
        "CDPO's repulsion, swept on seed 0 with the middle-frame bias model (GRPO seed 0: P-Acc 0.684): "
        "bias_beta 0.01 (VideoThinker's) 0.632, 0.03 0.579, 0.1 0.544, 0.3 0.614 (unbounded); 0.3 with each "
        "token's repulsive KL bounded (bias_kl_max) at 3: 0.640, at 1: 0.675, the preset's setting; the ablation "
        "rows (--ablation-seeds 0) rerun the others. The repulsion acts (KL to the bias model 0.01-0.06 along "
        "every run, ~1000x the earlier preset's) but the more weight, the MORE the policy follows the cue (cue "
        "agreement 0.65 -> 0.69 from 0.01 to 0.1) and the lower its accuracy (0.81 -> 0.77); the tighter the "
        "bound, the closer to GRPO (0.614, 0.640, 0.675 at no bound, 3, 1). The preset's setting gave 0.596 on "
        "seed 0 with a bias model retrained from the same recipe: one-seed differences under ~0.08 are noise. "
        "Our reading, "
        "not verified: at a 95% cue a correct policy and the bias model agree on the answer for 95% of the "
        "training items, so the push is spent on the 5% and on the answer-format tokens, where the still-frame "
        "model's distribution differs from the policy's for reasons unrelated to the shortcut; that perturbs "
        "a 1M-parameter model's fragile perception, and a model that perceives less falls back on the cue.",
        "Bias: 95% in training, 50% (balanced) at test; one category (moving_direction, hflip and reverse pairs).",
        "CRPO runs as its project page publishes it (crr_mode published: the null option on every training "
        "question, R_behave and the gated relation rewards, no counterfactual label read). dybench's earlier "
        "relation rewards (crr_mode differ and mapped, no null option, accuracy on both branches) are ablation "
        "rows, trained on the first seed only to keep the CPU time (ablation_seeds).",
    ),
)

PAPER_CDPO = Preset(
    name="paper",
    arch="qwen2_5_vl",
    model=None,  # --model: a local Qwen2.5-VL-3B-Instruct folder
    data=SynthData(
        n_train=2000,
        n_test=1000,
        size=224,
        frames=32,
        fps=8.0,
        categories=("moving_direction", "reversible_dynamics", "event_sequence"),
        bias="moving_direction:colour=red->right:train=0.9,test=0.5;"
        "reversible_dynamics:colour=blue->growing:train=0.9,test=0.5;"
        "event_sequence:shape=square->first:train=0.9,test=0.5",
    ),
    warmup=None,
    recipes={
        "grpo": "grpo_qwen2_5_vl_3b.yaml",
        "bias": "bias_qwen2_5_vl_3b.yaml",
        "cdpo": "cdpo_qwen2_5_vl_3b.yaml",
    },
    seeds=(0,),
    evaluation=Evaluation(
        model_class="qwen2_5_vl",
        model_args="max_num_frames=32,max_pixels=100352,min_pixels=12544",
        tasks=("dybench_pair_r1",),
        gen_kwargs="max_new_tokens=1024",
        batch_size=1,
    ),
    launcher="accelerate",
    num_processes=2,
    gpu_hours={"train": 5.6, "eval": 1.0, "synth": 0.0, "build": 0.0, "report": 0.0},
)

PAPER_CRPO = Preset(
    name="paper",
    arch="qwen3_vl",
    model=None,  # --model: a local Qwen3-VL-8B-Instruct folder
    data=PAPER_CDPO.data,
    warmup=None,
    recipes={"grpo": "reproduce_paper_grpo_qwen3_vl_8b.yaml", "crpo": "crpo_qwen3_vl_8b.yaml"},
    seeds=(0,),
    evaluation=Evaluation(
        model_class="qwen3_vl",
        model_args="max_num_frames=32,max_pixels=100352,min_pixels=12544",
        tasks=("dybench_pair_r1",),
        gen_kwargs="max_new_tokens=1024",
        batch_size=1,
    ),
    launcher="accelerate",
    num_processes=8,
    gpu_hours={"train": 50.0, "eval": 2.0, "synth": 0.0, "build": 0.0, "report": 0.0},
)


def get_preset(name: str, target: Target) -> Preset:
    """The preset ``name`` for reproducing ``target``; ``ValueError`` naming the choices otherwise."""
    if target not in TARGETS:
        raise ValueError(f"cannot reproduce {target!r}; choose one of {', '.join(TARGETS)}")
    if name == "tiny":
        # the CDPO sweep rows (ABLATIONS["cdpo"]) are 4 more runs than fit the 45-minute budget: opt-in
        # (dybench reproduce cdpo --ablation-seeds 0)
        return TINY.replace(ablation_seeds=()) if target == "cdpo" else TINY
    if name == "paper":
        return PAPER_CRPO if target == "crpo" else PAPER_CDPO
    raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")


#: The published start models, by architecture: what ``--model`` must hold for the paper presets.
HUB_IDS: dict[Arch, str] = {"qwen2_5_vl": "Qwen/Qwen2.5-VL-3B-Instruct", "qwen3_vl": "Qwen/Qwen3-VL-8B-Instruct"}
