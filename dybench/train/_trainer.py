"""The reference trainer: one loop for SFT, GRPO, CRPO, the CDPO bias stage and CDPO on Qwen2.5-VL / Qwen3-VL.

Read top to bottom: data -> rollout (sft: the targets) -> reward -> advantage -> fixed log-probs -> loss ->
optimiser step -> metrics -> checkpoint. Launch (the recipes in ``recipes/`` start with their own command)::

    dybench train cdpo --model Qwen/Qwen2.5-VL-3B-Instruct --data cf.json --output-dir runs/cdpo \
        bias_model=runs/bias/model                                               # one process
    accelerate launch --num_processes N -m dybench.train cdpo --config recipes/cdpo_qwen2_5_vl_3b.yaml  # DeepSpeed
    torchrun --nproc_per_node N -m dybench.train cdpo --config ... fsdp=true deepspeed=null        # FSDP2
    torchrun --nproc_per_node 2 -m dybench.train grpo --model ... --data ... --output-dir ...     # CPU, DDP/gloo

Outputs in ``--output-dir``: ``model/`` (the final ``save_pretrained`` checkpoint with its processor),
``metrics.jsonl`` (one ``StepMetrics`` row per optimiser step), ``config.yaml``, ``checkpoints/``
(``_checkpoint.py``), and at the end ``summary.json`` + ``metrics.png``. Running the same command again
resumes from the newest checkpoint, or says the run is done.

The methods (``README.md``, "Training", has the papers' facts):

- sft: cross-entropy on a fixed target per prompt (``_sft.py``): the warm-up of a model built offline.
- grpo: rewards = accuracy (the evaluation's parser, partial credit for multi-letter gold) + format.
- bias: grpo with no KL, on the shortcut subset (CDPO stage 1).
- cdpo: grpo minus ``bias_beta * KL_k3(pi || pi_bias)`` in the loss (``_loss.repulsive_kl``): pushed *away*
  from a frozen bias model, scored on the frames the bias model was trained on (``bias_num_frames``).
- crpo: both branches of a counterfactual pair in one step, each its own group of G, with the rewards the
  CRPO project page publishes (``_rewards.py``; ``crr_mode=published``).

Where this departs from the papers' released code, on purpose:

- The bias model is loaded and used in every distributed mode, and refused when missing or equal to the
  policy (VideoThinker honours it only under ZeRO-3 and otherwise repels the initial policy).
- Old-policy log-probs are the sampling policy's, computed once per generation batch before any update,
  so with ``ppo_epochs > 1`` the clip binds (VideoThinker detaches the current log-probs, so it never
  does). With ``ppo_epochs = 1`` (the papers' setting) the ratio is exactly 1 and the loss is the
  policy gradient.
- The repulsion's per-token bound ``bias_kl_max`` (off by default, as released) caps each token's gradient
  instead of zeroing it (``_loss.repulsive_kl``).
- CRPO, where the project page is silent, dybench chooses (each a setting, ``_rewards.py`` and
  ``_config.py``): reward weights 1, the relation rate over the other branch, the gates, advantage groups.
  Under per-branch groups with rates averaged over the other branch and constant format, the relation
  terms change no advantage (``_rewards.py`` shows why); every step logs ``crr_advantage_shift``.
- Sampling and scoring use one distribution: ``generate`` gets a ``GenerationConfig`` built from this
  config alone (temperature; no top-k, no nucleus, no repetition penalty), never the checkpoint's
  generation_config.json; log-probs divide the logits by the same temperature. ``top_p < 1`` is refused.
  Every step logs ``sampler_logprob_gap``, generate's own log-probs against the recomputed ones.
- Weights stay fp32 under bf16 autocast (DeepSpeed: bf16 with fp32 master weights; FSDP: bf16 gathers
  of fp32 shards), so lr 1e-6 updates are not rounded away.
- A group whose G completions all earn the same reward gets zero advantage; no resampling.
- Vision placeholder tokens (``<|video_pad|>``, ...) are never sampled: suppressed in generation and
  masked out of every RL log-prob.
- ``loss_norm=token`` is the mean over every process's tokens, not each process's own.

What has run where is the README's "What has run" table (nothing on a GPU yet: the trainer says so at launch).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
import yaml

from dybench.fileio import write_text_atomic
from dybench.train import _checkpoint as checkpoint
from dybench.train import _fsdp as fsdp
from dybench.train._config import TrainConfig, resolve_deepspeed_config
from dybench.train._counterfactuals import load_training_examples
from dybench.train._data import Clip, ClipLoader, DataCursor, Example, Prompt, transform_clip
from dybench.train._loss import (
    LossNorm,
    TokenLoss,
    flat_group_share,
    group_advantages,
    sft_token_loss,
    token_loss,
    token_weights,
)
from dybench.train._model_loading import (
    assert_not_same_weights,
    bias_training_frames,
    check_bias_model,
    generation_model,
    load_model,
    prepare_frozen,
)
from dybench.train._rewards import REWARD_TERMS, CRRMode, CRRPartner, ProbeKind, Probes, RewardWeights, score_rollout
from dybench.train._rollout import (
    HFRollout,
    PromptBatch,
    completion_logprobs,
    encode_prompts,
    forbidden_token_ids,
    generate_completions,
    greedy_config,
    greedy_texts,
    make_rollout,
    model_arch,
    sampler_gap,
    stop_token_ids,
    target_rollout,
    with_prompts,
)
from dybench.train._router import arrow_of_time
from dybench.train._run_record import explain_start, finished_run, write_summary
from dybench.train._sft import DrawCursor, HeldOutCheck, check_held_back, sft_data, target_text

log = logging.getLogger(__name__)


@dataclass
class StepMetrics:
    """One row of ``metrics.jsonl``: means over the step's completions (and over processes)."""

    step: int
    lr: float
    """The learning rate this step's update used."""
    loss: float
    policy_loss: float
    """sft: the cross-entropy of the targets."""
    kl_ref: float
    """k3 KL to the initial policy (0 when kl_beta = 0)."""
    kl_bias: float
    """k3 KL to the bias model, before any bound (cdpo; 0 otherwise). The loss subtracts it."""
    reward: float
    reward_std: float
    """Mean within-group std of the total reward (0 = no learning signal)."""
    frac_reward_zero_std: float
    """Share of the step's advantage groups whose rewards are all equal (no signal from them; TRL's name; 0 for
    sft, which has no reward)."""
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
    crr_advantage_shift: float | None = None
    """crpo: mean |advantage with the relation terms - advantage without them| over the step's rows (0: the
    relation terms change nothing the policy learns from; see ``_rewards.py``)."""
    kl_bias_cue_answers: float | None = None
    """cdpo: ``kl_bias`` over the completions that answer what their question's shortcut cue points to (the
    data's ``cue_answer``; None when the step has none): is the repulsion acting on the shortcut's answers?"""
    kl_bias_other_answers: float | None = None
    """cdpo: ``kl_bias`` over the completions whose (parsed) answer is not the cue's."""
    heldout_acc: float | None = None
    """sft: greedy accuracy on the held-back prompts, at every ``sft_check_every`` steps."""
    reward_temporal: float = 0.0
    """tgrpo: share of ordered rollouts that earned T-GRPO's bonus (each earns ``tgrpo_alpha``)."""
    reward_reverse: float = 0.0
    """arrowrl: the reverse reward's mean (answers that diverge from the reversed clip's where they should)."""
    ordered_acc: float | None = None
    """tgrpo: mean accuracy of the ordered rollouts (arrowrl: of the forward ones)."""
    shuffled_acc: float | None = None
    """tgrpo: mean accuracy of the completions on the frame-shuffled clips."""
    temporal_condition: float | None = None
    """tgrpo: share of groups whose ordered accuracy reached ``tgrpo_mu`` x the shuffled one's."""
    reversed_acc: float | None = None
    """arrowrl: accuracy of the greedy answer on the reversed clip against the forward gold."""


