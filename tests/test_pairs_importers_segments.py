"""dybench import segments: each label layout users hold (Breakfast's coarse files and camera folders, MS-TCN
ground truth, 50Salads' activity levels, seconds) -> event-order questions that build."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner
from videos import make_frames, write_clip

from dybench import cli
from dybench.cli import app
from dybench.errors import UserError
from dybench.pairs import build_pairs
from dybench.pairs.importers import LEVELS, SEGMENT_FORMATS, import_segments
from dybench.pairs.importers._segment_files import parse_segments, read_frame_times, read_mapping
from dybench.pairs.importers._segments import Span, sample_pairs
from dybench.records import letter_index
from dybench.video import read_frames


def rows_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "annotations.jsonl").read_text().splitlines()]


def gold(row: dict) -> str:
    return row["options"][letter_index(row["answer"])]


def built_frames(pairs: Path, source_id: str) -> dict[str, np.ndarray]:
    rows = [json.loads(line) for line in (pairs / "pairs.jsonl").read_text().splitlines()]
    return {r["branch"]: read_frames(pairs / r["video"]) for r in rows if r["source_id"] == source_id}


# --- Breakfast ----------------------------------------------------------------------------------------


def test_breakfast_coarse_segments_become_swap_questions_that_build(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    write_clip(videos / "P03_cam01_P03_cereals.mp4", make_frames(60), fps=15)
    seg = tmp_path / "P03_cam01_P03_cereals.txt"
    seg.write_text("1-15 SIL  \n16-35 take_bowl \n36-55 pour_cereals\n56-60 SIL\n")  # trailing spaces, as shipped
    report = import_segments([seg], videos, tmp_path / "ann", fmt="breakfast", per_video=3)
    assert report.written == 1  # two real actions make one pair; SIL is background
    (row,) = rows_of(tmp_path / "ann")
    assert row["id"] == "seg-P03_cam01_P03_cereals-1-2"
    assert row["events"] == ["take bowl", "pour cereals"] and gold(row) == "take bowl"
    assert row["segments"] == [[1.0, 2.333], [2.333, 3.667]]  # frames 16-35 and 36-55 at 15 fps
    assert row["transforms"] == ["swap"] and row["category"] == "event_sequence"

    report = build_pairs(tmp_path / "ann", tmp_path / "pairs", lossless=True)
    assert report.ok, report.errors
    rows = [json.loads(line) for line in (tmp_path / "pairs" / "pairs.jsonl").read_text().splitlines()]
    assert {r["branch"]: gold(r) for r in rows} == {"original": "take bowl", "counterfactual": "pour cereals"}
    source, video = read_frames(videos / "P03_cam01_P03_cereals.mp4"), built_frames(tmp_path / "pairs", row["id"])
    np.testing.assert_array_equal(video["original"], source[15:55])
    np.testing.assert_array_equal(video["counterfactual"], np.concatenate([source[35:55], source[15:35]]))


def test_breakfast_cameras_each_keep_their_own_video_and_ids(tmp_path: Path) -> None:
    """Breakfast's tarball: the same file name in every camera folder, each .avi.labels beside its video."""
    root = tmp_path / "BreakfastII_15fps_qvga_sync"
    labels = {"cam01": "1-15 SIL\n16-35 take_bowl\n36-55 pour_cereals\n56-60 SIL\n",
              "webcam01": "1-10 SIL\n11-40 take_bowl\n41-60 pour_cereals\n"}  # fmt: skip
    for seed, (camera, text) in enumerate(labels.items()):
        folder = root / "P03" / camera
        folder.mkdir(parents=True)
        write_clip(folder / "P03_cereals.avi", make_frames(60, seed=seed), fps=15)
        (folder / "P03_cereals.avi.labels").write_text(text)
    report = import_segments([root], None, tmp_path / "ann", fmt="breakfast")
    assert report.written == 2 and not report.skipped
    rows = {r["id"]: r for r in rows_of(tmp_path / "ann")}
    webcam = rows["seg-P03_webcam01_P03_cereals-1-2"]
    assert sorted(rows) == ["seg-P03_cam01_P03_cereals-1-2", "seg-P03_webcam01_P03_cereals-1-2"]
    assert webcam["segments"] == [[0.667, 2.667], [2.667, 4.0]]  # webcam01's own labels
    assert (tmp_path / "ann" / webcam["video"]).resolve() == (root / "P03" / "webcam01" / "P03_cereals.avi").resolve()

    built = build_pairs(tmp_path / "ann", tmp_path / "pairs", lossless=True)
    assert built.ok, built.errors
    source = read_frames(root / "P03" / "webcam01" / "P03_cereals.avi")
    np.testing.assert_array_equal(built_frames(tmp_path / "pairs", webcam["id"])["original"], source[10:60])

    # a coarse file or an MS-TCN name finds its camera in the same layout (stereo01: the stereo folder's ch0)
    (root / "P03" / "stereo").mkdir()
    write_clip(root / "P03" / "stereo" / "P03_cereals_ch0.avi", make_frames(60, seed=5), fps=15)
    coarse = tmp_path / "coarse"
    coarse.mkdir()
    for camera in ("webcam01", "stereo01"):
        (coarse / f"P03_{camera}_P03_cereals.txt").write_text(labels["cam01"])
    import_segments([coarse], root, tmp_path / "ann2", fmt="breakfast")
    linked = {r["id"]: (tmp_path / "ann2" / r["video"]).resolve() for r in rows_of(tmp_path / "ann2")}
    assert linked == {
        "seg-P03_webcam01_P03_cereals-1-2": (root / "P03" / "webcam01" / "P03_cereals.avi").resolve(),
        "seg-P03_stereo01_P03_cereals-1-2": (root / "P03" / "stereo" / "P03_cereals_ch0.avi").resolve(),
    }


