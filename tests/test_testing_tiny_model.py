"""Tiny offline Qwen checkpoints: they save, reload as real checkpoints, and see the video."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from dybench.fileio import sha256_file  # noqa: E402
from dybench.testing import ARCHES, SPECIAL_TOKENS, TAG_TOKENS, build_tiny_model  # noqa: E402

QUESTION = "Which way does the ball move? A. left B. right"


@pytest.fixture(scope="module", params=ARCHES)
def tiny(request, tmp_path_factory):
    arch = request.param
    return arch, build_tiny_model(arch, tmp_path_factory.mktemp(arch) / "model", seed=0)


def _inputs(processor, arch: str, video: np.ndarray):
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": QUESTION}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    extra = {}
    if arch == "qwen3_vl":  # frames are already sampled: tell the processor, and give it timestamps
        n = len(video)
        meta = {"fps": 2.0, "total_num_frames": n, "frames_indices": list(range(n))}
        extra = {"do_sample_frames": False, "video_metadata": [meta]}
    return processor(text=[text], videos=[video], return_tensors="pt", **extra)


def _video(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (4, 56, 56, 3), dtype=np.uint8)


def test_reloads_and_sees_the_video(tiny):
    arch, path = tiny
    processor = transformers.AutoProcessor.from_pretrained(path)
    model = transformers.AutoModelForImageTextToText.from_pretrained(path).eval()
    assert model.config.model_type == arch
    assert sum(p.numel() for p in model.parameters()) < 1_000_000

    a, b = _inputs(processor, arch, _video(0)), _inputs(processor, arch, _video(1))
    assert a["video_grid_thw"].tolist()[0][0] == 2  # 4 frames, temporal patch 2
    assert (a["input_ids"] == model.config.video_token_id).sum() > 0
    with torch.no_grad():
        la, lb = model(**a).logits, model(**b).logits
    assert la.shape == (1, a["input_ids"].shape[1], len(processor.tokenizer))
    assert not torch.allclose(la[0, -1], lb[0, -1]), "another video must give other logits"

    out = model.generate(**a, max_new_tokens=6, do_sample=False)
    assert out.shape[1] > a["input_ids"].shape[1]


def test_tokenizer_has_qwen_specials_and_keeps_tags(tiny):
    arch, path = tiny
    tok = transformers.AutoTokenizer.from_pretrained(path)
    config = transformers.AutoConfig.from_pretrained(path)
    assert tok.convert_tokens_to_ids("<|video_pad|>") == config.video_token_id
    assert tok.convert_tokens_to_ids("<|image_pad|>") == config.image_token_id
    assert tok.convert_tokens_to_ids("<|vision_start|>") == config.vision_start_token_id
    assert tok.eos_token == "<|im_end|>"
    for special in SPECIAL_TOKENS + TAG_TOKENS:
        assert len(tok(special, add_special_tokens=False).input_ids) == 1, special
    response = "<think>it moves right</think><answer>B</answer>"
    ids = tok(response + "<|im_end|>", add_special_tokens=False).input_ids
    assert tok.decode(ids, skip_special_tokens=True) == response

    processor = transformers.AutoProcessor.from_pretrained(path)
    text = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Q?"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert "<|vision_start|><|video_pad|><|vision_end|>Q?<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")
    assert ("You are a helpful assistant." in text) == (arch == "qwen2_5_vl")


def test_build_is_deterministic_per_seed(tiny, tmp_path):
    arch, path = tiny
    again = build_tiny_model(arch, tmp_path / "again", seed=0)
    other = build_tiny_model(arch, tmp_path / "other", seed=1)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        assert sha256_file(again / name) == sha256_file(path / name), name
    assert sha256_file(other / "model.safetensors") != sha256_file(path / "model.safetensors")
    assert not list(tmp_path.glob(".*tmp")), "no temporary folder is left behind"


def test_unknown_arch_is_refused(tmp_path):
    with pytest.raises(ValueError, match="qwen2_5_vl"):
        build_tiny_model("llava", tmp_path / "m")  # type: ignore[arg-type]


def _moving_square() -> np.ndarray:
    """A small red square moving right across a grey frame (4 frames of 56x56), like a synth clip."""
    video = np.full((4, 56, 56, 3), 128, dtype=np.uint8)
    for t in range(4):
        video[t, 24:32, 8 + 8 * t : 16 + 8 * t] = (220, 30, 30)
    return video


def _last_hidden_gap(path, arch: str) -> float:
    """Relative change of the last position's hidden state when the clip is mirrored (right -> left)."""
    processor = transformers.AutoProcessor.from_pretrained(path)
    model = transformers.AutoModelForImageTextToText.from_pretrained(path).eval()
    video = _moving_square()
    a, b = _inputs(processor, arch, video), _inputs(processor, arch, np.ascontiguousarray(video[:, :, ::-1]))
    with torch.no_grad():
        ha = model(**a, output_hidden_states=True).hidden_states[-1][0, -1]
        hb = model(**b, output_hidden_states=True).hidden_states[-1][0, -1]
    return ((ha - hb).norm() / ha.norm()).item()


def test_init_std_sets_the_weight_scale_and_lets_the_video_through(tiny, tmp_path):
    arch, path = tiny
    wide = build_tiny_model(arch, tmp_path / "wide", seed=0, init_std=0.1)
    model = transformers.AutoModelForImageTextToText.from_pretrained(wide)
    q_proj = next(p for n, p in model.named_parameters() if n.endswith("layers.0.self_attn.q_proj.weight"))
    assert q_proj.std().item() == pytest.approx(0.1, rel=0.1)
    assert '"init_std": 0.1' in (wide / "dybench_tiny_model.json").read_text()
    # larger weights carry more of the video to the last position (measured 2-4x here, untrained)
    assert _last_hidden_gap(wide, arch) > 1.5 * _last_hidden_gap(path, arch)
    with pytest.raises(ValueError, match="positive"):
        build_tiny_model(arch, tmp_path / "bad", init_std=0.0)


def test_width_and_layers_size_both_towers(tmp_path):
    path = build_tiny_model("qwen2_5_vl", tmp_path / "wide", seed=0, width=128, layers=4)
    config = transformers.AutoConfig.from_pretrained(path)
    assert (config.text_config.hidden_size, config.text_config.num_hidden_layers) == (128, 4)
    assert (config.vision_config.hidden_size, config.vision_config.depth) == (64, 4)
    assert config.text_config.rope_parameters["mrope_section"] == [4, 6, 6]  # sums to half the head size
    processor = transformers.AutoProcessor.from_pretrained(path)
    model = transformers.AutoModelForImageTextToText.from_pretrained(path).eval()
    with torch.no_grad():
        assert model(**_inputs(processor, "qwen2_5_vl", _video(0))).logits.shape[-1] == len(processor.tokenizer)
    with pytest.raises(ValueError, match="multiple of 32"):
        build_tiny_model("qwen2_5_vl", tmp_path / "bad", width=100)
