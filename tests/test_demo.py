"""``dybench demo``: the table it prints, the sentences read off it, and a quiet terminal."""

from __future__ import annotations

import inspect
import io
import os
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dybench.cli import app
from dybench.demo import demo
from dybench.demo._demo_run import (
    DEMO_CLIPS,
    DEMO_TASKS,
    HELD_OUT_SEED,
    LOG,
    DemoRow,
    _quiet,
    demo_table,
    interpret,
)
from dybench.demo.models import DEMO_MODELS
from dybench.evaluation import EvalRun, summary_table

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _row(label: str, acc: float, p_acc: float, frame: float, cue: float, trained: bool = True) -> DemoRow:
    results = {
        DEMO_TASKS[0]: {"acc,none": acc, "p_acc,none": p_acc},
        DEMO_TASKS[1]: {"acc,none": 0.5, "p_acc,none": frame},
    }
    return DemoRow(label, EvalRun("qwen2_5_vl", DEMO_TASKS, {"results": results}), cue, trained)


def _text(table) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(table)
    return console.file.getvalue()


def test_the_table_has_a_row_per_model_and_the_story_columns():
    rows = [_row("constant (always A)", 0.5, 0.0, 0.0, 0.6, False), _row("GRPO (seed 0)", 0.81, 0.625, 0.2, 0.7)]
    text = _text(demo_table(rows, title="t"))
    header = next(line for line in text.splitlines() if "model" in line)
    columns = ["model", "Acc", "P-Acc", "P-Acc, 1 frame", "follows cue"]
    assert [c.strip() for c in header.strip("┃").split("┃")] == columns
    grpo = next(line for line in text.splitlines() if "GRPO" in line)
    assert [c.strip() for c in grpo.strip("│").split("│")] == ["GRPO (seed 0)", "0.810", "0.625", "0.200", "0.70"]


def test_the_sentences_follow_the_numbers():
    start = _row("start", 0.80, 0.62, 0.20, 0.52)
    shortcut = _row("GRPO", 0.82, 0.50, 0.20, 0.81)
    crpo = _row("CRPO", 0.90, 0.85, 0.25, 0.50)
    first, second = interpret([start, shortcut, crpo])
    assert "Acc from 0.800 to 0.820 and P-Acc from 0.620 to 0.500" in first
    assert "cue on 81% of the items against the start model's 52%" in first
    assert "leans on the shortcut" in first and "widens from 0.180 to 0.320" in first
    assert "P-Acc 0.850 against GRPO's 0.500 (+0.350)" in second and "50% of the items, less than GRPO" in second
    assert "exceeds P-Acc 0.250, so the pairs they get right need the motion" in second

    honest = _row("GRPO", 0.84, 0.70, 0.20, 0.53)  # follows the cue no more than the start model did
    first, second = interpret([start, honest, _row("CRPO", 0.84, 0.66, 0.72, 0.60)])
    assert "no learned shortcut shows" in first and "leans on" not in first
    assert "(-0.040)" in second and "no less than GRPO" in second and "visible in one frame" in second

    tgrpo, arrowrl = _row("T-GRPO (seed 0)", 0.7, 0.45, 0.2, 0.8), _row("ArrowRL (seed 0)", 0.8, 0.55, 0.2, 0.7)
    *_, third = interpret([start, shortcut, crpo, tgrpo, arrowrl])
    assert "T-GRPO (seed 0) P-Acc 0.450 (-0.050 against GRPO), follows the cue on 80%" in third
    assert "ArrowRL (seed 0) P-Acc 0.550 (+0.050 against GRPO), follows the cue on 70%" in third


def test_floor_models_only():
    rows = [_row("constant", 0.5, 0.0, 0.0, 0.6, False), _row("random", 0.47, 0.22, 0.25, 0.5, False)]
    (sentence,) = interpret(rows)
    assert "Acc 0.470-0.500, P-Acc at most 0.220" in sentence


def test_demo_floor_models_keep_lmms_eval_off_the_terminal(tmp_path, capfd):
    shown = io.StringIO()
    report = demo(tmp_path / "demo", n=12, trained=False, console=Console(file=shown, width=160))
    assert [r.label for r in report.rows] == ["constant (always A)", "random"]
    assert len(list(report.results.glob("*/*_results.json"))) == 2
    out = shown.getvalue()
    assert "constant (always A)" in out and "P-Acc, 1 frame" in out and "The floor models never look" in out
    assert all(r.cue_agreement is not None for r in report.rows)  # every test clip carries the balanced cue
    assert summary_table(report.runs[1]).row_count >= 2
    terminal = capfd.readouterr()
    assert terminal.out == "" and terminal.err == ""  # lmms-eval's messages went to the log
    assert "it/s]" in (tmp_path / "demo" / LOG).read_text()  # tqdm bars of lmms-eval


def test_quiet_sends_every_write_to_the_log_and_leaves_the_console_on_the_terminal(tmp_path, capfd):
    console = Console(width=80)  # stdout, as `dybench demo` prints
    with _quiet(tmp_path / "x.log", console, enabled=True):
        print("python print")
        sys.stderr.write("python stderr\n")
        os.write(1, b"fd 1\n")  # C libraries, handlers that kept the original streams
        os.write(2, b"fd 2\n")
        console.print("the demo's own line")
    print("after")
    terminal = capfd.readouterr()
    assert terminal.out == "the demo's own line\nafter\n" and terminal.err == ""
    assert (tmp_path / "x.log").read_text().split("\n")[:4] == ["python print", "python stderr", "fd 1", "fd 2"]
    with _quiet(tmp_path / "y.log", console, enabled=False):  # -v
        os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n" and not (tmp_path / "y.log").exists()


def test_cli_defaults_are_the_demo_settings():
    from dybench.cli import demo as command

    defaults = {p.name: p.default.default for p in inspect.signature(command).parameters.values()}
    assert defaults["n"] == DEMO_CLIPS and defaults["seed"] == HELD_OUT_SEED
    assert "--verbose" in CliRunner().invoke(app, ["demo", "--help"]).output


@pytest.mark.slow
def test_demo_command_end_to_end(tmp_path):
    """`dybench demo` as a newcomer runs it: floor models and the three shipped models through lmms-eval."""
    command = [sys.executable, "-m", "dybench.cli", "demo", "--out", str(tmp_path / "demo")]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Model Responding" not in run.stdout + run.stderr
    for model in DEMO_MODELS:
        assert model.label in run.stdout
        assert list((tmp_path / "demo" / "results" / f"qwen2_5_vl__{model.name}").glob("*_results.json"))
    assert "GRPO, rewarded for correct answers only" in run.stdout and "CRPO, rewarded on both" in run.stdout
