"""DeepSpeed ZeRO-2 / ZeRO-3: the config path of every recipe, and real two-process runs on CPU.

The runs use ``torchrun --nproc_per_node 2`` (DeepSpeed's CPU accelerator over gloo), the way the
recipes' ``deepspeed=`` key is meant to be used on a CPU machine; ``accelerate launch --num_processes 2``
falls back to one process on CPU (RESEARCH.md).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from torchrun_runs import KL, metric_rows, same_metrics, tiny_inputs, train_run
from typer.testing import CliRunner

from dybench.cli import app
from dybench.train import TrainConfig, TrainConfigError
from dybench.train._config import resolve_deepspeed_config

ROOT = Path(__file__).parent.parent
RECIPES = ROOT / "recipes"
LAUNCHED = sorted(p for p in RECIPES.glob("*.yaml") if p.read_text().startswith("# accelerate launch"))
ZERO = {2: RECIPES / "deepspeed_zero2.json", 3: RECIPES / "deepspeed_zero3.json"}


class _DataParallel:
    """What DeepSpeed's config reads from an ``mpu``: the data-parallel world size."""

    def __init__(self, size: int):
        self.size = size

    def get_data_parallel_world_size(self) -> int:
        return self.size


def test_recipes_include_zero2_and_zero3_configs():
    for stage, path in ZERO.items():
        assert json.loads(path.read_text())["zero_optimization"]["stage"] == stage


@pytest.mark.parametrize("recipe", LAUNCHED, ids=lambda p: p.stem)
def test_each_launch_line_parses_and_its_deepspeed_config_validates(recipe, monkeypatch):
    """The recipe's own first line, through the real CLI, down to DeepSpeed's config validation."""
    pytest.importorskip("deepspeed")
    from deepspeed.runtime import config as ds_runtime_config

    argv = shlex.split(recipe.read_text().splitlines()[0].lstrip("# "))
    processes = int(argv[argv.index("--num_processes") + 1])
    train_argv = argv[argv.index("dybench.train") + 1 :]
    captured: list[TrainConfig] = []
    monkeypatch.setattr("dybench.train.train", captured.append)
    monkeypatch.chdir(ROOT)  # recipe paths are relative to the repository root
    result = CliRunner().invoke(app, ["train", *train_argv])
    assert result.exit_code == 0, result.output
    (cfg,) = captured
    cfg.validate()
    assert cfg.method == train_argv[0] and cfg.deepspeed == "recipes/deepspeed_zero3.json"

    ds = resolve_deepspeed_config(cfg, bf16=True)
    assert ds["train_micro_batch_size_per_gpu"] == cfg.micro_batch_size == 2
    assert ds["gradient_accumulation_steps"] == cfg.micro_batches == cfg.rows_per_step // 2
    assert ds["gradient_clipping"] == cfg.max_grad_norm
    assert ds["bf16"]["enabled"] is True
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    monkeypatch.setattr(ds_runtime_config.dist, "get_rank", lambda: 0)  # as if launched: the mpu gives the size
    checked = ds_runtime_config.DeepSpeedConfig(ds, mpu=_DataParallel(processes))
    assert checked.zero_optimization_stage == 3
    assert checked.train_batch_size == cfg.micro_batch_size * cfg.micro_batches * processes
    assert checked.gradient_clipping == cfg.max_grad_norm


def _cfg(tmp_path, ds: dict, **values) -> TrainConfig:
    path = tmp_path / "ds.json"
    path.write_text(json.dumps(ds))
    return TrainConfig(model="m", data="d", output_dir="o", deepspeed=str(path), **values)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"train_micro_batch_size_per_gpu": 8}, "train_micro_batch_size_per_gpu is 8 but the train config gives 4"),
        ({"gradient_clipping": 0.5}, "gradient_clipping is 0.5 but the train config gives 1.0"),
        ({"optimizer": {"type": "AdamW"}}, "remove the 'optimizer' section"),
        ({"fp16": {"enabled": True}}, "fp16 is not supported"),
        ({"train_batch_size": 64}, "train_batch_size: leave it out"),
        ({"zero_optimization": {"stage": 3, "stage3_gather_16bit_weights_on_model_save": False}},
         "stage3_gather_16bit_weights_on_model_save is False"),
        ({"zero_optimization": {"stage": 5}}, "stage must be 0, 1, 2 or 3"),
    ],
)  # fmt: skip
def test_deepspeed_config_refuses_what_the_trainer_cannot_honour(tmp_path, change, message):
    ds = {**json.loads(ZERO[3].read_text()), **change}
    with pytest.raises(TrainConfigError, match=message):
        resolve_deepspeed_config(_cfg(tmp_path, ds), bf16=False)


def test_deepspeed_auto_values_follow_the_train_config(tmp_path):
    cfg = _cfg(tmp_path, json.loads(ZERO[2].read_text()), method="crpo", prompts_per_step=3, num_generations=4,
               micro_batch_size=5, max_grad_norm=0.3)  # fmt: skip
    ds = resolve_deepspeed_config(cfg, bf16=False)
    assert (ds["train_micro_batch_size_per_gpu"], ds["gradient_accumulation_steps"]) == (5, 5)  # ceil(24 / 5)
    assert ds["gradient_clipping"] == 0.3 and ds["bf16"]["enabled"] is False
    assert ds["zero_force_ds_cpu_optimizer"] is False  # torch AdamW is allowed


