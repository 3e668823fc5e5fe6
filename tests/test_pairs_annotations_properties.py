"""Property tests of the annotation reader: whatever a file holds, it gives valid rows and per-row
errors (or one ``ValueError`` for a file it cannot read at all), never another exception, and never a
video path outside the source folder."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path, PurePosixPath

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dybench.pairs import REQUIRED, load_annotations
from dybench.records import CATEGORIES

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Path pieces that have broken path handling before: parents, roots, empties, NULs, backslashes.
PIECES = ["..", ".", "a", "b.mp4", "", "/", "\x00", "x\\y", " ", "~", ".a.abcdefgh.tmp.mp4", "é"]
video_paths = st.lists(st.sampled_from(PIECES), min_size=0, max_size=6).map("/".join) | st.text(max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
fields = {
    "id": st.text(max_size=8) | st.integers(),
    "video": video_paths,
    "question": st.text(max_size=20),
    "options": st.lists(st.text(max_size=8), max_size=30) | st.text(max_size=20),
    "answer": st.sampled_from(["A", "B", "b", "yes", "ß", "\ufb00", "Z", "", "left"]) | st.text(max_size=4),
    "category": st.sampled_from(CATEGORIES) | st.text(max_size=8),
    "transforms": st.none() | st.lists(st.sampled_from(["hflip", "reverse", "swap"]), max_size=3),
    "cf_answer": st.none() | st.dictionaries(st.sampled_from(["hflip", "reverse", "x"]), st.text(max_size=3)),
    "events": st.none() | st.lists(st.text(max_size=5), max_size=3),
}
records = st.fixed_dictionaries({}, optional={k: v | json_values for k, v in fields.items()})


def read(content: bytes, suffix: str):
    """load_annotations on a file holding ``content``: (annotations, errors), or None for a file-level error."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"annotations{suffix}"
        path.write_bytes(content)
        try:
            return load_annotations(path)
        except ValueError as e:
            assert str(path) in str(e)  # the one file-level error names the file
            return None


def assert_inside(video: str) -> None:
    """The video, joined to any source folder, stays inside it by its spelling."""
    path = PurePosixPath(video)
    assert not path.is_absolute() and ".." not in path.parts and "\x00" not in video and str(path) == video
    assert os.path.normpath(os.path.join("/src", video)).startswith("/src/")


def check(result, lines: int | None = None) -> None:
    if result is None:
        return
    annotations, errors = result
    for ann in annotations:
        assert_inside(ann.video)
        assert ann.answer in ("yes", "no") or 0 <= ord(ann.answer) - ord("A") < len(ann.options) <= 26
    good = {a.row for a in annotations}
    bad = {e.row for e in errors}
    assert not good & bad  # a row is either loaded or reported
    if lines is not None:
        assert good | bad == set(range(1, lines + 1))


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from([".jsonl", ".json", ".csv"]))
def test_any_bytes_give_rows_errors_or_one_file_error(content, suffix):
    check(read(content, suffix))


@SETTINGS
@given(st.lists(records, min_size=1, max_size=6))
def test_any_jsonl_records_load_or_are_reported_row_by_row(rows):
    content = "".join(json.dumps(r) + "\n" for r in rows).encode()
    result = read(content, ".jsonl")
    assert result is not None  # JSON Lines never fail as a whole: each line is its own row
    check(result, lines=len(rows))


@SETTINGS
@given(st.lists(records, min_size=1, max_size=6))
def test_any_json_list_loads_or_is_reported_row_by_row(rows):
    result = read(json.dumps(rows).encode(), ".json")
    assert result is not None
    check(result, lines=len(rows))


@SETTINGS
@given(st.lists(st.fixed_dictionaries({k: st.text(max_size=12) for k in REQUIRED}), min_size=1, max_size=5))
def test_any_csv_cells_load_or_are_reported(rows):
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(REQUIRED))
    writer.writeheader()
    writer.writerows(rows)
    check(read(buffer.getvalue().encode(), ".csv"))


@SETTINGS
@given(video_paths)
def test_a_loaded_video_path_never_leaves_the_source_folder(video):
    row = {"id": "q", "video": video, "question": "?", "options": ["l", "r"], "answer": "A", "category": "static"}
    result = read((json.dumps(row) + "\n").encode(), ".jsonl")
    check(result, lines=1)
    annotations, errors = result
    if annotations:
        assert annotations[0].video == os.path.normpath(video.strip())  # one spelling per file
    else:
        assert errors[0].row == 1
