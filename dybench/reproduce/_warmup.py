"""The supervised start of a randomly initialised model: the answer format, and optionally some perception.

A tiny model built offline (``dybench.testing``) writes random tokens, so every RL reward is 0 and
GRPO has nothing to learn from. The papers start from instruction-tuned models that already follow
``<think>...</think><answer>X</answer>``; this short supervised pass stands in for that, and for that
only:

- the prompts are the training prompts exactly as the trainer encodes them (chat template, video,
  question, options, the trainer's instruction), through the trainer's own ``encode_prompts`` and
  ``completion_logprobs``;
- each target is ``<think>{think}</think><answer>{X}</answer>`` with ``X`` drawn **uniformly at random**
  among the question's own answers (its option letters, or yes/no), independently of the gold answer
  and of the video, and ``think`` fixed (empty by default). The target carries no information about the
  content, so whatever the model later knows about the videos comes from RL.

The warmed-up model answers in the format with answers spread over the valid choices (its accuracy is
at chance, measured and written to ``warmup.json``): the same start for every method and seed.

With ``Warmup(targets="gold")`` the targets are the true answers on BOTH branches of every training pair
instead, and the warm-up stops once held-back accuracy reaches ``stop_accuracy``. On both branches the
planted cue is right once and wrong once, so this teaches perception and no shortcut; stopping early
leaves the perception partial, like the instruction-tuned models the papers start from (whose
shortcuts RL then strengthens or suppresses).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dybench.fileio import atomic_dir, json_text
from dybench.records import letter
from dybench.report import progress_bar
from dybench.reproduce._presets import Warmup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarmupReport:
    """What the warm-up did and what the warmed-up model answers (written to ``warmup.json``)."""

    steps: int
    final_loss: float
    losses: list[float]
    format_rate: float
    """Share of greedy answers on held-back prompts that pass ``format_ok``."""
    sampled_format_rate: float
    """The same for answers sampled at temperature 1, as RL samples them (4 per prompt)."""
    sampled_valid_rate: float
    """Share of sampled answers that parse to one of the question's own choices."""
    accuracy: float
    """Greedy accuracy on the same prompts (near chance with random targets: nothing about content was
    taught)."""
    answers: dict[str, int]
    """Greedy parsed answers, counted (None = unparsable)."""
    wall_s: float
    targets: str = "random"
    checks: list[list[float]] = field(default_factory=list)
    """``[step, held-back greedy accuracy]`` at every check (gold targets with ``stop_accuracy``)."""


def random_target(n_options: int, rng: np.random.Generator, think: str) -> str:
    """A format-correct target whose answer is uniform over the question's choices (no content)."""
    choices = [letter(i) for i in range(n_options)] if n_options else ["yes", "no"]
    return f"<think>{think}</think><answer>{choices[int(rng.integers(len(choices)))]}</answer>"


