"""Rollouts: encode video prompts with the model's processor, sample G completions, score log-probs.

Video always goes through the processor (``pixel_values_videos``, ``video_grid_thw``, and for
Qwen2.5-VL ``second_per_grid_ts``), both for generation and for every log-prob pass, so the vision
tower sits on the gradient path. Vision tensors are kept per prompt and re-collated for whichever rows
a forward pass takes.

Sampling is transformers ``generate`` with a ``GenerationConfig`` built from the train config alone
(``sampling_config``), and generate's own per-token log-probs come back with the tokens so the trainer
can log how far they are from its recomputed ones (``sampler_logprob_gap``). There is no vLLM engine:
the one dybench had was written against vLLM internals that no longer exist and had never run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from dybench.train._data import Clip, Prompt


class PromptBatch(NamedTuple):
    """P prompts encoded for the policy.

    input_ids:         (P, Lp) long, left-padded with the pad id
    attention_mask:    (P, Lp) long
    mm_token_type_ids: (P, Lp) int, 0 text / 2 video, per token (Qwen's 3-D RoPE reads it)
    vision:            P dicts of the processor's video tensors: pixel_values_videos (N_p, D),
                       video_grid_thw (1, 3) and, for Qwen2.5-VL, second_per_grid_ts (1,)
    texts:             P chat-formatted prompt strings
    clips:             P sampled clips
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    mm_token_type_ids: torch.Tensor
    vision: list[dict[str, torch.Tensor]]
    texts: list[str]
    clips: list[Clip]


class Rollout(NamedTuple):
    """G completions for each of P prompts, flattened to B = P * G rows; row r answers prompt r // G.

    prompt_ids:      (B, Lp) long, left-padded
    prompt_mask:     (B, Lp) long
    prompt_mm_types: (B, Lp) int
    completion_ids:  (B, Lc) long, pad after the first EOS
    completion_mask: (B, Lc) long, 1 up to and including the first EOS (all 1 if it never stopped)
    prompt_index:    (B,) long, r // G
    vision:          the P per-prompt vision dicts of the PromptBatch
    texts:           B decoded completions (special tokens dropped, <think>/<answer> tags kept)
    """

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    prompt_mm_types: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    prompt_index: torch.Tensor
    vision: list[dict[str, torch.Tensor]]
    texts: list[str]


def model_arch(model_or_config) -> str:
    """'qwen2_5_vl' or 'qwen3_vl' (any other Qwen-VL-style model type passes through)."""
    config = getattr(model_or_config, "config", model_or_config)
    return str(config.model_type)


def encode_prompts(
    processor,
    prompts: list[Prompt],
    clips: list[Clip],
    *,
    arch: str,
    instruction: str,
    min_pixels: int,
    max_pixels: int,
) -> PromptBatch:
    """Chat-format each prompt with its video and run the processor, one prompt at a time.

    The pixel budget is per frame; Qwen3-VL's processor budgets whole clips, so it is scaled by the
    frame count there. Frames are already sampled: Qwen3-VL is told so (``do_sample_frames=False``) and
    given the source indices and rate for its timestamps.
    """
    encoded, texts = [], []
    for prompt, clip in zip(prompts, clips, strict=True):
        messages = [
            {
                "role": "user",
                "content": [{"type": "video"}, {"type": "text", "text": prompt.text(instruction)}],
            }
        ]
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        metadata = {
            "fps": clip.fps,
            "total_num_frames": clip.total_frames,
            "frames_indices": list(clip.indices),
        }
        n = len(clip.indices) if arch.startswith("qwen3") else 1
        out = processor(
            text=[text],
            videos=[clip.frames],
            video_metadata=[metadata],
            do_sample_frames=False,
            size={"shortest_edge": min_pixels * n, "longest_edge": max_pixels * n},
            cap_pixels_per_frame=False,  # the budget above is the whole story
            return_tensors="pt",
        )
        if "mm_token_type_ids" not in out:
            raise ValueError(f"{prompt.prompt_id}: the processor returned no mm_token_type_ids (not a Qwen-VL?)")
        encoded.append(out)
        texts.append(text)

    pad_id = processor.tokenizer.pad_token_id
    length = max(e["input_ids"].shape[1] for e in encoded)

    def left_pad(key: str, value: int) -> torch.Tensor:
        rows = [e[key][0] for e in encoded]
        return torch.stack([torch.cat([r.new_full((length - len(r),), value), r]) for r in rows])

    vision_keys = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
    vision = [{k: torch.as_tensor(e[k]) for k in vision_keys if k in e} for e in encoded]
    return PromptBatch(
        left_pad("input_ids", pad_id),
        left_pad("attention_mask", 0),
        left_pad("mm_token_type_ids", 0),
        vision,
        texts,
        list(clips),
    )


def collate_vision(vision: list[dict[str, torch.Tensor]], device: torch.device | str = "cpu") -> dict:
    """Concatenate per-prompt vision dicts (in row order) into one set of model kwargs."""
    return {k: torch.cat([v[k] for v in vision]).to(device) for k in vision[0]}


VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")


def stop_token_ids(tokenizer) -> list[int]:
    """The ids that end a completion: the chat turn's end (``<|im_end|>``), the tokenizer's EOS, its pad."""
    return sorted({tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id, tokenizer.pad_token_id})


def forbidden_token_ids(tokenizer) -> list[int]:
    """Vision placeholder ids: a completion must never contain one (the model would look for pixels for it),
    so they are suppressed when sampling and masked out of every log-prob."""
    ids = [tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS]
    return sorted({i for i in ids if i is not None and i != tokenizer.unk_token_id})


class Samples(NamedTuple):
    """What one generation batch gives, rows p * G + g.

    completion_ids:   (B, Lc) long, right-padded with the pad id
    sampler_logprobs: (B, Lc) float, generate's own log-probability of each sampled token (the log-softmax
                      of its processed scores), or None when not kept; meaningless after a row's EOS
    """

    completion_ids: torch.Tensor
    sampler_logprobs: torch.Tensor | None


def sampling_config(
    *,
    max_new_tokens: int,
    temperature: float,
    num_generations: int,
    eos_ids: list[int],
    pad_id: int,
    forbidden_ids: list[int],
    keep_scores: bool,
):
    """The ``GenerationConfig`` of every rollout, from the train config alone.

    Sampling is softmax(logits / temperature) over the whole vocabulary minus the vision placeholders:
    exactly what ``completion_logprobs`` scores. Every option that could reshape the distribution is set
    to its neutral value, and :func:`generate_completions` hides the checkpoint's own generation_config.json from
    ``generate`` (Qwen2.5-VL-Instruct ships top_k 1, top_p 0.001, temperature 0.1, repetition_penalty 1.05).
    The temperature itself is applied by :func:`sampling_processors` (so that the log-prob recorder comes
    after it): here it stays 1.0, and ``temperature`` is only checked.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    from transformers import GenerationConfig

    return GenerationConfig(
        do_sample=True,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        min_p=0.0,
        typical_p=1.0,
        epsilon_cutoff=0.0,
        eta_cutoff=0.0,
        repetition_penalty=1.0,
        encoder_repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        encoder_no_repeat_ngram_size=0,
        min_length=0,  # (not min_new_tokens too: generate warns on every call when both are set)
        num_beams=1,
        max_new_tokens=max_new_tokens,
        num_return_sequences=num_generations,
        eos_token_id=eos_ids,
        pad_token_id=pad_id,
        suppress_tokens=forbidden_ids or None,
        return_dict_in_generate=True,
        output_scores=False,
    )


class SampledLogprobs:
    """A logits processor, last of those that shape the sampling distribution, that records ``generate``'s
    own log-probability of every sampled token.

    It keeps one step's log-softmax, (rows, vocab) floats, and reads the sampled token from the next call's
    ``input_ids``; ``output_scores`` would keep every step's scores, (tokens, rows, vocab) floats: 3.7 GB
    at the 3B recipes' settings.
    """

    def __init__(self) -> None:
        self._last: torch.Tensor | None = None
        self._steps: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self._take(input_ids)
        self._last = scores.float().log_softmax(-1)  # (rows, V): the distribution this step samples from
        return scores

    def _take(self, ids: torch.Tensor) -> None:
        if self._last is not None:
            self._steps.append(self._last.gather(1, ids[:, -1:])[:, 0])  # (rows,) the token just sampled
            self._last = None

    def result(self, sequences: torch.Tensor) -> torch.Tensor:
        """(rows, new tokens) log-probs, once ``generate`` returned ``sequences``."""
        self._take(sequences)
        if not self._steps:
            return torch.zeros((sequences.shape[0], 0))
        return torch.stack(self._steps, 1).cpu()


def sampling_processors(temperature: float, recorder: SampledLogprobs | None):
    """The processors ``generate`` applies after its own token suppression: the temperature, then the
    recorder; every processor ``generate`` adds after them is neutral under :func:`sampling_config`."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper

    return LogitsProcessorList([TemperatureLogitsWarper(temperature), *([recorder] if recorder else [])])


@dataclass(frozen=True, kw_only=True)
class HFRollout:
    """Sample with transformers ``generate`` (the model must be unwrapped / gathered by the caller)."""

    max_new_tokens: int
    temperature: float
    eos_ids: list[int]
    pad_id: int
    forbidden_ids: list[int]
    keep_scores: bool = True
    """Record ``generate``'s own log-prob of every sampled token (``Samples.sampler_logprobs``)."""

    def sample(self, model, batch: PromptBatch, num_generations: int) -> Samples:
        config = sampling_config(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            num_generations=num_generations,
            eos_ids=self.eos_ids,
            pad_id=self.pad_id,
            forbidden_ids=self.forbidden_ids,
            keep_scores=self.keep_scores,
        )
        recorder = SampledLogprobs() if self.keep_scores else None
        completion = generate_completions(model, batch, config, sampling_processors(self.temperature, recorder))
        logprobs = recorder.result(completion) if recorder else None  # (P*G, Lc)
        return Samples(completion.cpu(), logprobs)


@torch.no_grad()
def generate_completions(model, batch: PromptBatch, config, logits_processor=None) -> torch.Tensor:
    """``model.generate`` on ``batch`` under ``config`` alone: the new tokens, (P * num_return_sequences, Lc),
    on the model's device (``generate`` repeats each prompt in place).

    The checkpoint's generation_config.json is hidden for the call: ``generate`` would otherwise fill every
    option ``config`` leaves at its default from it (a 1.05 repetition penalty, say).
    """
    from transformers import GenerationConfig

    device = next(model.parameters()).device
    own, model.generation_config = model.generation_config, GenerationConfig()
    try:
        out = model.generate(
            input_ids=batch.input_ids.to(device),
            attention_mask=batch.attention_mask.to(device),
            mm_token_type_ids=batch.mm_token_type_ids.to(device),
            **collate_vision(batch.vision, device),
            generation_config=config,
            logits_processor=logits_processor,
        )
    finally:
        model.generation_config = own
    return getattr(out, "sequences", out)[:, batch.input_ids.shape[1] :]


def sampler_gap(sampler_logprobs: torch.Tensor, logprobs: torch.Tensor, mask: torch.Tensor) -> tuple[float, int]:
    """(sum of |sampler - trainer| log-prob over masked tokens, token count): the sampler/scorer mismatch."""
    keep = mask.bool()
    diff = torch.where(keep, (sampler_logprobs.to(logprobs.device) - logprobs.detach().float()).abs(), 0.0)
    return float(diff.sum()), int(keep.sum())


def make_rollout(
    batch: PromptBatch,
    completion_ids: torch.Tensor,
    tokenizer,
    *,
    eos_ids: list[int],
    num_generations: int,
    forbidden_ids: Sequence[int] = (),
) -> Rollout:
    """Mask each completion after its first EOS and decode it; repeat the prompt tensors per row.

    A completion that contains a forbidden (vision placeholder) token, which an engine that cannot
    suppress them may sample, is cut just before it: the model would otherwise look for pixels for it.
    """
    pad_id = tokenizer.pad_token_id
    is_eos = torch.isin(completion_ids, torch.tensor(eos_ids))
    after_eos = (is_eos.cumsum(1) - is_eos.long()) > 0  # (B, Lc): strictly after the first EOS
    if len(forbidden_ids):
        is_forbidden = torch.isin(completion_ids, torch.tensor(list(forbidden_ids)))
        after_eos |= is_forbidden.cumsum(1) > 0  # (B, Lc): from the first forbidden token on
    completion_mask = (~after_eos).long()
    completion_ids = completion_ids.masked_fill(after_eos, pad_id)
    prompt_index = torch.arange(len(batch.texts)).repeat_interleave(num_generations)  # (B,)
    return Rollout(
        prompt_ids=batch.input_ids[prompt_index],
        prompt_mask=batch.attention_mask[prompt_index],
        prompt_mm_types=batch.mm_token_type_ids[prompt_index],
        completion_ids=completion_ids,
        completion_mask=completion_mask,
        prompt_index=prompt_index,
        vision=batch.vision,
        texts=tokenizer.batch_decode(completion_ids, skip_special_tokens=True),
    )


def with_prompts(rollout: Rollout, batch: PromptBatch) -> Rollout:
    """The same completions after the prompts of ``batch`` (the same questions, other frames): what a bias
    model trained on other frames scores."""
    index = rollout.prompt_index
    return rollout._replace(
        prompt_ids=batch.input_ids[index],
        prompt_mask=batch.attention_mask[index],
        prompt_mm_types=batch.mm_token_type_ids[index],
        vision=batch.vision,
    )


def target_rollout(batch: PromptBatch, texts: list[str], tokenizer, eos_ids: list[int]) -> Rollout:
    """A rollout whose completions are ``texts`` (one per prompt), each ended by ``<|im_end|>`` (sft)."""
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    targets = [tokenizer.encode(t, add_special_tokens=False) for t in texts]
    ids = torch.full((len(targets), max(len(t) for t in targets) + 1), tokenizer.pad_token_id, dtype=torch.long)
    for row, t in enumerate(targets):
        ids[row, : len(t) + 1] = torch.tensor([*t, end])  # (P, Lc): target, <|im_end|>, pad
    return make_rollout(batch, ids, tokenizer, eos_ids=eos_ids, num_generations=1)


def greedy_config(max_new_tokens: int, tokenizer, eos_ids: list[int], forbidden_ids: Sequence[int] = ()):
    """The ``GenerationConfig`` of a greedy answer (held-back checks, ArrowRL's reversed-clip answer)."""
    from transformers import GenerationConfig

    return GenerationConfig(
        do_sample=False,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
        suppress_tokens=list(forbidden_ids) or None,
    )


def greedy_texts(model, encode, prompts: list[Prompt], tokenizer, eos_ids: list[int], *, max_new_tokens: int = 32,
                 batch_size: int = 8) -> list[str]:  # fmt: skip
    """Greedy answers of ``model`` to ``prompts`` (``encode`` turns a list of prompts into a PromptBatch)."""
    config = greedy_config(max_new_tokens, tokenizer, eos_ids)
    texts: list[str] = []
    for i in range(0, len(prompts), batch_size):
        new = generate_completions(model, encode(prompts[i : i + batch_size]), config)  # (rows, Lc)
        texts += tokenizer.batch_decode(new, skip_special_tokens=True)
    return texts


def completion_logprobs(
    model, rollout: Rollout, rows: torch.Tensor, *, temperature: float = 1.0, forbidden_ids: Sequence[int] = ()
) -> torch.Tensor:
    """Log-probability of each completion token under ``model``, video included: (len(rows), Lc).

    Logits are divided by the sampling temperature and the forbidden (vision placeholder) ids are
    masked, so the probabilities are those of the distribution the tokens were sampled from.
    """
    device = next(model.parameters()).device
    completion = rollout.completion_ids[rows]
    input_ids = torch.cat([rollout.prompt_ids[rows], completion], 1)  # (b, Lp + Lc)
    attention_mask = torch.cat([rollout.prompt_mask[rows], rollout.completion_mask[rows]], 1)
    mm_types = torch.cat(
        [rollout.prompt_mm_types[rows], torch.zeros_like(completion, dtype=rollout.prompt_mm_types.dtype)], 1
    )
    vision = collate_vision([rollout.vision[p] for p in rollout.prompt_index[rows].tolist()], device)
    lc = completion.shape[1]
    logits = model(
        input_ids=input_ids.to(device),
        attention_mask=attention_mask.to(device),
        mm_token_type_ids=mm_types.to(device),
        **vision,
        use_cache=False,
        logits_to_keep=lc + 1,
    ).logits[:, :-1]  # (b, Lc, V): position t predicts completion token t
    logits = logits.float() / temperature
    if len(forbidden_ids):
        logits[..., list(forbidden_ids)] = float("-inf")
    target = completion.to(device)
    # one row at a time: a (b, Lc, V) log-softmax at a 150k vocabulary is the peak of the whole step
    return torch.stack(
        [torch.gather(row.log_softmax(-1), 1, tgt[:, None])[:, 0] for row, tgt in zip(logits, target, strict=True)]
    )
