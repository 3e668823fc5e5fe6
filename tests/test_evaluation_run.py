"""``evaluate`` and ``dybench eval`` through lmms-eval's Python API, in this process.

The floor models run every task family on tiny local data; the metrics lmms-eval reports must equal
dybench's own scoring of the responses it logged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from evaldata import PAIRS, make_all, reported, rescore
from typer.testing import CliRunner

from dybench.cli import app
from dybench.evaluation import (
    DataLocationError,
    EvalError,
    EvalRun,
    evaluate,
)
from dybench.evaluation._run_summary import score_text
from dybench.records import CATEGORIES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    return make_all(tmp_path_factory.mktemp("run"))


@pytest.fixture
def env(data, monkeypatch):
    for key, value in data.items():
        monkeypatch.setenv(key, str(value))
    return data


def _metrics(run: EvalRun, task: str) -> dict[str, float]:
    return reported(run.results, task)


def _rescore(run: EvalRun, task: str, scoring_task: str, data: Path, tmp_path: Path) -> dict[str, float]:
    return rescore([run.samples_paths[task]], scoring_task, data, tmp_path)


def test_pair_group_metrics_equal_dybench_scoring_of_the_logged_responses(data, tmp_path):
    run = evaluate(
        "dybench_random",
        "dybench_pair,dybench_pair_single_frame",
        model_args="seed=7",
        data=data["DYBENCH_PAIRS"],
        output=tmp_path / "out",
    )
    assert run.skipped == ("dybench_pair_spatial",), "the fixture has no spatial item"
    assert run.results_path.is_file() and json.loads(run.results_path.read_text())["dybench_version"]
    # the category without items is not run: no stand-in document reaches the model, no samples file
    present = [c for c in CATEGORIES if c != "spatial"]
    assert run.results["group_subtasks"]["dybench_pair"] == [f"dybench_pair_{c}" for c in present]
    assert "dybench_pair_spatial" not in run.samples_paths and "dybench_pair_spatial" not in run.results["results"]
    assert sum(run.results["n-samples"][f"dybench_pair_{c}"]["effective"] for c in present) == 2 * len(PAIRS)
    # the group: its subtasks' logged responses, rescored together
    subtasks = [run.samples_paths[f"dybench_pair_{c}"] for c in present]
    want = rescore(subtasks, "dybench_pair", data["DYBENCH_PAIRS"], tmp_path)
    got = _metrics(run, "dybench_pair")
    assert got and got == pytest.approx({k: want[k] for k in got})
    assert {f"p_acc_{c}" for c in ("moving_direction", "static")} <= got.keys()
    for category in ("moving_direction", "static"):
        task = f"dybench_pair_{category}"
        want = _rescore(run, task, task, data["DYBENCH_PAIRS"], tmp_path)
        assert _metrics(run, task) == pytest.approx({k: want[k] for k in _metrics(run, task)})
    want = _rescore(run, "dybench_pair_single_frame", "dybench_pair_single_frame", data["DYBENCH_PAIRS"], tmp_path)
    got = _metrics(run, "dybench_pair_single_frame")
    assert got == pytest.approx({k: want[k] for k in got})


@pytest.mark.parametrize(
    "results",
    [
        {
            "results": {"dybench_pair": {"p_acc,none": 0.5}},
            "dybench_intervals": {"dybench_pair": {"p_acc": [0.2, 0.8]}},
        },
        {"results": {"dybench_pair": {"p_acc,none": 0.5, "p_acc_ci_low,none": 0.2, "p_acc_ci_high,none": 0.8}}},
    ],
    ids=["intervals beside the metrics", "bounds as metrics (older files)"],
)
def test_the_summary_shows_each_metric_with_its_interval(results):
    run = EvalRun("m", ("dybench_pair",), results)
    assert score_text(run, "dybench_pair", "p_acc") == "0.500 (0.20-0.80)"
    assert score_text(run, "dybench_pair", "acc") == "-" and run.metric("dybench_pair", "p_acc_ci_low") is None


def test_constant_model_shows_why_p_acc_is_strict(data):
    run = evaluate("dybench_constant", "dybench_pair", model_args="answer=A", data=data["DYBENCH_PAIRS"])
    golds = {(sid, a0, a1) for sid, *_, a0, a1 in PAIRS}
    keep_a = sum(a0 == a1 == "A" for _, a0, a1 in golds)
    assert run.metric("dybench_pair", "p_acc") == keep_a / len(PAIRS) == 0.0
    right = sum((a0 == "A") + (a1 == "A") for _, a0, a1 in golds)
    assert run.metric("dybench_pair", "acc") == pytest.approx(right / (2 * len(PAIRS)))
    assert run.metric("dybench_pair", "acc") > 0 and run.metric("dybench_pair", "change_consistency") == 0.0


def test_timeblind_metrics_equal_the_official_scoring(data, tmp_path):
    run = evaluate("dybench_random", "timeblind", model_args="seed=2", data=data["TIMEBLIND_DIR"], output=tmp_path)
    want = _rescore(run, "timeblind", "timeblind", data["TIMEBLIND_DIR"], tmp_path)
    got = _metrics(run, "timeblind")
    assert set(got) == {f"{m}{s}" for m in ("acc", "q_acc", "v_acc", "i_acc") for s in ("", "_ci_low", "_ci_high")}
    assert got == pytest.approx({k: want[k] for k in got})


def test_standard_benchmarks_score_by_parsing_per_category(env):
    run = evaluate("dybench_constant", "dyb_videomme,dyb_mvbench,dyb_tempcompass_r1", model_args="answer=A")
    videomme = _metrics(run, "dyb_videomme")
    assert videomme["acc"] == 0.25 and videomme["acc_short"] == 0.5 and videomme["acc_long"] == 0.0
    assert videomme["acc_temporal_perception"] == 0.5 and videomme["acc_ocr_problems"] == 0.0
    mvbench = _metrics(run, "dyb_mvbench")  # the answer is candidate n % 3 of subtask n: "A" for 7 of 20
    assert mvbench["acc"] == pytest.approx(7 / 20)
    assert mvbench["acc_action_sequence"] == 1.0 and mvbench["acc_moving_direction"] == 0.0
    assert _metrics(run, "dyb_mvbench_action_sequence")["acc"] == 1.0
    tempcompass = _metrics(run, "dyb_tempcompass_r1")  # right on one of four: "A" cannot answer yes/no
    assert tempcompass["acc"] == 0.25 and tempcompass["acc_yes_no"] == 0.0 and tempcompass["acc_speed"] == 1.0


def test_a_video_r1_eval_json_is_scored_as_videothinker_scores_it(env, tmp_path):
    """dyb_qa_videor1: a VideoThinker evaluation file (``video`` paths from a data root, a CLEVRER question with two
    answers, a yes/no one, a numerical one left out) in Video-R1's own evaluation prompt."""
    run = evaluate("dybench_constant", "dyb_qa_videor1", model_args="answer=A", data=env["DYBENCH_QA"], output=tmp_path)
    acc = reported(run.results, "dyb_qa_videor1")["acc"]
    assert acc == pytest.approx(1 / 3)  # A is right on the first question only: 'A,C' needs both letters
    assert run.results["n-samples"]["dyb_qa_videor1"]["effective"] == 3
    first = json.loads(run.samples_paths["dyb_qa_videor1"].read_text().splitlines()[0])
    assert first["input"].startswith("Which way does it move?Options:\nA. left\nB. right\n\nPlease think about")


