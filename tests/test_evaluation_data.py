"""The evaluation tasks' data: locations, loaders for every layout, and their errors (no lmms-eval here)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from evaldata import make_all, pair_items

from dybench.evaluation import LOCATIONS, PAIRS, DataLocationError, location_of
from dybench.evaluation._benchmarks import mvbench_docs, slug, tempcompass_docs, videomme_docs
from dybench.evaluation._docs import PLACEHOLDER, pair_docs, timeblind_docs


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    return make_all(tmp_path_factory.mktemp("evaldata"))


@pytest.mark.parametrize("location", LOCATIONS, ids=lambda loc: loc.variable)
def test_unset_variable_names_variable_layout_and_command(location, monkeypatch):
    monkeypatch.delenv(location.variable, raising=False)
    with pytest.raises(DataLocationError) as e:
        location.folder()
    message = str(e.value)
    assert message.startswith(f"{location.variable} is not set")
    assert location.layout in message and location.make in message


def test_wrong_folder_and_empty_folder_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DYBENCH_PAIRS", str(tmp_path / "nowhere"))
    with pytest.raises(DataLocationError, match="is not a folder"):
        pair_docs()
    monkeypatch.setenv("DYBENCH_PAIRS", str(tmp_path))
    with pytest.raises(DataLocationError, match=r"no pairs\.jsonl.*dybench build"):
        pair_docs()


def test_location_of_task_names():
    assert location_of("dybench_pair") is PAIRS
    assert location_of("dybench_pair_single_frame") is PAIRS
    assert location_of("dyb_mvbench_r1_action_sequence").variable == "MVBENCH_DIR"
    assert location_of("timeblind").variable == "TIMEBLIND_DIR"
    assert location_of("videomme") is None  # lmms-eval's own task, not dybench's
    assert location_of("dybench_pairs") is None


def test_pair_docs_all_and_by_category(data):
    docs = pair_docs(folder=data["DYBENCH_PAIRS"])
    assert [d["item_id"] for d in docs] == [i.item_id for i in pair_items()]
    assert all(Path(d["video_path"]).is_absolute() and Path(d["video_path"]).is_file() for d in docs)
    assert not any(d[PLACEHOLDER] for d in docs)
    moving = pair_docs("moving_direction", folder=data["DYBENCH_PAIRS"])
    assert {d["category"] for d in moving} == {"moving_direction"} and len(moving) == 4


def test_missing_category_gets_one_placeholder(data, caplog):
    docs = pair_docs("spatial", folder=data["DYBENCH_PAIRS"])
    assert len(docs) == 1 and docs[0][PLACEHOLDER]
    assert "no spatial items" in caplog.text
    with pytest.raises(ValueError, match="unknown category"):
        pair_docs("colour", folder=data["DYBENCH_PAIRS"])


def test_missing_video_names_the_item_and_the_fix(data, tmp_path):
    broken = shutil.copytree(data["DYBENCH_PAIRS"], tmp_path / "pairs")
    (broken / "videos" / "md0__hflip.mp4").unlink()
    with pytest.raises(DataLocationError, match=r"1 video\(s\) are missing \(md0:hflip:coun.*dybench build"):
        pair_docs(folder=broken)


def test_timeblind_docs_resolve_both_path_styles(data, tmp_path):
    docs = timeblind_docs(data["TIMEBLIND_DIR"])
    assert [d["index"] for d in docs] == list(range(8))
    assert {d["type"] for d in docs} == {"yes_no", "multiple_choice"}
    # the official README writes paths relative to the folder above the data: TimeBlind/videos/...
    moved = shutil.copytree(data["TIMEBLIND_DIR"], tmp_path / "TimeBlind")
    rows = [json.loads(line) for line in (moved / "data.jsonl").read_text().splitlines()]
    for row in rows:
        row["video_path"] = "TimeBlind/" + row["video_path"]
    (moved / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [d["video_path"] for d in timeblind_docs(moved)] == [
        str(moved / "videos" / Path(d["video_path"]).name) for d in docs
    ]


def test_timeblind_bad_type_is_refused(data, tmp_path):
    bad = shutil.copytree(data["TIMEBLIND_DIR"], tmp_path / "tb")
    lines = (bad / "data.jsonl").read_text().splitlines()
    lines[3] = lines[3].replace('"yes_no"', '"open"')
    (bad / "data.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataLocationError, match=r"data\.jsonl:4: type must be one of yes_no, multiple_choice"):
        timeblind_docs(bad)


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"index": 0, "type": "yes_no"}\n\xff\xfe binary', r"data\.jsonl:2: not UTF-8 text \(byte 31\)"),
        (b"[" * 100_000 + b"]" * 100_000, r"data\.jsonl:1: JSON nested deeper than 64 levels"),
        (b'{"index": 0}\n{"index": ' + b"1" * 5000 + b"}", r"data\.jsonl:2: an integer of 5,000 digits"),
        (b'{"index": "0", "video_path": "v.mp4", "question": "Q?", "type": "yes_no"}', r":1: index must be an integer"),
        (b'{"index": 0, "video_path": "v.mp4", "question": "Q?", "type": ["yes_no"]}', r":1: type must be one of"),
    ],
)
def test_hostile_timeblind_data_is_one_clear_error(tmp_path, content, message):
    (tmp_path / "data.jsonl").write_bytes(content)
    with pytest.raises(DataLocationError, match=message):
        timeblind_docs(tmp_path)


def test_the_two_items_of_a_pair_are_adjacent_documents(data, tmp_path):
    """lmms-eval's --limit takes the first N documents: with a pair's items side by side it cuts whole pairs."""
    shuffled = shutil.copytree(data["DYBENCH_PAIRS"], tmp_path / "pairs")
    lines = (shuffled / "pairs.jsonl").read_text().splitlines()
    originals, counterfactuals = lines[0::2], lines[1::2]  # every original first, then every counterfactual
    (shuffled / "pairs.jsonl").write_text("\n".join(originals + counterfactuals[::-1]) + "\n")
    docs = pair_docs(folder=shuffled)
    pairs = [docs[i]["pair_id"] for i in range(0, len(docs), 2)]
    assert pairs == [json.loads(line)["pair_id"] for line in originals]  # in the order of their first item
    assert all(docs[i]["pair_id"] == docs[i + 1]["pair_id"] for i in range(0, len(docs), 2))


def test_videomme_docs(data):
    docs = videomme_docs(data["VIDEOMME_DIR"])
    assert [d["answer"] for d in docs] == ["A", "B", "C", "D"]
    assert docs[0]["options"] == ["it spins", "it falls", "it grows", "nothing"]
    assert docs[0]["categories"] == ["temporal_perception", "short"]
    assert docs[2]["categories"] == ["ocr_problems", "long"]


def test_mvbench_docs_gold_letter_and_alternative_folder(data, tmp_path):
    docs = mvbench_docs("moving_count", data["MVBENCH_DIR"])
    assert docs[0]["options"] == ["left", "right", "up"] and docs[0]["answer"] == "A"
    assert docs[0]["categories"] == ["moving_count"]
    # lmms-eval's copy keeps segmented Charades clips under star/Charades_segment, without video/
    other = tmp_path / "mvb"
    shutil.copytree(data["MVBENCH_DIR"] / "json", other / "json")
    shutil.copytree(data["MVBENCH_DIR"] / "video" / "star" / "Charades_v1_480", other / "star" / "Charades_segment")
    assert Path(mvbench_docs("action_sequence", other)[0]["video_path"]).is_file()
    with pytest.raises(DataLocationError, match=r"1 video\(s\) are missing \(moving_count/0: .*unzip the videos"):
        mvbench_docs("moving_count", other)
    (other / "json" / "moving_count.json").unlink()
    with pytest.raises(DataLocationError, match=r"moving_count\.json does not exist"):
        mvbench_docs("moving_count", other)


def test_tempcompass_docs_in_both_layouts(data, tmp_path):
    docs = tempcompass_docs(data["TEMPCOMPASS_DIR"])
    by_cat = {tuple(d["categories"]): d for d in docs}
    mc = by_cat[("direction", "multi_choice")]
    assert (mc["question"], mc["options"], mc["answer"]) == ("Where does it go?", ["left", "right", "up"], "B")
    assert by_cat[("direction", "yes_no")]["answer"] == "no"
    caption = by_cat[("order", "caption_matching")]
    assert caption["options"] == ["red then blue", "blue then red"] and caption["answer"] == "B"
    # lmms-lab/TempCompass: <format>/test-*.parquet with video_id, question, answer, dim
    import pyarrow as pa
    import pyarrow.parquet as pq

    hf = shutil.copytree(data["TEMPCOMPASS_DIR"], tmp_path / "tc")
    for fmt in ("multi-choice", "yes_no", "caption_matching"):
        nested = json.loads((hf / "questions" / f"{fmt}.json").read_text())
        rows = [{"video_id": v, "dim": d, **q} for v, dims in nested.items() for d, qs in dims.items() for q in qs]
        (hf / fmt).mkdir()
        pq.write_table(pa.Table.from_pylist(rows), hf / fmt / "test-00000-of-00001.parquet")
    shutil.rmtree(hf / "questions")
    assert [(d["question"], d["options"], d["answer"]) for d in tempcompass_docs(hf)] == [
        (d["question"], d["options"], d["answer"]) for d in docs
    ]


def test_slug():
    assert slug("OCR Problems") == "ocr_problems" and slug("multi-choice") == "multi_choice"
