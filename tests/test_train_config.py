"""The training config: YAML recipes, key=value overrides, and errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dybench.reproduce import PRESET_NAMES, TARGETS, get_preset
from dybench.train import METHODS, TrainConfig, TrainConfigError, load_config

RECIPE_DIR = Path(__file__).parent.parent / "recipes"
#: The published settings (the reproduce_* recipes belong to `dybench reproduce`, which fills in paths).
RECIPES = [
    RECIPE_DIR / f"{name}.yaml"
    for name in ("bias_qwen2_5_vl_3b", "cdpo_qwen2_5_vl_3b", "grpo_qwen2_5_vl_3b", "crpo_qwen3_vl_8b")
]
BASE = {"model": "m", "data": "d", "output_dir": "o"}


def test_yaml_then_values_then_overrides(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("method: grpo\nlr: 1e-6\nnum_generations: 4\ncategories: [static]\nadam_betas: [0.9, 0.95]\n")
    cfg = load_config(recipe, ["num_generations=6", "clip_eps_high=0.28", "bias_kl_max=null"], **BASE)
    assert cfg.lr == 1e-6 and isinstance(cfg.lr, float)  # YAML reads 1e-6 as a string; we do not
    assert cfg.num_generations == 6 and cfg.clip_eps_high == 0.28 and cfg.bias_kl_max is None
    assert cfg.categories == ["static"] and cfg.adam_betas == (0.9, 0.95)
    assert load_config(None, ["max_steps=3"], method="bias", max_steps=None, **BASE).max_steps == 3
    cfg.validate()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("num_generation=4", "command line: unknown training setting 'num_generation'; did you mean num_generations?"),
        ("zzz=4", "unknown training setting 'zzz'; `dybench train --help` lists every setting"),
        ("num_generations=four", "command line: num_generations='four': expected int"),
        ("lr=abc", "command line: lr='abc': expected float"),
        ("num_frames=2.5", "num_frames=2.5: expected int | None"),
        ("adam_betas=[0.9,x]", r"adam_betas=\[0.9, 'x'\]: expected tuple\[float, float\]"),
        ("loss_norm=batch", "command line: loss_norm='batch': choose one of sequence, token"),
        ("train_vision=maybe", "train_vision='maybe': expected bool"),
        ("lr", "setting 'lr': write it as key=value"),
        ("lr=[1,", r"setting 'lr=\[1,': the value is not valid YAML"),
    ],
)
def test_bad_settings_name_the_source_key_and_fix(override, message):
    with pytest.raises(TrainConfigError, match=message):
        load_config(None, [override], **BASE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr: fast\n", "r.yaml: lr='fast': expected float"),
        ("dtype: float16\n", "r.yaml: dtype='float16': choose one of auto, float32, bfloat16"),
        ("rollout_engine: vllm\n", "r.yaml: rollout_engine: the vLLM rollout engine was removed"),
        ("- lr\n- 1e-3\n", "r.yaml: a training config is a YAML mapping of setting: value"),
        ("lr: [1\n", "r.yaml: cannot read the training config"),
    ],
)
def test_bad_recipes_name_the_file(tmp_path, text, message):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text)
    with pytest.raises(TrainConfigError, match=message):
        load_config(recipe, **BASE)
    with pytest.raises(TrainConfigError, match="arguments: max_steps='many': expected int"):
        load_config(None, max_steps="many", **BASE)


def test_a_recipe_runs_only_as_its_own_method(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("method: cdpo\n")
    with pytest.raises(ValueError, match="dybench train cdpo"):
        load_config(recipe, method="grpo")


def test_every_numeric_setting_has_a_range_and_its_default_is_in_it():
    """A new int or float setting gets its range the way the others do (``number``), so none goes unchecked."""
    import dataclasses
    import re

    numeric = [f for f in dataclasses.fields(TrainConfig) if re.search(r"\b(int|float)\b", str(f.type))]
    assert len(numeric) >= 30 and [f.name for f in numeric if "range" not in f.metadata] == []
    TrainConfig(**BASE).validate()


@pytest.mark.parametrize(
    ("setting", "module", "alias"),
    [
        ("crr_mode", "dybench.train._rewards", "CRRMode"),
        ("crr_partner", "dybench.train._rewards", "CRRPartner"),
        ("loss_norm", "dybench.train._loss", "LossNorm"),
        ("static_transform", "dybench.records", "Transform"),
    ],
)
def test_each_choice_the_trainer_narrows_is_a_value_of_the_type_it_narrows_to(setting, module, alias):
    """The trainer passes these string settings on as the callee's Literal type (``typing.cast``), relying on
    ``validate`` having checked the choice: every choice must be a value of that type."""
    import importlib
    from typing import get_args

    choices = TrainConfig.__dataclass_fields__[setting].metadata["choices"]
    assert set(choices) <= set(get_args(getattr(importlib.import_module(module), alias)))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("keep_checkpoints=0", r"keep_checkpoints=0: must be >= 1 \(0 would delete the checkpoint just saved\)"),
        ("keep_checkpoints=-1", "keep_checkpoints=-1: must be >= 1"),
        ("lr=-1", "lr=-1: must be > 0"),
        ("lr=.nan", "lr=nan: must be a finite number > 0"),
        ("max_grad_norm=-1", "max_grad_norm=-1: must be > 0"),
        ("kl_beta=-5", "kl_beta=-5: must be >= 0"),
        ("clip_eps=-1", "clip_eps=-1: must be > 0 and < 1"),
        ("weight_decay=.inf", "weight_decay=inf: must be a finite number >= 0"),
        ("adam_betas=[0.9,1.5]", r"adam_betas=\[0.9, 1.5\]: each must be >= 0 and < 1"),
        ("max_new_tokens=100000000000000000000", "max_new_tokens=100000000000000000000: must be >= 1"),
        ("lr=${foo}", r"lr='\$\{foo\}': \$\{...\} interpolation is not read in training settings"),
        ("output_dir=${output_dir}", r"output_dir='\$\{output_dir\}': \$\{...\} interpolation"),
        ("categories={a: 1}", r"categories=\{'a': 1\}: expected list\[str\]"),
        ("max_steps=" + "9" * 5000, "setting 'max_steps=9+: the value cannot be read"),
    ],
)
def test_settings_out_of_range_or_unreadable_are_one_error_naming_the_key(override, message):
    """Before: all accepted (keep_checkpoints=0 would delete every checkpoint), or a traceback."""
    with pytest.raises(TrainConfigError, match=f"^(command line: )?{message}"):
        load_config(None, [override], **BASE)


@pytest.mark.parametrize(
    ("values", "message"),
    [({"keep_checkpoints": 0}, "keep_checkpoints=0: must be >= 1"), ({"lr": float("nan")}, "lr=nan: must be a finite")],
)
def test_validate_checks_the_ranges_of_a_config_made_in_python(values, message):
    with pytest.raises(TrainConfigError, match=message):
        TrainConfig(**{**BASE, **values}).validate()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"lr: ${foo}\n", r"r.yaml: lr='\$\{foo\}': \$\{...\} interpolation"),
        (b"lr: 1e-6\nnote: \xff\n", r"r.yaml: cannot read the training config \(UnicodeDecodeError"),
        (b"max_steps: " + b"9" * 5000 + b"\n", r"r.yaml: cannot read the training config \(ValueError: Exceeds"),
        (b"categories: {a: 1}\n", r"r.yaml: categories=\{'a': 1\}: expected list\[str\]"),
    ],
)
def test_a_recipe_that_cannot_be_used_is_one_error_naming_the_file(tmp_path, content, message):
    recipe = tmp_path / "r.yaml"
    recipe.write_bytes(content)
    with pytest.raises(TrainConfigError, match=message):
        load_config(recipe, **BASE)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"method": "cdpo"}, "cdpo needs bias_model"),
        ({"method": "bias", "kl_beta": 0.1}, "no KL"),
        ({"num_generations": 1}, r"num_generations=1: must be >= 2 \(advantages are relative within a group\)"),
        ({"ppo_epochs": 2, "save_every": 3}, "multiples of ppo_epochs"),
        ({"num_frames": None, "fps": None}, "set num_frames or fps"),
        ({"model": ""}, "model is required"),
        ({"lr_schedule": "linear"}, "lr_schedule='linear': choose one of constant, cosine"),
    ],
)
def test_validate_names_the_fix(values, message):
    cfg = TrainConfig(**{**BASE, **values})
    with pytest.raises(ValueError, match=message):
        cfg.validate()


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_recipes_load_and_start_with_their_launch_command(recipe):
    first = recipe.read_text().splitlines()[0]
    cfg = load_config(recipe)
    assert first.startswith("# accelerate launch")
    assert f"-m dybench.train {cfg.method} --config recipes/{recipe.name}" in first
    cfg.validate()
    assert cfg.lr == 1e-6 and cfg.num_generations == 8 and cfg.max_new_tokens == 768


PRESET_FILES = {f"reproduce_{name}.yaml" for name in PRESET_NAMES}


@pytest.mark.parametrize(
    "recipe", [p for p in sorted(RECIPE_DIR.glob("*.yaml")) if p.name not in PRESET_FILES], ids=lambda p: p.stem
)
def test_every_recipe_holds_only_known_settings(recipe):
    assert load_config(recipe).method in METHODS


@pytest.mark.parametrize("name", PRESET_NAMES)
@pytest.mark.parametrize("target", TARGETS)
def test_every_preset_reads_for_every_target_and_names_recipes_that_exist(name, target):
    preset = get_preset(name, target)
    for run in preset.runs:
        assert preset.recipe(run).is_file() and load_config(preset.recipe(run)).method in METHODS
    for row in preset.ablations.values():
        assert row.base in preset.runs
    if preset.start:
        assert load_config(RECIPE_DIR / preset.start).method == "sft"


def test_cdpo_recipe_has_videothinker_defaults():
    cfg = load_config(RECIPE_DIR / "cdpo_qwen2_5_vl_3b.yaml")
    assert (cfg.bias_beta, cfg.bias_log_ratio_clamp, cfg.bias_kl_max, cfg.adv_eps) == (0.01, 11.0, None, 1e-4)
    assert cfg.loss_norm == "sequence" and cfg.kl_beta == 0.0 and cfg.train_vision
    assert cfg.model == "Qwen/Qwen2.5-VL-3B-Instruct" and cfg.num_frames == 16 and cfg.max_pixels == 128 * 28 * 28


def _cli(*args: str):
    from typer.testing import CliRunner

    from dybench.cli import app

    return CliRunner().invoke(app, ["train", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["max_steps=abc"], "command line: max_steps='abc': expected int"),
        (["num_generation=4"], "unknown training setting 'num_generation'; did you mean num_generations"),
        (["rollout_engine=vllm"], "the vLLM rollout engine was removed"),
        (["top_p=0.9"], "top_p=0.9: only 1.0 is supported"),
        (["max_steps=0"], "max_steps=0: must be >= 1"),
        (["keep_checkpoints=0"], "keep_checkpoints=0: must be >= 1"),
        (["lr=${foo}"], r"lr='\$\{foo\}': \$\{...\} interpolation is not read"),
        ([], "data=.*nowhere: not a pairs dataset folder"),
    ],
)
def test_train_command_gives_one_message_before_importing_torch(tmp_path, args, message):
    """Bad settings and missing inputs end in one `error:` line and exit 1, with no traceback."""
    import re
    import subprocess
    import sys

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    result = _cli("grpo", "--model", str(model), "--data", str(tmp_path / "nowhere"), "--output-dir",
                  str(tmp_path / "o"), *args)  # fmt: skip
    assert result.exit_code == 1 and re.search(message, result.output), result.output
    assert "Traceback" not in result.output
    # the same failure in a fresh interpreter never imports torch
    code = (
        "import sys\nfrom dybench.cli import app\ntry:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code, "train", "grpo", "--model", str(model), "--data",
                           str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "o"), *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(message, done.stderr)


def test_missing_model_folder_is_named(tmp_path):
    (tmp_path / "d").mkdir()
    result = _cli("grpo", "--model", str(tmp_path / "nope"), "--data", str(tmp_path / "d"), "--output-dir", "o")
    assert result.exit_code == 1 and "nope: no such folder" in result.output
    result = _cli("grpo", "--model", "someone/not-cached-model", "--data", str(tmp_path / "d"), "--output-dir", "o")
    assert result.exit_code == 1 and "not in the local Hugging Face cache" in result.output
