"""The trainer end to end on tiny Qwen2.5-VL / Qwen3-VL models with real video, on CPU, offline."""

from __future__ import annotations

import json
import os
import shutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import yaml

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from safetensors.torch import load_file  # noqa: E402
from test_train_fixtures import make_pairs_dataset  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from dybench.cli import app  # noqa: E402
from dybench.fileio import read_jsonl  # noqa: E402
from dybench.testing import ARCHES, build_tiny_model  # noqa: E402
from dybench.train import METHODS, TrainConfig, TrainConfigError, train  # noqa: E402
from dybench.train import _checkpoint as checkpoint_module  # noqa: E402
from dybench.train import _rewards as rewards_module  # noqa: E402
from dybench.train._data import ClipLoader, Prompt, load_examples  # noqa: E402
from dybench.train._rollout import (  # noqa: E402
    HFRollout,
    PromptBatch,
    collate_vision,
    completion_logprobs,
    encode_prompts,
    forbidden_token_ids,
    make_rollout,
    stop_token_ids,
)

TIMING = {"rollout_s", "step_s"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        arch: (
            build_tiny_model(arch, root / arch, seed=0),
            build_tiny_model(arch, root / f"{arch}-bias", seed=1),
        )
        for arch in ARCHES
    }


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return make_pairs_dataset(tmp_path_factory.mktemp("data"), n_videos=2)


@pytest.fixture
def dense_reward(monkeypatch):
    """A random tiny model almost never writes a parsable answer, so the real accuracy reward is 0 for
    every completion and GRPO has nothing to learn from in two steps. Stand in a dense score of the
    text (its share of capital letters) so every group has a spread of rewards and the policy gradient
    is exercised; the real rewards are tested in test_train_rewards.py and in the learning-signal run."""
    monkeypatch.setattr(
        rewards_module, "accuracy_reward", lambda text, prompt: sum(c.isupper() for c in text) / (1 + len(text))
    )


def _config(method: str, model, data, out, **overrides) -> TrainConfig:
    settings = {
        "method": method, "model": str(model), "data": str(data), "output_dir": str(out), "max_steps": 2,
        "prompts_per_step": 1, "num_generations": 4, "micro_batch_size": 4, "max_new_tokens": 8,
        "num_frames": 4, "min_pixels": 28 * 28, "max_pixels": 56 * 56, "lr": 1e-3, "save_every": 2,
    }  # fmt: skip
    return TrainConfig(**{**settings, **overrides})


def _sft_config(model, data, out, **overrides) -> TrainConfig:
    settings = {
        "method": "sft", "model": str(model), "data": str(data), "output_dir": str(out), "max_steps": 6,
        "prompts_per_step": 4, "micro_batch_size": 4, "num_frames": 4, "min_pixels": 28 * 28,
        "max_pixels": 3136, "lr": 4e-3, "save_every": 50, "sft_held_back": 2, "sft_check_every": 50,
    }  # fmt: skip
    return TrainConfig(**{**settings, **overrides})


