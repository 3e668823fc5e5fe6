"""FSDP (``fsdp=true``): torch's ``fully_shard`` over two CPU processes (gloo), driven by the trainer.

The settings checks run in-process; the rest are real two-process runs under torchrun
(``tests/torchrun_runs.py``).
"""

from __future__ import annotations

import json
import re
import sys

import pytest
from torchrun_runs import KL, metric_rows, same_metrics, tiny_inputs, torchrun, train_run
from typer.testing import CliRunner

from dybench.cli import app
from dybench.train import TrainConfig, TrainConfigError


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return tiny_inputs(tmp_path_factory.mktemp("fsdp"))


# --- settings ---------------------------------------------------------------------------------------


def test_fsdp_and_deepspeed_are_exclusive():
    cfg = TrainConfig(model="m", data="d", output_dir="o", fsdp=True, deepspeed="recipes/deepspeed_zero3.json")
    with pytest.raises(TrainConfigError, match="fsdp=true and deepspeed=FILE are two ways to shard: choose one"):
        cfg.validate()


def _train_cli(tmp_path, *extra: str):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "d").mkdir()
    return CliRunner().invoke(
        app,
        ["train", "grpo", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "d"),
         "--output-dir", str(tmp_path / "o"), *extra],
    )  # fmt: skip


