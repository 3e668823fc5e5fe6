"""Pairs whose counterfactual already exists (`cf_video`, transform `given`), packaged without rendering,
and the rejects file of `dybench review` honoured by `dybench build`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from annotation_rows import record, write_annotations
from typer.testing import CliRunner
from videos import make_frames, write_clip

from dybench.cli import app
from dybench.evaluation._docs import pair_docs
from dybench.fileio import sha256_file
from dybench.pairs import build_pairs, load_items, read_manifest


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A released paired benchmark, as DyBench ships it: both videos of every pair."""
    src = tmp_path / "src"
    (src / "cf").mkdir(parents=True)
    for k, name in enumerate(("a.mp4", "cf/a_reversed.mp4", "b.mp4", "cf/b_same.mp4")):
        write_clip(src / name, make_frames(6, 24, 32, seed=k))
    (src / "cf" / "broken.mp4").write_bytes(os.urandom(2048))
    write_annotations(src, [
        record("a", "a.mp4", cf_video="cf/a_reversed.mp4", cf_answer={"given": "left"}, relation="change"),
        record("b", "b.mp4", cf_video="cf/b_same.mp4", cf_answer={"given": "B"}, transforms=["given", "hflip"]),
        record("missing", "a.mp4", cf_video="cf/nowhere.mp4", cf_answer={"given": "A"}),
        record("broken", "b.mp4", cf_video="cf/broken.mp4", cf_answer={"given": "A"}),
        record("outside", "a.mp4", cf_video="../a.mp4", cf_answer={"given": "A"}),
    ])  # fmt: skip
    return src


def test_given_pairs_are_packaged_without_rendering(src, tmp_path):
    out = tmp_path / "out"
    report = build_pairs(src, out)
    items = {i.item_id: i for i in load_items(out)}
    cf = items["a:given:counterfactual"]
    assert (cf.transform, cf.relation, cf.answer, cf.video) == (
        "given",
        "change",
        "A",
        "videos/given/cf/a_reversed.mp4",
    )
    assert items["a:given:original"].video == "videos/original/a.mp4"
    assert items["b:given:counterfactual"].relation == "keep"
    assert "b:hflip:counterfactual" in items  # a given pair and a rendered one share the original
    assert report.rendered == 1 and report.counts() == {"moving_direction/given": 2, "moving_direction/hflip": 1}
    assert os.path.samefile(out / "videos/given/cf/a_reversed.mp4", src / "cf/a_reversed.mp4")  # a link, as originals
    # the same per-item errors as rendered pairs: a missing or broken file, a path outside the source folder
    errors = {e.id or Path(e.file).name: e.message for e in report.errors}
    assert sorted(errors) == ["broken.mp4", "nowhere.mp4", "outside"]
    assert "skipped questions: missing" in errors["nowhere.mp4"] and "skipped questions: broken" in errors["broken.mp4"]
    assert "must be a path inside the source folder" in errors["outside"]
    manifest = read_manifest(out)
    for rel, digest in manifest["files"].items():
        assert sha256_file(out / rel) == digest, rel
    assert set(manifest["files"]) >= {"videos/given/cf/a_reversed.mp4", "videos/given/cf/b_same.mp4"}
    assert sorted(manifest["videos"]) == ["a.mp4", "b.mp4", "cf/a_reversed.mp4", "cf/b_same.mp4"]
    # the lmms-eval tasks read them like any pair: both items adjacent, each video in place
    docs = pair_docs(folder=out)
    assert [d["item_id"] for d in docs[:2]] == ["a:given:original", "a:given:counterfactual"]
    assert all(Path(d["video_path"]).is_file() for d in docs)


def test_a_given_counterfactual_edited_in_place_is_reported_and_packaged_again(src, tmp_path):
    out = tmp_path / "out"
    build_pairs(src, out, copy=True)
    write_clip(src / "cf/a_reversed.mp4", make_frames(6, 24, 32, seed=9))
    report = build_pairs(src, out, copy=True)
    assert any("cf/a_reversed.mp4: changed since the last build" in w for w in report.warnings)
    assert sha256_file(out / "videos/given/cf/a_reversed.mp4") == sha256_file(src / "cf/a_reversed.mp4")
    assert read_manifest(out)["files"]["videos/given/cf/a_reversed.mp4"] == sha256_file(src / "cf/a_reversed.mp4")


# --- rejects ---------------------------------------------------------------------------------------


