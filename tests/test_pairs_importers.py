"""dybench import ssv2: SSv2's label files -> annotations that build (segments and tracks: the files beside this)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner
from videos import make_frames

from dybench.cli import app
from dybench.pairs import build_pairs, resolve_counterfactual
from dybench.pairs.importers import import_ssv2, load_templates
from dybench.records import letter_index


def write_webm(path: Path, n: int = 8) -> Path:
    """A small VP9 clip, as SSv2 ships them."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for index, image in enumerate(make_frames(n)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


# --- SSv2 -------------------------------------------------------------------------------------------


SSV2_RECORDS = [
    {"id": "101", "label": "pushing cup from left to right", "template": "Pushing [something] from left to right",
     "placeholders": ["cup"]},
    {"id": "102", "label": "opening a drawer", "template": "Opening [something]", "placeholders": ["a drawer"]},
    {"id": "103", "label": "putting pen into mug", "template": "Putting [something] into [something]",
     "placeholders": ["pen", "mug"]},
    {"id": "104", "label": "moving book up", "template": "Moving [something] up", "placeholders": ["book"]},
    {"id": "105", "label": "tearing paper", "template": "Tearing [something] into two pieces",
     "placeholders": ["paper"]},
    {"id": "106", "label": "closing box", "template": "Closing [something]", "placeholders": ["box"]},  # no video
    {"id": "107"},  # the test split: ids only
    {"id": "108", "template": "Putting [something] into [something]", "placeholders": ["pen"]},  # one name short
    {"id": "../evil", "template": "Opening [something]", "placeholders": ["door"]},
]  # fmt: skip


@pytest.fixture
def ssv2(tmp_path: Path) -> tuple[Path, Path]:
    videos = tmp_path / "ssv2" / "videos"
    videos.mkdir(parents=True)
    for clip_id in ("101", "102", "103", "104", "105", "107", "108"):
        write_webm(videos / f"{clip_id}.webm")
    labels = tmp_path / "ssv2" / "something-something-v2-train.json"
    labels.write_text(json.dumps(SSV2_RECORDS))
    return labels, videos


