"""`dybench reproduce`: the plans, --dry-run's input checks, and resume after a kill at every stage.

The expensive stage functions (synth, build, tiny model, warm-up, training, lmms-eval) are replaced by
fast fakes that write outputs of the real shape, so the orchestration is tested in seconds; the real
chain runs in tests/test_reproduce_e2e.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from dybench.cli import app
from dybench.reproduce import ReproduceInputError, StageError, get_preset, make_plan, reproduce
from dybench.reproduce._plan import _train_config
from dybench.reproduce._stages import MARKERS

RUNNER = CliRunner()


# --- plans and dry runs ------------------------------------------------------------------------------


def _names(plan) -> list[str]:
    return [s.name for s in plan.stages]


def test_tiny_rl_starts_from_the_shipped_start_in_float32_unless_told_to_train_one(tmp_path):
    from safetensors.torch import load_file

    from dybench.reproduce._data_stages import copy_in_float32
    from dybench.shipped import shipped_data

    plan = make_plan("crpo", output_dir=tmp_path, seeds=[0])
    names = _names(plan)
    assert "start-model" in names and not {"synth-start", "model-init", "train-start"} & set(names)
    assert {r.model for r in plan.runs} == {plan.layout.start_model} and not plan.problems
    shipped = shipped_data(plan.preset.start_model)
    stage = next(s for s in plan.stages if s.name == "start-model")
    assert stage.inputs == (shipped,)  # its key follows the shipped files
    assert any("shipped start model" in n and "--train-start" in n for n in plan.notes)
    copy_in_float32(shipped, plan.layout.start_model)
    copied, original = (
        load_file(plan.layout.start_model / "model.safetensors"),
        load_file(shipped / "model.safetensors"),
    )
    assert copied.keys() == original.keys()
    assert all(copied[k].dtype == torch.float32 and torch.equal(copied[k], original[k].float()) for k in original)
    assert json.loads((plan.layout.start_model / "config.json").read_text())["dtype"] == "float32"
    assert not (plan.layout.start_model / "provenance.json").exists()
    assert stage.check() is None
    trained = make_plan("crpo", output_dir=tmp_path, seeds=[0], train_start=True)
    assert "start-model" not in _names(trained) and "train-start" in _names(trained)


def test_tiny_crpo_plan_runs_grpo_and_crpo_per_seed_from_one_start(tmp_path):
    plan = make_plan("crpo", output_dir=tmp_path, seeds=[0, 1], train_start=True)
    assert _names(plan) == [
        "synth-train", "build-train", "train-files", "synth-test", "build-test", "synth-start", "build-start",
        "model-init", "train-start",
        "eval-base", "train-grpo-s0", "eval-grpo-s0", "train-crpo-s0", "eval-crpo-s0",
        "train-grpo-s1", "eval-grpo-s1", "train-crpo-s1", "eval-crpo-s1",
        "train-crpo_no_crr-s0", "eval-crpo_no_crr-s0", "train-crpo_branch-s0", "eval-crpo_branch-s0",
        "leaderboard", "report",
    ]  # fmt: skip
    assert not plan.problems
    runs = {r.label: r for r in plan.runs}
    assert runs["crpo-s0"].data == plan.layout.pairs("train")  # both branches
    assert runs["grpo-s0"].data.name == "original.json"  # the original branch only
    assert {r.model for r in plan.runs if r.method != "sft"} == {plan.layout.start_run / "model"}
    start = next(r for r in plan.runs if r.method == "sft")  # the start model is `dybench train sft`
    assert start.model == plan.layout.init_model and start.data == plan.layout.pairs("start")
    settings = {s.name: s.settings for s in plan.stages}
    assert settings["synth-train"]["subtle"] == plan.preset.data.subtle > 0  # RL's clips: some too subtle to see
    assert "subtle" not in settings["synth-start"] and "subtle" not in settings["synth-test"]
    assert settings["synth-start"]["split"] == "train" and settings["synth-start"]["n"] == plan.preset.data.n_start
    assert settings["synth-train"]["seed"] != settings["synth-start"]["seed"]  # the start never saw an RL scene
    assert "--subtle 0.667" in next(s.command for s in plan.stages if s.name == "synth-train")
    travel = dataclasses.replace(plan.preset.data, subtle_travel=0.25)
    assert travel.synth_settings("train")["subtle_travel"] == 0.25
    assert "subtle_travel" not in travel.synth_settings("start")
    # without a start split the start model fine-tunes on the training pairs
    shared = make_plan("crpo", output_dir=tmp_path, train_start=True, preset=plan.preset.replace(
        data=dataclasses.replace(plan.preset.data, n_start=0)))  # fmt: skip
    assert "synth-start" not in _names(shared)
    assert next(r for r in shared.runs if r.method == "sft").data == shared.layout.pairs("train")
    text = plan.describe()
    assert "dybench train crpo --config" in text and "reproduce_tiny_crpo.yaml" in text
    assert "expected compute" in text


def test_tiny_cdpo_plan_trains_the_bias_model_before_cdpo_and_repels_it(tmp_path):
    plan = make_plan("cdpo", output_dir=tmp_path, seeds=[3])
    names = _names(plan)
    assert names.index("train-bias-s3") < names.index("train-cdpo-s3")
    cdpo = next(r for r in plan.runs if r.method == "cdpo")
    assert cdpo.bias_model == plan.layout.run("bias-s3") / "model"
    # the tiny bias model sees every original item through the middle frame alone (the cue, no motion)
    assert next(r for r in plan.runs if r.method == "bias").data.name == "original.json"
    stage = next(s for s in plan.stages if s.name == "train-cdpo-s3")
    assert "train-bias-s3" in stage.deps and f"bias_model={cdpo.bias_model}" in stage.command
    bias = next(s for s in plan.stages if s.name == "train-bias-s3")
    # the tiny bias model is trained as released: `dybench train bias` (no KL), on the middle frame alone
    assert bias.command.startswith("dybench train bias --config") and "reproduce_tiny_bias.yaml" in bias.command
    assert bias.settings["config"]["num_frames"] == 1 and bias.settings["config"]["kl_beta"] == 0.0


def _fake_checkpoint(folder: Path, model_type: str = "qwen2_5_vl", *, weights=True, tokenizer=True, processor=True):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type}))
    if weights:
        (folder / "model.safetensors").write_bytes(b"")
    if tokenizer:
        (folder / "tokenizer.json").write_text("{}")
    if processor:
        (folder / "preprocessor_config.json").write_text("{}")
    return folder


def test_one_bias_model_serves_every_cdpo_seed_and_the_sweep_rows_are_opt_in(tmp_path):
    plan = make_plan("cdpo", output_dir=tmp_path, seeds=[0, 1, 2])
    ablations = get_preset("tiny", "cdpo").ablations
    assert not plan.preset.ablations and all(row.opt_in for row in ablations.values())  # none in the default run
    names = _names(plan)
    assert [n for n in names if n.startswith("train-bias")] == ["train-bias-s0"]  # one, as VideoThinker trains one
    for seed in (0, 1, 2):
        run = next(r for r in plan.runs if r.label == f"cdpo-s{seed}")
        assert run.bias_model == plan.layout.run("bias-s0") / "model"
        assert "train-bias-s0" in next(s for s in plan.stages if s.name == f"train-cdpo-s{seed}").deps
    assert not any(r.overrides for r in plan.runs)  # the tiny cdpo default: no sweep rows (time budget)
    inputs = plan.report_input()
    assert inputs.compared == ("cdpo",) and not inputs.ablations  # rows that do not run are not reported
    assert ablations, "the bias_beta / bias_kl_max sweep rows"

    swept = make_plan("cdpo", output_dir=tmp_path, seeds=[0, 1, 2], ablation_seeds=[0])
    rows = {r.label: r for r in swept.runs if r.overrides}
    assert set(swept.report_input().compared) == {"cdpo", *ablations}
    assert set(rows) == {f"{name}-s0" for name in ablations}
    for name, row in ablations.items():
        assert row.base == "cdpo" and set(row.settings) <= {"bias_beta", "bias_kl_max"}
        assert rows[f"{name}-s0"].bias_model == swept.layout.run("bias-s0") / "model"
    per_seed = make_plan("cdpo", output_dir=tmp_path, seeds=[0, 1], preset=plan.preset.replace(bias_per_seed=True))
    assert [n for n in _names(per_seed) if n.startswith("train-bias")] == ["train-bias-s0", "train-bias-s1"]


def test_cli_ablation_seeds_none_and_bad_values(tmp_path):
    out = tmp_path / "o"
    done = RUNNER.invoke(app, ["reproduce", "crpo", "--dry-run", "--output-dir", str(out), "--ablation-seeds", "none"])
    assert done.exit_code == 0, done.output
    assert "crpo_no_crr" not in done.output
    done = RUNNER.invoke(app, ["reproduce", "cdpo", "--dry-run", "--output-dir", str(out), "--ablation-seeds", "0"])
    assert done.exit_code == 0 and "train-cdpo_" in done.output
    bad = RUNNER.invoke(app, ["reproduce", "cdpo", "--dry-run", "--output-dir", str(out), "--ablation-seeds", "x"])
    assert bad.exit_code == 2 and "--ablation-seeds 'x'" in bad.output
    bad = RUNNER.invoke(app, ["reproduce", "cdpo", "--dry-run", "--output-dir", str(out), "--seeds", "none"])
    assert bad.exit_code == 2 and "--seeds 'none'" in bad.output


def test_paper_dry_run_names_each_missing_file_of_a_fake_model_folder(tmp_path):
    model = _fake_checkpoint(tmp_path / "qwen", weights=False, processor=False)
    done = reproduce("cdpo", preset="paper", model=model, output_dir=tmp_path / "out", dry_run=True)
    problems = "\n".join(done.plan.problems)
    assert "no weights (*.safetensors or model.safetensors.index.json)" in problems
    assert "no processor config" in problems
    assert "huggingface-cli download Qwen/Qwen2.5-VL-3B-Instruct" in problems
    assert "tokenizer" not in problems
    assert not (tmp_path / "out").exists()  # a dry run writes nothing
    with pytest.raises(ReproduceInputError, match="no weights"):
        reproduce("cdpo", preset="paper", model=model, output_dir=tmp_path / "out")


def test_paper_dry_run_checks_weight_shards_and_the_architecture(tmp_path):
    model = _fake_checkpoint(tmp_path / "qwen", weights=False)
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (model / "model.safetensors.index.json").write_text(json.dumps(index))
    (model / "model-00001-of-00002.safetensors").write_bytes(b"")
    problems = "\n".join(make_plan("crpo", preset="paper", model=model, output_dir=tmp_path / "o").problems)
    assert "model-00002-of-00002.safetensors" in problems
    assert "model_type='qwen2_5_vl'" in problems and "qwen3_vl" in problems  # CRPO's paper model is Qwen3-VL


def _clevrer(root: Path, name: str, n: int) -> Path:
    """A Video-R1 json as VideoThinker releases CLEVRER's (``root/json/<name>``): ``n`` questions over two videos
    named from the data root (``/videos/...``, under ``root``)."""
    (root / "videos").mkdir(parents=True, exist_ok=True)
    (root / "json").mkdir(exist_ok=True)
    for v in ("video_1.mp4", "video_2.mp4"):
        (root / "videos" / v).write_bytes(b"")
    rows = [{"problem": f"If the cube were removed, what would happen? ({i})", "options": ["A. x", "B. y", "C. z"],
             "solution": "<answer>A,C</answer>", "video": f"/videos/video_{1 + i % 2}.mp4"}
            for i in range(n)]  # fmt: skip
    path = root / "json" / name
    path.write_text(json.dumps(rows))
    return path


def test_paper_cdpo_dry_run_lists_the_released_data_the_benchmarks_and_gpu_hours(tmp_path):
    model = _fake_checkpoint(tmp_path / "qwen")
    train = _clevrer(tmp_path, "clevrer_counterfactual_train.json", 1000)
    bias = _clevrer(tmp_path, "clevrer_counterfactual_train_observational.json", 500)
    val = _clevrer(tmp_path, "val_clevrer.json", 4)
    (tmp_path / "MVBench").mkdir()
    result = RUNNER.invoke(app, ["reproduce", "cdpo", "--preset", "paper", "--model", str(model), "--train-data",
                                 str(train), "--bias-data", str(bias), "--video-root", str(tmp_path), "--bench",
                                 f"clevrer_cf={val}", "--bench", f"mvbench={tmp_path / 'MVBench'}",
                                 "--output-dir", str(tmp_path / "o"), "--dry-run"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output
    assert "accelerate launch --num_processes 2" in out and "accelerate launch --num_processes 1" in out  # bias: 1 GPU
    assert "recipes/cdpo_qwen2_5_vl_3b.yaml" in out and "bias_model=" in out and f"video_root={tmp_path}" in out
    assert f"clevrer_cf: dyb_qa_videor1; data {val}" in out and "NOT GIVEN (--bench NAME=PATH)" in out
    assert "eval-clevrer_cf-cdpo-s0" in out and f"DYBENCH_QA_VIDEOS={tmp_path}" in out
    assert "eval-mvbench-base" in out and "eval-mmvu-base" not in out  # no data given: not planned
    assert "GPU-hours" in out and "estimate" in out
    assert "train-synth" not in out and "synth-train" not in out  # no synthetic data unless --synthetic
    short = _clevrer(tmp_path, "short.json", 10)
    problems = "\n".join(make_plan("cdpo", preset="paper", model=model, train_data=short, bias_data=bias,
                                   video_root=tmp_path, output_dir=tmp_path / "o").problems)  # fmt: skip
    assert "10 multiple-choice or yes/no questions; the released run trained on 1000" in problems
    missing = "\n".join(make_plan("cdpo", preset="paper", model=model, train_data=train, bias_data=bias,
                                  output_dir=tmp_path / "o").problems)  # fmt: skip
    assert "video(s) missing" in missing and "--video-root" in missing  # the videos are under the video root
    synthetic = make_plan("cdpo", preset="paper", model=model, synthetic=True, output_dir=tmp_path / "s")
    assert not synthetic.problems and "synth-train" in {s.name for s in synthetic.stages}
    assert any("--synthetic" in n for n in synthetic.notes)


def test_paper_crpo_needs_training_data_and_plans_the_four_rows_of_crpos_table(tmp_path):
    model = _fake_checkpoint(tmp_path / "qwen3", model_type="qwen3_vl")
    plan = make_plan("crpo", preset="paper", model=model, output_dir=tmp_path / "o")
    assert any("--train-data is required" in p and "NOT public" in p for p in plan.problems)
    train = _clevrer(tmp_path, "train.json", 20)
    plan = make_plan("crpo", preset="paper", model=model, train_data=train, video_root=tmp_path,
                     output_dir=tmp_path / "o")  # fmt: skip
    assert not plan.problems
    assert [r.label for r in plan.runs] == ["grpo-s0", "tgrpo-s0", "arrowrl-s0", "crpo-s0"]
    assert {c.column for c in plan.paper_columns()} == {"acc", "p_acc", "timeblind_acc", "timeblind_i_acc",
                                                       "tempcompass_acc", "videomme_acc", "mvbench_acc"}  # fmt: skip
    assert not any(c.given for c in plan.paper_columns())


def test_cli_dry_run_without_a_model_exits_1_with_the_fix(tmp_path):
    result = RUNNER.invoke(app, ["reproduce", "crpo", "--preset", "paper", "--output-dir", str(tmp_path), "--dry-run"])
    assert result.exit_code == 1
    assert "--model is required with --preset paper" in result.output and "Qwen3-VL-8B" in result.output


def test_crpo_takes_a_video_r1_json_and_refuses_missing_eval_data(tmp_path):
    qa = tmp_path / "qa.json"
    qa.write_text("[]")
    plan = make_plan("crpo", train_data=qa, eval_data=tmp_path / "nowhere", output_dir=tmp_path / "o")
    problems = "\n".join(plan.problems)
    assert "CRPO trains on both branches" not in problems  # crpo routes and renders a json's counterfactuals
    assert "--eval-data" in problems and "nowhere" in problems
    crpo = [r for r in plan.runs if r.method.startswith("crpo")]
    assert crpo and all(r.data == qa.resolve() for r in crpo)


def test_crpo_plan_runs_published_by_default_with_the_relation_ablations(tmp_path):
    plan = make_plan("crpo", output_dir=tmp_path)
    runs = {r.label: r for r in plan.runs}
    assert list(runs) == ["grpo-s0", "crpo-s0", "grpo-s1", "crpo-s1", "grpo-s2", "crpo-s2",
                          "crpo_no_crr-s0", "crpo_branch-s0"]  # ablations on the tiny preset's first seed  # fmt: skip
    configs = {s.name.removeprefix("train-"): s.settings["config"] for s in plan.stages if s.kind == "train"}
    assert configs["crpo-s1"]["crr_mode"] == "published" and configs["crpo-s1"]["method"] == "crpo"
    assert configs["crpo-s1"]["advantage_groups"] == "pair"  # dybench's choice: the relation terms act
    assert configs["crpo_no_crr-s0"]["crr_weight"] == 0.0 and configs["crpo_branch-s0"]["advantage_groups"] == "branch"
    assert configs["crpo_no_crr-s0"]["method"] == "crpo" and runs["crpo_branch-s0"].data == runs["crpo-s0"].data
    assert "eval-crpo_branch-s0" in {s.name for s in plan.stages}
    # GRPO at CRPO's batch is opt-in (--ablation-seeds): the GRPO recipe, only the batch and step count changed
    asked = make_plan("crpo", output_dir=tmp_path, ablation_seeds=[0])
    runs = {r.label: r for r in asked.runs}
    configs = {s.name.removeprefix("train-"): s.settings["config"] for s in asked.stages if s.kind == "train"}
    assert configs["grpo_crpo_batch-s0"] == {**configs["grpo-s0"], "prompts_per_step": 32, "max_steps": 100,
                                             "output_dir": configs["grpo_crpo_batch-s0"]["output_dir"]}  # fmt: skip
    assert runs["grpo_crpo_batch-s0"].data == runs["grpo-s0"].data
    every_seed = make_plan("crpo", output_dir=tmp_path, preset=plan.preset.replace(ablation_seeds=None))
    assert sum(r.method == "crpo_no_crr" for r in every_seed.runs) == 3
    assert not [r for r in make_plan("cdpo", output_dir=tmp_path).runs if r.overrides]


def test_cli_settings_reach_every_training_run_and_bad_ones_are_named(tmp_path):
    result = RUNNER.invoke(app, ["reproduce", "crpo", "max_steps=7", "lr=0.001", "--seeds", "3", "--train-start",
                                 "--output-dir", str(tmp_path), "--dry-run"])  # fmt: skip
    assert result.exit_code == 0, result.output
    trains = [line for line in result.output.splitlines() if "$ dybench train" in line and " sft " not in line]
    assert len(trains) == 2 and all("max_steps=7" in t and "lr=0.001" in t and "seed=3" in t for t in trains)
    assert "up to 7 steps" in result.output
    start = next(line for line in result.output.splitlines() if "$ dybench train sft" in line)
    assert "max_steps=7" not in start  # the settings are the RL runs'; the start model keeps its recipe
    result = RUNNER.invoke(app, ["reproduce", "crpo", "max_stepz=7", "--dry-run", "--output-dir", str(tmp_path)])
    assert result.exit_code == 1 and "max_stepz" in result.output
    result = RUNNER.invoke(app, ["reproduce", "crpo", "max_steps", "--dry-run", "--output-dir", str(tmp_path)])
    assert result.exit_code != 0 and "key=value" in result.output


def test_bad_seeds_are_refused(tmp_path):
    result = RUNNER.invoke(app, ["reproduce", "crpo", "--seeds", "0,x", "--dry-run", "--output-dir", str(tmp_path)])
    assert result.exit_code != 0 and "--seeds" in result.output
    assert "give each seed once" in "\n".join(make_plan("crpo", seeds=[1, 1], output_dir=tmp_path).problems)


# --- the whole chain with fast fakes: resume after a kill at every stage ------------------------------


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing on the way catches it."""


