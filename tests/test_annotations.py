"""Reading annotations: JSONL, JSON list and CSV; one error per bad row, naming the row and the fix."""

from __future__ import annotations

import csv
import json

import pytest

from dybench.annotations import load_annotations

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
    ],
)
def test_each_bad_row_is_reported_and_the_rest_load(tmp_path, row, needle):
    path = write_jsonl(tmp_path / "a.jsonl", [{**GOOD, "id": "ok"}, row])
    anns, errors = load_annotations(path)
    assert [a.id for a in anns] == ["ok"]
    assert len(errors) == 1
    assert errors[0].row == 2 and str(path) in str(errors[0]) and needle in errors[0].message


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