def test_rejected_pairs_are_left_out_counted_and_their_videos_kept(src, tmp_path):
    out = tmp_path / "out"
    build_pairs(src, out)
    everything = read_manifest(out)["files"]
    (out / "rejects.txt").write_text("# from dybench review\nb:hflip\n  a:given  \nb:typo\n")
    report = build_pairs(src, out)
    assert report.rejected == ["a:given", "b:hflip"]
    assert {i.pair_id for i in report.items} == {i.pair_id for i in load_items(out)} == {"b:given"}
    assert report.counts() == {"moving_direction/given": 1}
    assert any("names 1 pair id(s) this build did not make: b:typo" in w for w in report.warnings)
    manifest = read_manifest(out)
    assert manifest["rejected"] == ["a:given", "b:hflip"] and manifest["counts"]["rejected"] == 2
    assert manifest["counts"]["pairs"] == 1
    # their videos are not deleted and stay hashed: a reject can be undone
    assert {k: v for k, v in manifest["files"].items() if k.startswith("videos/")} == {
        k: v for k, v in everything.items() if k.startswith("videos/")
    }
    assert (out / "videos/hflip/b.mp4").is_file()
    summary = CliRunner().invoke(app, ["build", "--src", str(src), "--out", str(out)])
    assert "rejected in review: 2 pair(s) left out" in summary.output
    (out / "rejects.txt").unlink()
    undone = build_pairs(src, out)
    assert undone.rejected == [] and undone.rendered == 0 and len(undone.items) == 6


def test_pair_ids_in_rejects_are_exact_a_hash_included(tmp_path):
    """``#`` may be part of an annotation id: a line is one exact pair id; a line starting with ``#`` that names
    no pair is a comment (not warned about), one that names a pair rejects it."""
    src = tmp_path / "src"
    src.mkdir()
    write_clip(src / "a.mp4", make_frames(6, 24, 32))
    write_annotations(src, [record(i, "a.mp4", transforms=["hflip"]) for i in ("clip#1", "clip", "#2")])
    out = tmp_path / "out"
    (out).mkdir()
    (out / "rejects.txt").write_text("# rejected in review\nclip#1:hflip\n#2:hflip\nclip#1:hflip # why\n")
    report = build_pairs(src, out)
    assert report.rejected == ["#2:hflip", "clip#1:hflip"]
    assert {i.pair_id for i in load_items(out)} == {"clip:hflip"}
    assert report.warnings == [
        f"{out / 'rejects.txt'} names 1 pair id(s) this build did not make: clip#1:hflip # why; check them for typos"
    ]


def test_a_cf_video_that_is_the_original_is_refused_and_a_linked_one_is_packaged(tmp_path):
    """A byte copy of the original (a pair no model can answer) and a link to it are refused by name; a cf_video
    that is a link to another video is packaged as that video (before: an internal temp-file error)."""
    src = tmp_path / "src"
    (src / "cf").mkdir(parents=True)
    write_clip(src / "a.mp4", make_frames(6, 24, 32, seed=0))
    write_clip(src / "real_cf.mp4", make_frames(6, 24, 32, seed=1))
    (src / "cf" / "copy.mp4").write_bytes((src / "a.mp4").read_bytes())
    (src / "cf" / "relative.mp4").symlink_to("../a.mp4")
    (src / "cf" / "absolute.mp4").symlink_to(src / "a.mp4")
    (src / "cf" / "other.mp4").symlink_to("../real_cf.mp4")
    given = {"cf_answer": {"given": "left"}, "relation": "change"}
    write_annotations(src, [record(name, "a.mp4", cf_video=f"cf/{name}.mp4", **given)
                            for name in ("copy", "relative", "absolute", "other")])  # fmt: skip
    out = tmp_path / "out"
    report = build_pairs(src, out)
    errors = {e.id: e.message for e in report.errors}
    assert sorted(errors) == ["absolute", "copy", "relative"]
    assert errors["copy"].startswith("cf_video 'cf/copy.mp4' has the same content as the original video 'a.mp4'")
    for name in ("relative", "absolute"):
        assert errors[name].startswith(f"cf_video 'cf/{name}.mp4' is a link to the original video 'a.mp4'")
    assert all("the pair's two branches would be one video" in m for m in errors.values())
    assert {i.pair_id for i in load_items(out)} == {"other:given"}
    packaged = out / "videos/given/cf/other.mp4"
    assert not packaged.is_symlink() and sha256_file(packaged) == sha256_file(src / "real_cf.mp4")
