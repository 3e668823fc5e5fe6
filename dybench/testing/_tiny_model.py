"""Tiny Qwen2.5-VL / Qwen3-VL checkpoints, built offline, for tests and CPU smoke runs.

Nothing here touches the hub: the tokenizer is a byte-level BPE trained in a fraction of a second on a
small built-in corpus with the `tokenizers` library, the processor is assembled from the default image
and video processor classes of each architecture, and the model is randomly initialised from a small
config. Everything is written with ``save_pretrained`` so the folder loads exactly like a real
checkpoint (``AutoProcessor`` / ``AutoModelForImageTextToText`` / lmms-eval's ``qwen2_5_vl`` and
``qwen3_vl`` models with ``pretrained=<dir>``).

The processors are saved with a small pixel budget (a 56x56 frame stays 56x56) so that a forward pass
over a 4-frame video costs milliseconds on a CPU. lmms-eval's Qwen models pass their own
``min_pixels`` / ``max_pixels`` (default 256*28*28 and up), so evaluate tiny models with small values in
``--model_args`` (for example ``min_pixels=3136,max_pixels=12544``) to keep them fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, get_args

from dybench.fileio import atomic_dir

Arch = Literal["qwen2_5_vl", "qwen3_vl"]
ARCHES: tuple[Arch, ...] = get_args(Arch)

#: Special tokens in id order: the ids are fixed, so configs can name them before training.
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
#: Tags the reasoning prompt asks for: added tokens that are *not* special, so that
#: ``decode(..., skip_special_tokens=True)`` keeps them and the answer parser can read them.
TAG_TOKENS: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")

TOKEN_IDS = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
VOCAB_SIZE = 1024
"""BPE vocabulary size the tokenizer trains to (the model's embedding rows; specials and tags included)."""

#: Pixel budget saved with the processors: 56x56 frames stay 56x56 (4 merged tokens per frame pair).
MIN_PIXELS = 32 * 32
MAX_PIXELS = 112 * 112
#: Qwen3-VL budgets a whole clip: up to 16 frames of 64x64.
MAX_VIDEO_PIXELS = 16 * 64 * 64

# Qwen2's pre-tokenizer split: contractions, words, single digits, punctuation runs, whitespace.
_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# A chat template with Qwen's conventions: ChatML turns, a vision placeholder per image or video item
# (the processor expands the pad token to the right count), and an optional default system prompt
# (Qwen2.5-VL adds one, Qwen3-VL does not).
_CHAT_TEMPLATE = """\
{%- set default_system = DEFAULT_SYSTEM -%}
{%- if messages[0]['role'] != 'system' and default_system -%}
<|im_start|>system
{{ default_system }}<|im_end|>
{% endif -%}
{%- for message in messages -%}
<|im_start|>{{ message['role'] }}
{% if message['content'] is string -%}
{{ message['content'] }}
{%- else -%}
{%- for part in message['content'] -%}
{%- if part['type'] == 'image' or 'image' in part or 'image_url' in part -%}
<|vision_start|><|image_pad|><|vision_end|>
{%- elif part['type'] == 'video' or 'video' in part -%}
<|vision_start|><|video_pad|><|vision_end|>
{%- elif 'text' in part -%}
{{ part['text'] }}
{%- endif -%}
{%- endfor -%}
{%- endif -%}
<|im_end|>
{% endfor -%}
{%- if add_generation_prompt -%}
<|im_start|>assistant
{% endif -%}
"""

_CORPUS_LINES = (
    "You are a helpful assistant.",
    "Watch the video carefully and answer the question.",
    "Which direction is the object moving? Options: A. left B. right C. up D. down",
    "Is the video played forward or backward? Answer yes or no.",
    "Which event happens first? A. the ball falls B. the cup opens C. the light turns on",
    "Does the circle rotate clockwise or counterclockwise?",
    "What color is the square? A. red B. green C. blue D. yellow",
    "How many objects are there in the video? A. one B. two C. three D. four",
    "Is the red object to the left or to the right of the blue object?",
    "Does the box open or close? Does the shape grow or shrink?",
    "The object moves from left to right, then it stops. Before that, it was still.",
    "Output the thinking process in <think> </think> and the final answer in <answer> </answer> tags.",
    "<think>The ball moves to the right in every frame.</think><answer>B</answer>",
    "<think>First the cup opens, after that the ball falls.</think><answer>A</answer>",
    "<think>The square is red and it does not move.</think><answer>A,C</answer>",
    "<think>Reversed playback would show the glass filling up.</think><answer>yes</answer>",
    "<think>I count three objects.</think><answer>C</answer>",
    "<think>It rotates counterclockwise.</think><answer>no</answer>",
    "Please answer with the option's letter from the given choices directly.",
    "Please output Yes or No. Please output A or B. The answer is D. The answer is E.",
    "A B C D E F G H A. B. C. D. (A) (B) (C) (D) A, B, C, D",
    "first last before after left right up down open close grow shrink clockwise counterclockwise",
    "0 1 2 3 4 5 6 7 8 9 10 seconds frame frames video videos time",
)


def build_tiny_model(
    arch: Arch, out_dir: Path, *, seed: int = 0, init_std: float | None = None, width: int = 64, layers: int = 2
) -> Path:
    """Build a tiny random ``arch`` checkpoint with its tokenizer and processor in ``out_dir``.

    The folder is written whole or not at all (:func:`dybench.fileio.atomic_dir`). The same arguments
    give the same weights and the same tokenizer. Returns ``out_dir``.

    ``width`` and ``layers`` size the language model (``width`` wide, ``layers`` deep, 4 heads); the
    vision tower gets ``layers`` blocks of half the width. The default 2 x 64 is the smallest useful
    model; the reproduce preset uses 4 x 128, the smallest size measured to learn motion direction.

    ``init_std`` is the standard deviation of the random weights (the configs' ``initializer_range``;
    None keeps transformers' 0.02, sized for models ~2,000 wide). At 64 wide, 0.02 makes each layer
    shrink what it reads from other positions: measured after the reproduce preset's format warm-up,
    the last hidden state changed by 1e-6 (relative) between a clip and its mirror image at 0.02 and
    by 1e-4 at 0.1, and GRPO needed 250-600 steps to pick up a cue word in the question at 0.02 against
    ~80 at 0.1. ``1/sqrt(width)``-sized weights (0.1) are what the reproduce tiny preset trains from.
    """
    if arch not in ARCHES:
        raise ValueError(f"unknown tiny-model arch {arch!r}; choose one of {', '.join(ARCHES)}")
    import torch

    tokenizer = _train_tokenizer()
    processor = _build_processor(arch, tokenizer)
    if width < 32 or width % 32 or layers < 1:
        raise ValueError(f"width {width} and layers {layers}: use a multiple of 32 (32 or more) and 1 layer or more")
    config = _build_config(arch, vocab_size=len(tokenizer), width=width, layers=layers)
    if init_std is not None:
        if not init_std > 0:
            raise ValueError(f"init_std must be positive, got {init_std}")
        for c in (config, config.text_config, config.vision_config):
            c.initializer_range = init_std

    with torch.random.fork_rng(devices=[]):  # seed the init without touching the caller's RNG
        torch.manual_seed(seed)
        model = _model_class(arch)(config).eval()

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        info = {"arch": arch, "seed": seed, "init_std": init_std, "width": width, "layers": layers}
        (tmp / "dybench_tiny_model.json").write_text(json.dumps(info, indent=2) + "\n")
    return out_dir


def _train_tokenizer():
    """A byte-level BPE with Qwen2's pre-tokenizer, trained on the built-in corpus, as a Qwen2Tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import AddedToken, Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(TAG_TOKENS),
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS_LINES * 4, trainer=trainer)
    model_state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model_state["merges"]]

    tokenizer = Qwen2Tokenizer(
        vocab=model_state["vocab"],
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
    )
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    return tokenizer


def _build_processor(arch: Arch, tokenizer):
    """The architecture's own processor classes, with a small pixel budget and our chat template."""
    from transformers import Qwen2VLImageProcessor

    size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLProcessor, Qwen2VLVideoProcessor

        image_processor = Qwen2VLImageProcessor(size=size, patch_size=14)
        video_processor = Qwen2VLVideoProcessor(size=size, patch_size=14, cap_pixels_per_frame=False)
        template = _CHAT_TEMPLATE.replace("DEFAULT_SYSTEM", "'You are a helpful assistant.'")
        return Qwen2_5_VLProcessor(image_processor, tokenizer, video_processor, chat_template=template)
    from transformers import Qwen3VLProcessor, Qwen3VLVideoProcessor

    image_processor = Qwen2VLImageProcessor(size=size, patch_size=16)
    # Qwen3-VL's video budget covers the whole clip (frames x height x width), not one frame.
    video_size = {"shortest_edge": MIN_PIXELS * 4, "longest_edge": MAX_VIDEO_PIXELS}
    clip_processor = Qwen3VLVideoProcessor(size=video_size, patch_size=16, cap_pixels_per_frame=False)
    template = _CHAT_TEMPLATE.replace("DEFAULT_SYSTEM", "''")
    return Qwen3VLProcessor(image_processor, tokenizer, clip_processor, chat_template=template)


def _build_config(arch: Arch, *, vocab_size: int, width: int = 64, layers: int = 2):
    """A config ``layers`` deep and ``width`` wide (4 heads); vision tower ``layers`` blocks of ``width / 2``."""
    ids: dict[str, Any] = {
        "image_token_id": TOKEN_IDS["<|image_pad|>"],
        "video_token_id": TOKEN_IDS["<|video_pad|>"],
        "vision_start_token_id": TOKEN_IDS["<|vision_start|>"],
        "vision_end_token_id": TOKEN_IDS["<|vision_end|>"],
    }
    text: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": width,
        "intermediate_size": 2 * width,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "bos_token_id": TOKEN_IDS["<|endoftext|>"],
        "eos_token_id": TOKEN_IDS["<|im_end|>"],
        "pad_token_id": TOKEN_IDS["<|endoftext|>"],
    }
    half = width // 8  # half the head size (width / 4 heads): M-RoPE splits it into time, height, width
    mrope = [half // 4, (half - half // 4) // 2, half - half // 4 - (half - half // 4) // 2]  # 64 wide: 2, 3, 3
    every_other = list(range(1, layers, 2)) or [0]  # full-attention / deepstack blocks: [1] at 2 layers
    vision: dict[str, Any] = {
        "depth": layers,
        "hidden_size": width // 2,
        "intermediate_size": width,
        "num_heads": 2,
        "out_hidden_size": width,
    }
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        text["rope_parameters"] = {"rope_type": "default", "rope_theta": 1e6, "mrope_section": mrope}
        vision.update(patch_size=14, window_size=56, fullatt_block_indexes=every_other, tokens_per_second=2)
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)
    from transformers import Qwen3VLConfig

    text["head_dim"] = width // 4
    text["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": 5e5,
        "mrope_section": mrope,
        "mrope_interleaved": True,
    }
    vision.update(patch_size=16, num_position_embeddings=256, deepstack_visual_indexes=every_other)
    return Qwen3VLConfig(text_config=text, vision_config=vision, **ids)


def _model_class(arch: Arch):
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLForConditionalGeneration

        return Qwen2_5_VLForConditionalGeneration
    from transformers import Qwen3VLForConditionalGeneration

    return Qwen3VLForConditionalGeneration
