"""Reading annotations: JSONL, JSON list and CSV; one error per bad row, naming the row and the fix."""

from __future__ import annotations

import csv
import json

import pytest

from dybench.pairs import load_annotations

GOOD = {
    "id": "q1",
    "video": "a.mp4",
    "question": "Which way does the ball move?",
    "options": ["left", "right"],
    "answer": "A",
    "category": "moving_direction",
}


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_jsonl_json_and_csv_load_the_same(tmp_path):
    rows = [GOOD, {**GOOD, "id": "q2", "options": [], "answer": "Yes", "question": "Is it moving left?"}]
    a, errs_a = load_annotations(write_jsonl(tmp_path / "a.jsonl", rows))
    (tmp_path / "b.json").write_text(json.dumps(rows))
    b, errs_b = load_annotations(tmp_path / "b.json")
    with open(tmp_path / "c.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(GOOD))
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "options": "|".join(r["options"])})
    c, errs_c = load_annotations(tmp_path / "c.csv")
    assert errs_a == errs_b == errs_c == []
    assert a == b == c
    assert a[0].transforms == ("hflip", "reverse")  # the category default
    assert a[1].answer == "yes" and a[1].is_yes_no


def test_answer_given_as_option_text_becomes_a_letter(tmp_path):
    (anns, errors) = load_annotations(write_jsonl(tmp_path / "a.jsonl", [{**GOOD, "answer": "right"}]))
    assert errors == [] and anns[0].answer == "B"


@pytest.mark.parametrize(
    "row,needle",
    [
        ({k: v for k, v in GOOD.items() if k != "answer"}, "missing field(s) answer"),
        ({**GOOD, "category": "motion"}, "unknown category 'motion'; use one of"),
        ({**GOOD, "answer": "C"}, "is not among the options"),
        ({**GOOD, "answer": "maybe", "options": []}, "answer 'yes' or 'no'"),
        ({**GOOD, "options": ["left"]}, "two or more options"),
        ({**GOOD, "transforms": ["rotate"]}, "transforms ['rotate'] invalid"),
        ({**GOOD, "cf_answer": {"hflip": "Z"}}, "cf_answer[hflip]"),
        ('{"id": "q9", "video": ', "not valid JSON"),
        ({**GOOD, "transforms": ["swap"]}, "swap needs segments"),
        ({**GOOD, "segments": [[0, 1]]}, "segments must be two time ranges"),
        ({**GOOD, "segments": [[0, 1], [1, "2"]]}, "segments[1]: start_s and end_s must be numbers"),
        ({**GOOD, "segments": [[0, 1], [2, 1.5]]}, "segments[1]: 2-1.5 s is not a time range"),
        ({**GOOD, "segments": [[-1, 1], [1, 2]]}, "segments[0]: -1-1 s is not a time range"),
        ({**GOOD, "segments": [[0, 1], [1, 2]], "transforms": ["swap", "hflip"]}, "segments are played by swap only"),
        (
            {**GOOD, "segments": [[0, 1], {"video": "../b.mp4", "start_s": 0, "end_s": 1}]},
            "segments[1].video '../b.mp4' must be a path inside the source folder",
        ),  # fmt: skip
        ({**GOOD, "cf_video": "/etc/cf.mp4", "cf_answer": {"given": "B"}}, "cf_video '/etc/cf.mp4' must be a path"),
        ({**GOOD, "cf_video": "b.mp4"}, 'cf_video needs its answer: add cf_answer {"given"'),
        ({**GOOD, "cf_video": "a.mp4", "cf_answer": {"given": "B"}}, "is the video itself"),
        ({**GOOD, "cf_video": "b.mp4", "cf_answer": {"given": "B"}, "relation": "keep"}, "relation 'keep', but"),
        ({**GOOD, "cf_video": "b.mp4", "cf_answer": {"given": "B"}, "relation": "flip"}, "relation 'flip' is not"),
        ({**GOOD, "cf_video": "b.mp4", "cf_answer": {"given": "B"}, "transforms": ["hflip"]}, 'leave out "given"'),
        ({**GOOD, "transforms": ["given"]}, "transform given needs cf_video"),
        ({**GOOD, "relation": "change"}, "belong to a cf_video"),
        (
            {**GOOD, "cf_video": "b.mp4", "cf_answer": {"given": "B"}, "segments": [[0, 1], [1, 2]]},
            "segments and cf_video make different pairs",
        ),  # fmt: skip
    ],
)
def test_each_bad_row_is_reported_and_the_rest_load(tmp_path, row, needle):
    path = write_jsonl(tmp_path / "a.jsonl", [{**GOOD, "id": "ok"}, row])
    anns, errors = load_annotations(path)
    assert [a.id for a in anns] == ["ok"]
    assert len(errors) == 1
    assert errors[0].row == 2 and str(path) in str(errors[0]) and needle in errors[0].message


