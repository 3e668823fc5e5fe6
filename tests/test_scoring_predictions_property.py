"""Property tests of the predictions readers (``dybench.scoring._predictions``): whatever a predictions
file holds, the result is predictions (or scores) or a `PredictionsError` naming the file, never another
exception. Warnings (an item predicted twice, coverage below 1) are per-row notices and allowed."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dybench.pairs import write_items
from dybench.records import Item
from dybench.scoring import (
    PredictionsError,
    read_pair_predictions,
    read_timeblind_predictions,
    score_predictions,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ITEM_IDS = ["p0-original", "p0-counterfactual", "p1-original", "p1-counterfactual"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# well-formed rows of both formats, and rows with wrong types, unknown ids and other values mixed in
pair_rows = st.fixed_dictionaries(
    {"item_id": st.sampled_from(ITEM_IDS), "response": st.sampled_from(["A", "B", "<answer>A</answer>", "", "?"])}
)
timeblind_rows = st.fixed_dictionaries(
    {"index": st.integers(0, 7), "model_output": st.sampled_from(["Yes", "no.", "", None])}
)
messy_rows = st.fixed_dictionaries(
    {},
    optional={
        "item_id": st.sampled_from(ITEM_IDS) | json_values,
        "response": st.text(max_size=20) | json_values,
        "index": st.integers(-2, 30) | json_values,
        "model_output": st.text(max_size=20) | json_values,
    },
)
rows = pair_rows | timeblind_rows | messy_rows | json_values


@st.composite
def prediction_files(draw) -> bytes:
    """JSONL or a JSON list of prediction-like rows, sometimes damaged: cut, spliced with bytes, deepened."""
    records = draw(st.lists(pair_rows, max_size=4) | st.lists(timeblind_rows, max_size=4) | st.lists(rows, max_size=6))
    if draw(st.booleans()):
        text = json.dumps(records, indent=draw(st.sampled_from([None, 2])), ensure_ascii=draw(st.booleans()))
    else:
        text = "".join(
            json.dumps(r, ensure_ascii=draw(st.booleans())) + draw(st.sampled_from(["\n", "\r\n"])) for r in records
        )
    data = text.encode("utf-8")
    damage = draw(st.sampled_from(["none", "none", "none", "cut", "splice", "deep", "digits", "bom"]))
    at = draw(st.integers(0, len(data)))
    if damage == "cut":
        data = data[:at]
    elif damage == "splice":
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif damage == "deep":
        depth = draw(st.sampled_from([65, 2_000, 100_000]))
        data = data[:at] + b"[" * depth + b"]" * depth + data[at:]
    elif damage == "digits":
        data = data[:at] + b"7" * draw(st.sampled_from([101, 401, 5000])) + data[at:]
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    return data


any_content = prediction_files() | st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode())


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("property")
    items = [
        Item(f"p{p}-{b}", f"p{p}", b, "hflip", "change", "moving_direction", f"videos/p{p}-{b}.mp4", "Which way?",
             ("left", "right"), answer, f"p{p}")
        for p in range(2)
        for b, answer in (("original", "A"), ("counterfactual", "B"))
    ]  # fmt: skip
    write_items(root / "pairs", items)
    (root / "TimeBlind").mkdir()
    (root / "TimeBlind" / "data.jsonl").write_text(
        "".join(json.dumps({"index": i, "type": "yes_no"}) + "\n" for i in range(8))
    )
    return root


def _call(fn, path: Path):
    """``fn(path)``, with any PredictionsError returned instead of raised; warnings are allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(path)
        except PredictionsError as e:
            assert str(path) in str(e) or str(path.parent) in str(e), "the message names the file"
            return e


def _pair_row(item_id, response) -> bool:
    return isinstance(item_id, str) and isinstance(response, str)


def _timeblind_row(index, output) -> bool:
    return type(index) is int and (output is None or isinstance(output, str))


@pytest.mark.parametrize(
    "read, row_ok", [(read_pair_predictions, _pair_row), (read_timeblind_predictions, _timeblind_row)]
)
@SETTINGS
@given(content=any_content)
def test_reader_gives_predictions_or_a_predictions_error(files, read, row_ok, content):
    path = files / f"{read.__name__}.json"
    path.write_bytes(content)
    got = _call(read, path)
    if not isinstance(got, PredictionsError):
        assert got and all(row_ok(k, v) for k, v in got.items())


@SETTINGS
@given(content=any_content)
def test_scoring_any_file_gives_scores_or_a_predictions_error(files, content):
    path = files / "scored.jsonl"
    path.write_bytes(content)
    pairs = _call(lambda p: score_predictions("dybench_pair", p, files / "pairs"), path)
    if not isinstance(pairs, PredictionsError):
        assert pairs["n_pairs"] == 2 and 0 < pairs["coverage"] <= 1  # scored over the whole dataset
        assert all(0 <= pairs[k] <= 1 for k in ("p_acc", "acc"))
    timeblind = _call(lambda p: score_predictions("timeblind", p, files / "TimeBlind"), path)
    if not isinstance(timeblind, PredictionsError):
        assert 0 < timeblind["coverage"] <= 1 and (math.isnan(timeblind["i_acc"]) or 0 <= timeblind["i_acc"] <= 1)
