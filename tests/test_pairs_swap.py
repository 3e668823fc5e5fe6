"""The ``swap`` transform: two segments played A-then-B (original) and B-then-A (counterfactual),
as a render and through ``dybench build``."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from videos import make_frames, write_clip

from dybench.fileio import sha256_file
from dybench.pairs import FrameRange, build_pairs, load_items, read_manifest, render_swap, swap_video_path
from dybench.video import EncoderSettings, VideoError, probe, read_frames

LOSSLESS = EncoderSettings(lossless=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """a.mp4 and b.mp4 (20 frames of 32x24 at 10 fps), c.mp4 (another size), d.mp4 (another rate)."""
    root = tmp_path_factory.mktemp("clips")
    write_clip(root / "a.mp4", make_frames(20, 24, 32, seed=1))
    write_clip(root / "b.mp4", make_frames(20, 24, 32, seed=2))
    write_clip(root / "c.mp4", make_frames(20, 32, 48, seed=3))
    write_clip(root / "d.mp4", make_frames(20, 24, 32, seed=4), fps=15)
    return root


def test_lossless_swap_is_the_concatenated_source_frames_in_both_orders(clips, tmp_path):
    first, second = FrameRange.of_seconds(clips / "a.mp4", 10, 0.3, 0.9), FrameRange(clips / "a.mp4", 12, 19)
    assert (first.start, first.stop) == (3, 9)
    outputs = {"original": tmp_path / "o" / "ab.mp4", "counterfactual": tmp_path / "c" / "ba.mp4"}
    infos = render_swap(first, second, outputs, LOSSLESS)
    source = read_frames(clips / "a.mp4")
    a, b = source[3:9], source[12:19]
    np.testing.assert_array_equal(read_frames(outputs["original"]), np.concatenate([a, b]))
    np.testing.assert_array_equal(read_frames(outputs["counterfactual"]), np.concatenate([b, a]))
    src = probe(clips / "a.mp4")
    for info in infos.values():
        assert (info.fps, info.width, info.height, info.frame_count) == (src.fps, 32, 24, 13)
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


def test_segments_of_two_files_and_one_output_alone(clips, tmp_path):
    first, second = FrameRange(clips / "a.mp4", 0, 5), FrameRange(clips / "b.mp4", 15, 20)
    infos = render_swap(first, second, {"counterfactual": tmp_path / "ba.mp4"}, LOSSLESS)
    assert list(infos) == ["counterfactual"] and [p.name for p in tmp_path.iterdir()] == ["ba.mp4"]
    expected = np.concatenate([read_frames(clips / "b.mp4")[15:20], read_frames(clips / "a.mp4")[0:5]])
    np.testing.assert_array_equal(read_frames(tmp_path / "ba.mp4"), expected)


def test_default_render_is_close_and_yuv420p(clips, tmp_path):
    out = tmp_path / "ab.mp4"
    info = render_swap(FrameRange(clips / "a.mp4", 10, 20), FrameRange(clips / "a.mp4", 0, 10), {"original": out})
    source = read_frames(clips / "a.mp4").astype(int)
    error = np.abs(read_frames(out).astype(int) - np.concatenate([source[10:], source[:10]])).mean()
    assert info["original"].pix_fmt == "yuv420p" and error < 6, error


@pytest.mark.parametrize(
    "first,second,needle",
    [
        (("a.mp4", 0, 10), ("a.mp4", 8, 14), "overlap; give two separate time ranges"),
        (("a.mp4", 0, 10), ("a.mp4", 15, 25), "segment B, frames 15-24 (1.5-2.5 s), lies outside the video"),
        (("a.mp4", 4, 5), ("a.mp4", 10, 14), "segment A, frames 4-4 (0.4-0.5 s), holds 1 frame(s)"),
        (("a.mp4", 0, 5), ("c.mp4", 0, 5), "48x32 at 10 fps, but"),
        (("a.mp4", 0, 5), ("d.mp4", 0, 5), "32x24 at 15 fps, but"),
    ],
)
def test_unusable_segments_raise_and_write_nothing(clips, tmp_path, first, second, needle):
    (tmp_path / "ab.mp4").write_bytes(b"an earlier render")
    outputs = {"original": tmp_path / "ab.mp4", "counterfactual": tmp_path / "ba.mp4"}
    with pytest.raises(VideoError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        render_swap(FrameRange(clips / first[0], *first[1:]), FrameRange(clips / second[0], *second[1:]), outputs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ab.mp4"]
    assert (tmp_path / "ab.mp4").read_bytes() == b"an earlier render"


def test_swap_names_are_one_folder_per_id_inside_videos_swap():
    ids = ["q1", "a/b", "a%2Fb", "..", ".", ".hidden", "%2Ehidden", "x" * 300, "x" * 299 + "y", "é/ü", "a b"]
    paths = [swap_video_path(i, "original") for i in ids]
    assert len(set(paths)) == len(ids)
    for path in paths:
        parts = PurePosixPath(path).parts
        assert parts[:2] == ("videos", "swap") and parts[3] == "original.mp4" and len(parts) == 4, path
        assert not parts[2].startswith(".") and len(parts[2].encode()) <= 200
    assert swap_video_path("a/b", "counterfactual") == "videos/swap/a%2Fb/counterfactual.mp4"


# --- through dybench build -------------------------------------------------------------------------


def swap_record(id: str, segments: list, **kw) -> dict:
    events = ["the square appears", "the square fades"]
    return {"id": id, "video": "a.mp4", "question": "Which happens first: the square appears or the square fades?",
            "options": events, "answer": "A", "category": "event_sequence", "segments": segments,
            "events": events, **kw}  # fmt: skip


def write_annotations(src: Path, rows: list[dict]) -> None:
    (src / "annotations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def src(clips, tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("a.mp4", "b.mp4", "c.mp4", "d.mp4"):
        (src / name).hardlink_to(clips / name)
    write_annotations(src, [
        swap_record("one-file", [[0.0, 0.6], [1.0, 1.5]]),
        swap_record("two/files", [[0.2, 0.8], {"video": "b.mp4", "start_s": 1.0, "end_s": 2.0}]),
        swap_record("overlap", [[0.0, 1.0], [0.8, 1.5]]),
        swap_record("outside", [[0.0, 1.0], [1.5, 2.5]]),
        swap_record("short", [[0.0, 0.1], [1.0, 1.5]]),
        swap_record("size", [[0.0, 1.0], {"video": "c.mp4", "start_s": 0, "end_s": 1}]),
        swap_record("rate", [[0.0, 1.0], {"video": "d.mp4", "start_s": 0, "end_s": 1}]),
    ])  # fmt: skip
    return src


@pytest.fixture(scope="module")
def built(src, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    return out, build_pairs(src, out, lossless=True)


def test_swap_pairs_are_built_and_bad_segments_are_item_errors(built, src):
    out, report = built
    errors = {e.id: e for e in report.errors}
    assert sorted(errors) == ["outside", "overlap", "rate", "short", "size"]
    assert "overlap" in errors["overlap"].message and "lies outside" in errors["outside"].message
    assert "holds 1 frame(s)" in errors["short"].message and "same size and frame rate" in errors["size"].message
    assert "15 fps" in errors["rate"].message
    for error in errors.values():
        assert error.file == str(src / "annotations.jsonl") and error.row is not None
    items = {i.item_id: i for i in load_items(out)}
    assert sorted(items) == [
        "one-file:swap:counterfactual", "one-file:swap:original", "two/files:swap:counterfactual",
        "two/files:swap:original",
    ]  # fmt: skip
    original, cf = items["one-file:swap:original"], items["one-file:swap:counterfactual"]
    assert (original.video, cf.video) == (
        "videos/swap/one-file/original.mp4",
        "videos/swap/one-file/counterfactual.mp4",
    )
    assert (original.answer, cf.answer, cf.relation, cf.transform) == ("A", "B", "change", "swap")
    assert items["two/files:swap:original"].video == "videos/swap/two%2Ffiles/original.mp4"
    assert report.counts() == {"event_sequence/swap": 2}
    # the original of a swap pair is its A-then-B render: the source itself is not part of the dataset
    assert not (out / "videos" / "original").exists()


def test_swap_renders_are_exact_hashed_and_record_their_sources(built, src):
    out, _ = built
    a, b = read_frames(src / "a.mp4"), read_frames(src / "b.mp4")
    np.testing.assert_array_equal(
        read_frames(out / "videos/swap/one-file/original.mp4"), np.concatenate([a[0:6], a[10:15]])
    )
    np.testing.assert_array_equal(
        read_frames(out / "videos/swap/two%2Ffiles/counterfactual.mp4"), np.concatenate([b[10:20], a[2:8]])
    )
    manifest = read_manifest(out)
    for rel, digest in manifest["files"].items():
        assert sha256_file(out / rel) == digest, rel
    assert len([f for f in manifest["files"] if f.startswith("videos/swap/")]) == 4
    assert sorted(manifest["videos"]) == ["a.mp4", "b.mp4"]
    assert manifest["counts"]["pairs_by_category_transform"] == {"event_sequence/swap": 2}


def test_swap_renders_resume_and_follow_their_segments(src, tmp_path):
    out = tmp_path / "out"
    rows = [swap_record("q", [[0.0, 0.6], [1.0, 1.5]]), swap_record("r", [[0.0, 0.6], [1.0, 1.5]])]
    own = tmp_path / "src"
    own.mkdir()
    (own / "a.mp4").hardlink_to(src / "a.mp4")
    write_annotations(own, rows)
    first = build_pairs(own, out, lossless=True)
    assert (first.rendered, first.reused) == (4, 0) and first.ok
    again = build_pairs(own, out, lossless=True, workers=2)
    assert (again.rendered, again.reused) == (0, 4)
    (out / "videos/swap/q/counterfactual.mp4").write_bytes(b"tampered")
    rows[1] = swap_record("r", [[0.0, 0.5], [1.0, 1.5]])  # r's segment A changed: both its renders are redone
    write_annotations(own, rows)
    third = build_pairs(own, out, lossless=True, workers=2)
    assert (third.rendered, third.reused) == (3, 1)
    assert probe(out / "videos/swap/r/original.mp4").frame_count == 10
    manifest = read_manifest(out)
    assert (
        sha256_file(out / "videos/swap/q/counterfactual.mp4") == manifest["files"]["videos/swap/q/counterfactual.mp4"]
    )


def test_hostile_ids_stay_inside_videos_swap(src, tmp_path):
    own = tmp_path / "src"
    own.mkdir()
    (own / "a.mp4").hardlink_to(src / "a.mp4")
    write_annotations(own, [swap_record("../../escape", [[0.0, 0.5], [1.0, 1.5]]),
                            swap_record(".dybench", [[0.0, 0.5], [1.0, 1.5]])])  # fmt: skip
    report = build_pairs(own, tmp_path / "out")
    assert report.ok, report.errors
    assert sorted(p.name for p in (tmp_path / "out/videos/swap").iterdir()) == ["%2E.%2F..%2Fescape", "%2Edybench"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_review_shows_a_swap_pair_around_its_cut(built, tmp_path):
    """The frames around the cut (A: 6 frames, B: 5), the cut marked red, both branches playable."""
    import re

    from PIL import Image

    from dybench.pairs import write_review
    from dybench.pairs._review import strip_indices, swap_cut

    out, _ = built
    items = {i.item_id: i for i in load_items(out)}
    original, cf = items["one-file:swap:original"], items["one-file:swap:counterfactual"]
    assert (swap_cut(out, original), swap_cut(out, cf)) == (6, 5)
    assert strip_indices(11, 4, 6) == [0, 5, 6, 10] and strip_indices(11, 4) == [0, 3, 7, 10]
    page = write_review(out, tmp_path / "review", frames=4)
    text = page.read_text()
    assert "red line: the swap cut, before frame 6" in text and "before frame 5" in text
    section = text.split('data-pair="one-file:swap"')[1].split("</section>")[0]
    thumb, gif = re.findall(r'src="(frames/[0-9a-f]+\.(?:jpg|gif))"', section)[:2]
    with Image.open(page.parent / thumb) as strip:
        tile = (strip.width - 3 * 4) // 4
        cut_gap = strip.getpixel((2 * tile + 4 + 1, strip.height // 2))  # between the 2nd and 3rd tile
        plain_gap = strip.getpixel((tile + 1, strip.height // 2))
        assert cut_gap[0] > 180 and cut_gap[1] < 60 and plain_gap == (255, 255, 255)
    with Image.open(page.parent / gif) as preview:
        assert preview.n_frames == 11, "every frame of the original plays"
    videos = re.findall(r'<a href="([^"]+)">the video</a>', section)
    assert [(page.parent / v).resolve() for v in videos] == [
        (out / original.video).resolve(),
        (out / cf.video).resolve(),
    ]
