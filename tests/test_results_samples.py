"""One reader of lmms-eval's samples files: every path reads the response lmms-eval's metrics scored.

lmms-eval 0.7.3 scores ``filtered_resps`` (the response after a task's filter and reasoning-tag stripping)
and logs the response before them as ``resps``. Here the fixture runs' samples get a ``resps`` that gives
another answer, as a task whose filter changed the response logs it; offline re-scoring, the leaderboard's
verification, ``dybench compare`` and the reproduction report must all read the answer that was scored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evaldata import pair_items
from test_results_verify import STEM, hold_pairs, place, store_of

from dybench.evaluation import predictions_from_samples
from dybench.fileio import write_jsonl_atomic
from dybench.reproduce._summary import logged_results
from dybench.results import (
    DATASETS_DIR,
    SamplesError,
    compare_runs,
    parse_results_json,
    read_samples,
    rescore_samples,
    scored_response,
)
from dybench.scoring import score_item, score_predictions


def log_a_filter(folder: Path) -> dict[str, str]:
    """Give every logged sample of a run folder a raw response (``resps``) other than the scored one, as
    lmms-eval logs a task with a filter; item_id -> the parsed answer the run's own scorer logged."""
    logged = {}
    for path in sorted(folder.glob(f"{STEM}_samples_*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in rows:
            scored = row["filtered_resps"]
            row["resps"] = ["B" if scored != "B" else "A"]  # lmms-eval: one element per request
            row["filtered_resps"] = [scored]
            if "p_acc" in row:  # not a stand-in document
                logged[row["p_acc"]["item_id"]] = row["p_acc"]["pred"]
        write_jsonl_atomic(path, rows)
    return logged


def test_a_task_with_a_filter_gives_the_same_answer_through_every_path(tmp_path: Path):
    results = tmp_path / "results"
    data = hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    folders = {model: place(results, model).parent for model in ("dybench_random", "dybench_constant")}
    logged = log_a_filter(folders["dybench_random"])
    log_a_filter(folders["dybench_constant"])
    items = {it.item_id: it for it in pair_items()}

    # offline re-scoring: samples -> a predictions file -> dybench score
    rows = [r for path in sorted(folders["dybench_random"].glob("*_samples_*")) for r in predictions_from_samples(path)]
    offline = {r["item_id"]: score_item(items[r["item_id"]], r["response"]).pred for r in rows}
    write_jsonl_atomic(tmp_path / "preds.jsonl", rows)
    assert score_predictions("dybench_pair", tmp_path / "preds.jsonl", data)["p_acc"] == pytest.approx(2 / 6)

    # the leaderboard: verification re-scores the samples against the held data
    store = store_of(results)
    runs = {r.model_class: r for r in store.listing().runs}
    assert {m: r.verification.status for m, r in runs.items()} == dict.fromkeys(folders, "verified")
    run = runs["dybench_random"]
    obj = parse_results_json((results / run.path).read_bytes(), name=run.path)
    rescored = rescore_samples(obj, store.samples(run), store.references()[0])
    leaderboard = {r.item_id: r.pred for r in rescored.results["dybench_pair"]}

    # compare: the disagreeing pairs show the scored responses
    comparison = compare_runs(store, run, store, runs["dybench_constant"])
    shown = {item: response for d in comparison.disagreements for item, response in d.responses_a}
    assert comparison.p_acc_a == pytest.approx(2 / 6) and shown
    assert all(score_item(items[i], response).pred == logged[i] for i, response in shown.items())

    # the reproduction report: the logged records, read by the same reader
    report = {r.item_id: r.pred for r in logged_results(folders["dybench_random"])}

    assert offline == leaderboard == report == logged


def test_the_scored_response_is_filtered_resps_else_resps():
    assert scored_response({"resps": [["raw"]], "filtered_resps": ["scored"]}, "f:1") == "scored"
    assert scored_response({"resps": [["raw"]]}, "f:1") == "raw"  # dybench eval drops resps when equal
    assert scored_response({"filtered_resps": "scored"}, "f:1") == "scored"
    with pytest.raises(SamplesError, match="f:1: `filtered_resps` must be the model's response"):
        scored_response({"resps": ["raw"], "filtered_resps": [["a", "b"]]}, "f:1")


def test_offline_rescoring_refuses_samples_of_other_tasks_by_line(tmp_path: Path):
    path = tmp_path / "x_samples_videomme.jsonl"
    path.write_text('{"doc_id": 0, "filtered_resps": ["A"], "acc": 1}\n')
    with pytest.raises(SamplesError, match=r"x_samples_videomme.jsonl:1: not a dybench_pair or timeblind sample"):
        predictions_from_samples(path)
    with pytest.raises(SamplesError, match=r":1: not a dybench_pair sample"):
        read_samples(path.read_bytes(), task="videomme", name=path.name)
