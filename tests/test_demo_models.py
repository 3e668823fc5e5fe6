"""The tiny models shipped for ``dybench demo``: they match their provenance, load, and can be regenerated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dybench.demo.models import (
    DEMO_MODELS,
    PROVENANCE,
    WEIGHTS,
    DemoModelsError,
    check_shipped,
    ship,
    shipped,
)
from dybench.fileio import write_json_atomic, write_jsonl_atomic


def test_the_shipped_models_match_their_provenance():
    assert [m.name for m in shipped()] == [m.name for m in DEMO_MODELS]
    assert check_shipped() == []
    total = sum(p.stat().st_size for m in DEMO_MODELS for p in m.path().iterdir())
    assert total < 12e6  # a few MB in all: five models of ~2.2 MB
    for model in DEMO_MODELS:
        record = json.loads((model.path() / PROVENANCE).read_text())
        assert record["reproduce_command"].startswith("dybench reproduce crpo ")
        assert record["seed"] == 0 and record["preset"] == "tiny" and record["stage"]["name"] == model.stage
        assert record["data"]["test"]["bias"].endswith("test=0.5") and record["data"]["train"]["split"] == "train"
        assert record["dybench_version"] and record["git"]["revision"]
        assert record["training"]["metrics_summary"]["steps"] > 0


def test_the_shipped_models_load_in_bfloat16():
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    for model in DEMO_MODELS:
        loaded = AutoModelForImageTextToText.from_pretrained(model.path(), dtype="auto")
        assert loaded.dtype == torch.bfloat16
        assert loaded.config.text_config.num_hidden_layers == 4 and loaded.config.text_config.hidden_size == 128
        assert AutoProcessor.from_pretrained(model.path()).tokenizer is not None


def test_a_changed_file_no_longer_matches(tmp_path):
    for model in DEMO_MODELS:
        shutil.copytree(model.path(), model.path(tmp_path))
    target = DEMO_MODELS[1].path(tmp_path)
    (target / "config.json").write_text((target / "config.json").read_text().replace("128", "129", 1))
    (target / "notes.txt").write_text("extra")
    problems = check_shipped(tmp_path)
    assert any("config.json: sha256 differs" in p for p in problems)
    assert any("notes.txt: not in provenance.json" in p for p in problems)
    assert len(problems) == 2


def _reproduction(root: Path) -> Path:
    """A `dybench reproduce crpo --extra-runs all` output folder whose models are copies of the shipped ones."""
    stages = [{"name": m.stage, "command": f"make {m.name}"} for m in DEMO_MODELS]
    plan = {"target": "crpo", "preset": "tiny", "output_dir": str(root), "results_dir": str(root / "leaderboard"),
            "seeds": [0, 1, 2], "stages": stages}  # fmt: skip
    write_json_atomic(root / "plan.json", plan)
    for model in DEMO_MODELS:
        src = root / model.source
        shutil.copytree(model.path(), src)
        (src / PROVENANCE).unlink()
    write_json_atomic(root / "runs/start/summary.json", {"steps": 950, "held_back": {"accuracy": 0.86},
                                                         "config": {"method": "sft"}})  # fmt: skip
    write_json_atomic(root / "models/init/dybench_tiny_model.json", {"width": 128})
    for run in ("start", "grpo-s0", "crpo-s0"):
        rows = [{"step": s, "reward": 0.5 + s / 100, "reward_correct": 0.5, "step_s": 1.0} for s in range(1, 21)]
        write_jsonl_atomic(root / "runs" / run / "metrics.jsonl", rows)
    write_json_atomic(root / ".stages/synth-test.done.json", {"settings": {"n": 192, "bias": "b", "split": "test"}})
    return root


def test_ship_refuses_an_unfinished_reproduction_then_copies_a_finished_one(tmp_path):
    from safetensors.torch import load_file

    root = _reproduction(tmp_path / "repro")
    for model in DEMO_MODELS[:2]:
        write_json_atomic(root / ".stages" / f"{model.stage}.done.json", {"finished": "2026-11-28T09:00:00+00:00"})
    with pytest.raises(
        DemoModelsError, match="train-crpo-s0, train-tgrpo-s0, train-arrowrl-s0 not done yet.*--extra-runs"
    ):
        ship(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()

    for model in DEMO_MODELS[2:]:
        write_json_atomic(root / ".stages" / f"{model.stage}.done.json", {"finished": "2026-11-28T09:30:00+00:00"})
    folders = ship(root, tmp_path / "out")
    assert [f.name for f in folders] == [m.name for m in DEMO_MODELS]
    assert check_shipped(tmp_path / "out") == []
    for model, folder in zip(DEMO_MODELS, folders, strict=True):
        record = json.loads((folder / PROVENANCE).read_text())
        assert record["reproduce_command"] == f"dybench reproduce crpo --output-dir {root}"
        assert record["stage"]["name"] == model.stage and record["stage"]["command"] == f"make {model.name}"
        assert record["stage"]["finished"].startswith("2026-11-28T09:")
        assert record["data"]["test"]["n"] == 192 and record["data"]["train"] is None
        same = load_file(folder / WEIGHTS)
        assert same.keys() == load_file(model.path() / WEIGHTS).keys()
        assert not (folder / "dybench_tiny_model.json").exists()
    start = json.loads((folders[0] / PROVENANCE).read_text())["training"]
    assert start["summary"] == {"steps": 950, "held_back": {"accuracy": 0.86}}  # its settings are under "config"
    assert start["init"] == {"width": 128} and start["metrics_summary"]["steps"] == 20
    grpo = json.loads((folders[1] / PROVENANCE).read_text())["training"]["metrics_summary"]
    assert grpo["steps"] == 20 and grpo["reward_last10"] > grpo["reward_first10"]


def test_a_reproduction_from_the_shipped_start_ships_what_it_trained_and_leaves_the_start(tmp_path):
    root = _reproduction(tmp_path / "repro")
    plan = json.loads((root / "plan.json").read_text())
    stages = [{"name": "start-model", "command": "copy"}, *plan["stages"][1:]]  # RL from the shipped start
    write_json_atomic(root / "plan.json", {**plan, "stages": stages})
    for model in DEMO_MODELS[1:]:
        write_json_atomic(root / ".stages" / f"{model.stage}.done.json", {"finished": "2026-12-08T05:00:00+00:00"})
    out = tmp_path / "out"
    shutil.copytree(DEMO_MODELS[0].path(), DEMO_MODELS[0].path(out))
    before = (DEMO_MODELS[0].path(out) / PROVENANCE).read_bytes()
    assert [f.name for f in ship(root, out)] == [m.name for m in DEMO_MODELS[1:]]
    assert (DEMO_MODELS[0].path(out) / PROVENANCE).read_bytes() == before and check_shipped(out) == []


def test_ship_refuses_a_reproduction_of_another_method(tmp_path):
    root = _reproduction(tmp_path / "repro")
    plan = json.loads((root / "plan.json").read_text())
    write_json_atomic(root / "plan.json", {**plan, "target": "cdpo"})
    with pytest.raises(DemoModelsError, match="reproduce crpo"):
        ship(root, tmp_path / "out")
