"""`dybench reproduce crpo` for real, at the smallest size: synth, build, tiny model, warm-up, GRPO and
CRPO training, lmms-eval, leaderboard and report, on CPU, offline (about 2-3 minutes)."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("torch")
pytest.importorskip("lmms_eval")

from dybench.reproduce import TinyModel, get_preset, reproduce  # noqa: E402
from dybench.reproduce._stages import MARKERS  # noqa: E402

TINY = get_preset("tiny", "crpo")
#: ``dybench train sft`` at the smallest size: gold targets, stopped at its first check (target 0.0)
START = """method: sft
sft_targets: gold
sft_held_back: 4
sft_check_every: 20
sft_stop_accuracy: 0.0
max_steps: 40
prompts_per_step: 4
micro_batch_size: 4
lr: 4.0e-3
num_frames: 4
min_pixels: 3136
max_pixels: 3136
save_every: 20
"""


def smallest(tmp_path):
    start = tmp_path / "start.yaml"
    start.write_text(START)
    return TINY.replace(
        data=dataclasses.replace(
            TINY.data,
            n_train=12,  # 3 questions pass the fixed-order selection
            train_seed=None,
            n_start=12,  # the start's own split: the same 3 questions, their motion all visible
            n_test=8,  # 1 question: 2 pairs, 4 items
            categories=("moving_direction",),
            bias="moving_direction:colour=red->right:train=0.95,test=0.5",
        ),
        start=str(start),
        tiny_model=TinyModel(width=64, layers=2, init_std=0.08),
        train={"max_steps": 2, "save_every": 2, "prompts_per_step": 1, "num_generations": 2, "max_new_tokens": 6},
        evaluation=dataclasses.replace(TINY.evaluation, tasks=("dybench_pair_r1_moving_direction",)),
        ablation_seeds=(),  # the ablation runs are stages like the others (test_reproduce_plan); keep this short
    )


def test_the_tiny_chain_runs_end_to_end_and_a_rerun_skips_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    preset = smallest(tmp_path)
    # the whole chain, the start model's training included (the preset's default starts from the shipped start)
    done = reproduce("crpo", preset=preset, output_dir=out, seeds=[0], train_start=True, log=lambda s: None)

    report = json.loads((out / "report.json").read_text())
    labels = [r["label"] for r in report["runs"]]
    assert labels == ["base", "grpo-s0", "crpo-s0"]
    for run in report["runs"]:
        for metric in ("acc", "p_acc", "change_consistency"):
            value = run["metrics"][metric]["value"]
            assert value is not None and 0.0 <= value <= 1.0
        assert "moving_direction" in run["by_category"]
    assert report["training"]["crpo-s0"]["steps"] == 2
    warmup = report["warmup"]  # gold targets on both branches, stopped at the first check (target 0.0)
    assert warmup["targets"] == "gold" and warmup["steps"] == 20 and [c[0] for c in warmup["checks"]] == [20]
    assert "reached sft_stop_accuracy" in warmup["ended"]
    assert (out / "runs" / "crpo-s0" / "model" / "config.json").is_file()
    results = json.loads((out / "eval" / "crpo-s0" / "results.json").read_text())
    assert results["model_name"] == "dybench-reproduce tiny crpo-s0"
    assert results["dybench_reproduce"]["prompt"] == "r1"
    samples = next((out / "eval" / "crpo-s0" / "lmms-eval").rglob("*samples_dybench_pair_r1_moving_direction.jsonl"))
    first = json.loads(samples.read_text().splitlines()[0])
    assert "<answer> </answer>" in first["input"]  # the trainer's instruction, not "answer directly"
    assert len(report["leaderboard"]) == 3
    assert len(list((out / "leaderboard" / "uploads").glob("*_results.json"))) == 3
    markdown = (out / "report.md").read_text()
    assert "## Wall time" in markdown and "![P-Acc per category](plots/p_acc_per_category.png)" in markdown
    assert report["wall_time"]["total_s"] > 0
    assert done.report == out / "report.md"

    lines: list[str] = []
    reproduce("crpo", preset=preset, output_dir=out, seeds=[0], train_start=True, log=lines.append)
    skipped = [line for line in lines if "done already, skipped" in line]
    assert len(skipped) == len(done.plan.stages) - 1  # all but the report, which always refreshes
    assert (out / MARKERS / "report.done.json").is_file()


@pytest.mark.slow
def test_a_real_kill_during_training_resumes_from_the_trainers_checkpoint(tmp_path):
    """SIGKILL the real chain once GRPO has saved a checkpoint; the rerun continues that run, not a new one."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from pathlib import Path\n"
        "from test_reproduce_e2e import smallest\n"
        "from dybench.reproduce import reproduce\n"
        f"preset = smallest(Path({str(tmp_path)!r}))\n"
        "preset = preset.replace(train={**preset.train, 'max_steps': 6})\n"
        f"reproduce('crpo', preset=preset, output_dir={str(tmp_path / 'run')!r}, seeds=[0])\n"
    )
    env = {**os.environ, "DYBENCH_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoints = tmp_path / "run" / "runs" / "grpo-s0" / "checkpoints"
    deadline = time.time() + 600
    while not any(checkpoints.glob("step-*")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "run" / MARKERS / "train-grpo-s0.done.json").exists()
    saved = max(int(p.name.removeprefix("step-")) for p in checkpoints.glob("step-*"))
    metrics = checkpoints.parent / "metrics.jsonl"
    before = [json.loads(line) for line in metrics.read_text().splitlines()][:saved]
    subprocess.run([sys.executable, str(script)], env=env, check=True, capture_output=True)
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[:saved] == before  # the steps before the checkpoint were not trained again
    assert (tmp_path / "run" / "report.md").is_file()
