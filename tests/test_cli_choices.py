"""The CLI's closed sets of values are choices: `--help` lists them, a wrong value gets click's one message."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dybench import cli
from dybench.cli import app
from dybench.records import CATEGORIES
from dybench.reproduce import TARGETS
from dybench.reproduce._presets import PRESET_NAMES
from dybench.scoring import TASKS
from dybench.synth._bias import SPLITS
from dybench.testing import ARCHES
from dybench.train import METHODS, TrainConfig

RUNNER = CliRunner()
WIDE = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}


def help_text(*command: str) -> str:
    result = RUNNER.invoke(app, [*command, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())  # rich wraps, pads and boxes: compare words


@pytest.mark.parametrize(
    ("choice", "values"),
    [
        (cli.MethodChoice, METHODS),
        (cli.TargetChoice, TARGETS),
        (cli.PresetChoice, PRESET_NAMES),
        (cli.SplitChoice, SPLITS),
        (cli.ArchChoice, ARCHES),
        (cli.ScoreTaskChoice, TASKS),
    ],
)
def test_choices_are_the_librarys_own(choice, values):
    assert tuple(c.value for c in choice) == tuple(values)


@pytest.mark.parametrize(
    ("command", "values"),
    [
        (["train"], METHODS),
        (["reproduce"], TARGETS),
        (["reproduce"], PRESET_NAMES),
        (["synth"], SPLITS),
        (["tiny-model"], ARCHES),
    ],
)
def test_help_lists_the_choices(command, values):
    assert "<" + "|".join(values) + ">" in help_text(*command)


def test_score_help_names_its_tasks_by_pattern_and_the_pattern_is_exact():
    """Fifteen task names do not fit a metavar: the help text gives their pattern, which matches exactly them."""
    assert (
        "Every dybench_pair task (dybench_pair[_r1], dybench_pair_single_frame[_r1], dybench_pair[_r1]_<category>) "
        "or timeblind" in help_text("score")
    )
    pattern = re.compile(r"dybench_pair(_r1)?|dybench_pair_single_frame(_r1)?|dybench_pair(_r1)?_(\w+)|timeblind")
    assert all(pattern.fullmatch(t) for t in TASKS)
    categories = {m.group(4) for t in TASKS if (m := pattern.fullmatch(t)) and m.group(4) and "single" not in t}
    assert categories == set(CATEGORIES)
    assert len(TASKS) == 4 + 2 * len(CATEGORIES) + 1


@pytest.mark.parametrize("command", [[], ["build"], ["demo"], ["import"], ["import", "ssv2"], ["train"]])
def test_help_shows_no_type_on_a_plain_flag(command):
    text = help_text(*command)
    assert "--help" in text and "<bool>" not in text


def test_a_value_outside_the_choices_is_refused_naming_them():
    result = RUNNER.invoke(app, ["tiny-model", "--arch", "llama", "--out", "x"], env=WIDE)
    assert result.exit_code == 2 and "qwen2_5_vl" in result.output and "llama" in result.output
    result = RUNNER.invoke(app, ["reproduce", "dpo", "--dry-run"], env=WIDE)
    assert result.exit_code == 2 and "crpo" in result.output


def test_reproduce_help_names_grpo_and_eval_help_names_the_data_variables():
    assert "grpo: the baseline alone" in help_text("reproduce")
    text = help_text("eval")
    assert "DYBENCH_PAIRS" in text and "TIMEBLIND_DIR" in text


def test_train_help_lists_every_setting_with_its_default():
    text = help_text("train")
    for f in dataclasses.fields(TrainConfig):
        assert re.search(rf"\b{f.name}=", text), f.name
    assert f"max_steps={TrainConfig().max_steps}" in text and f"lr={TrainConfig().lr!r}" in text


def test_train_help_lists_the_allowed_values_of_choice_settings():
    text = help_text("train")
    choices = {f.name: f.metadata["choices"] for f in dataclasses.fields(TrainConfig) if "choices" in f.metadata}
    assert {"method", "crr_mode", "dtype", "loss_norm"} <= choices.keys()
    for name, values in choices.items():
        assert f"{name}={values[0]!r} ({'|'.join(values)})" in text, name


def test_train_help_does_not_import_torch():
    code = (
        "import sys\nfrom dybench.cli import app\ntry:\n    app(['train', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "max_steps=" in done.stdout


def test_help_points_to_the_repositorys_docs_not_internal_notes():
    for command in ([], ["train"], ["build"], ["eval"], ["score"], ["compare"], ["import", "segments"]):
        text = help_text(*command)
        assert "DESIGN.md" not in text and "RESEARCH.md" not in text, command
    assert "docs/research.md" in help_text("train")
