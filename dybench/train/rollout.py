"""Rollouts: encode video prompts with the model's processor, sample G completions, score log-probs.

Video always goes through the processor (``pixel_values_videos``, ``video_grid_thw``, and for
Qwen2.5-VL ``second_per_grid_ts``), both for generation and for every log-prob pass, so the vision
tower sits on the gradient path. Vision tensors are kept per prompt and re-collated for whichever rows
a forward pass takes.

Two engines share one interface (``sample``): transformers ``generate`` (default, CPU and GPU) and an
optional vLLM engine for GPU machines (imported lazily; not exercised by the CPU test suite).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch

from dybench.train.data import Clip, Prompt


class PromptBatch(NamedTuple):
    """P prompts encoded for the policy.

    input_ids:         (P, Lp) long, left-padded with the pad id
    attention_mask:    (P, Lp) long
    mm_token_type_ids: (P, Lp) int, 0 text / 2 video, per token (Qwen's 3-D RoPE reads it)
    vision:            P dicts of the processor's video tensors: pixel_values_videos (N_p, D),
                       video_grid_thw (1, 3) and, for Qwen2.5-VL, second_per_grid_ts (1,)
    texts:             P chat-formatted prompt strings (what a vLLM engine is given)
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


class RolloutEngine(Protocol):
    def sample(self, model, batch: PromptBatch, num_generations: int) -> torch.Tensor:
        """Completion token ids, (P * G, Lc), row p * G + g, right-padded with the pad id."""
        ...


VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")


def forbidden_token_ids(tokenizer) -> list[int]:
    """Vision placeholder ids: a completion must never contain one (the model would look for pixels for it),
    so they are suppressed when sampling and masked out of every log-prob."""
    ids = [tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS]
    return sorted({i for i in ids if i is not None and i != tokenizer.unk_token_id})


class HFRollout:
    """Sample with transformers ``generate`` (the model must be unwrapped / gathered by the caller)."""

    def __init__(
        self,
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        eos_ids: list[int],
        pad_id: int,
        forbidden_ids: list[int],
    ):
        self.max_new_tokens, self.temperature, self.top_p = max_new_tokens, temperature, top_p
        self.eos_ids, self.pad_id, self.forbidden_ids = eos_ids, pad_id, forbidden_ids

    @torch.no_grad()
    def sample(self, model, batch: PromptBatch, num_generations: int) -> torch.Tensor:
        device = next(model.parameters()).device
        out = model.generate(
            input_ids=batch.input_ids.to(device),
            attention_mask=batch.attention_mask.to(device),
            mm_token_type_ids=batch.mm_token_type_ids.to(device),
            **collate_vision(batch.vision, device),
            do_sample=True,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=0,  # sample from the whole distribution: the loss assumes the policy's own probabilities
            max_new_tokens=self.max_new_tokens,
            num_return_sequences=num_generations,
            eos_token_id=self.eos_ids,
            pad_token_id=self.pad_id,
            suppress_tokens=self.forbidden_ids or None,
        )
        return out[:, batch.input_ids.shape[1] :].cpu()  # (P*G, Lc); generate repeats each prompt G times


class VLLMRollout:
    """Sample with vLLM on a GPU (optional; ``pip install vllm``). Same prompts, same frames.

    Each process runs its own colocated engine, which holds its own copy of the weights;
    ``sync_weights`` pushes the policy's weights before each generation batch (single process or DDP:
    under ZeRO-3 / FSDP only the main process receives the gathered state). vLLM cannot be told to
    suppress the vision placeholder tokens here; ``make_rollout`` cuts a completion before any it
    samples. Written against vLLM's offline ``LLM`` API; the CPU test suite does not exercise it.
    """

    def __init__(
        self,
        model_path: str,
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        pad_id: int,
        seed: int,
        gpu_memory_utilization: float,
    ):
        try:
            from vllm import LLM
        except ImportError as e:
            raise ImportError("rollout_engine=vllm needs vLLM on a GPU machine: pip install vllm") from e
        self.llm = LLM(
            model=model_path,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            limit_mm_per_prompt={"video": 1},
            dtype="bfloat16",
        )
        self.sampling = {
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_new_tokens,
            "seed": seed,
        }
        self.pad_id = pad_id

    def sync_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        self.llm.llm_engine.model_executor.driver_worker.model_runner.model.load_weights(state_dict.items())

    def sample(self, model, batch: PromptBatch, num_generations: int) -> torch.Tensor:
        from vllm import SamplingParams

        params = SamplingParams(n=num_generations, **self.sampling)
        requests = [
            {"prompt": text, "multi_modal_data": {"video": clip.frames}}
            for text, clip in zip(batch.texts, batch.clips, strict=True)
        ]
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        rows = [list(c.token_ids) for o in outputs for c in o.outputs]  # prompt-major: row p * G + g
        length = max(1, max(len(r) for r in rows))
        return torch.tensor([r + [self.pad_id] * (length - len(r)) for r in rows], dtype=torch.long)


def make_engine(cfg, tokenizer, *, eos_ids: list[int], forbidden_ids: list[int], seed: int) -> RolloutEngine:
    """The rollout engine a ``TrainConfig`` asks for."""
    if cfg.rollout_engine == "vllm":
        return VLLMRollout(
            cfg.model,
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            pad_id=tokenizer.pad_token_id,
            seed=seed,
            gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
        )
    return HFRollout(
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        eos_ids=eos_ids,
        pad_id=tokenizer.pad_token_id,
        forbidden_ids=forbidden_ids,
    )


def make_rollout(
    batch: PromptBatch,
    completion_ids: torch.Tensor,
    tokenizer,
    *,
    eos_ids: list[int],
    num_generations: int,
    forbidden_ids: list[int] = (),
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


def completion_logprobs(
    model, rollout: Rollout, rows: torch.Tensor, *, temperature: float = 1.0, forbidden_ids: list[int] = ()
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