def test_data_problems_are_found_before_any_model_loads(monkeypatch, tmp_path):
    monkeypatch.delenv("TIMEBLIND_DIR", raising=False)
    with pytest.raises(DataLocationError, match=r"(?s)^TIMEBLIND_DIR is not set\. .*data\.jsonl.*git clone"):
        evaluate("no_such_model", "timeblind")
    with pytest.raises(DataLocationError, match=r"no pairs\.jsonl"):
        evaluate("no_such_model", "dybench_pair", data=tmp_path)


def test_a_category_the_data_lacks_asked_for_by_name_is_an_error(data):
    with pytest.raises(EvalError, match=r"dybench_pair_r1_spatial: the pairs dataset has no items of that category"):
        evaluate("no_such_model", "dybench_pair_r1_spatial", data=data["DYBENCH_PAIRS"])


def test_data_option_names_one_data_set(data):
    with pytest.raises(EvalError, match="DYBENCH_PAIRS, TIMEBLIND_DIR"):
        evaluate("dybench_constant", "dybench_pair,timeblind", data=data["DYBENCH_PAIRS"])


def test_unknown_task_and_failing_model_raise(env):
    with pytest.raises(EvalError, match=r"no such task: dybench_pairs \(did you mean dybench_pair"):
        evaluate("dybench_constant", "dybench_pairs")
    with pytest.raises(EvalError, match="lmms-eval failed on timeblind: TypeError: .*colour"):
        evaluate("dybench_constant", "timeblind", model_args="colour=red")


def test_unknown_task_with_data_says_the_task_does_not_exist(data):
    result = CliRunner().invoke(
        app, ["eval", "--model", "dybench_constant", "--tasks", "nosuch_task", "--data", str(data["DYBENCH_PAIRS"])]
    )
    message = " ".join(result.stderr.split())
    assert result.exit_code == 1 and message.startswith("error: no such task: nosuch_task")
    assert "`lmms-eval --tasks list` lists every task" in message and "data set" not in message
    with pytest.raises(EvalError, match=r"videomme read\(s\) none .*drop --data"):  # a real task, not dybench's
        evaluate("dybench_constant", "videomme", data=data["DYBENCH_PAIRS"])


