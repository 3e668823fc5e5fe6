"""The Video-R1 QA json (``dybench.video_r1``): the records Video-R1 and VideoThinker release, read, written and
checked by one module."""

from __future__ import annotations

import json

import pytest

from dybench.video_r1 import (
    VideoR1Error,
    read_video_r1,
    video_r1_problem,
    video_r1_row,
    write_video_r1,
)


def _write(path, rows):
    path.write_text(json.dumps(rows))
    return path


def test_video_r1_and_videothinker_records_read_as_questions(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "MVBench" / "ssv2_video").mkdir(parents=True)
    rows = [
        # Video-R1 training record (Video-R1-260k's layout)
        {"problem_id": 2, "problem": "What appears on the screen?", "data_type": "video",
         "problem_type": "multiple choice", "options": ["A. A notification", "B. A command"],
         "solution": "<answer>A</answer>", "path": "./clips/a.mp4", "data_source": "LLaVA-Video-178K"},
        # VideoThinker's evaluation record: `video`, written as an absolute path under the data root
        {"problem": "Which way?", "options": ["A. left", "B. right"], "solution": "<answer>B</answer>",
         "video": "/MVBench/ssv2_video/1.mp4", "problem_type": "multiple choice", "data_type": "video"},
        # Video-Holmes in VideoThinker's file: no problem_type, options also written into the problem
        {"problem": "Why does he leave?\nA. he is late\nB. he is angry", "options": ["he is late", "he is angry"],
         "solution": "<answer>B</answer>", "video": "clips/h.mp4", "question_type": "SR"},
        # CLEVRER counterfactual, two answers
        {"problem": "If the cube were removed, which would collide?", "options": ["A. x", "B. y", "C. z"],
         "solution": "<answer>C, A</answer>", "path": "clips/c.mp4"},
        {"problem": "How many?", "options": [], "solution": "<answer>3</answer>", "path": "clips/n.mp4",
         "problem_type": "numerical"},
        {"problem": "Is it open?", "options": [], "solution": "<answer>Yes</answer>", "path": "clips/y.mp4",
         "problem_type": "yes/no"},
        {"problem": "Which?", "options": ["A. a", "B. b"], "solution": "<answer>A</answer>", "path": "i.png",
         "data_type": "image"},
    ]  # fmt: skip
    read = read_video_r1(_write(tmp_path / "eval.json", rows))
    q = read.questions
    assert [x.index for x in q] == [0, 1, 2, 3, 5]
    assert q[0].options == ("A notification", "A command") and q[0].answer == "A"
    assert q[0].video == (tmp_path / "clips" / "a.mp4").resolve() and q[0].extra["data_source"] == "LLaVA-Video-178K"
    assert q[1].video == (tmp_path / "MVBench" / "ssv2_video" / "1.mp4").resolve()
    assert q[2].question == "Why does he leave?" and q[2].problem_type == "multiple choice"
    assert q[3].answer == "A,C"
    assert q[4].answer == "yes" and q[4].options == () and q[4].problem_type == "yes/no"
    assert read.skipped == {"problem_type 'numerical' (not multiple choice or yes/no)": 1,
                            "data_type 'image' (not a video)": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"problem": "Which?", "options": ["A. a", "B. b"], "solution": "<answer>C</answer>", "path": "v.mp4"},
         r"\[0\]: solution 'C' is not option letters A-B"),
        ({"problem": "Which?", "solution": "<answer>A</answer>"}, r"\[0\]: missing \['path'\]"),
        ("just text", r"\[0\]: a record is a JSON object"),
    ],
)  # fmt: skip
def test_a_malformed_record_is_named(tmp_path, row, message):
    with pytest.raises(VideoR1Error, match=message):
        read_video_r1(_write(tmp_path / "bad.json", [row]))


def test_written_records_read_back_and_the_check_names_missing_videos(tmp_path):
    rows = [video_r1_row("Which way?", ["left", "right"], "B", "clips/v.mp4", cue_answer="A", source_id="q1")]
    write_video_r1(tmp_path / "train.json", rows)
    assert rows[0]["options"] == ["A. left", "B. right"] and rows[0]["solution"] == "<answer>B</answer>"
    (q,) = read_video_r1(tmp_path / "train.json").questions
    assert (q.options, q.answer, q.cue_answer, q.extra) == (("left", "right"), "B", "A", {})
    assert "1 video(s) missing" in video_r1_problem(tmp_path / "train.json")
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "v.mp4").write_bytes(b"")
    assert video_r1_problem(tmp_path / "train.json") is None
    _write(tmp_path / "none.json", [{"problem": "n", "options": [], "solution": "2", "path": "v.mp4",
                                     "problem_type": "regression"}])  # fmt: skip
    assert "no multiple-choice or yes/no video question (1 x problem_type 'regression'" in video_r1_problem(
        tmp_path / "none.json"
    )