def test_every_problem_of_a_row_is_reported_in_the_order_of_its_fields(tmp_path):
    bad = {**GOOD, "id": "x", "category": "motion", "answer": "D", "transforms": ["spin"], "events": 3}
    path = write_jsonl(tmp_path / "a.jsonl", [GOOD, bad, {**GOOD, "id": "y", "video": "../out.mp4"}])
    anns, errors = load_annotations(path)
    assert [a.id for a in anns] == ["q1"]
    assert [(e.row, e.id) for e in errors] == [(2, "x")] * 4 + [(3, "y")]
    assert [e.message.split(" ")[0] for e in errors[:4]] == ["unknown", "answer", "transforms", "events"]
    assert "motion" in errors[0].message and "'D'" in errors[1].message and "spin" in errors[2].message


def test_duplicate_ids_name_every_row(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [GOOD, {**GOOD, "id": "q2"}, GOOD])
    anns, errors = load_annotations(path)
    assert [a.id for a in anns] == ["q2"]
    assert [e.row for e in errors] == [1, 3]
    assert all("rows 1, 3 share it" in e.message for e in errors)


def test_unreadable_file_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="annotations file not found"):
        load_annotations(tmp_path / "nope.jsonl")
    (tmp_path / "x.json").write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match="must hold a list"):
        load_annotations(tmp_path / "x.json")


def test_a_json_list_that_cannot_be_parsed_is_one_clear_error(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="deep.json.*nested deeper"):
        load_annotations(tmp_path / "deep.json")
    (tmp_path / "big.json").write_text('[{"id": ' + "9" * 5000 + "}]")
    with pytest.raises(ValueError, match="big.json.*5,000 digits"):
        load_annotations(tmp_path / "big.json")


def test_a_byte_order_mark_and_odd_line_breaks_are_not_data(tmp_path):
    (tmp_path / "a.json").write_text("\ufeff" + json.dumps([GOOD]), encoding="utf-8")
    anns, errors = load_annotations(tmp_path / "a.json")
    assert errors == [] and anns == load_annotations(write_jsonl(tmp_path / "b.jsonl", [GOOD]))[0]
    # U+2028 is legal inside a JSON string, written raw; it does not end a JSON Lines record
    raw = json.dumps({**GOOD, "question": "Left\u2028or right?"}, ensure_ascii=False)
    anns, errors = load_annotations(write_jsonl(tmp_path / "c.jsonl", [raw]))
    assert errors == [] and anns[0].question == "Left\u2028or right?"


def test_segments_and_given_videos_load_with_their_defaults(tmp_path):
    from dybench.records import Segment

    rows = [
        {**GOOD, "id": "one-file", "video": "./clips//a.mp4", "segments": [[0, 1.5], [2, 3]]},
        {
            **GOOD,
            "id": "two-files",
            "segments": [{"video": "b.mp4", "start_s": 0, "end_s": 1}, {"start_s": 4, "end_s": 5.5}],
        },  # fmt: skip
        {**GOOD, "id": "given", "cf_video": "./cf/a.mp4", "cf_answer": {"given": "right"}},
        {
            **GOOD,
            "id": "both",
            "cf_video": "cf/a.mp4",
            "cf_answer": {"given": "A"},
            "relation": "keep",
            "transforms": ["given", "hflip"],
        },  # fmt: skip
    ]
    path = tmp_path / "a.csv"
    with open(path, "w", newline="") as fh:  # CSV cells carry the segments and cf_answer as JSON
        writer = csv.DictWriter(fh, fieldnames=[*GOOD, "segments", "cf_video", "cf_answer", "relation", "transforms"])
        writer.writeheader()
        for r in rows:
            cells = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in r.items()}
            writer.writerow(cells)
    anns, errors = load_annotations(path)
    assert errors == []
    by_id = {a.id: a for a in anns}
    assert by_id["one-file"].segments == (Segment("clips/a.mp4", 0.0, 1.5), Segment("clips/a.mp4", 2.0, 3.0))
    assert by_id["one-file"].transforms == ("swap",)
    assert by_id["two-files"].segments == (Segment("b.mp4", 0.0, 1.0), Segment("a.mp4", 4.0, 5.5))
    given = by_id["given"]
    assert (given.transforms, given.cf_video, given.cf_answer, given.relation) == (("given",), "cf/a.mp4",
                                                                                  {"given": "B"}, None)  # fmt: skip
    assert by_id["both"].transforms == ("given", "hflip") and by_id["both"].relation == "keep"