def test_train_refuses_deepspeed_without_a_launcher(tmp_path, monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "d").mkdir()
    result = CliRunner().invoke(app, ["train", "grpo", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "d"),
                                      "--output-dir", str(tmp_path / "o"), f"deepspeed={ZERO[3]}"])  # fmt: skip
    assert result.exit_code == 1
    assert "needs a distributed launcher: `torchrun --nproc_per_node N" in result.output


# --- real runs: two processes under torchrun, ZeRO on DeepSpeed's CPU accelerator --------------------


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    pytest.importorskip("deepspeed")
    return tiny_inputs(tmp_path_factory.mktemp("zero"))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["grpo", "crpo", "cdpo", "tgrpo", "arrowrl"])
def test_zero3_two_processes_train_save_and_reload(setup, tmp_path, method):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText

    out = tmp_path / "run"
    done = train_run(setup, method, out, "--max-steps", "2", "save_every=2", f"deepspeed={ZERO[3]}",
                     *KL)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    rows = metric_rows(out)
    assert [r["step"] for r in rows] == [1, 2], "one row per step, written by the main process only"
    assert all(r["ratio"] == pytest.approx(1.0) for r in rows), "metrics are means over 2 processes, not sums"
    assert all(r["sampler_logprob_gap"] < 1e-4 for r in rows)
    assert all(r["reward_std"] > 0 and r["grad_norm"] > 0 for r in rows)
    assert rows[1]["kl_ref"] > 0, "the policy moved away from the reference after one update"
    assert (rows[0]["kl_bias"] > 0) is (method == "cdpo"), "the bias model is used, not the policy"
    assert (rows[0]["shuffled_acc"] is not None) is (method == "tgrpo"), "T-GRPO's shuffled completions, gathered"
    assert (rows[0]["reversed_acc"] is not None) is (method == "arrowrl"), "ArrowRL's reversed answer, gathered"
    _, info = AutoModelForImageTextToText.from_pretrained(out / "model", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    before, after = (
        load_file(str(setup["policy"] / "model.safetensors")),
        load_file(str(out / "model" / "model.safetensors")),
    )
    assert before.keys() == after.keys() and all(after[k].shape == before[k].shape for k in before), "gathered whole"
    assert any(not torch.equal(before[k], after[k]) for k in before), "the parameters must change"


@pytest.mark.slow
@pytest.mark.parametrize("stage", [2, 3])
def test_zero_kill_and_resume_equals_an_uninterrupted_run(setup, tmp_path, stage):
    from safetensors.torch import load_file

    settings = ("--max-steps", "4", "save_every=2", "ppo_epochs=2", "lr_schedule=cosine", "clip_eps=0.05",
                f"deepspeed={ZERO[stage]}", *KL)  # fmt: skip
    full = train_run(setup, "cdpo", tmp_path / "full", *settings)
    assert full.returncode == 0, full.stderr[-4000:]
    killed = train_run(setup, "cdpo", tmp_path / "killed", *settings, kill_after=2)
    assert killed.returncode != 0, "each rank killed itself after the step-2 checkpoint"
    assert [r["step"] for r in metric_rows(tmp_path / "killed")] == [1, 2]
    assert not (tmp_path / "killed" / "model").exists()
    resumed = train_run(setup, "cdpo", tmp_path / "killed", *settings)
    assert resumed.returncode == 0, resumed.stderr[-4000:]

    a, b = metric_rows(tmp_path / "full"), metric_rows(tmp_path / "killed")
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    assert same_metrics(a, b)
    assert a[2]["lr"] < a[0]["lr"], "the cosine schedule is restored, not restarted"
    assert any(r["ratio"] != 1.0 for r in a), "the second update on a generation batch moves the ratio"
    wa, wb = (
        load_file(str(tmp_path / "full" / "model" / "model.safetensors")),
        load_file(str(tmp_path / "killed" / "model" / "model.safetensors")),
    )
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"fp16": true, "zero_optimization": {"stage": 2}}', '"fp16": true is a section: write "fp16": {"enabled"'),
        (b'{"bf16": true, "zero_optimization": {"stage": 2}}', '"bf16": true is a section: write "bf16": {"enabled"'),
        (b'{"zero_optimization": 3}', '"zero_optimization": 3 is a section'),
        (b'{"zero_optimization": {"stage": 2}, "x": "\xff"}', "line 1: not UTF-8 text"),
        (b'{"zero_optimization": {"stage": 2}, "x": ' + b"9" * 5000 + b"}", "an integer of 5,000 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested deeper than 64 levels"),
    ],
    ids=["fp16-true", "bf16-true", "zero-number", "not-utf8", "5000-digits", "deep"],
)
def test_a_malformed_deepspeed_file_is_one_error_naming_it(tmp_path, content, message):
    """Before: AttributeError, UnicodeDecodeError, ValueError or RecursionError from the reader."""
    path = tmp_path / "ds.json"
    path.write_bytes(content)
    cfg = TrainConfig(model="m", data="d", output_dir="o", deepspeed=str(path))
    with pytest.raises(TrainConfigError) as caught:
        resolve_deepspeed_config(cfg, bf16=False)
    assert str(caught.value).startswith(f"deepspeed={path}: ") and message in str(caught.value)
