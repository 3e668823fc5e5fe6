"""Real lmms-eval runs through its own command line, offline: ``lmms-eval --include_path "$(dybench tasks-path)"``.

The floor model and a tiny Qwen2.5-VL (lmms-eval's own ``qwen2_5_vl`` class) answer the tasks; the
metrics lmms-eval reports must equal dybench's scoring of the responses lmms-eval logged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from evaldata import make_pairs, make_timeblind, reported, rescore

from dybench.evaluation import OFFLINE, tasks_path
from dybench.records import CATEGORIES

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    return {"DYBENCH_PAIRS": make_pairs(root / "pairs"), "TIMEBLIND_DIR": make_timeblind(root / "TimeBlind")}


def lmms_eval(args: list[str], env: dict[str, str | Path], *, python_path: Path | None = None, include=None):
    """``python -m lmms_eval ... --include_path <dybench tasks>`` with only ``env``'s data variables set."""
    full = {k: v for k, v in os.environ.items() if k not in ("DYBENCH_PAIRS", "TIMEBLIND_DIR")}
    full |= OFFLINE | {k: str(v) for k, v in env.items()}
    if python_path is not None:
        full["PYTHONPATH"] = str(python_path)
    command = [sys.executable, "-m", "lmms_eval", "--include_path", str(include or tasks_path())]
    # run outside the checkout: `python -m` puts the working folder first on sys.path
    run = subprocess.run(command + args + ["--verbosity", "WARNING"], env=full, capture_output=True, text=True, cwd="/")
    return run


def results_of(output: Path) -> tuple[dict, dict[str, Path]]:
    (path,) = output.rglob("*_results.json")
    samples = {p.name.split("_samples_")[1].removesuffix(".jsonl"): p for p in output.rglob("*_samples_*.jsonl")}
    return json.loads(path.read_text()), samples


def test_floor_model_through_the_cli(data, tmp_path):
    out = tmp_path / "out"
    args = ["--model", "dybench_constant", "--model_args", "answer=B", "--log_samples", "--output_path", str(out)]
    run = lmms_eval([*args, "--tasks", "dybench_pair,dybench_pair_single_frame,timeblind"], data)
    assert run.returncode == 0, run.stderr[-3000:]
    results, samples = results_of(out)
    assert results["versions"]["dybench_pair"] == 2 and results["group_subtasks"]["dybench_pair"] == [
        f"dybench_pair_{c}" for c in CATEGORIES
    ]
    pairs = data["DYBENCH_PAIRS"]
    subtasks = [samples[f"dybench_pair_{c}"] for c in CATEGORIES]
    for task, files in (
        ("dybench_pair", subtasks),
        ("dybench_pair_single_frame", [samples["dybench_pair_single_frame"]]),
    ):
        got, want = reported(results, task), rescore(files, task, pairs, tmp_path)
        assert got["p_acc"] == want["p_acc"] and got == pytest.approx({k: want[k] for k in got}), task
    got, want = (
        reported(results, "timeblind"),
        rescore([samples["timeblind"]], "timeblind", data["TIMEBLIND_DIR"], tmp_path),
    )
    assert got == pytest.approx({k: want[k] for k in got}) and "i_acc" in got
    assert reported(results, "dybench_pair_spatial") == {}, "a category the data lacks reports nothing"


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory) -> Path:
    from dybench.testing import build_tiny_model

    return build_tiny_model("qwen2_5_vl", tmp_path_factory.mktemp("tiny") / "qwen2_5_vl", seed=0)


def test_tiny_qwen2_5_vl_through_the_cli(data, tiny_qwen, tmp_path):
    out = tmp_path / "out"
    model_args = f"pretrained={tiny_qwen},device_map=cpu,max_num_frames=4,min_pixels=3136,max_pixels=12544"
    args = ["--model", "qwen2_5_vl", "--model_args", model_args, "--device", "cpu", "--tasks", "dybench_pair"]
    run = lmms_eval([*args, "--gen_kwargs", "max_new_tokens=6", "--log_samples", "--output_path", str(out)], data)
    assert run.returncode == 0, run.stderr[-3000:]
    results, samples = results_of(out)
    files = [samples[f"dybench_pair_{c}"] for c in CATEGORIES]
    got, want = reported(results, "dybench_pair"), rescore(files, "dybench_pair", data["DYBENCH_PAIRS"], tmp_path)
    assert want["n_items"] == 12 and got == pytest.approx({k: want[k] for k in got})


def test_missing_data_is_one_clear_error(data, tmp_path):
    run = lmms_eval(["--model", "dybench_constant", "--tasks", "dybench_pair"], {})
    assert run.returncode == 1
    message = run.stderr.strip().splitlines()
    assert "Traceback" not in run.stderr and "RetryError" not in run.stderr + run.stdout
    assert message[-2].startswith("error: DYBENCH_PAIRS is not set. The dybench_pair* task(s) read DYBENCH_PAIRS")
    assert message[-1].strip().startswith("dybench synth --out synth && dybench build")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("uv") is None, reason="builds the wheel with uv")
def test_tasks_ship_in_the_wheel(data, tmp_path):
    repo = Path(__file__).resolve().parents[1]
    subprocess.run(["uv", "build", "--wheel", "--out-dir", str(tmp_path)], cwd=repo, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("dybench-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    where = subprocess.run(
        [sys.executable, "-c", "from dybench.evaluation import tasks_path; print(tasks_path())"],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where) == site / "dybench" / "_tasks"
    out = tmp_path / "out"
    args = ["--model", "dybench_random", "--tasks", "dybench_pair", "--output_path", str(out)]
    run = lmms_eval(args, data, python_path=site, include=where)
    assert run.returncode == 0, run.stderr[-3000:]
    results, _ = results_of(out)
    assert "p_acc" in reported(results, "dybench_pair")