def test_ssv2_writes_questions_and_counts_every_skip(ssv2: tuple[Path, Path], tmp_path: Path) -> None:
    labels, videos = ssv2
    before = snapshot(labels.parent)
    report = import_ssv2(labels, videos, tmp_path / "ann")
    assert snapshot(labels.parent) == before  # nothing written beside the source
    rows = [json.loads(line) for line in (tmp_path / "ann" / "annotations.jsonl").read_text().splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert sorted(by_id) == ["ssv2-101", "ssv2-102", "ssv2-103", "ssv2-104"]
    assert report.skipped == {
        "template not in the table": 1, "video missing": 1, "no template (an unlabelled split)": 1,
        "needs 2 placeholder(s)": 1, "not a record with a plain id": 1,
    }  # fmt: skip
    push = by_id["ssv2-101"]
    assert push["question"] == "In which direction is the cup pushed?"
    assert push["options"][letter_index(push["answer"])] == "from left to right"
    assert sorted(push["options"]) == sorted(["from left to right", "from right to left", "towards the camera",
                                              "away from the camera"])  # fmt: skip
    assert push["transforms"] == ["hflip", "reverse"] and push["category"] == "moving_direction"
    into = by_id["ssv2-103"]
    assert into["options"][letter_index(into["answer"])] == "it is put into the mug" and len(into["options"]) == 3
    assert by_id["ssv2-104"]["transforms"] == ["reverse"]  # a mirror does not change up/down
    assert (tmp_path / "ann" / "videos" / "101.webm").resolve() == (videos / "101.webm").resolve()
    saved = json.loads((tmp_path / "ann" / "import_report.json").read_text())
    assert saved["written"] == 4 and saved["by_category"] == {"moving_direction": 2, "reversible_dynamics": 2}


def test_ssv2_option_order_is_seeded_and_stable(ssv2: tuple[Path, Path], tmp_path: Path) -> None:
    labels, videos = ssv2
    import_ssv2(labels, videos, tmp_path / "a", seed=0)
    import_ssv2(labels, videos, tmp_path / "b", seed=0)
    import_ssv2(labels, videos, tmp_path / "c", seed=5)
    text = {k: (tmp_path / k / "annotations.jsonl").read_text() for k in "abc"}
    assert text["a"] == text["b"]
    assert text["a"] != text["c"]


def test_every_template_answer_resolves_to_its_opposite_through_the_lexicon() -> None:
    """The table's wording is chosen so `dybench build` can remap each answer; check every template."""
    from dybench.records import Annotation, letter

    rules = load_templates()
    names = ["cup", "box"]
    for key, rule in rules.items():
        question, options, answer = rule.filled(names)
        opposite = [r for r in rules.values() if r.family == rule.family and r.answer != rule.answer]
        ann = Annotation(
            id=key, video="v.mp4", question=question, options=tuple(options), answer=letter(options.index(answer)),
            category=rule.category, transforms=rule.transforms,  # type: ignore[arg-type]
        )  # fmt: skip
        for transform in rule.transforms:
            cf = options[letter_index(resolve_counterfactual(ann, transform))]
            expected = {r.filled(names)[2] for r in opposite if transform in r.transforms}
            assert cf in expected, (key, transform, cf)


def test_ssv2_output_builds_into_pairs_with_the_right_answers(ssv2: tuple[Path, Path], tmp_path: Path) -> None:
    labels, videos = ssv2
    import_ssv2(labels, videos, tmp_path / "ann")
    report = build_pairs(tmp_path / "ann", tmp_path / "pairs")
    assert report.ok, report.errors
    rows = [json.loads(line) for line in (tmp_path / "pairs" / "pairs.jsonl").read_text().splitlines()]
    answer = {(r["source_id"], r["transform"], r["branch"]): r["options"][letter_index(r["answer"])] for r in rows}
    assert answer[("ssv2-101", "hflip", "counterfactual")] == "from right to left"
    assert answer[("ssv2-101", "reverse", "counterfactual")] == "from right to left"
    assert answer[("ssv2-102", "reverse", "counterfactual")] == "it is closed"
    assert answer[("ssv2-103", "reverse", "counterfactual")] == "it is taken out of the mug"
    assert answer[("ssv2-104", "reverse", "counterfactual")] == "down"


def test_ssv2_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["import", "ssv2", "--labels", str(tmp_path / "nope.json"), "--videos",
                                  str(tmp_path), "--out", str(tmp_path / "o")])  # fmt: skip
    assert missing.exit_code == 1 and "nope.json: no such SSv2 label file" in missing.output
    (tmp_path / "deep.json").write_text("[" * 100_000)
    deep = runner.invoke(app, ["import", "ssv2", "--labels", str(tmp_path / "deep.json"), "--videos",
                               str(tmp_path), "--out", str(tmp_path / "o")])  # fmt: skip
    assert deep.exit_code == 1 and "deep.json" in deep.output and "Traceback" not in deep.output
    bad = tmp_path / "table.yaml"
    bad.write_text("families:\n  f:\n    category: moving_direction\n    question: q\n    options: [a, b]\n"
                   "    transforms: [hflip]\n    templates: {'T': c}\n")  # fmt: skip
    with pytest.raises(Exception, match="answers 'c', not one of its options"):
        load_templates(bad)


def test_ssv2_repeated_ids_and_overlong_placeholders_are_skipped_with_reasons(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for clip_id in ("101", "102"):
        write_webm(videos / f"{clip_id}.webm")
    records = [SSV2_RECORDS[0], {**SSV2_RECORDS[0], "placeholders": ["mug"]},  # the same id twice
               {"id": "102", "template": "Opening [something]", "placeholders": ["x" * 200_000]}]  # fmt: skip
    (tmp_path / "labels.json").write_text(json.dumps(records))
    report = import_ssv2(tmp_path / "labels.json", videos, tmp_path / "ann")
    assert report.written == 1
    assert report.skipped == {"id repeated in the label file": 1, "question longer than 500 characters": 1}
    assert build_pairs(tmp_path / "ann", tmp_path / "pairs").ok


def test_ssv2_import_writing_nothing_exits_non_zero_with_its_reasons(ssv2: tuple[Path, Path], tmp_path: Path) -> None:
    labels, videos = ssv2
    test_split = tmp_path / "something-something-v2-test.json"
    test_split.write_text(json.dumps([{"id": "101"}, {"id": "102"}]))  # the test split holds ids only
    runner = CliRunner()
    empty = runner.invoke(app, ["import", "ssv2", "--labels", str(test_split), "--videos", str(videos),
                                "--out", str(tmp_path / "empty")])  # fmt: skip
    assert empty.exit_code == 1
    assert "no template (an unlabelled split)" in empty.output and "nothing written" in empty.output
    ok = runner.invoke(app, ["import", "ssv2", "--labels", str(labels), "--videos", str(videos), "--out",
                             str(tmp_path / "ok")])  # fmt: skip
    assert ok.exit_code == 0 and "next: dybench build" in ok.output