def train(cfg: TrainConfig) -> Path:
    """Run (or resume) training; returns the folder of the final ``save_pretrained`` model."""
    from accelerate import Accelerator, DeepSpeedPlugin
    from accelerate.state import AcceleratorState
    from accelerate.utils import InitProcessGroupKwargs
    from transformers import AutoProcessor, get_scheduler

    cfg.check()
    out = Path(cfg.output_dir)
    if cfg.resume and (done := finished_run(out, cfg)) is not None:
        log.warning("%s: already done (%s); delete the folder or change a setting to train again", out, done)
        return out / checkpoint.FINAL_MODEL
    sft = cfg.method == "sft"
    bias_path = check_bias_model(cfg.bias_model, cfg.model) if cfg.method == "cdpo" else None
    # --- setup -----------------------------------------------------------------------------------
    rng = np.random.default_rng(cfg.seed)  # sft: the held-back split, batch draws and random targets
    if sft:
        split = sft_data(cfg.data, targets=cfg.sft_targets, held_back=cfg.sft_held_back, rng=rng,
                         video_root=cfg.video_root, categories=cfg.categories)  # fmt: skip
        examples: list[Example] = split.train
    else:
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
    bias_clips: ClipLoader | None = None
    if bias_path is not None:
        bias = load_model(str(bias_path), trainable=False)
        assert_not_same_weights(bias, policy)
        bias_frames = cfg.bias_num_frames or bias_training_frames(bias_path)
        if bias_frames is not None and bias_frames != cfg.num_frames:
            bias_clips = ClipLoader(num_frames=bias_frames, fps=None)
            log.info("the bias model scores the rollouts on %d frame(s), as it was trained", bias_frames)

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
    if reference is not None:
        reference = prepare_frozen(reference, accelerator, ds_config, fsdp=cfg.fsdp, bf16=bf16)
    if bias is not None:
        bias = prepare_frozen(bias, accelerator, ds_config, fsdp=cfg.fsdp, bf16=bf16)

    optimizer = torch.optim.AdamW(
        [p for p in policy.parameters() if p.requires_grad],
        lr=cfg.lr,
        betas=cfg.adam_betas,
        weight_decay=cfg.weight_decay,
    )
    schedule = "constant_with_warmup" if cfg.lr_schedule == "constant" else cfg.lr_schedule
    scheduler = get_scheduler(schedule, optimizer, num_warmup_steps=cfg.warmup_steps,
                              num_training_steps=cfg.max_steps)  # fmt: skip
    cursor = DrawCursor(len(examples), rng) if sft else DataCursor(len(examples), cfg.seed)
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

    def encode(prompts: list[Prompt], loader: Callable[[Prompt], Clip] | ClipLoader = clips) -> PromptBatch:
        clip_of = (lambda p: loader(p.video)) if isinstance(loader, ClipLoader) else loader
        return encode_prompts(
            processor,
            prompts,
            [clip_of(p) for p in prompts],
            arch=arch,
            instruction=cfg.instruction,
            min_pixels=cfg.min_pixels,
            max_pixels=cfg.max_pixels,
        )

    aot: dict[str, bool | None] = {}  # arrowrl: does the arrow of time decide each question?

    def sample_probes(prompts: list[Prompt], gen: np.random.Generator) -> Probes:
        """T-GRPO: G // 2 completions per prompt on its frames in a random order; ArrowRL: the greedy answer
        on its frames played backwards. Scored, never trained on."""
        shuffled = cfg.method == "tgrpo"
        kind: ProbeKind = "shuffled" if shuffled else "reversed"
        batch = encode(prompts, lambda p: transform_clip(clips(p.video), kind, gen))
        n = (cfg.tgrpo_shuffled_generations or G // 2) if shuffled else 1
        with generation_model(policy, accelerator) as model, accelerator.autocast():
            if shuffled:
                ids = engine.sample(model, batch, n).completion_ids
            else:
                ids = generate_completions(
                    model, batch, greedy_config(cfg.max_new_tokens, tokenizer, eos_ids, forbidden)
                )
        texts = make_rollout(
            batch, ids.cpu(), tokenizer, eos_ids=eos_ids, num_generations=n, forbidden_ids=forbidden
        ).texts
        if not shuffled:
            for p in prompts:
                if p.prompt_id not in aot:
                    aot[p.prompt_id] = arrow_of_time(p.question, p.options, p.category)
        return Probes(kind, texts, n, aot=[aot.get(p.prompt_id) for p in prompts], mu=cfg.tgrpo_mu)

    def held_back_check() -> HeldOutCheck:
        with generation_model(policy, accelerator) as model, accelerator.autocast():
            texts = greedy_texts(model, encode, split.held_back, tokenizer, eos_ids)
        return check_held_back(texts, split.held_back)

    start = 0
    last = checkpoint.latest_checkpoint(out) if cfg.resume else None
    if last is not None:
        start = checkpoint.load_checkpoint(accelerator, last, policy, optimizer)
        log.info("resumed from %s (step %d)", last, start)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        checkpoint.truncate_metrics(out, start)
        write_text_atomic(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    if accelerator.is_main_process and start == 0:
        explain_start(cfg, accelerator.num_processes)

    rank, world = accelerator.process_index, accelerator.num_processes
    G = cfg.num_generations
    progress = _progress(accelerator.is_main_process, cfg)
    t_run, stopped = time.perf_counter(), None
    for step in range(start, cfg.max_steps):
        t0 = time.perf_counter()
        if step % cfg.ppo_epochs == 0:
            # --- data: this process's share of the step's examples --------------------------------
            ids = cursor.take(cfg.prompts_per_step * world)[
                rank * cfg.prompts_per_step : (rank + 1) * cfg.prompts_per_step
            ]
            batch_examples = [examples[i] for i in ids]
            prompts = [p for ex in batch_examples for p in ex.prompts]  # P = prompts_per_step * (1 or 2)
            batch = encode(prompts)
            extra: dict[str, float] = {}

            if sft:
                # --- targets: one fixed completion per prompt; no sampling, no reward -------------------
                texts = [target_text(p, targets=cfg.sft_targets, think=cfg.sft_think, rng=rng) for p in prompts]
                rollout = target_rollout(batch, texts, tokenizer, eos_ids)
                samples, rollout_s = None, 0.0
                advantages = torch.zeros(len(prompts))
                rewards = groups = torch.zeros(len(prompts), 1)
                terms_means: dict[str, float] = {}
                old_logp = ref_logp = bias_logp = None
            else:
                # --- rollout: G completions per prompt --------------------------------------------
                t_roll = time.perf_counter()
                policy.eval()  # generate with the KV cache (gradient checkpointing turns it off in train mode)
                torch.manual_seed(int(np.random.SeedSequence([cfg.seed, step, rank]).generate_state(1)[0]))
                with generation_model(policy, accelerator) as model, accelerator.autocast():
                    samples = engine.sample(model, batch, G)
                rollout = make_rollout(batch, samples.completion_ids, tokenizer, eos_ids=eos_ids, num_generations=G,
                                       forbidden_ids=forbidden)  # fmt: skip
                probes = None
                if cfg.method in ("tgrpo", "arrowrl"):  # scored-only completions on transformed clips
                    probes = sample_probes(prompts, np.random.default_rng([cfg.seed, step, rank, 1]))
                rollout_s = time.perf_counter() - t_roll

                # --- reward -----------------------------------------------------------------------
                terms = score_rollout(
                    rollout.texts,
                    batch_examples,
                    G,
                    weights=RewardWeights(
                        correct=cfg.accuracy_weight,
                        format=cfg.format_weight,
                        behave=cfg.behave_weight,
                        crr=cfg.crr_weight if cfg.method == "crpo" else 0.0,
                        temporal=cfg.tgrpo_alpha if cfg.method == "tgrpo" else 0.0,
                        reverse=cfg.arrowrl_weight if cfg.method == "arrowrl" else 0.0,
                    ),
                    crr_mode=cast(CRRMode, cfg.crr_mode),  # a choice TrainConfig.validate checked
                    crr_gated=cfg.crr_gated,
                    crr_partner=cast(CRRPartner, cfg.crr_partner),
                    probes=probes,
                )
                terms_means = terms.means()
                extra.update(terms.probes)  # ordered_acc, shuffled_acc, temporal_condition, reversed_acc

                # --- advantage: each prompt (each CRPO branch) a group, or each CRPO pair ------------
                joint = cfg.method == "crpo" and cfg.advantage_groups == "pair"
                rewards = torch.tensor(terms.total).view(-1, G)  # (P, G)
                groups = rewards.view(-1, 2 * G) if joint else rewards  # (pairs, 2G) when a pair is one group
                advantages = group_advantages(groups, cfg.adv_eps).view(-1)  # (B,)
                if cfg.method == "crpo":
                    plain = torch.tensor(terms.total_without_relation()).view(groups.shape)
                    shift = (advantages - group_advantages(plain, cfg.adv_eps).view(-1)).abs().mean()
                    extra["crr_advantage_shift"] = float(shift)

                # --- fixed log-probs: old policy (only when it will differ), reference, bias -------
                chunks = list(torch.arange(len(rollout.texts)).split(cfg.micro_batch_size))
                bias_rollout = rollout
                if bias_clips is not None:  # the bias model sees the frames it was trained on
                    bias_rollout = with_prompts(rollout, encode(prompts, bias_clips))
                with torch.no_grad(), accelerator.autocast():
                    old_logp = _logprobs(policy, rollout, chunks, cfg, forbidden) if cfg.ppo_epochs > 1 else None
                    ref_logp = _logprobs(reference, rollout, chunks, cfg, forbidden) if reference is not None else None
                    bias_logp = _logprobs(bias, bias_rollout, chunks, cfg, forbidden) if bias is not None else None
            mask = rollout.completion_mask  # (B, Lc)
            chunks = list(torch.arange(len(rollout.texts)).split(cfg.micro_batch_size))
            # the token mean is over every process's tokens (loss_norm=token)
            total_tokens = int(accelerator.reduce(mask.sum().to(accelerator.device), "sum"))
            generated = {
                "reward": rewards.mean().item(),
                "reward_std": groups.std(dim=1).mean().item() if groups.shape[1] > 1 else 0.0,
                "frac_reward_zero_std": 0.0 if sft else flat_group_share(groups),
                **{f"reward_{t}": 0.0 for t in REWARD_TERMS},
                **terms_means,  # reward_correct, reward_format, reward_behave, reward_crr_orig, reward_crr_aug
                "completion_len": mask.sum(1).float().mean().item(),
                "truncated": (~torch.isin(rollout.completion_ids, torch.tensor(eos_ids)).any(1)).float().mean().item(),
                "rollout_tokens": int(mask.sum()),
                "rollout_s": rollout_s,
            }
            # (B,) +1 the completion answers the cue's answer, -1 another answer, 0 no cue or unparsable
            cue = cue_rows(prompts, terms.parsed, G) if bias is not None else None

        # --- loss and optimiser step, gradients accumulated over micro-batches ----------------------
        policy.train()
        sums = dict.fromkeys(TokenLoss._fields, 0.0)
        cue_kl = torch.zeros(4)  # kl sum and row count on the cue's answers, then on other answers
        grad_norm, lr = 0.0, scheduler.get_last_lr()[0]  # the rate this step's update uses
        gap_sum, gap_tokens = 0.0, 0.0  # sampler vs trainer log-probs, on the batch's first update only
        sampler_logprobs = samples.sampler_logprobs if samples is not None and step % cfg.ppo_epochs == 0 else None
        measure_gap = sampler_logprobs is not None
        for rows_idx in chunks:
            with accelerator.accumulate(policy), accelerator.autocast():
                # sft: the plain cross-entropy over the whole vocabulary; RL: the sampling distribution
                logp = completion_logprobs(
                    policy,
                    rollout,
                    rows_idx,
                    temperature=1.0 if sft else cfg.temperature,
                    forbidden_ids=() if sft else forbidden,
                )  # fmt: skip  (b, Lc)
                if sampler_logprobs is not None:  # no update yet on this batch: the policy is still the sampler
                    total, count = sampler_gap(sampler_logprobs[rows_idx], logp, mask[rows_idx])
                    gap_sum, gap_tokens = gap_sum + total, gap_tokens + count
                if sft:
                    parts = sft_token_loss(logp)
                else:
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
                    mask[rows_idx], "token" if sft else cast(LossNorm, cfg.loss_norm), len(rollout.texts),
                    total_tokens, accelerator.num_processes,
                )  # fmt: skip
                loss = (parts.total * weights).sum()
                # accelerate (DeepSpeed) divides by the accumulation steps
                accelerator.backward(loss * cfg.micro_batches)
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
            if cue is not None:
                cue_kl += per_row_split(parts.kl_bias.detach(), mask[rows_idx], cue[rows_idx])

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
            **extra,
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
        rollout_tokens = int(reduced.pop("rollout_tokens"))
        metrics = StepMetrics(
            step=step + 1,
            lr=lr,
            step_s=time.perf_counter() - t0,
            sampler_logprob_gap=gap_sum / gap_tokens if measure_gap and gap_tokens else None,
            rollout_tokens=rollout_tokens,
            **reduced,
        )
        if cue is not None:
            kl = accelerator.reduce(cue_kl.to(accelerator.device), "sum").tolist()
            metrics.kl_bias_cue_answers = kl[0] / kl[1] if kl[1] else None
            metrics.kl_bias_other_answers = kl[2] / kl[3] if kl[3] else None
        if step % cfg.ppo_epochs:  # this step reused the previous generation batch
            metrics.rollout_s, metrics.rollout_tokens = 0.0, 0
        if sft and cfg.sft_check_every and (step + 1) % cfg.sft_check_every == 0:
            policy.eval()
            metrics.heldout_acc = held_back_check().accuracy
            if cfg.sft_stop_accuracy is not None and metrics.heldout_acc >= cfg.sft_stop_accuracy:
                stopped = f"held-back accuracy {metrics.heldout_acc:.3f} reached sft_stop_accuracy at step {step + 1}"
        if accelerator.is_main_process:
            checkpoint.append_metrics(out, dataclasses.asdict(metrics))
            progress(metrics)
        if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.max_steps or stopped:
            checkpoint.save_checkpoint(
                accelerator, out, step + 1, policy, optimizer, processor, keep=cfg.keep_checkpoints
            )
        if stopped:
            break

    final = out / checkpoint.FINAL_MODEL
    checkpoint.save_model(accelerator, policy, processor, final)
    extras = {}
    if sft:
        policy.eval()
        extras["held_back"] = dataclasses.asdict(held_back_check())
    if accelerator.is_main_process:
        write_summary(out, cfg, stopped=stopped, wall_s=time.perf_counter() - t_run, extras=extras)
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


def cue_rows(prompts: list[Prompt], parsed: list[str | None], num_generations: int) -> torch.Tensor:
    """(B,) for each completion: +1 when it answers what its question's shortcut cue points to
    (``Prompt.cue_answer``), -1 when it answers something else, 0 when there is no cue or no parsed answer."""
    cues = [p.cue_answer for p in prompts for _ in range(num_generations)]
    return torch.tensor(
        [0 if c is None or a is None else (1 if a == c else -1) for c, a in zip(cues, parsed, strict=True)]
    )


def per_row_split(values: torch.Tensor, mask: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """[sum, count] of the per-row token means of ``values`` (b, Lc) over rows with sign +1, then -1."""
    row = (values * mask).sum(1) / mask.sum(1).clamp(min=1)  # (b,)
    agree, conflict = sign == 1, sign == -1
    return torch.stack([row[agree].sum(), agree.sum(), row[conflict].sum(), conflict.sum()]).float().cpu()


def _progress(enabled: bool, cfg: TrainConfig):
    """A one-line rich status per step on the main process, with the terms this method has."""
    from rich.console import Console

    console = Console(stderr=True)
    method = cfg.method

    def show(m: StepMetrics) -> None:
        if not enabled:
            return
        if method == "sft":
            parts = [f"loss {m.loss:.4f}"]
            if m.heldout_acc is not None:
                parts.append(f"held-back acc {m.heldout_acc:.3f}")
        else:
            terms = {"correct": m.reward_correct, "fmt": m.reward_format}
            if method == "crpo":
                terms |= {"behave": m.reward_behave, "crr": m.reward_crr_orig, "crr_aug": m.reward_crr_aug}
            parts = [f"reward {m.reward:.3f} (" + " ".join(f"{k} {v:.2f}" for k, v in terms.items()) + ")",
                     f"loss {m.loss:+.4f}"]  # fmt: skip
            if method == "crpo" and m.crr_advantage_shift is not None:
                parts.append(f"crr shift {m.crr_advantage_shift:.3f}")
            if method == "cdpo":
                parts.append(f"kl_bias {m.kl_bias:.4f}")
            if cfg.kl_beta:
                parts.append(f"kl_ref {m.kl_ref:.4f}")
            parts += [f"clip {m.clip_frac:.2f}", f"len {m.completion_len:.0f}"]
        console.print(f"step {m.step}/{cfg.max_steps}  " + "  ".join(parts) + f"  {m.step_s:.1f}s", highlight=False)

    return show