# --- MS-TCN / ASFormer / DiffAct ground truth ------------------------------------------------------------


def write_ground_truth(folder: Path, name: str, runs: list[tuple[str, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.txt"
    path.write_text("".join(f"{label}\n" * count for label, count in runs))  # one label per frame, as shipped
    return path


def test_mstcn_ground_truth_becomes_questions_that_build(tmp_path: Path) -> None:
    data, videos = tmp_path / "data" / "breakfast", tmp_path / "videos"
    videos.mkdir()
    write_clip(videos / "P03_cam01_P03_cereals.mp4", make_frames(60), fps=10)
    write_ground_truth(data / "groundTruth", "P03_cam01_P03_cereals",
                       [("SIL", 10), ("take_bowl", 20), ("pour_cereals", 20), ("SIL", 10)])  # fmt: skip
    (data / "mapping.txt").write_text("0 SIL\n1 pour_cereals\n2 take_bowl\n")
    report = import_segments([data / "groundTruth"], videos, tmp_path / "ann", fmt="mstcn",
                             mapping=data / "mapping.txt")  # fmt: skip
    assert report.written == 1, report.as_json()
    (row,) = rows_of(tmp_path / "ann")
    assert row["id"] == "seg-P03_cam01_P03_cereals-1-2"
    assert row["segments"] == [[1.0, 3.0], [3.0, 5.0]] and gold(row) == "take bowl"
    assert row["source"]["labels"] == ["take_bowl", "pour_cereals"]
    built = build_pairs(tmp_path / "ann", tmp_path / "pairs", lossless=True)
    assert built.ok, built.errors
    source = read_frames(videos / "P03_cam01_P03_cereals.mp4")
    np.testing.assert_array_equal(built_frames(tmp_path / "pairs", row["id"])["counterfactual"],
                                  np.concatenate([source[30:50], source[10:30]]))  # fmt: skip


def test_mstcn_labels_are_checked_against_mapping_and_video_length(tmp_path: Path) -> None:
    videos, truth = tmp_path / "videos", tmp_path / "groundTruth"
    videos.mkdir()
    for name in ("a", "b"):
        write_clip(videos / f"{name}.mp4", make_frames(60), fps=10)
    write_ground_truth(truth, "a", [("background", 10), ("take", 20), ("stir_milk", 30)])
    write_ground_truth(truth, "b", [("background", 20), ("take", 40), ("pour", 40), ("background", 20)])  # 12 s
    (tmp_path / "mapping.txt").write_text("0 take\n1 pour\n2 background\n")
    report = import_segments([truth], videos, tmp_path / "ann", fmt="mstcn", mapping=tmp_path / "mapping.txt")
    assert report.written == 0
    assert set(report.skipped) == {"segments file unreadable", "labels run past the end of the video"}
    assert "line 31: label 'stir_milk' is not in the mapping file" in report.examples["segments file unreadable"][0]
    assert "to 12.0 s, but b.mp4 is 6.0 s long" in report.examples["labels run past the end of the video"][0]

    # labels at 20 fps on a 10 fps video: --fps says so
    report = import_segments([truth / "b.txt"], videos, tmp_path / "ann", fmt="mstcn", fps=20)
    (row,) = rows_of(tmp_path / "ann")
    assert row["segments"] == [[1.0, 3.0], [3.0, 5.0]]


# --- 50Salads ------------------------------------------------------------------------------------------

#: The clock of each of the video's 100 frames (10 fps), as timestamps-<name>.txt lists it.
TIMES = [53_000_000 + 100_000 * i for i in range(100)]
#: An activity file as 50Salads ships it (frames here, timestamps in the file): high-level activities first,
#: then steps' phases out of order, sharing their bounds; a step done twice (cut_tomato), one without a post.
SALADS = [("cut_and_mix_ingredients", 5, 60), ("prepare_dressing", 60, 90), ("cut_tomato_post", 20, 22),
          ("place_tomato_into_bowl_prep", 22, 25), ("cut_tomato_prep", 30, 33), ("add_oil_prep", 60, 65),
          ("add_oil_core", 65, 80), ("add_oil_post", 80, 90), ("cut_tomato_prep", 5, 10), ("cut_tomato_core", 10, 20),
          ("place_tomato_into_bowl_core", 25, 30), ("cut_tomato_core", 33, 40), ("mix_ingredients_prep", 40, 45),
          ("mix_ingredients_core", 45, 60)]  # fmt: skip


@pytest.fixture
def salads(tmp_path: Path) -> tuple[Path, Path, Path]:
    (tmp_path / "rgb").mkdir()
    write_clip(tmp_path / "rgb" / "rgb-01-1.avi", make_frames(100), fps=10)
    (tmp_path / "timestamps").mkdir()
    (tmp_path / "timestamps" / "timestamps-01-1.txt").write_text("".join(f"{t} depth_{t}.pgm\n" for t in TIMES))
    activities = tmp_path / "ann-ts" / "activityAnnotations" / "01-1-activityAnnotation.txt"
    activities.parent.mkdir(parents=True)
    activities.write_text("".join(f"{TIMES[a]} {TIMES[b]} {label}\n" for label, a, b in SALADS))
    return activities, tmp_path / "rgb", tmp_path / "timestamps"


def test_50salads_pairs_actions_of_one_level_only(salads: tuple[Path, Path, Path], tmp_path: Path) -> None:
    activities, videos, times = salads
    events = {}
    for level in LEVELS:
        import_segments([activities], videos, tmp_path / level, fmt="50salads", frame_times=times, level=level,
                        per_video=100, min_seconds=0.5)  # fmt: skip
        rows = rows_of(tmp_path / level)
        assert len({r["id"] for r in rows}) == len(rows) and all(f"-{level}-" in r["id"] for r in rows)
        for r in rows:
            (a0, a1), (b0, b1) = r["segments"]
            assert a1 <= b0, r  # never a segment with one inside it, never two starting together
            assert gold(r) == r["events"][0]
        events[level] = [tuple(r["events"]) for r in rows]
    tomato, bowl, mix, oil = "cut tomato", "place tomato into bowl", "mix ingredients", "add oil"
    assert sorted(events["mid"]) == sorted([(tomato, bowl), (tomato, mix), (tomato, oil), (bowl, tomato), (bowl, mix),
                                            (bowl, oil), (tomato, mix), (tomato, oil), (mix, oil)])  # fmt: skip
    assert events["high"] == [("cut and mix ingredients", "prepare dressing")]
    assert ("cut tomato (prep)", "add oil (post)") in events["low"]
    assert all(a.split(" (")[0] != b.split(" (")[0] for a, b in events["low"])  # a step's phases: order given away
    (row, _) = [r for r in rows_of(tmp_path / "mid") if r["events"] == [tomato, oil]]
    assert row["segments"] == [[0.5, 2.2], [6.0, 9.0]] and row["source"]["level"] == "mid"


def test_50salads_frame_clock_and_levels_parse() -> None:
    lines = [f"{TIMES[a]} {TIMES[b]} {label}" for label, a, b in SALADS]
    mid = parse_segments(lines, "50salads", fps=10.0, frame_times=[float(t) for t in TIMES])
    assert [(s.label, s.start_s, s.end_s) for s in mid][:3] == [
        ("cut_tomato", 0.5, 2.2), ("place_tomato_into_bowl", 2.2, 3.0), ("cut_tomato", 3.0, 4.0),
    ]  # fmt: skip
    low = parse_segments(lines, "50salads", fps=10.0, frame_times=[float(t) for t in TIMES], level="low")
    assert {s.action for s in low if s.label.startswith("cut_tomato")} == {"cut_tomato"} and len(low) == 12


# --- ids, sampling, skips -------------------------------------------------------------------------------


def test_ids_are_unique_and_stable_when_segments_start_together(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    write_clip(videos / "x.mp4", make_frames(50), fps=10)
    (tmp_path / "x.txt").write_text("0 2 stir\n0 1 pour\n2 3 mix\n2 4 whisk\n4 5 serve\n")
    for out in ("a", "b"):
        import_segments([tmp_path / "x.txt"], videos, tmp_path / out, fmt="seconds", per_video=100)
    assert (tmp_path / "a" / "annotations.jsonl").read_text() == (tmp_path / "b" / "annotations.jsonl").read_text()
    rows = rows_of(tmp_path / "a")
    pairs = {tuple(r["events"]) for r in rows}
    assert pairs == {("stir", "mix"), ("stir", "whisk"), ("stir", "serve"), ("pour", "mix"), ("pour", "whisk"),
                     ("pour", "serve"), ("mix", "serve"), ("whisk", "serve")}  # fmt: skip
    assert len({r["id"] for r in rows}) == len(rows) == 8
    built = build_pairs(tmp_path / "a", tmp_path / "pairs")
    assert built.ok, built.errors  # no row refused: no duplicate id, no overlap


def brute_force(spans: list[Span]) -> set[tuple[Span, Span]]:
    return {(a, b) for a in spans for b in spans if b.start >= a.stop and a.action != b.action}


def random_spans(n: int, actions: int, seed: int) -> list[Span]:
    rng = random.Random(seed)
    raw = sorted((s := rng.randrange(200), s + rng.randrange(2, 40), f"act{rng.randrange(actions)}") for _ in range(n))
    return [Span(i, start, stop, action, action) for i, (start, stop, action) in enumerate(raw)]


def test_sampled_pairs_are_exactly_the_valid_ones_and_uniform() -> None:
    for seed in range(5):
        spans = random_spans(40, 4, seed)
        valid = brute_force(spans)
        drawn = sample_pairs(spans, 10**6, random.Random(seed))
        assert len(drawn) == len(set(drawn)) == len(valid) and set(drawn) == valid
        assert set(sample_pairs(spans, 3, random.Random(seed))) <= valid
    spans = random_spans(8, 2, 1)
    valid = brute_force(spans)
    counts = Counter(pair for s in range(3000) for pair in sample_pairs(spans, 1, random.Random(s)))
    expected = 3000 / len(valid)
    assert set(counts) == valid and all(0.7 * expected < c < 1.3 * expected for c in counts.values())


def test_sampling_does_not_list_the_pairs() -> None:
    """7,000 segments once cost 1.8 GB of candidate pairs; drawing two now costs the spans alone."""
    spans = [Span(i, 10 * i, 10 * i + 5, f"act{i % 7}", f"act{i % 7}") for i in range(20_000)]  # ~1.7e8 valid pairs
    tracemalloc.start()
    drawn = sample_pairs(spans, 2, random.Random(0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(drawn) == 2 and all(a.stop <= b.start and a.action != b.action for a, b in drawn)
    assert peak < 8 * 2**20, peak


def test_segments_skip_unusable_files_with_reasons_and_exit_non_zero(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a", "b", "long"):
        write_clip(videos / f"{name}.mp4", make_frames(20), fps=10)
    (tmp_path / "sub").mkdir()
    texts = {"a.txt": "0 1.5 stir\n1.5 oops mix\n", "b.txt": "0 0.5 stir\n0.5 2 stir\n", "c.txt": "0 1 stir\n1 2 mix\n",
             "sub/a.txt": "0 1 stir\n1 2 mix\n", "long.txt": f"0 1 {'x' * 300}\n1 2 mix\n"}  # fmt: skip
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    files = [str(tmp_path / name) for name in texts]
    result = CliRunner().invoke(app, ["import", "segments", *files, "--videos", str(videos), "--out",
                                      str(tmp_path / "ann"), "--format", "seconds"])  # fmt: skip
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "ann" / "import_report.json").read_text())
    assert report["written"] == 0
    assert report["skipped"] == {
        "segments file unreadable": 1, "no two different actions of 1 s or more, one after the other": 1,
        "video missing": 1, "another label file has the same name": 1, "an option longer than 200 characters": 1,
    }  # fmt: skip
    assert "line 2" in report["examples"]["segments file unreadable"][0]
    assert "video missing" in result.output and "nothing written" in result.output

    ok = CliRunner().invoke(app, ["import", "segments", str(tmp_path / "sub"), "--videos", str(videos), "--out",
                                  str(tmp_path / "ok"), "--format", "seconds"])  # fmt: skip
    assert ok.exit_code == 0, ok.output  # sub/a.txt finds a.mp4


def test_segment_formats_parse_and_refuse_malformed_lines() -> None:
    runs = parse_segments(["SIL", "a", "a", "b", "", ""], "mstcn", fps=2.0)
    assert [(s.label, s.start_s, s.end_s) for s in runs] == [("SIL", 0.0, 0.5), ("a", 0.5, 1.5), ("b", 1.5, 2.0)]
    bad = [(["a", "", "b"], "mstcn", "line 2 is empty"), (["0-5 SIL"], "breakfast", "frame numbers start at 1"),
           (["0 nan x"], "seconds", "not a time range"), (["5 2 x"], "seconds", "not a time range"),
           (["1 2"], "seconds", "line 1 '1 2' is not a seconds segment")]  # fmt: skip
    for lines, fmt, message in bad:
        with pytest.raises(ValueError, match=message):
            parse_segments(lines, fmt, fps=10.0)  # type: ignore[arg-type]


def test_mapping_and_timestamps_files_are_checked(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.txt"
    mapping.write_text("0 SIL\n1 take_bowl\n")
    assert read_mapping(mapping) == {"0": "SIL", "SIL": "SIL", "1": "take_bowl", "take_bowl": "take_bowl"}
    bad = {"0 SIL\nx take\n": "line 2 'x take' is not '<index> <label>'", "": "is empty",
           "0 SIL\n0 take\n": "line 2 gives 0 or 'take' a second meaning"}  # fmt: skip
    for text, problem in bad.items():
        mapping.write_text(text)
        with pytest.raises(UserError, match=problem):
            read_mapping(mapping)
    times = tmp_path / "timestamps-01-1.txt"
    times.write_text("100 a.pgm\n50 b.pgm\n")
    with pytest.raises(UserError, match="not increasing"):
        read_frame_times(times)


def test_cli_choices_are_the_importers_own() -> None:
    assert tuple(c.value for c in cli.SegmentFormatChoice) == SEGMENT_FORMATS
    assert tuple(c.value for c in cli.LevelChoice) == LEVELS