def test_limit_scores_whole_pairs_only(data, tmp_path):
    """DESIGN.md Contract 3: under lmms-eval, P-Acc is over the evaluated pairs; --limit 3 evaluates one
    whole pair and half of the next, which is left out."""
    from dybench.evaluation import predictions_from_samples
    from dybench.pairs import load_items
    from dybench.scoring import pair_metrics, score_item

    task = "dybench_pair_moving_direction"
    with pytest.warns(UserWarning, match=r"1 pair\(s\) have only one evaluated item"):
        run = evaluate("dybench_constant", task, model_args="answer=A", data=data["DYBENCH_PAIRS"], limit=3,
                       output=tmp_path)  # fmt: skip
    assert run.results["n-samples"][task]["effective"] == 3
    rows = predictions_from_samples(run.samples_paths[task])
    items = {it.item_id: it for it in load_items(data["DYBENCH_PAIRS"])}
    first, second, third = (items[r["item_id"]] for r in rows)
    assert first.pair_id == second.pair_id != third.pair_id  # adjacent: the limit ends inside the second pair
    want = pair_metrics([score_item(items[r["item_id"]], r["response"]) for r in rows[:2]])
    assert _metrics(run, task) == pytest.approx({k: want[k] for k in _metrics(run, task)})


def test_eval_command(env, tmp_path):
    runner = CliRunner()
    args = ["eval", "--model", "dybench_random", "--tasks", "timeblind", "--output", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "timeblind" in result.output and "I-Acc" in result.output
    assert list(tmp_path.glob("dybench_random/*_results.json"))
    result = runner.invoke(app, ["eval", "--model", "dybench_random", "--tasks", "timeblind", "--data", str(tmp_path)])
    assert result.exit_code == 1 and "error: " in result.output and "data.jsonl" in result.output


def test_a_model_that_defaults_to_a_gpu_gets_the_cpu_of_a_machine_without_one(monkeypatch):
    import torch

    from dybench.evaluation._eval_run import _placement

    lines: list[str] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _placement("qwen2_5_vl", "pretrained=m", None, lines.append) == ("pretrained=m,device_map=cpu", "cpu")
    assert lines == [
        "no GPU found: qwen2_5_vl runs on the CPU (device=cpu, device_map=cpu); lower max_pixels and "
        "max_num_frames for speed (see the README's CPU example)"
    ]
    small = "pretrained=m,max_pixels=3136"
    assert _placement("qwen2_5_vl", small, None, lines.append) == (f"{small},device_map=cpu", "cpu")
    assert lines[-1] == "no GPU found: qwen2_5_vl runs on the CPU (device=cpu, device_map=cpu)"
    for given in (("pretrained=m,device_map=auto", None), ("pretrained=m", "cuda:1"), ("device=cpu", None)):
        assert _placement("qwen2_5_vl", *given, lines.append) == given, "what the user says wins"
    assert _placement("dybench_constant", "", None, lines.append) == ("", None), "no GPU default: left alone"
    assert _placement("openai", "model_version=m", None, lines.append) == ("model_version=m", None)
    assert len(lines) == 2
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _placement("qwen2_5_vl", "pretrained=m", None, lines.append) == ("pretrained=m", None)


def test_eval_of_a_shipped_model_needs_no_device_flags_on_a_cpu_machine(data, tmp_path):
    """The README's CPU example: no --device, no device_map (lmms-eval alone fails: "Found no NVIDIA driver")."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a machine with a GPU keeps lmms-eval's GPU default")
    model = Path(__file__).parents[1] / "dybench" / "data" / "demo_models" / "tiny-crpo-s0"
    args = ["eval", "--model", "qwen2_5_vl", "--model-args", f"pretrained={model},max_pixels=3136,min_pixels=3136,"
            "max_num_frames=4", "--tasks", "dybench_pair_r1_moving_direction", "--data", str(data["DYBENCH_PAIRS"]),
            "--output", str(tmp_path), "--gen-kwargs", "max_new_tokens=8"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "no GPU found: qwen2_5_vl runs on the CPU (device=cpu, device_map=cpu)" in result.stderr
    (path,) = tmp_path.glob("qwen2_5_vl__tiny-crpo-s0/*_results.json")
    assert re.fullmatch(r"\d{8}T\d{6}Z_results\.json", path.name), "named by the start time in UTC"
    assert json.loads(path.read_text())["config"]["device"] == "cpu"