def format_warmup(
    model_dir: str | Path,
    data: str | Path,
    out_dir: str | Path,
    *,
    spec: Warmup,
    seed: int,
    num_frames: int,
    min_pixels: int,
    max_pixels: int,
    instruction: str,
    eval_prompts: int | None = None,
) -> WarmupReport:
    """Warm ``model_dir`` up on the prompts of ``data`` (a Video-R1 json or pairs folder) into ``out_dir``."""
    import torch
    from transformers import AutoProcessor

    from dybench.scoring import answer_reward, format_ok, parse_answer
    from dybench.train import (
        ClipLoader,
        completion_logprobs,
        encode_prompts,
        load_examples,
        load_model,
        make_rollout,
        model_arch,
        stop_token_ids,
    )

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    processor = AutoProcessor.from_pretrained(model_dir)
    tokenizer = processor.tokenizer
    model = load_model(str(model_dir), trainable=True)
    arch = model_arch(model)
    gold = spec.targets == "gold"
    held_count = eval_prompts or spec.held_back
    examples = load_examples(data, paired=gold)  # gold: both branches of every pair
    order = rng.permutation(len(examples))
    n_held = max(1, held_count // 2) if gold else held_count
    held = [p for i in order[:n_held] for p in examples[i].prompts[: 2 if gold else 1]]
    train_prompts = [p for i in order[n_held:] for p in examples[i].prompts[: 2 if gold else 1]] or held
    prompts = held + train_prompts
    clips = ClipLoader(num_frames=num_frames, fps=None, cache_size=len(prompts))
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    eos_ids = stop_token_ids(tokenizer)

    def encode(batch_prompts):
        return encode_prompts(
            processor,
            batch_prompts,
            [clips(p.video) for p in batch_prompts],
            arch=arch,
            instruction=instruction,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
        )

    def target(p) -> str:
        return (
            f"<think>{spec.think}</think><answer>{p.answer}</answer>"
            if gold
            else random_target(p.n_options, rng, spec.think)
        )

    def held_accuracy() -> float:
        model.eval()
        texts = generate(model, encode, held, tokenizer, eos_ids, samples=0)
        model.train()
        scores = [answer_reward(parse_answer(t, p.n_options), p.answer) for t, p in zip(texts, held, strict=True)]
        return float(np.mean(scores))

    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=0.0)
    losses: list[float] = []
    checks: list[list[float]] = []
    model.train()
    with progress_bar(f"warm-up ({spec.targets} targets)") as update:
        for step in range(1, spec.steps + 1):
            picked = [train_prompts[i] for i in rng.integers(len(train_prompts), size=spec.batch_size)]
            batch = encode(picked)
            targets = [tokenizer.encode(target(p), add_special_tokens=False) for p in picked]
            length = max(len(t) for t in targets) + 1
            ids = torch.full((len(targets), length), tokenizer.pad_token_id, dtype=torch.long)
            for row, t in enumerate(targets):
                ids[row, : len(t) + 1] = torch.tensor([*t, end])  # (B, Lc): target, <|im_end|>, pad
            rollout = make_rollout(batch, ids, tokenizer, eos_ids=eos_ids, num_generations=1)
            logp = completion_logprobs(model, rollout, torch.arange(len(targets)))  # (B, Lc)
            mask = rollout.completion_mask.float()
            loss = -(logp * mask).sum() / mask.sum()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(round(loss.item(), 5))
            update(step, spec.steps)
            if spec.stop_accuracy is not None and step % spec.check_every == 0:
                checks.append([step, round(held_accuracy(), 4)])
                log.info("warm-up step %d: held-back accuracy %.3f", step, checks[-1][1])
                if checks[-1][1] >= spec.stop_accuracy:
                    break

    # answers on held-back prompts, greedy and sampled: format learned, content not
    model.eval()
    greedy = generate(model, encode, held, tokenizer, eos_ids, samples=0)
    sampled = generate(model, encode, held, tokenizer, eos_ids, samples=4)
    parsed = [parse_answer(t, p.n_options) for t, p in zip(greedy, held, strict=True)]
    sampled_parsed = [
        parse_answer(t, p.n_options) for t, p in zip(sampled, [p for p in held for _ in range(4)], strict=True)
    ]
    report = WarmupReport(
        steps=len(losses),
        final_loss=losses[-1] if losses else math.nan,
        losses=losses,
        format_rate=float(np.mean([format_ok(t) for t in greedy])),
        sampled_format_rate=float(np.mean([format_ok(t) for t in sampled])),
        sampled_valid_rate=float(np.mean([a is not None and "," not in a for a in sampled_parsed])),
        accuracy=float(np.mean([answer_reward(a, p.answer) for a, p in zip(parsed, held, strict=True)])),
        answers=dict(Counter(str(a) for a in parsed)),
        wall_s=round(time.perf_counter() - t0, 2),
        targets=spec.targets,
        checks=checks,
    )

    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        (tmp / "warmup.json").write_text(json_text(asdict(report)))
    return report


def generate(model, encode, prompts, tokenizer, eos_ids: list[int], *, samples: int, max_new_tokens: int = 32):
    """Decoded answers to ``prompts``: greedy (``samples=0``) or ``samples`` draws each from the trainer's
    sampling distribution at temperature 1."""
    from transformers import GenerationConfig

    from dybench.train import forbidden_token_ids, generate_completions, sampling_config

    pad_id = tokenizer.pad_token_id
    if samples:
        config = sampling_config(max_new_tokens=max_new_tokens, temperature=1.0, num_generations=samples,
                                 eos_ids=eos_ids, pad_id=pad_id, forbidden_ids=forbidden_token_ids(tokenizer),
                                 keep_scores=False)  # fmt: skip
    else:
        config = GenerationConfig(do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=eos_ids,
                                  pad_token_id=pad_id)  # fmt: skip
    texts = []
    for i in range(0, len(prompts), 8):
        new = generate_completions(model, encode(prompts[i : i + 8]), config)  # (rows, Lc)
        texts += tokenizer.batch_decode(new, skip_special_tokens=True)
    return texts
