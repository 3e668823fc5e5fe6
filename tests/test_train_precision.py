"""bf16 autocast over fp32 weights, and gradient checkpointing, on CPU: what they change and by how much.

Tolerances (tiny Qwen2.5-VL, vocabulary 1024, so log-probs are about -7):
- bf16 autocast log-probs are within 0.1 of fp32 per token, 0.03 on average (bf16 keeps 8 bits of mantissa);
- gradient checkpointing recomputes the same fp32 forward: gradients equal to 1e-5.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from safetensors import safe_open  # noqa: E402
from test_train_fixtures import make_pairs_dataset  # noqa: E402

from dybench.fileio import read_jsonl  # noqa: E402
from dybench.testing import build_tiny_model  # noqa: E402
from dybench.train import TrainConfig, train  # noqa: E402
from dybench.train._data import ClipLoader, load_examples  # noqa: E402
from dybench.train._rollout import (  # noqa: E402
    HFRollout,
    completion_logprobs,
    encode_prompts,
    forbidden_token_ids,
    make_rollout,
    stop_token_ids,
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("precision")
    path = build_tiny_model("qwen2_5_vl", root / "model", seed=0, init_std=0.1)
    pairs = make_pairs_dataset(root / "data")
    processor = transformers.AutoProcessor.from_pretrained(path)
    model = transformers.AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    prompts = load_examples(pairs, paired=True)[0].prompts
    clips = ClipLoader(num_frames=4, fps=None)
    batch = encode_prompts(processor, list(prompts), [clips(p.video) for p in prompts], arch="qwen2_5_vl",
                           instruction="Answer.", min_pixels=28 * 28, max_pixels=56 * 56)  # fmt: skip
    tok = processor.tokenizer
    eos = stop_token_ids(tok)
    torch.manual_seed(0)
    engine = HFRollout(max_new_tokens=10, temperature=1.0, eos_ids=eos, pad_id=tok.pad_token_id,
                       forbidden_ids=forbidden_token_ids(tok))  # fmt: skip
    rollout = make_rollout(batch, engine.sample(model.eval(), batch, 4).completion_ids, tok, eos_ids=eos,
                           num_generations=4)  # fmt: skip
    return {"path": path, "pairs": pairs, "model": model, "rollout": rollout}


def _logprobs(model, rollout, *, bf16: bool) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return completion_logprobs(model, rollout, torch.arange(len(rollout.texts)))


def test_bf16_autocast_log_probs_stay_near_fp32(setup):
    model, rollout = setup["model"], setup["rollout"]
    mask = rollout.completion_mask.bool()
    with torch.no_grad():
        fp32, bf16 = _logprobs(model, rollout, bf16=False), _logprobs(model, rollout, bf16=True)
    assert bf16.dtype == torch.float32, "log-probs are taken in fp32 from the bf16 logits"
    diff = (fp32 - bf16).abs()[mask]
    assert diff.max() < 0.1 and diff.mean() < 0.03
    assert diff.max() > 0, "autocast really ran in bf16"
    assert next(model.parameters()).dtype == torch.float32, "weights stay fp32"


def test_gradient_checkpointing_gives_the_same_gradients(setup):
    model, rollout = setup["model"], setup["rollout"]
    model.train()

    def grads() -> dict[str, torch.Tensor]:
        model.zero_grad()
        (_logprobs(model, rollout, bf16=False) * rollout.completion_mask).sum().backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain = grads()
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    try:
        checkpointed = grads()
    finally:
        model.gradient_checkpointing_disable()
    assert plain.keys() == checkpointed.keys() and any("visual" in n for n in plain)
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], atol=1e-5, rtol=1e-4)


def test_training_in_bf16_with_gradient_checkpointing(setup, tmp_path, monkeypatch):
    """dtype=bfloat16 is bf16 autocast on CPU too (it used to behave exactly like auto there).

    A random model earns no real reward; a dense stand-in (share of capital letters) gives a gradient."""
    from dybench.train import _rewards as rewards

    monkeypatch.setattr(
        rewards, "accuracy_reward", lambda text, prompt: sum(c.isupper() for c in text) / (1 + len(text))
    )
    cfg = TrainConfig(method="grpo", model=str(setup["path"]), data=str(setup["pairs"]), output_dir=str(tmp_path),
                      max_steps=2, num_generations=4, micro_batch_size=2, max_new_tokens=8, num_frames=4,
                      min_pixels=784, max_pixels=3136, lr=1e-3, save_every=2, kl_beta=0.1, dtype="bfloat16",
                      gradient_checkpointing=True)  # fmt: skip
    final = train(cfg)
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(math.isfinite(r["loss"]) and r["grad_norm"] > 0 for r in rows)
    assert rows[1]["kl_ref"] > 0, "the bf16 step moved the fp32 weights"
    # sampling and scoring both run under bf16 autocast but with different shapes (KV cache or not)
    assert 0 <= rows[0]["sampler_logprob_gap"] < 0.05  # exactly 0 on some CPUs (the same kernels both ways)
    with safe_open(str(final / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}, "fp32 master weights are saved"
