"""The trainer's configuration: one typed record, read from YAML and ``key=value`` overrides.

Defaults are the CDPO paper's released settings where it has one (docs/research.md); the values it does not
give are dybench's own choices and say so in their docstrings. OmegaConf merges and type-checks the
sources; this module names the file, key and fix of a bad setting, and checks what a type cannot say:
a string setting's choices (``choice``) and a numeric setting's range (``number``), both declared beside
the field, so a new setting gets its check the same way.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from dybench.errors import UserError
from dybench.fileio import JSONInputError, parse_json
from dybench.prompts import R1_INSTRUCTION

Method = Literal["grpo", "sft", "tgrpo", "arrowrl", "crpo", "bias", "cdpo"]
METHODS: tuple[Method, ...] = get_args(Method)

#: VideoThinker-R1's training instruction (docs/research.md): think in <think>, answer letters in <answer>.
DEFAULT_INSTRUCTION = R1_INSTRUCTION

#: Settings that existed once, with what to do instead (so an old recipe gets a reason, not "unknown").
REMOVED_SETTINGS = {
    "rollout_engine": "the vLLM rollout engine was removed (it had never run); rollouts use transformers "
    "generate. For fast evaluation use lmms-eval's vllm model (README, Training)",
    "vllm_gpu_memory_utilization": "the vLLM rollout engine was removed (README, Training)",
}


class TrainConfigError(UserError, ValueError):
    """A training setting or input (model, data, DeepSpeed config) that the user must fix."""


def choice(*options: str) -> Any:
    """A string setting that takes one of ``options``, the first by default (OmegaConf has no ``Literal``)."""
    return field(default=options[0], metadata={"choices": options})


@dataclass(frozen=True)
class Range:
    """The values a numeric setting may take: finite, within its bounds (None: unbounded on that side)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    why: str = ""
    """Why the bound is there, when the setting's name does not say it."""

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value`` (each element of a tuple or list), or None; not numbers are OmegaConf's."""
        values = value if isinstance(value, tuple | list) else (value,)
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        why = f" ({self.why})" if self.why else ""
        each = "each " if len(values) > 1 else ""
        if not all(math.isfinite(v) for v in numbers):
            return f"{each}must be a finite number {self}{why}"
        if any(not self.holds(v) for v in numbers):
            return f"{each}must be {self}{why}"
        return None

    def holds(self, v: float) -> bool:
        """Whether the finite number ``v`` is in the range (and fits in 64 bits, as torch needs)."""
        return (
            abs(v) < 2**63
            and (self.ge is None or v >= self.ge)
            and (self.gt is None or v > self.gt)
            and (self.le is None or v <= self.le)
            and (self.lt is None or v < self.lt)
        )

    def __str__(self) -> str:
        bounds = ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
        return " and ".join(f"{op} {b if isinstance(b, int) else f'{b:g}'}" for op, b in bounds if b is not None)


def number(default: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None, why: str = "") -> Any:  # fmt: skip
    """A numeric setting (int, float, an optional one, or a tuple of them) with its range: ``ge``/``gt`` the
    lowest value (inclusive/exclusive), ``le``/``lt`` the highest. ``validate`` checks it, naming the setting,
    before torch is imported; NaN and infinity are always refused."""
    return field(default=default, metadata={"range": Range(ge, gt, le, lt, why)})


def _setting_problem(name: str, value: object) -> str | None:
    """What is wrong with setting ``name`` to ``value`` beyond its type (which OmegaConf checks), or None."""
    if name in REMOVED_SETTINGS:
        return f"{name}: {REMOVED_SETTINGS[name]}"
    known = TrainConfig.__dataclass_fields__
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=1)
        fix = f"did you mean {close[0]}?" if close else "`dybench train --help` lists every setting"
        return f"unknown training setting {name!r}; {fix}"
    if _interpolates(value):
        return f"{name}={value!r}: ${{...}} interpolation is not read in training settings; write the value itself"
    meta = known[name].metadata
    if "range" in meta and (problem := meta["range"].problem(value)):
        return f"{name}={value!r}: {problem}"
    choices = meta.get("choices", (value,))
    return None if value in choices else f"{name}={value!r}: choose one of {', '.join(choices)}"


