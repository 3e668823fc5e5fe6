"""The reference trainer: GRPO, CRPO, bias (CDPO stage 1) and CDPO on Qwen2.5-VL / Qwen3-VL video models.

One flat loop, read top to bottom: data -> rollout -> reward -> advantage -> fixed log-probs ->
loss -> optimiser step -> metrics -> checkpoint.

Launch (the recipes in ``recipes/`` start with their own command)::

    # one process (CPU or one GPU)
    dybench train cdpo --model Qwen/Qwen2.5-VL-3B-Instruct --data cf.json --output-dir runs/cdpo \
        bias_model=runs/bias/model
    # N GPUs, DeepSpeed ZeRO-3 (the recipes name recipes/deepspeed_zero3.json; zero2 ships too)
    accelerate launch --num_processes N -m dybench.train cdpo --config recipes/cdpo_qwen2_5_vl_3b.yaml
    # N GPUs or N CPU processes, FSDP2 (torch's fully_shard; gloo on CPU)
    torchrun --nproc_per_node N -m dybench.train cdpo --config recipes/cdpo_qwen2_5_vl_3b.yaml fsdp=true deepspeed=null
    # N CPU processes: DeepSpeed (its CPU accelerator over gloo) ...
    torchrun --nproc_per_node 2 -m dybench.train grpo --model ... --data ... --output-dir ... \
        deepspeed=recipes/deepspeed_zero3.json
    # ... or plain DDP over gloo
    torchrun --nproc_per_node 2 -m dybench.train grpo --model ... --data ... --output-dir ...

On a CPU machine use torchrun: ``accelerate launch --num_processes 2`` falls back to one process there.
``deepspeed=FILE`` fills the file's "auto" values from this config (``_config.resolve_deepspeed_config``).

Outputs in ``--output-dir``: ``model/`` (the final ``save_pretrained`` checkpoint with its processor),
``metrics.jsonl`` (one ``StepMetrics`` row per optimiser step), ``config.yaml`` and ``checkpoints/``
(see ``checkpoint.py``). Running the same command again resumes from the newest checkpoint.

The methods (RESEARCH.md):

- grpo: rewards = accuracy (the evaluation's parser, partial credit for multi-letter gold) + format.
- bias: grpo with no KL, on the shortcut subset (CDPO stage 1).
- cdpo: grpo plus ``- bias_beta * KL_k3(pi || pi_bias)`` in the loss: the policy is pushed *away* from a
  frozen bias model.
- crpo: both branches of a counterfactual pair in the same step, each its own group of G. The default,
  ``crr_mode=published``, is the method as the CRPO project page describes it: "None of the above" is
  appended to every multiple-choice training question (``null_option``); the original branch earns
  R_correct + R_format + R_CRR^orig (the counterfactual rollouts behave as expected, gated on this
  rollout being correct); the counterfactual branch earns R_format + R_behave (a changed answer for
  dynamic questions, the null option included; the original answer for static ones) + R_CRR^aug (the
  original rollouts are correct, gated on this rollout behaving). It reads no counterfactual label, so
  ``data`` may be a Video-R1 json: each question is routed to hflip / reverse / static (``router.py``:
  rules, or ``router_model=PATH``; decisions in an editable ``routes.jsonl``) and its counterfactual is
  rendered with ``dybench build``'s renderer into ``<output_dir>/counterfactuals`` (``counterfactuals.py``).
  ``crr_mode=differ`` / ``mapped`` are dybench's earlier relation rewards, kept as documented alternatives.

Where this departs from the papers' released code, on purpose:

- The bias model is loaded and used in every distributed mode, and refused when missing or equal to the
  policy (VideoThinker honours it only under ZeRO-3 and otherwise repels the initial policy).
- Old-policy log-probs are the sampling policy's, computed once per generation batch before any update,
  so with ``ppo_epochs > 1`` the clip binds (VideoThinker detaches the current log-probs, so it never
  does). With ``ppo_epochs = 1`` (the papers' setting) the ratio is exactly 1 and the loss is the
  policy gradient.
- The repulsive KL can be bounded per token (``bias_kl_max``); unbounded by default, as released.
- CRPO, where the project page is silent, dybench chooses (each a setting): every reward weight 1
  (``accuracy_weight``, ``format_weight``, ``behave_weight``, ``crr_weight``); a relation term's rate is the
  mean over the other branch's G rollouts (``crr_partner=group``; ``paired`` = the rollout of the same
  index); the gates on (``crr_gated``); each branch its own advantage group (``advantage_groups=branch``;
  ``pair`` = the 2G rollouts of a pair together); "behave" for a dynamic question = any parsed answer other
  than the original's gold, for a static one = that gold; the counterfactual branch earns no correctness
  term; the router's kind -> transform mapping and its rules (``router.py``), Static questions mirrored
  (``static_transform``). The differ / mapped formulas are wholly dybench's (``rewards.py``).
- Sampling and scoring use one distribution: ``generate`` gets a ``GenerationConfig`` built from this
  config alone (temperature; no top-k, no nucleus, no repetition penalty), never the checkpoint's
  generation_config.json; log-probs divide the logits by the same temperature. ``top_p < 1`` is refused.
  Every step logs ``sampler_logprob_gap``, generate's own log-probs against the recomputed ones.
- Weights stay fp32 under bf16 autocast (DeepSpeed: bf16 with fp32 master weights; FSDP: bf16 gathers
  of fp32 shards), so lr 1e-6 updates are not rounded away.
- A group whose G completions all earn the same reward gets zero advantage; no resampling.
- Vision placeholder tokens (``<|video_pad|>``, ...) are never sampled: suppressed in generation and
  masked out of every log-prob.
- ``loss_norm=token`` is the mean over every process's tokens, not each process's own.

What has run, and where (tiny models, CPU; ``tests/test_train_*.py``):

- DDP, 2 processes over gloo: verified on CPU (train, save).
- DeepSpeed ZeRO-3, 2 processes under torchrun: verified on CPU for grpo, crpo and cdpo (train, save a
  ``from_pretrained``-loadable model; reference and bias models as ZeRO-3 inference engines). ZeRO-2 and
  ZeRO-3: a cdpo run killed after its step-2 checkpoint resumes to the uninterrupted run's exact metrics
  and weights (slow tests in ``tests/test_train_deepspeed.py``).
- bf16 autocast and gradient checkpointing: verified on CPU (log-probs within 0.1 of fp32, equal
  gradients); DeepSpeed's own bf16 mode ran on CPU under ZeRO-3 in one process (``SIZE=tiny bash
  benchmarks/gpu_smoke.sh``, ``tests/test_benchmarks_gpu_smoke.py``).
- FSDP (``fsdp=true``, torch's FSDP2 driven by the trainer, ``_fsdp.py``), 2 processes under torchrun:
  verified on CPU for grpo, crpo and cdpo (policy, reference and bias model sharded; generation with the
  shards gathered once, so processes may stop at different lengths; save a ``from_pretrained``-loadable
  fp32 model; bf16 + gradient checkpointing); a cdpo run killed after its step-2 checkpoint resumes to
  the uninterrupted run's exact metrics and weights (``tests/test_train_fsdp.py``). accelerate's own
  FSDP plugin is refused: on CPU it silently runs DDP.
- CRPO published from a Video-R1 json with no counterfactual labels (routing, rendering into the run
  folder and reusing the renders on resume, null option): verified on CPU, a few steps.
- vLLM: removed (the old engine relied on vLLM internals that no longer exist and had never run).
- Nothing has run on a GPU yet (NCCL, CUDA bf16, real model sizes): ``benchmarks/gpu_smoke.sh`` is the
  check to run there, and the trainer says so at launch on a GPU.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from dybench.fileio import write_text_atomic
from dybench.train import _checkpoint as checkpoint
from dybench.train import _fsdp as fsdp
from dybench.train._config import TrainConfig, resolve_deepspeed_config
from dybench.train._counterfactuals import load_training_examples
from dybench.train._data import ClipLoader, DataCursor
from dybench.train._loss import TokenLoss, group_advantages, token_loss, token_weights
from dybench.train._models import (
    assert_not_same_weights,
    check_bias_model,
    generation_model,
    load_model,
    prepare_frozen,
)
from dybench.train._rewards import RewardWeights, score_rollout
from dybench.train._rollout import (
    HFRollout,
    completion_logprobs,
    encode_prompts,
    forbidden_token_ids,
    make_rollout,
    model_arch,
    sampler_gap,
    stop_token_ids,
)

log = logging.getLogger(__name__)


@dataclass
class StepMetrics:
    """One row of ``metrics.jsonl``: means over the step's completions (and over processes)."""

    step: int
    lr: float
    """The learning rate this step's update used."""
    loss: float
    policy_loss: float
    kl_ref: float
    """k3 KL to the initial policy (0 when kl_beta = 0)."""
    kl_bias: float
    """k3 KL to the bias model, after the clamp and bound (cdpo; 0 otherwise). The loss subtracts it."""
    reward: float
    reward_std: float
    """Mean within-group std of the total reward (0 = no learning signal)."""
    reward_correct: float
    """Accuracy reward, over the rows that earn it (crpo published: the original branch only)."""
    reward_format: float
    reward_behave: float
    """crpo published: share of counterfactual rollouts that behave as expected (0 otherwise)."""
    reward_crr_orig: float
    """crpo: the original branch's relation reward (published: R_CRR^orig)."""
    reward_crr_aug: float
    """crpo: the counterfactual branch's relation reward (published: R_CRR^aug)."""
    clip_frac: float
    """Share of completion tokens whose ratio was clipped."""
    ratio: float
    grad_norm: float
    completion_len: float
    truncated: float
    """Share of completions that hit max_new_tokens without an EOS."""
    rollout_tokens: int
    rollout_s: float
    step_s: float
    sampler_logprob_gap: float | None = None
    """Mean |generate's own log-prob - the trainer's recomputed log-prob| over the sampled tokens: 0 up
    to float error when sampling and scoring use one distribution (None: not measured this step)."""