def _results(p_acc: float) -> dict:
    metrics = {"p_acc,none": p_acc, "acc,none": (1 + p_acc) / 2, "change_consistency,none": p_acc,
               "keep_consistency,none": 1.0, "p_acc_moving_direction,none": p_acc}  # fmt: skip
    return {"results": {"dybench_pair": metrics}, "config": {"model": "qwen2_5_vl", "model_args": "x"},
            "date": "20260101_000000"}  # fmt: skip


@pytest.fixture
def fakes(monkeypatch):
    """Fast stand-ins for every expensive stage function; ``calls`` records each stage that ran."""
    import dybench.reproduce._data_stages as data
    import dybench.reproduce._evaluation as evaluation
    import dybench.testing as testing
    import dybench.train as train

    state = {"calls": [], "kill": None}

    def hit(name: str) -> None:
        state["calls"].append(name)
        if state["kill"] == name:
            raise Killed

    def synth(spec, out, split, workers=None):
        hit(f"synth-{split}")
        out.mkdir(parents=True, exist_ok=True)
        rows = [{"id": f"q{i}", "shortcut": {"agrees": i % 2 == 0}} for i in range(4)]
        (out / "annotations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def build(src, out, *, lossless, selection="all", workers=1):
        hit(f"build-{src.parent.name}")
        (out / "videos").mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(4):
            for branch, answer in (("original", "A"), ("counterfactual", "B")):
                (out / "videos" / f"q{i}-{branch}.mp4").write_bytes(b"")
                rows.append({"item_id": f"q{i}:hflip:{branch}", "pair_id": f"q{i}:hflip", "branch": branch,
                             "transform": "hflip", "relation": "change", "category": "moving_direction",
                             "video": f"videos/q{i}-{branch}.mp4", "question": "Which way?",
                             "options": ["left", "right"], "answer": answer, "source_id": f"q{i}"})  # fmt: skip
        (out / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def tiny(arch, out_dir, *, seed=0, **size):
        hit("model-init")
        _fake_checkpoint(Path(out_dir), arch)

    def fake_train(cfg):
        hit(f"train-{Path(cfg.output_dir).name}")
        out = Path(cfg.output_dir)
        _fake_checkpoint(out / "model")
        if cfg.method == "sft":  # the start model: its held-back accuracy reaches the recipe's target
            held = {"accuracy": cfg.sft_stop_accuracy, "format_rate": 1.0}
            summary = {"steps": 50, "ended": "reached", "held_back": held, "config": {"sft_targets": "gold"}}
            (out / "summary.json").write_text(json.dumps(summary))
        rows = [{"step": s, "reward": 0.1 * s, "reward_correct": 0.05 * s, "reward_behave": 0.5,
                 "reward_crr_orig": 0.0, "reward_crr_aug": 0.0, "kl_bias": 0.0, "step_s": 0.1}
                for s in range(1, 4)]  # fmt: skip
        (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return out / "model"

    def evaluate_model(ev, model, pairs, out, *, label, preset, **kwargs):
        hit(f"eval-{label}")
        out.mkdir(parents=True, exist_ok=True)
        p_acc = {"base": 0.1, "grpo": 0.2, "crpo": 0.4, "crpo_no_crr": 0.3, "crpo_branch": 0.35,
                 "grpo_crpo_batch": 0.25}[label.split("-")[0]]  # fmt: skip
        if pairs.parent.name == "confirm":  # the confirmation split: CRPO's gain does not carry over
            p_acc = {"crpo": 0.15}.get(label.split("-")[0], p_acc)
        (out / "results.json").write_text(json.dumps(_results(p_acc) | {"model_name": f"reproduce {label}"}))
        return out / "results.json"

    monkeypatch.setattr(data, "synthesize_split", synth)
    monkeypatch.setattr(data, "build_split", build)
    monkeypatch.setattr(testing, "build_tiny_model", tiny)
    monkeypatch.setattr(train, "train", fake_train)
    monkeypatch.setattr(evaluation, "evaluate_model", evaluate_model)
    monkeypatch.setenv("DYBENCH_CACHE_DIR", "/nonexistent-dybench-cache")  # leaderboard index in memory
    return state


def _run(tmp_path: Path, **options) -> list[str]:
    lines: list[str] = []
    options = {"train_start": True, **options}  # every stage kind, the start's training included
    reproduce("crpo", output_dir=tmp_path / "out", seeds=[0], log=lines.append, **options)
    return lines


def test_the_fake_chain_writes_the_report_and_the_leaderboard_rows(tmp_path, fakes):
    _run(tmp_path, ablation_seeds=[0])  # with the opt-in row (GRPO at CRPO's batch)
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    by_label = {r["label"]: r for r in report["runs"]}
    assert by_label["crpo-s0"]["metrics"]["p_acc"]["value"] == 0.4
    assert report["comparisons"][0]["diffs"] == [pytest.approx(0.2)]
    p_acc = [c for c in report["comparisons"] if c["metric"] == "p_acc"]
    assert [c["method"] for c in p_acc][:4] == ["crpo", "crpo_no_crr", "crpo_branch", "grpo_crpo_batch"]  # vs GRPO
    assert [c["diffs"] for c in p_acc][1:4] == [[pytest.approx(0.1)], [pytest.approx(0.15)], [pytest.approx(0.05)]]
    # ... and CRPO against GRPO at its own batch, the row built on the baseline
    assert [(c["method"], c["baseline"]) for c in p_acc][4:] == [("crpo", "grpo_crpo_batch")]
    assert p_acc[4]["diffs"] == [pytest.approx(0.15)] and "crpo above grpo_crpo_batch" in p_acc[4]["verdict"]
    assert len(report["leaderboard"]) == 6
    assert len(list((out / "leaderboard" / "uploads").glob("*_results.json"))) == 6
    assert (out / "report.md").read_text().count("![") == 3
    assert all((out / "plots" / f).read_bytes().startswith(b"\x89PNG") for f in
               ("reward_curves.png", "p_acc_per_category.png", "acc_vs_p_acc.png"))  # fmt: skip


def test_confirm_adds_a_second_test_split_and_leaves_every_other_stage_as_it_was(tmp_path, fakes):
    _run(tmp_path)
    fakes["calls"] = []
    _run(tmp_path, confirm=True)  # the same folder: only the confirmation split's stages run
    labels = ["base", "grpo-s0", "crpo-s0", "crpo_no_crr-s0", "crpo_branch-s0"]
    assert fakes["calls"] == ["synth-confirm", "build-confirm", *(f"eval-{label}" for label in labels)]
    out = tmp_path / "out"
    assert all((out / "eval" / "confirm" / label / "results.json").is_file() for label in labels)
    plan = make_plan("crpo", output_dir=out, seeds=[0], confirm=True)
    synth = next(s for s in plan.stages if s.name == "synth-confirm")
    test = next(s for s in plan.stages if s.name == "synth-test")
    assert synth.settings == {**test.settings, "seed": plan.preset.data.confirm_seed}  # the test split, reseeded
    assert synth.settings["seed"] not in (test.settings["seed"], 1)  # not the test split's seed, nor the demo's
    report = json.loads((out / "report.json").read_text())
    assert report["comparisons"][0]["diffs"] == [pytest.approx(0.2)]  # the test split: CRPO above GRPO ...
    confirmation = report["confirmation"]
    assert [r["label"] for r in confirmation["runs"]] == labels
    p_acc = next(c for c in confirmation["comparisons"] if c["metric"] == "p_acc" and c["method"] == "crpo")
    assert p_acc["diffs"] == [pytest.approx(-0.05)] and "crpo does NOT beat grpo" in p_acc["verdict"]  # ... not here
    text = (out / "report.md").read_text()
    confirm = text.split("## Confirmation: a second test split")[1].split("\n## ")[0]
    assert "### Verdict on the confirmation split" in confirm and "per seed: seed 0 -0.050" in confirm
    assert "| crpo-s0 | 0.575 | 0.150 |" in confirm
    # leaderboard rows are the test split's only
    assert len(report["leaderboard"]) == 5
    # a run evaluated on the user's own pairs has no confirmation split to draw
    pairs = out / "data" / "test" / "pairs"
    refused = make_plan("crpo", output_dir=tmp_path / "other", eval_data=pairs, confirm=True)
    assert any(p.startswith("--confirm:") and "--eval-data instead" in p for p in refused.problems)


STAGES = ["synth-train", "build-train", "train-files", "synth-test", "build-test", "synth-start", "build-start",
          "model-init", "train-start",
          "eval-base", "train-grpo-s0", "eval-grpo-s0", "train-crpo-s0", "eval-crpo-s0"]  # fmt: skip
FAKED = [s for s in STAGES if s != "train-files"]


@pytest.mark.parametrize("killed_at", FAKED)
def test_a_kill_at_any_stage_resumes_there(tmp_path, fakes, killed_at):
    fakes["kill"] = killed_at
    with pytest.raises(Killed):
        _run(tmp_path)
    before = fakes["calls"][:-1]
    fakes["kill"], fakes["calls"] = None, []
    lines = _run(tmp_path)
    assert fakes["calls"][0] == killed_at  # nothing finished before the kill runs again
    assert not set(before) & set(fakes["calls"])
    assert any(f"{killed_at}: resuming" in line for line in lines)
    assert (tmp_path / "out" / "report.md").is_file()
    assert all((tmp_path / "out" / MARKERS / f"{s}.done.json").is_file() for s in STAGES)
    done = json.loads((tmp_path / "out" / MARKERS / f"{killed_at}.done.json").read_text())
    assert "CPU kernels" in done["machine"]  # which machine finished it: CPU training is deterministic per machine


def test_a_failed_stage_is_reported_and_the_rerun_continues(tmp_path, fakes, monkeypatch):
    import dybench.train as train

    real = train.train

    def out_of_memory(cfg):
        if cfg.method == "sft":  # the start model trains; the first RL run runs out of memory
            return real(cfg)
        raise RuntimeError("out of memory")

    monkeypatch.setattr(train, "train", out_of_memory)
    with pytest.raises(StageError, match="train-grpo-s0 failed: RuntimeError: out of memory"):
        _run(tmp_path)
    monkeypatch.setattr(train, "train", real)
    fakes["calls"] = []
    _run(tmp_path)
    assert fakes["calls"] == ["train-grpo-s0", "eval-grpo-s0", "train-crpo-s0", "eval-crpo-s0",
                              "train-crpo_no_crr-s0", "eval-crpo_no_crr-s0", "train-crpo_branch-s0",
                              "eval-crpo_branch-s0"]  # fmt: skip


def test_a_paper_preset_warns_about_a_far_smaller_model_and_scales_its_gpu_hours(tmp_path):
    def checkpoint(name: str, hidden: int, layers: int) -> Path:
        folder = _fake_checkpoint(tmp_path / name, model_type="qwen3_vl")
        text = {"hidden_size": hidden, "num_hidden_layers": layers, "intermediate_size": 3 * hidden,
                "vocab_size": 151936}  # fmt: skip
        (folder / "config.json").write_text(json.dumps({"model_type": "qwen3_vl", "text_config": text}))
        return folder

    train = _clevrer(tmp_path, "train.json", 20)
    plans = {size: make_plan("crpo", preset="paper", model=checkpoint(size, hidden, layers), train_data=train,
                             video_root=tmp_path, output_dir=tmp_path / size)
             for size, hidden, layers in (("tiny", 128, 4), ("4b", 2560, 36), ("8b", 4096, 36))}  # fmt: skip
    assert any("WARNING: --model has ~" in n and "~8.8B model" in n for n in plans["tiny"].notes)
    assert not any("WARNING" in n for n in plans["4b"].notes + plans["8b"].notes)
    hours = {size: plan.preset.gpu_hours["train"] for size, plan in plans.items()}
    assert hours["4b"] < 0.6 * hours["8b"] and hours["8b"] == pytest.approx(50.0, rel=0.1)


def test_a_setting_cleared_by_an_ablation_row_is_cleared_not_left_at_the_recipes_value(tmp_path):
    from dybench.reproduce import Ablation

    preset = make_plan("cdpo", output_dir=tmp_path).preset
    bounded = preset.replace(
        train={"bias_kl_max": 3.0},  # every run bounded...
        ablations={"cdpo_free": Ablation("cdpo", {"bias_kl_max": None})},  # ...but this row, which clears it
    )
    plan = make_plan("cdpo", preset=bounded, output_dir=tmp_path, seeds=[0], ablation_seeds=[0])
    configs = {s.name.removeprefix("train-"): s.settings["config"] for s in plan.stages if s.kind == "train"}
    assert configs["cdpo-s0"]["bias_kl_max"] == 3.0
    run = next(r for r in plan.runs if r.method == "cdpo_free")
    cfg = _train_config(plan.preset, run)
    assert cfg.bias_kl_max is None
    stage = next(s for s in plan.stages if s.name == "train-cdpo_free-s0")
    assert "bias_kl_max=null" in stage.command


def test_tiny_rl_runs_spend_the_same_rollouts(tmp_path):
    """Every tiny RL run gets the GRPO baseline's rollout budget; CRPO spends it as 16 pairs x 2 branches per
    step for half the steps (round 4: at 8 pairs per step a seed drifted to one answer), so a CRPO win is not
    bought with more samples."""
    plan = make_plan("crpo", output_dir=tmp_path, seeds=[0], ablation_seeds=[0], extra_runs=["tgrpo", "arrowrl"])
    configs = {run.label: _train_config(plan.preset, run) for run in plan.runs if run.method != "sft"}
    budgets = {label: cfg.rows_per_step * cfg.max_steps for label, cfg in configs.items()}  # rollouts in all
    assert set(budgets) == {
        "grpo-s0", "crpo-s0", "tgrpo-s0", "arrowrl-s0", "crpo_no_crr-s0", "crpo_branch-s0", "grpo_crpo_batch-s0",
    }  # fmt: skip
    assert set(budgets.values()) == {200 * 16 * 4}, budgets
    assert configs["crpo-s0"].max_steps == configs["grpo-s0"].max_steps // 2  # half as many updates
    # ... and GRPO at CRPO's batch (round 5's control): the same rows per step and updates as CRPO
    batch = configs["grpo_crpo_batch-s0"]
    crpo = configs["crpo-s0"]
    assert batch.method == "grpo" and (batch.rows_per_step, batch.max_steps) == (crpo.rows_per_step, crpo.max_steps)