def _interpolates(value: object) -> bool:
    """Whether ``value`` holds an OmegaConf interpolation (``${key}``, ``${oc.env:X}``) anywhere."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_interpolates(k) or _interpolates(v) for k, v in value.items())
    return isinstance(value, list | tuple) and any(_interpolates(v) for v in value)


@dataclass
class TrainConfig:
    """Everything a training run needs; saved next to the checkpoints as ``config.yaml``."""

    method: str = choice(*METHODS)
    """grpo: plain GRPO. sft: supervised fine-tuning on target answers (a start model's warm-up). tgrpo:
    Video-R1's temporal GRPO (a bonus when ordered frames beat shuffled ones). arrowrl: ArrowRL's reverse
    reward (answers that diverge from those on the reversed clip). crpo: both branches of a pair in one step,
    with the relation rewards of ``crr_mode``. bias: GRPO with no KL on the shortcut subset (CDPO stage 1).
    cdpo: GRPO repelled from a frozen bias model."""
    model: str = ""
    """Policy checkpoint folder (``save_pretrained`` format) or hub id already in the local cache."""
    data: str = ""
    """A pairs dataset folder (Contract 2) or a Video-R1-style QA json file (Contract 4); crpo renders
    the json's counterfactuals itself (``counterfactuals.py``)."""
    output_dir: str = ""
    """Where checkpoints, ``metrics.jsonl``, ``config.yaml`` and the final model go."""
    bias_model: str | None = None
    """cdpo only: the frozen bias model (the output of ``dybench train bias``)."""
    video_root: str | None = None
    """Folder the Video-R1 json's ``path`` entries are relative to (default: the json's folder)."""
    categories: list[str] = field(default_factory=list)
    """Pairs data only: keep these categories (e.g. the shortcut subset for ``train bias``); empty = all."""
    seed: int = number(0, ge=0, lt=2**32)

    # --- steps and batches ---
    max_steps: int = number(500, ge=1)
    """Optimiser steps (one generation batch serves ``ppo_epochs`` of them)."""
    prompts_per_step: int = number(1, ge=1)
    """Prompts per process per generation batch; for crpo, pairs (each pair is two prompts)."""
    num_generations: int = number(8, ge=2, why="advantages are relative within a group")
    """G: completions sampled per prompt (each branch of a CRPO pair is its own group of G)."""
    ppo_epochs: int = number(1, ge=1)
    """Optimiser steps per generation batch. Above 1 the old-policy log-probs are the sampling policy's
    own (computed once before the first update), so the clip can bind."""
    micro_batch_size: int = number(4, ge=1)
    """Rows per forward/backward pass; gradients are accumulated over the generation batch."""

    # --- rollout (transformers generate) ---
    max_new_tokens: int = number(768, ge=1)
    temperature: float = number(1.0, gt=0, why="sampling needs a distribution")
    """Sampling temperature; the log-prob passes divide the logits by it too (one distribution)."""
    top_p: float = number(1.0, gt=0, le=1)
    """Only 1.0: the log-prob passes score the full softmax, so a nucleus cut would make the sampler's
    distribution differ from the scored one. Generation ignores the checkpoint's generation_config.json
    (Instruct models ship top_k 1, top_p 0.001, repetition_penalty 1.05) and sets every option itself."""
    sampler_gap: bool = True
    """Log ``sampler_logprob_gap`` each step: the log-prob ``generate`` gave each sampled token, recorded
    one step at a time (rows x vocabulary floats, ~5 MB at the 3B recipes' 8 x 152k), against the trainer's."""

    # --- video, as in evaluation ---
    num_frames: int | None = number(16, ge=1)
    """Frames sampled uniformly per video (rounded down to an even count: Qwen's temporal patch is 2).
    1: the middle frame alone, shown twice (a still picture: what a bias model that sees only static
    cues gets; the tiny CDPO preset trains its bias model so)."""
    fps: float | None = number(None, gt=0)
    """Sample by frame rate instead of a fixed count (then ``num_frames`` is the cap)."""
    max_pixels: int = number(128 * 28 * 28, ge=1)
    """Pixel budget per frame (VideoThinker: about 128x28x28)."""
    min_pixels: int = number(16 * 28 * 28, ge=1)
    instruction: str = DEFAULT_INSTRUCTION
    """Appended to every question, after the options."""

    # --- rewards ---
    accuracy_weight: float = number(1.0, ge=0)
    format_weight: float = number(1.0, ge=0)
    crr_weight: float = number(1.0, ge=0)
    """crpo only: weight of the relation terms (published: R_CRR^orig and R_CRR^aug; the page gives no
    weights: 1 is dybench's choice)."""
    behave_weight: float = number(1.0, ge=0)
    """crpo published only: weight of the counterfactual branch's R_behave (dybench's choice)."""
    crr_mode: str = choice("published", "differ", "mapped")
    """crpo only. published: the CRPO project page's rewards (``rewards.py``): the original branch earns
    correct + format + R_CRR^orig, the counterfactual branch format + behave + R_CRR^aug; it reads no
    counterfactual label. differ / mapped: dybench's earlier design, kept as alternatives: accuracy on both
    branches plus a relation reward that any change satisfies (differ) or only the pair's mapped answer
    (mapped; needs counterfactual labels, so a pairs dataset)."""
    crr_gated: bool = True
    """crpo published only: R_CRR^orig counts only for a correct original rollout, R_CRR^aug only for a
    counterfactual rollout that behaves as expected (the page's gates)."""
    crr_partner: str = choice("group", "paired")
    """crpo only: the rate a relation term reads from the other branch. group: the mean over its G
    rollouts (the natural reading of the page, which does not say); paired: its rollout of the same index."""
    advantage_groups: str = choice("pair", "branch")
    """crpo only: pair = the 2G rollouts of a pair are one advantage group (dybench's choice, where the authors
    are silent: measured, docs/reproduce.md); branch = each branch's G rollouts are one group (the page's
    secondary digest says rewards are computed within each branch), under which the relation terms cancel
    whenever every completion is in format (the README's invariance)."""
    null_option: bool | None = None
    """Append "None of the above" as the last option of every multiple-choice training question (CRPO's
    null option; the letters of the other options do not change). None = on for crpo published, off
    otherwise. Evaluation is untouched."""
    router_model: str | None = None
    """crpo on a Video-R1 json only: a local text model (transformers) that classifies each question as
    Spatial / Temporal / Spatiotemporal / Static, as the CRPO page's router does; None = the rule router
    (``router.py``). Its decisions are cached in ``routes_file``."""
    routes_file: str | None = None
    """crpo on a Video-R1 json only: the routing decisions, one JSON line per question, reviewable and
    editable (an edited line is used as written). None = ``<output_dir>/routes.jsonl``."""
    static_transform: str = choice("hflip", "reverse")
    """crpo on a Video-R1 json only: the counterfactual a Static question gets (the page says either;
    its answer must stay). hflip is dybench's choice: it exists for every video, reverse does not."""

    # --- tgrpo and arrowrl: completions on a transformed copy of the clip, scored, never trained on ---
    tgrpo_alpha: float = number(0.3, ge=0)
    """tgrpo only: the bonus added to the accuracy reward of each correct ordered rollout (Video-R1: 0.3)."""
    tgrpo_mu: float = number(0.8, ge=0)
    """tgrpo only: the bonus is earned when ordered accuracy >= mu x shuffled accuracy (Video-R1's code: 0.8,
    its paper: p > p~; its maintainers: 0.8 and 1.0 perform alike)."""
    tgrpo_shuffled_generations: int | None = number(None, ge=1)
    """tgrpo only: completions sampled on the frame-shuffled clip (None = num_generations // 2, as released)."""
    arrowrl_weight: float = number(0.5, ge=0)
    """arrowrl only: weight of the reverse reward (ArrowRL's is not public; 0.5 is ArrowGEV's coefficient)."""

    # --- sft (supervised warm-up) ---
    sft_targets: str = choice("gold", "random")
    """sft only. gold: each question's true answer (on a pairs dataset, both branches of every pair: a
    planted cue is right on one branch and wrong on the other, so this teaches perception and no shortcut).
    random: an answer drawn uniformly among the question's own choices (the answer format, no content)."""
    sft_think: str = ""
    """sft only: the fixed text inside ``<think>`` of every target (empty: the tags, no reasoning)."""
    sft_held_back: int = number(16, ge=1)
    """sft only: prompts kept out of training to measure greedy accuracy (whole pairs with gold targets on
    a pairs dataset)."""
    sft_check_every: int = number(50, ge=1)
    """sft only: measure held-back accuracy every N steps (logged as ``heldout_acc``)."""
    sft_stop_accuracy: float | None = number(None, ge=0, le=1)
    """sft only: stop once held-back accuracy reaches this (a start that perceives only partly, as the
    papers' instruction-tuned start models do); None = run all ``max_steps``."""

    # --- loss ---
    lr: float = number(1e-6, gt=0)
    weight_decay: float = number(0.0, ge=0)
    adam_betas: tuple[float, float] = number((0.9, 0.999), ge=0, lt=1)
    warmup_steps: int = number(0, ge=0)
    lr_schedule: str = choice("constant", "cosine")
    max_grad_norm: float = number(1.0, gt=0)
    clip_eps: float = number(0.2, gt=0, lt=1, why="the ratio is kept above 1 - clip_eps")
    """PPO clip: the ratio is kept in [1 - clip_eps, 1 + clip_eps_high]."""
    clip_eps_high: float | None = number(None, gt=0)
    """Upper clip (None = clip_eps)."""
    adv_eps: float = number(1e-4, gt=0, why="it divides by the group std plus adv_eps")
    """Advantage = (R - group mean) / (group std + adv_eps)."""
    kl_beta: float = number(0.0, ge=0)
    """Weight of the k3 KL to the initial policy (an attraction; 0 = no reference model is loaded)."""
    bias_beta: float = number(0.01, ge=0)
    """cdpo only: weight of the repulsive k3 KL to the bias model (VideoThinker: 0.01)."""
    bias_log_ratio_clamp: float = number(11.0, gt=0)
    """cdpo only: d = logp_bias - logp is clamped to [-c, c] before exp (VideoThinker: 11)."""
    bias_kl_max: float | None = number(None, gt=0)
    """cdpo only: past this per-token value the repulsive KL continues linearly, which caps each token's
    gradient (it never zeroes it); None = bounded only by the log-ratio clamp, as released."""
    bias_num_frames: int | None = number(None, ge=1)
    """cdpo only: frames per video the bias model scores the rollouts on. None = the frames it was trained on
    (its run's ``config.yaml``; the policy's ``num_frames`` when that is not known): a middle-frame bias
    model judges from the middle frame."""
    loss_norm: str = choice("sequence", "token")
    """sequence: mean over each completion's tokens, then over completions (VideoThinker);
    token: one mean over all completion tokens of the batch."""
    train_vision: bool = True
    """Train the vision tower too (VideoThinker does)."""

    # --- precision and scale ---
    dtype: str = choice("auto", "float32", "bfloat16")
    """bfloat16: bf16 autocast over fp32 weights (CPU too; under DeepSpeed its bf16 mode, fp32 master
    weights). float32: no autocast. auto: bfloat16 on GPU, float32 on CPU."""
    gradient_checkpointing: bool | None = None
    """None = on when a GPU is used."""
    deepspeed: str | None = None
    """A DeepSpeed JSON config (recipes/deepspeed_zero2.json, recipes/deepspeed_zero3.json): turns on
    DeepSpeed under torchrun or accelerate launch. Its "auto" values are filled from this config
    (micro-batch, accumulation, clipping, bf16); explicit values must agree with it."""
    fsdp: bool = False
    """Shard the policy, reference and bias models over every process with torch's FSDP2 (``fully_shard``
    per decoder layer and vision block), under torchrun or accelerate launch (not accelerate's own FSDP
    config). bf16: gathered and computed in bf16, fp32 shards. Verified on CPU (gloo), not on a GPU."""

    # --- bookkeeping ---
    save_every: int = number(50, ge=1)
    """Checkpoint every N optimiser steps (a multiple of ppo_epochs); the last step is always saved."""
    keep_checkpoints: int = number(2, ge=1, why="0 would delete the checkpoint just saved")
    resume: bool = True
    """Continue from the newest checkpoint in output_dir when there is one."""

    def __post_init__(self) -> None:
        if isinstance(self.adam_betas, list):
            self.adam_betas = tuple(self.adam_betas)

    @property
    def rows_per_step(self) -> int:
        """B: completions per process per generation batch (a CRPO pair is two prompts; sft has one target
        per prompt)."""
        if self.method == "sft":
            return self.prompts_per_step
        return self.prompts_per_step * (2 if self.method == "crpo" else 1) * self.num_generations

    @property
    def uses_null_option(self) -> bool:
        """Whether the training questions get the null option (``null_option``, resolved)."""
        if self.null_option is not None:
            return self.null_option
        return self.method == "crpo" and self.crr_mode == "published"

    @property
    def micro_batches(self) -> int:
        """Forward/backward passes per optimiser step (gradient accumulation steps)."""
        return math.ceil(self.rows_per_step / self.micro_batch_size)

    def validate(self) -> None:
        """Raise ``TrainConfigError`` naming every bad setting and its fix (settings only, no files)."""
        problems = [p for f in fields(self) if (p := _setting_problem(f.name, getattr(self, f.name)))]
        problems += [f"{name} is required" for name in ("model", "data", "output_dir") if not getattr(self, name)]
        if self.method == "cdpo" and not self.bias_model:
            problems.append("cdpo needs bias_model=<folder of the `dybench train bias` output>")
        if self.method == "bias" and self.kl_beta != 0:
            problems.append("bias training is GRPO with no KL: set kl_beta=0")
        if self.num_frames is None and self.fps is None:
            problems.append("set num_frames or fps")
        if self.top_p != 1.0:
            problems.append(
                f"top_p={self.top_p}: only 1.0 is supported; the log-prob passes score the full softmax, "
                "so a nucleus cut would train on tokens from another distribution"
            )
        if self.fsdp and self.deepspeed:
            problems.append("fsdp=true and deepspeed=FILE are two ways to shard: choose one")
        if not problems:  # the checks across settings below assume each one is in its range
            if self.save_every % self.ppo_epochs or self.max_steps % self.ppo_epochs:
                problems.append(
                    "save_every and max_steps must be multiples of ppo_epochs (checkpoints fall between "
                    "generation batches)"
                )
            if self.min_pixels > self.max_pixels:
                problems.append(
                    f"min_pixels={self.min_pixels} is above max_pixels={self.max_pixels}: set min_pixels to "
                    f"{self.max_pixels} or less as well"
                )
        if problems:
            raise TrainConfigError("bad training config:\n  " + "\n  ".join(problems))

    def check(self) -> None:
        """``validate``, then the inputs: model, bias model, data and DeepSpeed config must exist and parse.

        Cheap (no torch): ``dybench train`` runs it before importing the training stack.
        """
        self.validate()
        problems = []
        model = model_problem(self.model)
        if model:
            problems.append(f"model={self.model}: {model}")
        if self.method == "cdpo":
            bias = model_problem(self.bias_model or "")
            if bias:
                problems.append(f"bias_model={self.bias_model}: {bias}; train one with `dybench train bias`")
        data = Path(self.data)
        if not (data.is_dir() or (data.is_file() and data.suffix == ".json")):
            problems.append(f"data={self.data}: not a pairs dataset folder (`dybench build`) nor a Video-R1 .json file")
        if self.method == "crpo" and self.crr_mode == "mapped" and data.is_file():
            problems.append(
                f"data={self.data}: crr_mode=mapped needs counterfactual answers, which a Video-R1 json has not; "
                "use crr_mode=published (or differ), or a pairs dataset (`dybench build`)"
            )
        if self.router_model and model_problem(self.router_model):
            problems.append(f"router_model={self.router_model}: {model_problem(self.router_model)}")
        if os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true" and not self.deepspeed:
            problems.append(
                "launched with accelerate's --use_deepspeed but no deepspeed=FILE: pass "
                "deepspeed=recipes/deepspeed_zero3.json (the trainer needs an explicit DeepSpeed config)"
            )
        if os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
            problems.append(
                "launched with accelerate's FSDP config: launch without it and pass fsdp=true (dybench shards "
                "with torch's fully_shard itself, on CPU and GPU alike)"
            )
        for key, value in (("deepspeed", self.deepspeed), ("fsdp", self.fsdp and "true")):
            if value and "LOCAL_RANK" not in os.environ:
                problems.append(
                    f"{key}={value} needs a distributed launcher: `torchrun --nproc_per_node N -m dybench.train "
                    "...` (CPU, or GPUs) or `accelerate launch --num_processes N -m dybench.train ...` (GPUs)"
                )
        if problems:
            raise TrainConfigError("cannot start training:\n  " + "\n  ".join(problems))
        if self.deepspeed:
            resolve_deepspeed_config(self, bf16=self.dtype == "bfloat16")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["adam_betas"] = list(self.adam_betas)
        return d


#: ``dybench train --smoke``: a run that shows every stage of the loop on a CPU in about a minute (2 steps of
#: tiny rollouts), to try a model and data before a real run. Any key=value given as well still wins.
SMOKE_SETTINGS: dict[str, object] = {
    "max_steps": 2, "save_every": 2, "prompts_per_step": 1, "num_generations": 2, "micro_batch_size": 4,
    "max_new_tokens": 16, "num_frames": 2, "min_pixels": 28 * 28, "max_pixels": 56 * 56, "sft_check_every": 2,
    "sft_held_back": 2,
}  # fmt: skip


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    smoke: bool = False,
    **values: object,
) -> TrainConfig:
    """A ``TrainConfig``: its defaults, then a YAML file, then ``SMOKE_SETTINGS`` when ``smoke``, then ``values``
    (typed; None = not given), then ``key=value`` strings, merged by OmegaConf. A bad setting is a
    ``TrainConfigError`` naming its source (the file, "arguments" or "command line"), the key and the fix."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    layers: list[tuple[str, dict]] = []
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, ValueError, RecursionError, yaml.YAMLError) as e:  # ValueError: not UTF-8, a huge int
            raise TrainConfigError(f"{path}: cannot read the training config ({type(e).__name__}: {e!s:.200})") from e
        if not isinstance(loaded, dict):
            raise TrainConfigError(f"{path}: a training config is a YAML mapping of setting: value")
        if "method" in loaded and values.get("method") not in (None, loaded["method"]):
            raise TrainConfigError(
                f"{path} is a {loaded['method']} config; run it as `dybench train {loaded['method']}`"
            )
        layers.append((str(path), loaded))
    if smoke:
        layers.append(("--smoke", SMOKE_SETTINGS))
    layers.append(("arguments", {k: v for k, v in values.items() if v is not None}))
    layers.append(("command line", parse_overrides(overrides)))
    config = OmegaConf.structured(TrainConfig)
    for where, layer in layers:
        for key, value in layer.items():
            if problem := _setting_problem(key, value):
                raise TrainConfigError(f"{where}: {problem}")
            try:  # one key at a time, so an error names the key whatever OmegaConf's message holds
                config = OmegaConf.merge(config, {key: value})
            except OmegaConfBaseException:
                expected = TrainConfig.__dataclass_fields__[key].type  # the annotation as written
                raise TrainConfigError(f"{where}: {key}={value!r:.200}: expected {expected}") from None
    return OmegaConf.to_object(config)  # type: ignore[return-value]


_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def model_problem(model: str) -> str | None:
    """Why ``model`` cannot be loaded offline (None when it can): a checkpoint folder with config.json,
    or a hub id already in the local Hugging Face cache."""
    if not model:
        return "not set"
    path = Path(model)
    if path.is_dir():
        return None if (path / "config.json").is_file() else "the folder has no config.json (not a checkpoint)"
    if _HUB_ID.match(model):
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(model, "config.json"), str):
            return None
        return "no such folder, and not in the local Hugging Face cache (download it first, or pass a folder)"
    return "no such folder"


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, object]:
    """``["lr=1e-3", "max_steps=50"]`` -> ``{"lr": 0.001, "max_steps": 50}`` (OmegaConf's dotlist: values
    read as YAML, an empty one as None)."""
    from omegaconf import OmegaConf

    parsed: dict[str, object] = {}
    for item in items:
        if "=" not in item or not item.partition("=")[0].strip():
            raise TrainConfigError(f"setting {item!r}: write it as key=value, e.g. max_steps=50")
        try:
            parsed.update(OmegaConf.to_container(OmegaConf.from_dotlist([item])))  # type: ignore[arg-type]
        except yaml.YAMLError as e:
            raise TrainConfigError(f"setting {item!r:.200}: the value is not valid YAML ({e.problem})") from None
        except (ValueError, RecursionError) as e:  # an integer of thousands of digits, deep nesting
            raise TrainConfigError(f"setting {item!r:.60}: the value cannot be read ({e!s:.80})") from None
    return parsed


# --- the DeepSpeed config a run uses ------------------------------------------------------------------
# The DeepSpeed config a run uses: the JSON file named by ``deepspeed=``, completed from the train config.
#
# The trainer owns the batch arithmetic, the optimiser (torch AdamW) and the learning-rate schedule, so
# the file may only say "auto" for what follows from them, or repeat the same value:
#
# - ``train_micro_batch_size_per_gpu`` = ``micro_batch_size`` (rows per forward/backward pass);
# - ``gradient_accumulation_steps`` = passes per optimiser step (``TrainConfig.micro_batches``);
# - ``gradient_clipping`` = ``max_grad_norm`` (under DeepSpeed the engine clips, not accelerate);
# - ``bf16.enabled`` = whether the run uses bf16 (``dtype``);
# - ``zero_optimization.stage3_gather_16bit_weights_on_model_save`` = true under ZeRO-3, so the final
#   ``save_pretrained`` gets whole weights.
#
# ``train_batch_size`` depends on the process count and is left to DeepSpeed. ``optimizer`` and
# ``scheduler`` sections, fp16 and a value that disagrees with the train config are refused. Pure Python
# (no torch), so ``dybench train`` checks the file before it imports the training stack.


#: The sections the trainer reads, each a JSON object: how one is written.
_SECTIONS = {
    "fp16": '"fp16": {"enabled": false} (or leave it out: fp16 is not supported, use dtype=bfloat16)',
    "bf16": '"bf16": {"enabled": "auto"} (it follows dtype)',
    "zero_optimization": '"zero_optimization": {"stage": 3} (see recipes/deepspeed_zero3.json)',
}
#: Filled by accelerate from the model's hidden size when left "auto".
_HIDDEN_SIZE_KEYS = ("reduce_bucket_size", "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold")


def resolve_deepspeed_config(cfg: TrainConfig, *, bf16: bool) -> dict:
    """The file ``cfg.deepspeed`` as a dict with every trainer-owned value filled and checked.

    Raises ``TrainConfigError`` naming the file, the key and the fix.
    """
    path = Path(str(cfg.deepspeed))
    where = f"deepspeed={cfg.deepspeed}"
    try:
        raw = parse_json(path.read_bytes())  # bytes that are not UTF-8, deep nesting, huge integers: refused
    except OSError as e:
        raise TrainConfigError(f"{where}: cannot read it ({e.strerror}); see recipes/deepspeed_zero3.json") from e
    except JSONInputError as e:
        raise TrainConfigError(f"{where}: {e}; see recipes/deepspeed_zero3.json") from e
    if not isinstance(raw, dict):
        raise TrainConfigError(f"{where}: a DeepSpeed config is a JSON object")
    ds = copy.deepcopy(raw)
    for key, example in _SECTIONS.items():
        if key in ds and not isinstance(ds[key], dict):
            raise TrainConfigError(f'{where}: "{key}": {json.dumps(ds[key])[:60]} is a section: write {example}')
    problems = []

    def fill(section: dict, key: str, value: object, name: str, setting: str) -> None:
        given = section.get(key, "auto")
        if given == "auto":
            section[key] = value
        elif given != value:
            problems.append(f'{name} is {given!r} but the train config gives {value!r} ({setting}); use "auto"')

    fill(ds, "train_micro_batch_size_per_gpu", cfg.micro_batch_size, "train_micro_batch_size_per_gpu",
         "micro_batch_size")  # fmt: skip
    fill(ds, "gradient_accumulation_steps", cfg.micro_batches, "gradient_accumulation_steps",
         "ceil(prompts_per_step x branches x num_generations / micro_batch_size)")  # fmt: skip
    fill(ds, "gradient_clipping", float(cfg.max_grad_norm), "gradient_clipping", "max_grad_norm")
    if ds.get("train_batch_size", "auto") != "auto":
        problems.append("train_batch_size: leave it out (it follows from the micro-batch, accumulation and processes)")
    ds.pop("train_batch_size", None)
    for section in ("optimizer", "scheduler"):
        if section in ds:
            problems.append(f"remove the {section!r} section: the trainer builds torch AdamW and its own schedule")
    if str(ds.get("fp16", {}).get("enabled", False)).lower() == "true":
        problems.append("fp16 is not supported (no loss scaling in the trainer); use dtype=bfloat16")
    ds.setdefault("bf16", {})
    fill(ds["bf16"], "enabled", bf16, "bf16.enabled", "dtype")
    zero = ds.get("zero_optimization")
    if not isinstance(zero, dict) or zero.get("stage") not in (0, 1, 2, 3):
        problems.append("zero_optimization.stage must be 0, 1, 2 or 3")
    else:
        if zero["stage"] == 3:
            fill(zero, "stage3_gather_16bit_weights_on_model_save", True,
                 "zero_optimization.stage3_gather_16bit_weights_on_model_save", "needed to save the model")  # fmt: skip
        ds.setdefault("zero_force_ds_cpu_optimizer", False)  # torch AdamW, also with an offloaded optimizer
        left = [k for k, v in zero.items() if v == "auto" and k not in _HIDDEN_SIZE_KEYS]
        left += [k for k, v in ds.items() if v == "auto"]
        if left:
            problems.append(f"'auto' is not resolved for {left}; give values")
    if problems:
        raise TrainConfigError(f"{where}:\n  " + "\n  ".join(problems))
    return ds
