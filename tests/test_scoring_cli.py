"""`dybench score` and `score_predictions`: both formats, pure JSON on stdout, clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dybench.cli import app
from dybench.pairs import write_items
from dybench.records import Item
from dybench.scoring import PredictionsError, score_predictions

runner = CliRunner()


def score_cli(task: str, predictions: Path, data: Path):
    return runner.invoke(app, ["score", "--task", task, "--predictions", str(predictions), "--data", str(data)])


def pair(pid, category, relation, original, counterfactual) -> list[Item]:
    return [
        Item(f"{pid}-{b}", pid, b, "hflip", relation, category, f"videos/{pid}-{b}.mp4", "Which way?",
             ("left", "right", "up"), answer, pid)
        for b, answer in (("original", original), ("counterfactual", counterfactual))
    ]  # fmt: skip


@pytest.fixture
def pairs_dir(tmp_path: Path) -> Path:
    items = [
        *pair("q1", "moving_direction", "change", "B", "A"),
        *pair("q2", "static", "keep", "C", "C"),
        *pair("q3", "moving_direction", "change", "A", "B"),
        *pair("q4", "static", "keep", "A", "A"),  # never predicted
    ]
    write_items(tmp_path / "pairs", items)
    return tmp_path / "pairs"


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


PREDICTIONS = [
    {"item_id": "q1-original", "response": "B"},
    {"item_id": "q1-counterfactual", "response": "<think>mirrored</think><answer>A</answer>"},
    {"item_id": "q2-original", "response": "The answer is C."},  # q2-counterfactual missing: incomplete
    {"item_id": "q3-original", "response": "no idea, sorry"},  # unparsable
    {"item_id": "q3-counterfactual", "response": "B", "extra": "fields are fine"},
]


def test_score_pairs_cli(tmp_path, pairs_dir):
    preds = write_jsonl(tmp_path / "preds.jsonl", PREDICTIONS)
    result = score_cli("dybench_pair", preds, pairs_dir)
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)  # stdout is pure JSON
    # every item of the dataset counts: q2-counterfactual and both q4 items have no prediction (wrong)
    assert m["acc"] == pytest.approx(4 / 8)
    assert m["p_acc"] == pytest.approx(1 / 4)
    assert m["change_consistency"] == pytest.approx(1 / 2)  # q1 yes; q3 has an unparsable answer
    assert m["keep_consistency"] == 0.0  # q2 is incomplete, q4 unanswered
    assert (m["n_pairs"], m["n_items"], m["n_unparsable"], m["n_missing_items"]) == (4, 8, 1, 3)
    assert (m["n_incomplete_pairs"], m["n_missing_pairs"]) == (1, 1)
    assert m["coverage"] == pytest.approx(5 / 8)
    assert m["coverage_moving_direction"] == 1.0 and m["coverage_static"] == pytest.approx(1 / 4)
    assert m["p_acc_moving_direction"] == pytest.approx(1 / 2) and m["p_acc_static"] == 0.0
    assert "p_acc" in result.stderr and "warning" in result.stderr and "q2" in result.stderr
    assert "coverage 5/8 items" in result.stderr


def test_score_category_subtask_and_null_for_undefined(tmp_path, pairs_dir):
    moving = [p for p in PREDICTIONS if p["item_id"].startswith(("q1", "q3"))]
    preds = write_jsonl(tmp_path / "preds.jsonl", moving)
    result = score_cli("dybench_pair_moving_direction", preds, pairs_dir)
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert m["p_acc"] == pytest.approx(1 / 2) and m["n_missing_pairs"] == 0
    assert m["keep_consistency"] is None  # no keep pairs: undefined, strict JSON null
    unknown = r"4 item_id\(s\) not among the static items of .*: q1-counterfactual, q1-original"
    with pytest.raises(PredictionsError, match=unknown):
        score_predictions("dybench_pair_static", preds, pairs_dir)


def test_the_r1_tasks_score_like_their_plain_twins(tmp_path, pairs_dir):
    """The shipped models are evaluated with dybench_pair_r1: `dybench score` takes every dybench_pair task."""
    preds = write_jsonl(tmp_path / "preds.jsonl", PREDICTIONS)
    for plain, r1 in (("dybench_pair", "dybench_pair_r1"), ("dybench_pair_static", "dybench_pair_r1_static"),
                      ("dybench_pair_single_frame", "dybench_pair_single_frame_r1")):  # fmt: skip
        if "static" in plain:
            preds = write_jsonl(tmp_path / "static.jsonl", [p for p in PREDICTIONS if p["item_id"].startswith("q2")])
        result = score_cli(r1, preds, pairs_dir)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == json.loads(score_cli(plain, preds, pairs_dir).stdout)


def test_score_prints_fractions_as_eval_does(tmp_path, pairs_dir):
    result = score_cli("dybench_pair", write_jsonl(tmp_path / "preds.jsonl", PREDICTIONS), pairs_dir)
    table = result.stderr.replace("95%", "")
    assert "%" not in table and re.search(r"p_acc\s+│\s+0\.250\s+│\s+0\.\d\d-0\.\d\d\s+│\s+0\.625", table)


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"item_id": "q1-original", "response": "B"}', "{oops"], r"preds.jsonl:2: not valid JSON"),
        (['{"item_id": "q1-original"}'], r"preds.jsonl:1: missing field 'response'"),
        (['{"item_id": "q1-original", "response": null}'], r"preds.jsonl:1: field 'response' must be a string"),  # noqa: E501
        (['["q1-original", "B"]'], r"entry 0: expected a JSON object"),
        (["", "  "], r"preds.jsonl: no predictions"),
        ([json.dumps({"item_id": f"x{i}", "response": "A"}) for i in range(10)],
         r"10 item_id\(s\) not among the items of the pairs dataset .* x0, x1, .*\(2 more\)"),
    ],
)  # fmt: skip
def test_bad_prediction_files(tmp_path, pairs_dir, lines, message):
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(lines) + "\n")
    with pytest.raises(PredictionsError, match=message):
        score_predictions("dybench_pair", preds, pairs_dir)


def test_cli_errors_exit_1_without_json(tmp_path, pairs_dir):
    preds = write_jsonl(tmp_path / "preds.jsonl", PREDICTIONS)
    result = score_cli("videomme", preds, pairs_dir)  # not a choice of --task: click's usage error, listing them
    assert result.exit_code == 2 and result.stdout == "" and "'videomme' is not one of" in result.stderr
    assert "dybench_pair_single_frame" in result.stderr
    with pytest.raises(PredictionsError, match="cannot be scored offline"):  # the library says why
        score_predictions("videomme", preds, pairs_dir)
    result = score_cli("dybench_pair", preds, tmp_path)
    assert result.exit_code == 1 and "dybench build" in result.stderr


# TimeBlind: the same constructed set as tests/test_scoring_timeblind.py, in the official file layout.
TB_TYPES = ["yes_no"] * 4 + ["multiple_choice"] * 4 + ["yes_no"] * 8 + ["multiple_choice"] * 4
TB_OUTPUTS = {
    0: "Yes", 1: "No.", 2: "no", 3: "Yes, it does", 4: "(A)", 5: "The answer is B", 6: "a cat appears",
    7: "Answer: A", 8: "Yes", 9: "No", 10: "No", 12: "", 13: "I cannot tell", 14: "No", 15: "Yes",
}  # fmt: skip


@pytest.fixture
def timeblind_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "TimeBlind"
    folder.mkdir()
    gold = {"yes_no": ("No", "Yes"), "multiple_choice": ("B", "A")}  # by the role's official gold 0 / 1
    rows = [
        {"index": i, "video_path": f"TimeBlind/videos/vid_{i // 4:05d}_{i % 2}.mp4", "question": "Q?",
         "answer": gold[t][(1, 0, 0, 1)[i % 4]], "type": t}
        for i, t in enumerate(TB_TYPES)
    ]  # fmt: skip
    write_jsonl(folder / "data.jsonl", rows)
    return folder


def timeblind_predictions(path: Path, outputs: dict) -> Path:
    rows = [{"index": i, "video_path": "v.mp4", "question": "Q?", "model_output": o} for i, o in outputs.items()]
    path.write_text(json.dumps(rows[::-1], indent=2))  # a JSON list, in any order
    return path


def test_score_timeblind_cli(tmp_path, timeblind_dir):
    preds = timeblind_predictions(tmp_path / "predictions.json", TB_OUTPUTS)
    result = score_cli("timeblind", preds, timeblind_dir)
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert (m["acc"], m["q_acc"], m["v_acc"], m["i_acc"]) == pytest.approx((9 / 16, 4 / 8, 3 / 8, 1 / 4))
    assert (m["n_instances"], m["n_incomplete_instances"], m["n_missing_instances"]) == (4, 1, 1)
    assert "i_acc" in result.stderr and "1 TimeBlind instance(s) have no prediction" in result.stderr
    assert "answer that differs" not in result.stderr


def test_timeblind_data_answers_are_checked_against_the_role_gold(tmp_path, timeblind_dir):
    rows = [json.loads(line) for line in (timeblind_dir / "data.jsonl").read_text().splitlines()]
    rows[5]["answer"] = "A"  # role 1 (q0_i1) is No/B for the official scorer
    write_jsonl(timeblind_dir / "data.jsonl", rows)
    preds = timeblind_predictions(tmp_path / "predictions.json", {i: "Yes" for i in range(20)})
    with pytest.warns(UserWarning, match=r"1 row\(s\) have an answer that differs .*: 5$"):
        score_predictions("timeblind", preds, timeblind_dir)


def test_timeblind_tags_and_bad_files(tmp_path, timeblind_dir):
    (timeblind_dir / "tags.json").write_text(json.dumps({"Speed": list(range(8))}))
    preds = timeblind_predictions(tmp_path / "predictions.json", TB_OUTPUTS)
    with pytest.warns(UserWarning, match="1 TimeBlind instance"):
        m = score_predictions("timeblind", preds, timeblind_dir / "data.jsonl")  # the file itself works too
    assert m["i_acc_speed"] == pytest.approx(0.5)
    preds.write_text(json.dumps([{"index": "3", "model_output": "Yes"}]))
    with pytest.raises(PredictionsError, match=r"predictions.json: entry 0: field 'index' must be an integer"):  # noqa: E501
        score_predictions("timeblind", preds, timeblind_dir)
    preds.write_text(json.dumps([{"index": 20, "model_output": "Yes"}, {"index": 3}]))
    with pytest.raises(PredictionsError, match=r"entry 1: missing field 'model_output'"):
        score_predictions("timeblind", preds, timeblind_dir)
    preds.write_text(json.dumps([{"index": 20, "model_output": "Yes"}]))
    with pytest.raises(PredictionsError, match=r"1 index\(es\) not in .*data.jsonl \(0..19\): 20"):
        score_predictions("timeblind", preds, timeblind_dir)
    with pytest.raises(PredictionsError, match="no TimeBlind data.jsonl"):
        score_predictions("timeblind", preds, tmp_path)


# --- issue 12: careless and hostile inputs ------------------------------------------------------------


def test_predictions_for_half_the_pairs_are_not_a_perfect_score(tmp_path, pairs_dir):
    """Missing items are wrong: P-Acc is over every pair of the dataset, coverage is shown and warned."""
    from dybench.pairs import load_items

    answered = [it for it in load_items(pairs_dir) if it.pair_id in ("q1", "q2")]
    preds = write_jsonl(tmp_path / "half.jsonl", [{"item_id": it.item_id, "response": it.answer} for it in answered])
    result = score_cli("dybench_pair", preds, pairs_dir)
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert (m["p_acc"], m["acc"], m["coverage"]) == (0.5, 0.5, 0.5)  # all answered right, half answered
    assert (m["n_pairs"], m["n_missing_items"], m["n_missing_pairs"], m["n_incomplete_pairs"]) == (4, 4, 2, 0)
    assert "coverage 4/8 items: 4 item(s) have no prediction and count as wrong" in " ".join(result.stderr.split())
    header = next(line for line in result.stderr.splitlines() if "metric" in line)
    assert "coverage" in header  # a column beside every score
    everything = write_jsonl(tmp_path / "all.jsonl", [{"item_id": f"q{q}-{b}", "response": "A"}
                             for q in range(1, 5) for b in ("original", "counterfactual")])  # fmt: skip
    result = score_cli("dybench_pair", everything, pairs_dir)
    assert json.loads(result.stdout)["coverage"] == 1.0 and "no prediction" not in result.stderr


def test_data_given_as_the_pairs_file_asks_for_the_folder(tmp_path, pairs_dir):
    preds = write_jsonl(tmp_path / "preds.jsonl", PREDICTIONS)
    result = score_cli("dybench_pair", preds, pairs_dir / "pairs.jsonl")
    assert result.exit_code == 1 and result.stdout == ""
    message = " ".join(result.stderr.split())
    assert "--data takes the pairs dataset's folder" in message and f"--data {pairs_dir}" in message
    assert "--out" not in message  # never "build into pairs.jsonl"


HOSTILE = [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, r"preds.jsonl: JSON nested deeper than 64 levels", id="deep-list"),
    pytest.param(b'{"item_id": "q1-original", "response": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
                 r"preds.jsonl:1: JSON nested deeper than 64 levels; fix or remove that line", id="deep-line"),
    pytest.param(b'{"item_id": "q1-original", "response": "B"}\n{"item_id": 1' + b"9" * 4999 + b', "response": "B"}',
                 r"preds.jsonl:2: an integer of 5,000 digits", id="5000-digits"),
    pytest.param(b'{"item_id": "q1-original", "response": "B"}\n\xff\xfe\x00\x01binary',
                 r"preds.jsonl:2: not UTF-8 text \(byte 44\)", id="binary"),
    pytest.param(bytes(range(256)) * 4, r"preds.jsonl:2: not UTF-8 text \(byte 128\)", id="all-bytes"),
]  # fmt: skip


@pytest.mark.parametrize("content, message", HOSTILE)
def test_hostile_prediction_files_are_clear_errors(tmp_path, pairs_dir, content, message):
    preds = tmp_path / "preds.jsonl"
    preds.write_bytes(content)
    with pytest.raises(PredictionsError, match=message):
        score_predictions("dybench_pair", preds, pairs_dir)
    result = score_cli("dybench_pair", preds, pairs_dir)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # a message, no traceback
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output


def test_byte_order_mark_and_line_separators_are_read(tmp_path, pairs_dir):
    rows = [{"item_id": "q1-original", "response": "B\u2028(the answer)"}, {"item_id": "q1-counterfactual",
            "response": "A"}]  # fmt: skip
    preds = tmp_path / "preds.jsonl"
    preds.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode())
    with pytest.warns(UserWarning, match="coverage 2/8"):
        m = score_predictions("dybench_pair", preds, pairs_dir)
    assert m["p_acc"] == 0.25 and m["n_unparsable"] == 0


def test_timeblind_huge_index_is_a_clear_error(tmp_path, timeblind_dir):
    preds = tmp_path / "predictions.json"
    preds.write_text('[{"index": ' + "9" * 401 + ', "model_output": "Yes"}]')
    with pytest.raises(PredictionsError, match=r"predictions.json: an integer of 401 digits"):
        score_predictions("timeblind", preds, timeblind_dir)


@pytest.mark.parametrize(
    "tags, message",
    [
        (b'{"Speed": [0, 1', r"tags.json:1: not valid JSON"),
        (b'["Speed", 0]', r"tags.json: expected an object \{tag: \[item index, ...\]\}, got list"),
        (b'{"Speed": "0-7"}', r"tags.json: tag 'Speed': expected a list of item indices"),
        (b'{"Speed": [0, "1"]}', r"tags.json: tag 'Speed': expected a list of item indices"),
        (b'{"Speed": [0, true]}', r"tags.json: tag 'Speed': expected a list of item indices"),
        (b'{"Speed": [-4]}', r"tags.json: tag 'Speed': expected a list of item indices"),
        (b'{"Speed": [' + b"9" * 5000 + b"]}", r"tags.json: an integer of 5,000 digits"),
        (b"\x89PNG\r\n\x1a\n", r"tags.json:1: not UTF-8 text"),
        (b'{"a":' * 100_000, r"tags.json: JSON nested deeper than 64 levels"),
    ],
)
def test_malformed_timeblind_tags_are_clear_errors(tmp_path, timeblind_dir, tags, message):
    (timeblind_dir / "tags.json").write_bytes(tags)
    preds = timeblind_predictions(tmp_path / "predictions.json", TB_OUTPUTS)
    with pytest.raises(PredictionsError, match=message) as e:
        score_predictions("timeblind", preds, timeblind_dir)
    assert "remove it (it only adds per-tag scores)" in str(e.value)


def test_timeblind_reports_coverage(tmp_path, timeblind_dir):
    preds = timeblind_predictions(tmp_path / "predictions.json", TB_OUTPUTS)
    with pytest.warns(UserWarning, match=r"coverage 15/20 items: 1 TimeBlind instance"):
        m = score_predictions("timeblind", preds, timeblind_dir)
    assert m["coverage"] == 15 / 20