def test_sft_learns_its_targets_stops_at_the_held_back_target_and_a_rerun_is_done(models, pairs, tmp_path):
    """``dybench train sft``: the gold answers of both branches as targets, the cross-entropy falling, the
    held-back accuracy logged at each check, and the run stopped once it reaches ``sft_stop_accuracy``."""
    policy, _ = models["qwen2_5_vl"]
    out = tmp_path / "sft"
    cfg = _sft_config(policy, pairs, out, max_steps=20, sft_check_every=4, sft_stop_accuracy=0.0)
    final = train(cfg)
    rows = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # stopped at the first check: accuracy >= 0.0
    assert rows[-1]["heldout_acc"] is not None and all(r["heldout_acc"] is None for r in rows[:-1])
    assert all(r["rollout_tokens"] > 0 and r["reward"] == 0.0 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert "reached sft_stop_accuracy at step 4" in summary["ended"] and summary["steps"] == 4
    assert set(summary["held_back"]) == {"accuracy", "format_rate", "answers"}
    assert (final / "config.json").is_file() and (out / "metrics.png").read_bytes().startswith(b"\x89PNG")
    before = (out / "metrics.jsonl").read_text()
    assert train(cfg) == final and (out / "metrics.jsonl").read_text() == before  # already done: nothing trained
    longer = train(_sft_config(policy, pairs, tmp_path / "longer", max_steps=12))
    losses = [r["loss"] for r in read_jsonl(tmp_path / "longer" / "metrics.jsonl")]
    assert sum(losses[-3:]) < 0.5 * sum(losses[:3]), losses  # the targets are learnt
    assert (longer / "config.json").is_file()


def _weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


RL_METHODS = [m for m in METHODS if m != "sft"]


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("method", RL_METHODS)
def test_each_method_trains_on_video(method, arch, models, pairs, tmp_path, dense_reward):
    policy, bias = models[arch]
    extra = {"bias_model": str(bias)} if method == "cdpo" else {}
    final = train(_config(method, policy, pairs, tmp_path / "run", **extra))

    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    prompts = 2 if method == "crpo" else 1
    for r in rows:
        assert 0 < r["rollout_tokens"] <= prompts * 4 * 8
        assert r["ratio"] == pytest.approx(1.0)  # one optimiser step per generation batch: on-policy
        assert (r["kl_bias"] > 0) is (method == "cdpo")
        assert r["kl_ref"] == 0.0
        assert (r["shuffled_acc"] is not None) is (method == "tgrpo"), "T-GRPO scores a frame-shuffled copy"
        assert (r["reversed_acc"] is not None) is (method == "arrowrl"), "ArrowRL scores the reversed clip"
        assert (r["crr_advantage_shift"] is not None) is (method == "crpo")
    assert all(r["reward_std"] > 0 for r in rows), "the dense reward varies within a group"
    assert all(r["frac_reward_zero_std"] < 1 for r in rows), "so not every group is without signal"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["method"] == method and summary["steps"] == 2 and (tmp_path / "run" / "metrics.png").is_file()

    before, after = _weights(policy), _weights(final)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("visual" in k for k in changed), "the vision tower is trained"
    assert any("layers." in k and "visual" not in k for k in changed), "and the language model"
    processor = transformers.AutoProcessor.from_pretrained(final)
    assert processor.tokenizer.convert_tokens_to_ids("<|video_pad|>") is not None
    assert (tmp_path / "run" / "checkpoints" / "step-000002" / "model" / "config.json").is_file()
    assert (tmp_path / "run" / "config.yaml").is_file()


@pytest.mark.parametrize("arch", ARCHES)
def test_log_probs_match_sampling_and_depend_on_the_video(arch, models, pairs):
    path = models[arch][0]
    processor = transformers.AutoProcessor.from_pretrained(path)
    model = transformers.AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    orig, cf = load_examples(pairs, paired=True)[0].prompts
    longer = Prompt("long", orig.video, orig.question + " Look at every frame, please.", orig.options, orig.answer)
    clips = ClipLoader(num_frames=4, fps=None)
    kw = {"arch": arch, "instruction": "Answer.", "min_pixels": 28 * 28, "max_pixels": 56 * 56}
    batch = encode_prompts(processor, [orig, longer], [clips(orig.video), clips(orig.video)], **kw)
    assert batch.attention_mask[0, 0] == 0, "prompts of different length are left-padded"
    other = encode_prompts(processor, [orig, longer], [clips(cf.video), clips(cf.video)], **kw)

    tok = processor.tokenizer
    eos = stop_token_ids(tok)
    forbidden = forbidden_token_ids(tok)
    torch.manual_seed(0)
    engine = HFRollout(max_new_tokens=6, temperature=1.0, eos_ids=eos, pad_id=tok.pad_token_id,
                       forbidden_ids=forbidden)  # fmt: skip
    rollout = make_rollout(batch, engine.sample(model, batch, 2).completion_ids, tok, eos_ids=eos, num_generations=2)
    rows = torch.arange(4)

    # the log-prob pass reproduces the distribution generate sampled from (3-D RoPE, padding, video)
    with torch.no_grad():
        logp = completion_logprobs(model, rollout, rows, forbidden_ids=forbidden)
        first_token = rollout.completion_ids[:, :1]
        step_logits = model(
            input_ids=torch.cat([rollout.prompt_ids, first_token], 1),
            attention_mask=torch.cat([rollout.prompt_mask, rollout.completion_mask[:, :1]], 1),
            mm_token_type_ids=torch.cat([rollout.prompt_mm_types, torch.zeros_like(first_token)], 1),
            **collate_vision([rollout.vision[p] for p in rollout.prompt_index.tolist()]),
        ).logits[:, -2]  # the logits the first completion token was sampled from
        step_logits[:, forbidden] = float("-inf")
        first = step_logits.log_softmax(-1).gather(1, first_token)[:, 0]
    assert torch.allclose(logp[:, 0], first, atol=1e-4)

    # another video gives other log-probs: vision reaches the loss
    with torch.no_grad():
        swapped = completion_logprobs(model, rollout._replace(vision=other.vision), rows, forbidden_ids=forbidden)
    assert not torch.allclose(logp, swapped)
    logp = completion_logprobs(model, rollout, rows, forbidden_ids=forbidden)
    (logp * rollout.completion_mask).sum().backward()
    assert model.model.visual.patch_embed.proj.weight.grad.abs().sum() > 0


class _Killed(Exception):
    pass


def test_kill_and_resume_equals_an_uninterrupted_run(models, pairs, tmp_path, monkeypatch, dense_reward):
    policy, bias = models["qwen2_5_vl"]
    settings = {"max_steps": 4, "ppo_epochs": 2, "save_every": 2, "kl_beta": 0.1, "bias_model": str(bias),
                "clip_eps": 0.05, "lr_schedule": "cosine"}  # fmt: skip
    full = train(_config("cdpo", policy, pairs, tmp_path / "full", **settings))

    save = checkpoint_module.save_checkpoint

    def save_then_die(accelerator, output_dir, step, *args, **kwargs):
        path = save(accelerator, output_dir, step, *args, **kwargs)
        if step == 2:
            raise _Killed
        return path

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", save_then_die)
    with pytest.raises(_Killed):
        train(_config("cdpo", policy, pairs, tmp_path / "killed", **settings))
    monkeypatch.setattr(checkpoint_module, "save_checkpoint", save)
    assert [r["step"] for r in read_jsonl(tmp_path / "killed" / "metrics.jsonl")] == [1, 2]
    resumed = train(_config("cdpo", policy, pairs, tmp_path / "killed", **settings))

    a, b = read_jsonl(tmp_path / "full" / "metrics.jsonl"), read_jsonl(tmp_path / "killed" / "metrics.jsonl")
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    assert a[0]["lr"] == 1e-3 and a[1]["lr"] < 1e-3, "each row logs the rate its own update used (cosine)"
    for ra, rb in zip(a, b, strict=True):
        assert {k: v for k, v in ra.items() if k not in TIMING} == {k: v for k, v in rb.items() if k not in TIMING}
    assert any(r["ratio"] != 1.0 for r in a), "second step on a generation batch: the ratio moves"
    assert any(r["clip_frac"] > 0 for r in a), "and the clip binds"
    wa, wb = _weights(full), _weights(resumed)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_cdpo_refuses_a_missing_or_self_bias_model(models, pairs, tmp_path):
    policy, _ = models["qwen3_vl"]
    with pytest.raises(TrainConfigError, match="cdpo needs bias_model"):
        train(_config("cdpo", policy, pairs, tmp_path / "a"))
    with pytest.raises(TrainConfigError, match="bias_model=.*nope: no such folder"):
        train(_config("cdpo", policy, pairs, tmp_path / "b", bias_model=str(tmp_path / "nope")))
    with pytest.raises(TrainConfigError, match="is the policy itself"):
        train(_config("cdpo", policy, pairs, tmp_path / "c", bias_model=str(policy)))
    copy = shutil.copytree(policy, tmp_path / "copy")
    with pytest.raises(TrainConfigError, match="exactly the policy's weights"):
        train(_config("cdpo", policy, pairs, tmp_path / "d", bias_model=str(copy)))


def test_cli_tiny_model_and_train(pairs, tmp_path):
    runner = CliRunner()
    built = runner.invoke(app, ["tiny-model", "--arch", "qwen2_5_vl", "--out", str(tmp_path / "m")])
    assert built.exit_code == 0, built.output
    args = ["train", "bias", "--model", str(tmp_path / "m"), "--data", str(pairs), "--output-dir",
            str(tmp_path / "run"), "--max-steps", "1", "num_generations=2", "max_new_tokens=4",
            "num_frames=2", "min_pixels=3136", "max_pixels=3136", "save_every=1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "run" / "model") in result.output
    assert len(read_jsonl(tmp_path / "run" / "metrics.jsonl")) == 1
    refused = runner.invoke(app, ["train", "bias", "--model", "m", "--data", "d", "--output-dir", "o", "kl_beta=0.1"])
    assert refused.exit_code == 1 and "no KL" in refused.output


def test_make_rollout_masks_after_eos_and_cuts_at_vision_tokens(models):
    tok = transformers.AutoTokenizer.from_pretrained(models["qwen3_vl"][0])
    eos, pad = tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id
    answer = tok("<answer>B</answer>", add_special_tokens=False).input_ids
    assert len(answer) == 3
    video_pad = tok.convert_tokens_to_ids("<|video_pad|>")
    completions = torch.tensor([answer + [eos, answer[1]], answer[:2] + [video_pad] + answer[:2]])
    ones = torch.ones(1, 3, dtype=torch.long)
    batch = PromptBatch(ones, ones, torch.zeros_like(ones), [{}], ["prompt"], [])
    rollout = make_rollout(batch, completions, tok, eos_ids=stop_token_ids(tok), num_generations=2,
                           forbidden_ids=forbidden_token_ids(tok))  # fmt: skip
    assert rollout.completion_mask.tolist() == [[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]]
    assert rollout.completion_ids[0, 4] == pad and (rollout.completion_ids[1, 2:] == pad).all()
    assert rollout.texts == ["<answer>B</answer>", "<answer>B"]
    assert rollout.prompt_index.tolist() == [0, 0] and rollout.prompt_ids.shape == (2, 3)


def test_two_process_ddp_on_cpu_trains_and_saves(models, pairs, tmp_path):
    """``accelerate launch --num_processes 2`` (DDP over gloo, the path multi-GPU runs take) end to end.

    The rewards are the real ones, so the start model is given the answer format first (the reproduce
    preset's warm-up): a random model's rewards are all 0 and nothing would move.
    """
    import socket
    import subprocess
    import sys

    policy, _ = models["qwen2_5_vl"]
    start = train(_sft_config(policy, pairs, tmp_path / "sft", max_steps=30, sft_targets="random", num_frames=2))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
        "-m", "dybench.train", "grpo", "--model", str(start), "--data", str(pairs), "--output-dir", str(out),
        "--max-steps", "2", "prompts_per_step=2", "num_generations=4", "max_new_tokens=12", "num_frames=2",
        "min_pixels=784", "max_pixels=3136", "save_every=2", "lr=0.002",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_jsonl(out / "metrics.jsonl")
    assert [row["step"] for row in rows] == [1, 2]  # written once, by the main process
    assert all(row["reward_format"] > 0 for row in rows)
    before, after = _weights(start), _weights(out / "model")
    assert any(not torch.equal(before[k], after[k]) for k in before), "the parameters must change"


@pytest.mark.slow
def test_plain_torchrun_on_cpu_is_one_ddp_run_not_two(models, pairs, tmp_path):
    """``torchrun --nproc_per_node 2 -m dybench.train`` with no accelerate variable set: the trainer tells
    accelerate it is on the CPU, so the two processes form one DDP run (one metrics row per step, means
    over both, one model), not two one-process runs writing the same folder."""
    from torchrun_runs import metric_rows, train_run

    policy, _ = models["qwen2_5_vl"]
    out = tmp_path / "ddp"
    done = train_run({"policy": policy, "pairs": pairs}, "grpo", out, "--max-steps", "2", "save_every=2")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = metric_rows(out)
    assert [r["step"] for r in rows] == [1, 2], "two one-process runs would each append their rows"
    assert all(r["ratio"] == pytest.approx(1.0) and r["grad_norm"] > 0 for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["tgrpo", "arrowrl"])
def test_probe_methods_run_as_one_ddp_run_on_two_processes(models, pairs, tmp_path, method):
    """T-GRPO's shuffled and ArrowRL's reversed completions are sampled on each process's own prompts."""
    from torchrun_runs import metric_rows, train_run

    policy, _ = models["qwen2_5_vl"]
    out = tmp_path / "ddp"
    done = train_run({"policy": policy, "pairs": pairs}, method, out, "--max-steps", "2", "save_every=2")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = metric_rows(out)
    assert [r["step"] for r in rows] == [1, 2] and all(r["grad_norm"] > 0 for r in rows)
    probe = "shuffled_acc" if method == "tgrpo" else "reversed_acc"
    assert all(r[probe] is not None for r in rows)


def test_crpo_trains_on_a_video_r1_json_without_counterfactual_labels(models, tmp_path, dense_reward, caplog):
    """Published CRPO from plain video QA: routed, rendered into the run folder (cached), null option on."""
    from test_train_fixtures import make_video_r1_json

    data = make_video_r1_json(tmp_path)
    rows = json.loads(data.read_text())
    rows.append({"problem": "Does the square move before it stops?", "options": [], "solution": "<answer>yes</answer>",
                 "path": "clip1.mp4", "problem_type": "multiple choice", "data_type": "video"})  # fmt: skip
    data.write_text(json.dumps(rows))
    policy, _ = models["qwen2_5_vl"]
    out = tmp_path / "run"
    with caplog.at_level("WARNING"):
        final = train(_config("crpo", policy, data, out, prompts_per_step=2))
    routing = json.loads((out / "routing.json").read_text())
    # the left/right question -> hflip; "before" -> reverse; two rows have no cue; the numerical row is skipped
    assert routing["by_transform"] == {"hflip": 1, "reverse": 1, "not routed": 2} and routing["examples"] == 2
    assert "could not be routed" in caplog.text
    renders = sorted(p.name.split(".")[1] for p in (out / "counterfactuals").glob("*.mp4"))
    assert renders == ["hflip", "reverse"]
    metrics = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in metrics] == [1, 2]
    for key in ("reward_correct", "reward_format", "reward_behave", "reward_crr_orig", "reward_crr_aug"):
        assert key in metrics[0]
    before, after = _weights(policy), _weights(final)
    assert any(not torch.equal(before[k], after[k]) for k in before), "the parameters must change"
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["crr_mode"] == "published" and config["null_option"] is None

    stamp = {p: p.stat().st_mtime_ns for p in (out / "counterfactuals").glob("*.mp4")}
    train(_config("crpo", policy, data, out, prompts_per_step=2, max_steps=3, save_every=1))
    assert {p: p.stat().st_mtime_ns for p in (out / "counterfactuals").glob("*.mp4")} == stamp, "renders reused"
    with pytest.raises(TrainConfigError, match="crr_mode=mapped needs counterfactual answers"):
        train(_config("crpo", policy, data, tmp_path / "mapped", crr_mode="mapped"))


def test_the_repulsion_is_split_between_the_cues_answers_and_the_others():
    """cdpo's ``kl_bias_cue_answers`` / ``kl_bias_other_answers``: each completion's per-token mean, by whether it
    answers what its question's shortcut cue points to (``Prompt.cue_answer``)."""
    from pathlib import Path

    from dybench.train._trainer import cue_rows, per_row_split

    cued = Prompt("p", Path("/v.mp4"), "Which way?", ("left", "right"), "B", cue_answer="B")
    plain = Prompt("q", Path("/v.mp4"), "Which way?", ("left", "right"), "A")
    signs = cue_rows([cued, plain], ["B", "A", None, "B"], 2)
    assert signs.tolist() == [1, -1, 0, 0]  # the cue's answer, another answer; no parse; no cue
    kl = torch.tensor([[1.0, 3.0], [0.5, 0.5], [9.0, 9.0], [9.0, 9.0]])
    mask = torch.tensor([[1, 1], [1, 0], [1, 1], [1, 1]])
    assert per_row_split(kl, mask, signs).tolist() == [2.0, 1.0, 0.5, 1.0]  # [sum, count] cue's, then others
