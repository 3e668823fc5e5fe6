"""Format warm-up: teach a randomly initialised model the answer *format*, not the answers.

A tiny model built offline (``dybench.tiny_model``) writes random tokens, so every RL reward is 0 and
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
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dybench.records import letter
from dybench.reproduce.presets import Warmup


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
    """Greedy accuracy on the same prompts (should be near chance: nothing about content was taught)."""
    answers: dict[str, int]
    """Greedy parsed answers, counted (None = unparsable)."""
    wall_s: float


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
    eval_prompts: int = 16,
) -> WarmupReport:
    """Warm ``model_dir`` up on the prompts of ``data`` (a Video-R1 json or pairs folder) into ``out_dir``."""
    import torch
    from transformers import AutoProcessor

    from dybench.scoring import answer_reward, format_ok, parse_answer
    from dybench.train.data import ClipLoader, load_examples
    from dybench.train.models import load_model
    from dybench.train.rollout import completion_logprobs, encode_prompts, make_rollout, model_arch

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    processor = AutoProcessor.from_pretrained(model_dir)
    tokenizer = processor.tokenizer
    model = load_model(str(model_dir), trainable=True)
    arch = model_arch(model)
    prompts = [ex.prompts[0] for ex in load_examples(data, paired=False)]
    order = rng.permutation(len(prompts))
    held = [prompts[i] for i in order[:eval_prompts]]
    train_prompts = [prompts[i] for i in order[eval_prompts:]] or held
    clips = ClipLoader(num_frames=num_frames, fps=None, cache_size=len(prompts))
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    eos_ids = sorted({end, tokenizer.eos_token_id, tokenizer.pad_token_id})

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

    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=0.0)
    losses = []
    model.train()
    for _ in range(spec.steps):
        picked = [train_prompts[i] for i in rng.integers(len(train_prompts), size=spec.batch_size)]
        batch = encode(picked)
        targets = [
            tokenizer.encode(random_target(p.n_options, rng, spec.think), add_special_tokens=False) for p in picked
        ]
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

    # answers on held-back prompts, greedy and sampled: format learned, content not
    model.eval()
    greedy = generate(model, encode, held, tokenizer, eos_ids, samples=0)
    sampled = generate(model, encode, held, tokenizer, eos_ids, samples=4)
    parsed = [parse_answer(t, p.n_options) for t, p in zip(greedy, held, strict=True)]
    sampled_parsed = [
        parse_answer(t, p.n_options) for t, p in zip(sampled, [p for p in held for _ in range(4)], strict=True)
    ]
    report = WarmupReport(
        steps=spec.steps,
        final_loss=losses[-1] if losses else math.nan,
        losses=losses,
        format_rate=float(np.mean([format_ok(t) for t in greedy])),
        sampled_format_rate=float(np.mean([format_ok(t) for t in sampled])),
        sampled_valid_rate=float(np.mean([a is not None and "," not in a for a in sampled_parsed])),
        accuracy=float(np.mean([answer_reward(a, p.answer) for a, p in zip(parsed, held, strict=True)])),
        answers=dict(Counter(str(a) for a in parsed)),
        wall_s=round(time.perf_counter() - t0, 2),
    )

    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    processor.save_pretrained(tmp)
    (tmp / "warmup.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return report


def generate(model, encode, prompts, tokenizer, eos_ids: list[int], *, samples: int, max_new_tokens: int = 32):
    """Decoded answers to ``prompts``: greedy (``samples=0``) or ``samples`` draws at temperature 1 each."""
    import torch

    texts = []
    with torch.no_grad():
        for i in range(0, len(prompts), 8):
            batch = encode(prompts[i : i + 8])
            out = model.generate(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                mm_token_type_ids=batch.mm_token_type_ids,
                **{k: torch.cat([v[k] for v in batch.vision]) for k in batch.vision[0]},
                do_sample=bool(samples),
                temperature=1.0 if samples else None,
                top_k=0 if samples else None,
                num_return_sequences=max(samples, 1),
                max_new_tokens=max_new_tokens,
                eos_token_id=eos_ids,
                pad_token_id=tokenizer.pad_token_id,
            )
            texts += tokenizer.batch_decode(out[:, batch.input_ids.shape[1] :], skip_special_tokens=True)
    return texts
