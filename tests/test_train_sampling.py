"""One distribution for sampling and scoring, even from a checkpoint whose generation_config.json says
otherwise (Qwen2.5-VL-Instruct's: top_k 1, top_p 0.001, temperature 0.1, repetition_penalty 1.05)."""

from __future__ import annotations

import json
import os
import shutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from test_train_fixtures import make_pairs_dataset  # noqa: E402

from dybench.testing import build_tiny_model  # noqa: E402
from dybench.train._data import ClipLoader, load_examples  # noqa: E402
from dybench.train._rollout import (  # noqa: E402
    HFRollout,
    SampledLogprobs,
    collate_vision,
    completion_logprobs,
    encode_prompts,
    forbidden_token_ids,
    make_rollout,
    sampler_gap,
    sampling_config,
    sampling_processors,
    stop_token_ids,
)

#: What Qwen2.5-VL-3B/7B-Instruct ship in generation_config.json (RESEARCH.md, Library facts).
INSTRUCT_GENERATION = {"do_sample": True, "top_k": 1, "top_p": 0.001, "temperature": 0.1, "repetition_penalty": 1.05}
GAP_LIMIT = 1e-4
"""fp32 on CPU: the two passes differ only by float rounding (measured about 1e-7)."""


@pytest.fixture(scope="module")
def instruct(tmp_path_factory):
    """A tiny Qwen2.5-VL whose generation_config.json carries the Instruct values, a batch, and the ids."""
    root = tmp_path_factory.mktemp("instruct")
    path = build_tiny_model("qwen2_5_vl", root / "base", seed=0, init_std=0.1)
    path = shutil.copytree(path, root / "instruct")
    config = json.loads((path / "generation_config.json").read_text())
    (path / "generation_config.json").write_text(json.dumps({**config, **INSTRUCT_GENERATION}))
    processor = transformers.AutoProcessor.from_pretrained(path)
    model = transformers.AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32).eval()
    assert model.generation_config.repetition_penalty == 1.05 and model.generation_config.top_k == 1
    prompts = load_examples(make_pairs_dataset(root / "data"), paired=True)[0].prompts
    clips = ClipLoader(num_frames=4, fps=None)
    batch = encode_prompts(processor, list(prompts), [clips(p.video) for p in prompts], arch="qwen2_5_vl",
                           instruction="Answer.", min_pixels=28 * 28, max_pixels=56 * 56)  # fmt: skip
    tok = processor.tokenizer
    ids = {"eos_ids": stop_token_ids(tok), "pad_id": tok.pad_token_id,
           "forbidden_ids": forbidden_token_ids(tok)}  # fmt: skip
    return model, tok, batch, ids


def _gap(model, tok, batch, ids, completion, sampler_logprobs, temperature) -> float:
    rollout = make_rollout(batch, completion, tok, eos_ids=ids["eos_ids"], num_generations=4)
    with torch.no_grad():
        logp = completion_logprobs(model, rollout, torch.arange(len(rollout.texts)), temperature=temperature,
                                   forbidden_ids=ids["forbidden_ids"])  # fmt: skip
    total, count = sampler_gap(sampler_logprobs, logp, rollout.completion_mask)
    assert count > 20
    return total / count


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampler_and_scorer_agree_despite_the_checkpoint_generation_config(instruct, temperature):
    model, tok, batch, ids = instruct
    torch.manual_seed(0)
    engine = HFRollout(max_new_tokens=12, temperature=temperature, **ids)
    samples = engine.sample(model, batch, 4)
    assert samples.completion_ids.shape[0] == 8 and samples.sampler_logprobs is not None
    assert len({tuple(r) for r in samples.completion_ids.tolist()}) > 1, "sampled, not top_k 1 greedy"
    assert model.generation_config.repetition_penalty == 1.05, "the checkpoint's own config is left as it was"
    gap = _gap(model, tok, batch, ids, samples.completion_ids, samples.sampler_logprobs, temperature)
    assert gap < GAP_LIMIT


def test_the_old_call_samples_from_another_distribution(instruct):
    """What dybench did before: override temperature/top_p/top_k only; the repetition penalty leaks in.

    Measured 3.9e-3 on this tiny model (its logits are small, so a 1.05 penalty moves them little; a real
    checkpoint's larger logits move more), against about 1e-7 for the explicit config."""
    model, tok, batch, ids = instruct
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                             mm_token_type_ids=batch.mm_token_type_ids, **collate_vision(batch.vision),
                             do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=12,
                             num_return_sequences=4, eos_token_id=ids["eos_ids"], pad_token_id=ids["pad_id"],
                             suppress_tokens=ids["forbidden_ids"], output_scores=True,
                             return_dict_in_generate=True)  # fmt: skip
    completion = out.sequences[:, batch.input_ids.shape[1] :]
    own = torch.stack([s.log_softmax(-1).gather(1, completion[:, t, None])[:, 0] for t, s in enumerate(out.scores)], 1)
    gap = _gap(model, tok, batch, ids, completion, own, 1.0)
    assert gap > 10 * GAP_LIMIT


def test_the_recorder_keeps_one_step_and_matches_output_scores(instruct):
    """The bounded recorder gives exactly what ``output_scores`` (every step's full scores) would."""
    model, tok, batch, ids = instruct
    torch.manual_seed(0)
    config = sampling_config(max_new_tokens=10, temperature=0.7, num_generations=2, keep_scores=True, **ids)
    config.output_scores = True
    recorder = SampledLogprobs()
    with torch.no_grad():
        out = model.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                             mm_token_type_ids=batch.mm_token_type_ids, **collate_vision(batch.vision),
                             generation_config=config, logits_processor=sampling_processors(0.7, recorder))  # fmt: skip
    completion = out.sequences[:, batch.input_ids.shape[1] :]
    full = torch.stack([s.log_softmax(-1).gather(1, completion[:, t, None])[:, 0] for t, s in enumerate(out.scores)], 1)
    recorded = recorder.result(out.sequences)
    assert recorded.shape == completion.shape == full.shape
    torch.testing.assert_close(recorded, full.float(), atol=1e-6, rtol=0)
    assert recorder._last is None  # nothing of the last step is held after result()


def test_rollouts_do_not_set_both_min_lengths(instruct):
    """``min_length`` and ``min_new_tokens`` both set made ``generate`` log a warning on every training step."""
    import logging

    from dybench.train._rollout import generate_completions

    model, tok, batch, ids = instruct
    logger = logging.getLogger("transformers.generation.utils")
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    level, logger.level = logger.level, logging.WARNING
    logger.addHandler(handler)
    try:
        HFRollout(max_new_tokens=4, temperature=1.0, **ids).sample(model, batch, 2)
        rollout_warnings = [r.getMessage() for r in records]
        both = sampling_config(max_new_tokens=4, temperature=1.0, num_generations=2, keep_scores=False, **ids)
        both.min_new_tokens = 0
        generate_completions(model, batch, both)  # the capture works: the old config does warn
    finally:
        logger.removeHandler(handler)
        logger.level = level
    assert not [m for m in rollout_warnings if "min_new_tokens" in m], rollout_warnings
    assert any("Both `min_new_tokens` (=0) and `min_length`(=0)" in r.getMessage() for r in records)