def test_fsdp_needs_a_launcher(tmp_path, monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    result = _train_cli(tmp_path, "fsdp=true")
    assert result.exit_code == 1
    assert "fsdp=true needs a distributed launcher: `torchrun --nproc_per_node N" in result.output


def test_accelerate_fsdp_config_is_refused_for_the_trainers_own(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    result = _train_cli(tmp_path)
    assert result.exit_code == 1
    assert "launched with accelerate's FSDP config: launch without it and pass fsdp=true" in result.output


def test_a_recipe_switches_from_zero3_to_fsdp_on_the_command_line():
    from torchrun_runs import ROOT

    from dybench.train import load_config

    recipe = ROOT / "recipes" / "cdpo_qwen2_5_vl_3b.yaml"
    cfg = load_config(recipe, ["fsdp=true", "deepspeed=null"], method="cdpo")
    cfg.validate()
    assert cfg.fsdp is True and cfg.deepspeed is None
    with pytest.raises(TrainConfigError, match="choose one"):
        load_config(recipe, ["fsdp=true"], method="cdpo").validate()


# --- generation under sharding ----------------------------------------------------------------------

#: Each rank generates a different number of tokens from the sharded model inside ``_fsdp.gathered``,
#: counting FSDP's all-gathers, then scores a fixed completion with the sharded model and with an
#: unsharded copy of the same weights. Prints one JSON line per rank.
_GENERATE = """
import json, sys
import torch, torch.distributed as dist
from transformers import AutoModelForImageTextToText, AutoProcessor, GenerationConfig
from dybench.train import _fsdp
from dybench.train._data import ClipLoader, load_examples
from dybench.train._rollout import completion_logprobs, encode_prompts, generate_completions, make_rollout

dist.init_process_group("gloo")
rank = dist.get_rank()
policy, pairs = sys.argv[1:3]
processor = AutoProcessor.from_pretrained(policy)
prompts = list(load_examples(pairs, paired=False)[0].prompts)
clips = ClipLoader(num_frames=4, fps=None)
batch = encode_prompts(processor, prompts, [clips(p.video) for p in prompts], arch="qwen2_5_vl",
                       instruction="Answer.", min_pixels=784, max_pixels=3136)
whole = AutoModelForImageTextToText.from_pretrained(policy, dtype=torch.float32).eval()
model = _fsdp.shard(AutoModelForImageTextToText.from_pretrained(policy, dtype=torch.float32), torch.device("cpu"),
                    bf16=False).eval()

gathers = 0
def counted(real):
    def call(*args, **kwargs):
        global gathers
        gathers += 1
        return real(*args, **kwargs)
    return call
for name in ("all_gather_single", "all_gather_into_tensor"):  # FSDP2's all-gather, by torch version
    if hasattr(dist, name):
        setattr(dist, name, counted(getattr(dist, name)))

def generate(n):
    config = GenerationConfig(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
    return generate_completions(model, batch, config)

plain_before = gathers
generate(2)  # the same length on both ranks: FSDP's hooks gather per decoding step
plain = gathers - plain_before
with _fsdp.gathered(model):
    inside_before = gathers
    completion = generate(3 + 6 * rank)  # 3 tokens on rank 0, 9 on rank 1
    inside = gathers - inside_before
fixed = torch.full((1, 5), 100)
rollout = make_rollout(batch, fixed, processor.tokenizer, eos_ids=[], num_generations=1)
with torch.no_grad():
    sharded = completion_logprobs(model, rollout, torch.arange(1))
    reference = completion_logprobs(whole, rollout, torch.arange(1))
held = sum(p.to_local().numel() for p in model.parameters())  # this process's shards
print("RESULT " + json.dumps({"rank": rank, "length": completion.shape[1], "plain": plain, "inside": inside,
                              "diff": float((sharded - reference).abs().max()), "held": held,
                              "whole": sum(p.numel() for p in whole.parameters())}), flush=True)
dist.destroy_process_group()
"""


def test_generation_gathers_once_so_ranks_may_stop_at_different_lengths(inputs):
    done = torchrun(["--no-python", sys.executable, "-c", _GENERATE, str(inputs["policy"]), str(inputs["pairs"])])
    assert done.returncode == 0, done.stderr[-4000:]
    # the two processes share stdout: their lines may run together, so each record is found by its pattern
    results = sorted((json.loads(m) for m in re.findall(r"RESULT (\{[^{}]*\})", done.stdout)), key=lambda r: r["rank"])
    assert [r["length"] for r in results] == [3, 9]
    assert sum(r["held"] for r in results) == results[0]["whole"], "the two processes' shards make the model"
    assert all(r["held"] <= 0.55 * r["whole"] for r in results), "each process holds about half of it"
    assert all(r["plain"] > 0 for r in results), "outside gathered, FSDP all-gathers during generate"
    assert all(r["inside"] == 0 for r in results), "inside gathered, generate runs without collectives"
    assert all(r["diff"] < 1e-5 for r in results), "after unequal generations the sharded model still computes right"


# --- training runs ----------------------------------------------------------------------------------


def _check_saved_model(policy, saved) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText

    _, info = AutoModelForImageTextToText.from_pretrained(saved, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    before, after = load_file(str(policy / "model.safetensors")), load_file(str(saved / "model.safetensors"))
    assert before.keys() == after.keys() and all(after[k].shape == before[k].shape for k in before), "gathered whole"
    assert any(not torch.equal(before[k], after[k]) for k in before), "the parameters must change"


def _check_two_steps(out, method: str, gap_limit: float = 1e-4) -> None:
    rows = metric_rows(out)
    assert [r["step"] for r in rows] == [1, 2], "one row per step, written by the main process only"
    assert all(r["ratio"] == pytest.approx(1.0) for r in rows), "metrics are means over 2 processes, not sums"
    assert all(r["sampler_logprob_gap"] < gap_limit for r in rows), "sampling from the gathered shards = scoring"
    assert all(r["reward_std"] > 0 and r["grad_norm"] > 0 for r in rows)
    assert rows[1]["kl_ref"] > 0, "the policy moved away from the (sharded) reference after one update"
    assert (rows[0]["kl_bias"] > 0) is (method == "cdpo"), "the bias model is used, not the policy"
    assert (rows[0]["shuffled_acc"] is not None) is (method == "tgrpo"), "T-GRPO's shuffled completions, gathered"
    assert (rows[0]["reversed_acc"] is not None) is (method == "arrowrl"), "ArrowRL's reversed answer, gathered"


def test_fsdp_cdpo_two_processes_train_save_and_reload(inputs, tmp_path):
    """The sharded policy, reference and bias model on the path cdpo takes (the most models at once)."""
    out = tmp_path / "run"
    done = train_run(inputs, "cdpo", out, "--max-steps", "2", "save_every=2", "fsdp=true", *KL)
    assert done.returncode == 0, done.stderr[-4000:]
    _check_two_steps(out, "cdpo")
    _check_saved_model(inputs["policy"], out / "model")
    shards = sorted(p.name for p in (out / "checkpoints" / "step-000002" / "state" / "fsdp").iterdir())
    assert shards == [".metadata", "__0_0.distcp", "__1_0.distcp"], "each process wrote its own shard"


#: bf16 with FSDP: gathered and computed in bf16 over fp32 shards. The sampler gap then measures the KV
#: cache's bf16 rounding against the full pass (4e-5 and 2e-5 on this model).
BF16 = ("dtype=bfloat16", "gradient_checkpointing=true")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "settings"),
    [("grpo", ()), ("crpo", BF16), ("tgrpo", ()), ("arrowrl", ())],
    ids=["grpo", "crpo-bf16", "tgrpo", "arrowrl"],
)
def test_fsdp_two_processes_train_save_and_reload(inputs, tmp_path, method, settings):
    from safetensors.torch import load_file

    out = tmp_path / "run"
    done = train_run(inputs, method, out, "--max-steps", "2", "save_every=2", "fsdp=true", *KL, *settings)
    assert done.returncode == 0, done.stderr[-4000:]
    _check_two_steps(out, method, gap_limit=1e-3 if settings else 1e-4)
    _check_saved_model(inputs["policy"], out / "model")
    saved = load_file(str(out / "model" / "model.safetensors"))
    assert {str(t.dtype) for t in saved.values()} == {"torch.float32"}, "the fp32 shards are saved, not bf16 copies"


@pytest.mark.slow
def test_fsdp_kill_and_resume_equals_an_uninterrupted_run(inputs, tmp_path):
    from safetensors.torch import load_file

    settings = ("--max-steps", "4", "save_every=2", "ppo_epochs=2", "lr_schedule=cosine", "clip_eps=0.05",
                "fsdp=true", *KL)  # fmt: skip
    full = train_run(inputs, "cdpo", tmp_path / "full", *settings)
    assert full.returncode == 0, full.stderr[-4000:]
    killed = train_run(inputs, "cdpo", tmp_path / "killed", *settings, kill_after=2)
    assert killed.returncode != 0, "each rank killed itself after the step-2 checkpoint"
    assert [r["step"] for r in metric_rows(tmp_path / "killed")] == [1, 2]
    resumed = train_run(inputs, "cdpo", tmp_path / "killed", *settings)
    assert resumed.returncode == 0, resumed.stderr[-4000:]

    a, b = metric_rows(tmp_path / "full"), metric_rows(tmp_path / "killed")
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    assert same_metrics(a, b), "the sharded weights, optimiser moments, schedule, RNG and data order all resume"
    assert a[2]["lr"] < a[0]["lr"], "the cosine schedule is restored, not restarted"
    assert any(r["ratio"] != 1.0 for r in a), "the second update on a generation batch moves the ratio"
    wa, wb = (load_file(str(tmp_path / d / "model" / "model.safetensors")) for d in ("full", "killed"))
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)


@pytest.mark.slow
def test_fsdp_shards_qwen3_vl_too(inputs, tmp_path):
    """Qwen3-VL's vision tower (deepstack mergers) and decoder under fully_shard, cdpo with all three models."""
    from dybench.testing import build_tiny_model

    qwen3 = {**inputs, **{name: build_tiny_model("qwen3_vl", tmp_path / name, seed=seed)
                          for name, seed in (("policy", 0), ("bias", 1))}}  # fmt: skip
    out = tmp_path / "run"
    done = train_run(qwen3, "cdpo", out, "--max-steps", "2", "save_every=2", "fsdp=true", *KL)
    assert done.returncode == 0, done.stderr[-4000:]
    _check_two_steps(out, "cdpo")
    _check_saved_model(qwen3["policy"], out / "model")
