"""`dybench reproduce cdpo --preset paper` end to end on CPU, at the smallest size: a tiny model of the preset's
architecture, the released data's file formats written here (CLEVRER counterfactual Video-R1 jsons, VideoThinker's
evaluation jsons, local Video-MME / MVBench / TempCompass copies), one step per training run, through the report's
measured-beside-reported table (slow: about 4 minutes on 2 cores)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("torch")
pytest.importorskip("lmms_eval")

from evaldata import make_mvbench, make_tempcompass, make_videomme  # noqa: E402
from videos import make_frames, write_clip  # noqa: E402

from dybench.reproduce import get_preset, reproduce  # noqa: E402
from dybench.testing import build_tiny_model  # noqa: E402

#: Every training run at the smallest size, in this process, without DeepSpeed.
SMALL_TRAIN = {"max_steps": 1, "save_every": 1, "prompts_per_step": 1, "num_generations": 2, "micro_batch_size": 4,
               "max_new_tokens": 8, "num_frames": 2, "min_pixels": 784, "max_pixels": 3136, "deepspeed": None,
               "gradient_checkpointing": False, "lr": 1e-3}  # fmt: skip


def _clevrer_json(path: Path, n: int, videos: list[str]) -> Path:
    rows = [{"problem": f"If the cube were removed, which would collide? ({i})", "options": ["A. x", "B. y", "C. z"],
             "solution": "<answer>A,C</answer>" if i % 2 else "<answer>B</answer>", "video": videos[i % len(videos)]}
            for i in range(n)]  # fmt: skip
    path.write_text(json.dumps(rows))
    return path


@pytest.mark.slow
def test_the_cdpo_paper_plan_runs_on_tiny_inputs_through_the_report(tmp_path, monkeypatch):
    from dybench.train import _rewards

    monkeypatch.setenv("DYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    # a random tiny model earns no real reward, so one step would leave the bias model equal to its start (which
    # CDPO refuses); a dense stand-in (the share of capital letters) gives every step a gradient
    monkeypatch.setattr(
        _rewards, "accuracy_reward", lambda text, prompt: sum(c.isupper() for c in text) / (1 + len(text))
    )
    model = build_tiny_model("qwen2_5_vl", tmp_path / "Qwen2.5-VL-3B-Instruct", seed=0)
    root = tmp_path / "VideoThinker"
    (root / "CLEVRER" / "videos").mkdir(parents=True)
    names = ["/CLEVRER/videos/video_10000.mp4", "/CLEVRER/videos/video_10001.mp4"]
    for i, name in enumerate(names):
        write_clip(root / name.lstrip("/"), make_frames(8, 64, 64, seed=i), lossless=False)
    (root / "data").mkdir()
    train = _clevrer_json(root / "data" / "clevrer_counterfactual_train.json", 1000, names)
    bias = _clevrer_json(root / "data" / "clevrer_counterfactual_train_observational.json", 500, names)
    bench = {name: _clevrer_json(root / "data" / f"eval_{name}.json", 4, names)
             for name in ("clevrer_cf", "mmvu", "video_holmes")}  # fmt: skip
    bench |= {"videomme": make_videomme(tmp_path / "Video-MME"), "mvbench": make_mvbench(tmp_path / "MVBench"),
              "tempcompass": make_tempcompass(tmp_path / "TempCompass")}  # fmt: skip
    paper = get_preset("paper", "cdpo")
    preset = paper.replace(
        launcher="inprocess",
        train=SMALL_TRAIN,
        evaluation=dataclasses.replace(
            paper.evaluation,
            model_args="device_map=cpu,max_num_frames=2,max_pixels=3136,min_pixels=784",
            gen_kwargs="max_new_tokens=8",
            device="cpu",
            batch_size=4,
        ),  # fmt: skip
        min_questions={"train_data": 1000, "bias_data": 500},
    )
    done = reproduce("cdpo", preset=preset, model=model, train_data=train, bias_data=bias, video_root=root,
                     bench=bench, output_dir=tmp_path / "run", log=lambda s: None)  # fmt: skip

    report = json.loads((tmp_path / "run" / "report.json").read_text())
    rows = {row["label"]: row for row in report["paper"]}
    assert list(rows) == ["base", "grpo-s0", "bias-s0", "cdpo-s0"]
    assert rows["cdpo-s0"]["reported_as"] == "VideoThinker-R1-3B" and rows["bias-s0"]["reported_as"] is None
    cells = {c["benchmark"]: c for c in rows["cdpo-s0"]["cells"]}
    assert set(cells) == {"clevrer_cf", "mmvu", "video_holmes", "mvbench", "tempcompass", "videomme"}
    for cell in cells.values():
        assert cell["given"] and 0.0 <= cell["measured"]["value"] <= 1.0, cell
    assert cells["clevrer_cf"]["reported"] == pytest.approx(0.791) and cells["videomme"]["reported"] == 0.524
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "## The paper's benchmarks: measured / reported" in markdown and "/ 0.791" in markdown
    bias_config = next(s for s in done.plan.stages if s.name == "train-bias-s0").settings["config"]
    assert bias_config["method"] == "bias" and bias_config["data"] == str(bias.resolve())
    assert not (tmp_path / "run" / "data" / "train" / "synth").exists()  # the released data, not synthetic