def train(cfg: TrainConfig) -> Path:
    """Run (or resume) training; returns the folder of the final ``save_pretrained`` model."""
    from accelerate import Accelerator, DeepSpeedPlugin
    from accelerate.state import AcceleratorState
    from accelerate.utils import InitProcessGroupKwargs
    from transformers import AutoProcessor

    cfg.check()
    bias_path = check_bias_model(cfg.bias_model, cfg.model) if cfg.method == "cdpo" else None
    out = Path(cfg.output_dir)
    # --- setup -----------------------------------------------------------------------------------
    examples = load_training_examples(cfg)  # CRPO on a Video-R1 json: routed and rendered here
    on_gpu = torch.cuda.is_available()
    bf16 = cfg.dtype == "bfloat16" or (cfg.dtype == "auto" and on_gpu)
    ds_config = resolve_deepspeed_config(cfg, bf16=bf16) if cfg.deepspeed else None

    # Models load whole, in fp32, before the Accelerator exists: under ZeRO-3 transformers would
    # otherwise load them already sharded, and the bias model could not be compared with the policy.
    processor = AutoProcessor.from_pretrained(cfg.model)
    tokenizer = processor.tokenizer
    policy = load_model(cfg.model, trainable=True)
    arch = model_arch(policy)
    if not cfg.train_vision:
        policy.model.visual.requires_grad_(False)
    if cfg.gradient_checkpointing if cfg.gradient_checkpointing is not None else on_gpu:
        policy.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    reference = load_model(cfg.model, trainable=False) if cfg.kl_beta else None
    bias = None
    if bias_path is not None:
        bias = load_model(str(bias_path), trainable=False)
        assert_not_same_weights(bias, policy)

    # accelerate keeps process-wide state: a run before this one in the same process (reproduce's stages,
    # tests) would otherwise pin its precision and DeepSpeed settings on this one
    AcceleratorState._reset_state()
    accelerator = Accelerator(
        gradient_accumulation_steps=cfg.micro_batches,
        mixed_precision="bf16" if bf16 else "no",
        step_scheduler_with_optimizer=False,
        deepspeed_plugin=DeepSpeedPlugin(hf_ds_config=ds_config, zero3_init_flag=False) if ds_config else None,
        # On CPU under torchrun accelerate sees N separate one-process runs unless told: cpu=True gives DDP
        # (or fsdp=true) over gloo; DeepSpeed brings its own process group, to which it passes the backend.
        cpu=not on_gpu and not ds_config,
        kwargs_handlers=[InitProcessGroupKwargs(backend="gloo")] if ds_config and not on_gpu else None,
    )
    if on_gpu and accelerator.is_main_process:
        log.warning(
            "dybench's trainer has NOT RUN ON A GPU yet: every mode is verified on CPU only "
            "(benchmarks/gpu_smoke.sh is the GPU check; please report what it prints)."
        )
    if cfg.fsdp:  # the policy before its optimiser exists: the optimiser holds the shards
        policy = fsdp.shard(policy, accelerator.device, bf16=bf16)
    frozen = {"ds_config": ds_config, "fsdp": cfg.fsdp, "bf16": bf16}
    reference = prepare_frozen(reference, accelerator, **frozen) if reference is not None else None
    bias = prepare_frozen(bias, accelerator, **frozen) if bias is not None else None

    optimizer = torch.optim.AdamW(
        [p for p in policy.parameters() if p.requires_grad],
        lr=cfg.lr,
        betas=cfg.adam_betas,
        weight_decay=cfg.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg))
    cursor = DataCursor(len(examples), cfg.seed)
    if cfg.fsdp:  # sharded already; accelerate's save_state keeps the rest (RNG, data cursor, schedule)
        accelerator.register_for_checkpointing(cursor, scheduler)
    else:
        policy, optimizer, scheduler = accelerator.prepare(policy, optimizer, scheduler)
        accelerator.register_for_checkpointing(cursor)
    clips = ClipLoader(num_frames=cfg.num_frames, fps=cfg.fps)
    eos_ids = stop_token_ids(tokenizer)
    forbidden = forbidden_token_ids(tokenizer)
    engine = HFRollout(
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        eos_ids=eos_ids,
        pad_id=tokenizer.pad_token_id,
        forbidden_ids=forbidden,
        keep_scores=cfg.sampler_gap,
    )

    start = 0
    last = checkpoint.latest_checkpoint(out) if cfg.resume else None
    if last is not None:
        start = checkpoint.load_checkpoint(accelerator, last, policy, optimizer)
        log.info("resumed from %s (step %d)", last, start)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        checkpoint.truncate_metrics(out, start)
        write_text_atomic(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    rank, world = accelerator.process_index, accelerator.num_processes
    G = cfg.num_generations
    progress = _progress(accelerator.is_main_process, cfg.max_steps)
    for step in range(start, cfg.max_steps):
        t0 = time.perf_counter()
        if step % cfg.ppo_epochs == 0:
            # --- data: this process's share of the step's examples --------------------------------
            ids = cursor.take(cfg.prompts_per_step * world)[
                rank * cfg.prompts_per_step : (rank + 1) * cfg.prompts_per_step
            ]
            batch_examples = [examples[i] for i in ids]
            prompts = [p for ex in batch_examples for p in ex.prompts]  # P = prompts_per_step * (1 or 2)
            batch = encode_prompts(
                processor,
                prompts,
                [clips(p.video) for p in prompts],
                arch=arch,
                instruction=cfg.instruction,
                min_pixels=cfg.min_pixels,
                max_pixels=cfg.max_pixels,
            )

            # --- rollout: G completions per prompt ------------------------------------------------
            t_roll = time.perf_counter()
            policy.eval()  # generate with the KV cache (gradient checkpointing turns it off in train mode)
            torch.manual_seed(int(np.random.SeedSequence([cfg.seed, step, rank]).generate_state(1)[0]))
            with generation_model(policy, accelerator) as model, accelerator.autocast():
                samples = engine.sample(model, batch, G)
            rollout = make_rollout(
                batch, samples.completion_ids, tokenizer, eos_ids=eos_ids, num_generations=G, forbidden_ids=forbidden
            )
            rollout_s = time.perf_counter() - t_roll
            mask = rollout.completion_mask  # (B, Lc)

            # --- reward ---------------------------------------------------------------------------
            weights = RewardWeights(
                correct=cfg.accuracy_weight,
                format=cfg.format_weight,
                behave=cfg.behave_weight,
                crr=cfg.crr_weight if cfg.method == "crpo" else 0.0,
            )
            terms = score_rollout(
                rollout.texts,
                batch_examples,
                G,
                weights=weights,
                crr_mode=cfg.crr_mode,
                crr_gated=cfg.crr_gated,
                crr_partner=cfg.crr_partner,
            )
            rewards = torch.tensor(terms.total).view(-1, G)  # (P, G): each prompt (each CRPO branch) a group
            joint = cfg.method == "crpo" and cfg.advantage_groups == "pair"
            groups = rewards.view(-1, 2 * G) if joint else rewards  # (pairs, 2G) when a pair is one group
            advantages = group_advantages(groups, cfg.adv_eps).view(-1)  # (B,)

            # --- fixed log-probs: old policy (only when it will differ), reference, bias -----------
            chunks = list(torch.arange(len(rollout.texts)).split(cfg.micro_batch_size))
            with torch.no_grad(), accelerator.autocast():
                old_logp = _logprobs(policy, rollout, chunks, cfg, forbidden) if cfg.ppo_epochs > 1 else None
                ref_logp = _logprobs(reference, rollout, chunks, cfg, forbidden) if reference is not None else None
                bias_logp = _logprobs(bias, rollout, chunks, cfg, forbidden) if bias is not None else None
            # the token mean is over every process's tokens (loss_norm=token)
            total_tokens = int(accelerator.reduce(mask.sum().to(accelerator.device), "sum"))
            generated = {
                "reward": rewards.mean().item(),
                "reward_std": groups.std(dim=1).mean().item(),
                **terms.means(),  # reward_correct, reward_format, reward_behave, reward_crr_orig, reward_crr_aug
                "completion_len": mask.sum(1).float().mean().item(),
                "truncated": (~torch.isin(rollout.completion_ids, torch.tensor(eos_ids)).any(1)).float().mean().item(),
                "rollout_tokens": int(mask.sum()),
                "rollout_s": rollout_s,
            }

        # --- loss and optimiser step, gradients accumulated over micro-batches ----------------------
        policy.train()
        sums = dict.fromkeys(TokenLoss._fields, 0.0)
        grad_norm, lr = 0.0, scheduler.get_last_lr()[0]  # the rate this step's update uses
        gap_sum, gap_tokens = 0.0, 0  # sampler vs trainer log-probs, on the batch's first update only
        measure_gap = samples.sampler_logprobs is not None and step % cfg.ppo_epochs == 0
        for rows_idx in chunks:
            with accelerator.accumulate(policy), accelerator.autocast():
                logp = completion_logprobs(
                    policy, rollout, rows_idx, temperature=cfg.temperature, forbidden_ids=forbidden
                )  # (b, Lc)
                if measure_gap:  # no update yet on this batch: the policy is still the sampler
                    total, count = sampler_gap(samples.sampler_logprobs[rows_idx], logp, mask[rows_idx])
                    gap_sum, gap_tokens = gap_sum + total, gap_tokens + count
                parts = token_loss(
                    logp,
                    old_logp[rows_idx] if old_logp is not None else logp.detach(),  # on-policy: ratio 1
                    advantages[rows_idx],
                    clip_eps=cfg.clip_eps,
                    clip_eps_high=cfg.clip_eps if cfg.clip_eps_high is None else cfg.clip_eps_high,
                    ref_logp=ref_logp[rows_idx] if ref_logp is not None else None,
                    kl_beta=cfg.kl_beta,
                    bias_logp=bias_logp[rows_idx] if bias_logp is not None else None,
                    bias_beta=cfg.bias_beta,
                    bias_clamp=cfg.bias_log_ratio_clamp,
                    bias_bound=cfg.bias_kl_max,
                )
                # (b, Lc) weights: summed over all micro-batches they give the whole batch's mean
                weights = token_weights(
                    mask[rows_idx], cfg.loss_norm, len(rollout.texts), total_tokens, accelerator.num_processes
                )
                loss = (parts.total * weights).sum()
                accelerator.backward(
                    loss * cfg.micro_batches
                )  # accelerate (DeepSpeed) divides by the accumulation steps
                if accelerator.sync_gradients:  # the last micro-batch of the step
                    grad_norm = (
                        fsdp.clip_grad_norm(policy, cfg.max_grad_norm)
                        if cfg.fsdp
                        else float(accelerator.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm))
                    )
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
            for name, value in zip(TokenLoss._fields, parts, strict=True):
                sums[name] += float((value.detach() * weights).sum())

        # --- metrics and checkpoint ---------------------------------------------------------------
        local = {
            "loss": sums["total"],
            "policy_loss": sums["policy"],
            "kl_ref": sums["kl_ref"],
            "kl_bias": sums["kl_bias"],
            "clip_frac": sums["clipped"],
            "ratio": sums["ratio"],
            "grad_norm": grad_norm,
            "gap_sum": gap_sum,
            "gap_tokens": gap_tokens,
            **generated,
        }
        reduced = {
            k: float(v)
            for k, v in zip(
                local,
                accelerator.reduce(torch.tensor(list(local.values()), device=accelerator.device), "mean"),
                strict=True,
            )
        }
        gap_sum, gap_tokens = reduced.pop("gap_sum"), reduced.pop("gap_tokens")  # means over processes
        metrics = StepMetrics(
            step=step + 1,
            lr=lr,
            step_s=time.perf_counter() - t0,
            sampler_logprob_gap=gap_sum / gap_tokens if measure_gap and gap_tokens else None,
            **{**reduced, "rollout_tokens": int(reduced["rollout_tokens"])},
        )
        if step % cfg.ppo_epochs:  # this step reused the previous generation batch
            metrics.rollout_s, metrics.rollout_tokens = 0.0, 0
        if accelerator.is_main_process:
            checkpoint.append_metrics(out, dataclasses.asdict(metrics))
            progress(metrics)
        if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.max_steps:
            checkpoint.save_checkpoint(
                accelerator, out, step + 1, policy, optimizer, processor, keep=cfg.keep_checkpoints
            )

    final = out / checkpoint.FINAL_MODEL
    checkpoint.save_model(accelerator, policy, processor, final)
    accelerator.end_training()
    return final


def _logprobs(model, rollout, chunks, cfg: TrainConfig, forbidden: list[int]) -> torch.Tensor:
    """(B, Lc) completion log-probs of a model that is not being trained at this moment."""
    return torch.cat(
        [
            completion_logprobs(model, rollout, idx, temperature=cfg.temperature, forbidden_ids=forbidden)
            for idx in chunks
        ]
    ).detach()


def _lr_lambda(cfg: TrainConfig):
    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "cosine":
            progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        return 1.0

    return factor


def _progress(enabled: bool, total: int):
    """A one-line rich status per step on the main process."""
    from rich.console import Console

    console = Console(stderr=True)

    def show(m: StepMetrics) -> None:
        if enabled:
            console.print(
                f"step {m.step}/{total}  reward {m.reward:.3f} (correct {m.reward_correct:.2f}"
                f" fmt {m.reward_format:.2f} behave {m.reward_behave:.2f} crr {m.reward_crr_orig:.2f}"
                f"/{m.reward_crr_aug:.2f})  loss {m.loss:+.4f}"
                f"  kl_bias {m.kl_bias:.4f}  clip {m.clip_frac:.2f}  len {m.completion_len:.0f}"
                f"  {m.step_s:.1f}s",
                highlight=False,
            )

    return show
