"""`dybench build` against hostile and careless input (issue 12): nothing written or deleted outside
``--out``, no two sources in one file, no mixed versions, no silently wrong pairs, no tracebacks."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from annotation_rows import record, write_annotations
from typer.testing import CliRunner
from videos import make_frames, write_clip

from dybench.cli import app
from dybench.fileio import sha256_file
from dybench.pairs import BuildError, PairsChanged, build_pairs, load_items, read_manifest, render_counterfactuals
from dybench.video import EncoderSettings, VideoError, check_size


def clip(path: Path, *, frames: int = 6, seed: int = 0) -> Path:
    """A small MP4 at ``path``, whatever its name ends with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_clip(path.with_name("written.mp4"), make_frames(frames, 24, 32, seed=seed)).rename(path)


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    clip(src / "a.mp4", seed=1)
    write_annotations(src, [record("a", "a.mp4")])
    return src


# --- 1. paths from annotations and links in --out --------------------------------------------------


def test_video_paths_that_leave_the_source_are_refused_and_nothing_outside_is_touched(tmp_path, src):
    victim = clip(tmp_path / "data" / "clip.mp4", seed=9)
    before = tree(tmp_path / "data")
    rows = [record("a", "a.mp4"), record("up", "../data/clip.mp4"), record("deep", "x/../../../data/clip.mp4"),
            record("abs", str(victim)), record("nul", "a\u0000.mp4"), record("tmp", "sub/.a.abcdefgh.tmp.mp4"),
            record("dot", "./a.mp4", question="Same file, spelled another way?")]  # fmt: skip
    write_annotations(src, rows)
    report = build_pairs(src, tmp_path / "out", lossless=True)
    refused = {e.id: e.message for e in report.errors}
    assert set(refused) == {"up", "deep", "abs", "nul", "tmp"}
    assert all("inside the source folder" in refused[k] for k in ("up", "deep", "abs", "nul"))
    assert "temporary" in refused["tmp"]
    assert {i.source_id for i in report.items} == {"a", "dot"}
    videos: dict[str, set[str]] = {"a": set(), "dot": set()}
    for item in report.items:
        videos[item.source_id].add(item.video)
    assert videos["dot"] == videos["a"]  # one spelling per file, so one set of outputs
    assert tree(tmp_path / "data") == before  # not overwritten, no stamp or render beside it


def test_a_link_in_the_source_is_read_and_a_link_in_out_is_never_written_through(tmp_path, src):
    outside = tmp_path / "elsewhere"
    clip(outside / "b.mp4", seed=2)
    (src / "b.mp4").symlink_to(outside / "b.mp4")  # as `dybench import` links videos: read through it
    write_annotations(src, [record("a", "a.mp4"), record("b", "b.mp4")])
    out = tmp_path / "out"
    (out / "videos").mkdir(parents=True)
    (out / "videos" / "hflip").symlink_to(outside, target_is_directory=True)  # planted
    before = tree(outside)

    report = build_pairs(src, out, lossless=True)
    assert tree(outside) == before
    assert report.items == []  # every video's hflip render would go through the link
    assert len(report.errors) == 2 and all("lies outside" in e.message for e in report.errors), report.errors
    # without the planted link, the linked source builds like any other
    (out / "videos" / "hflip").unlink()
    assert build_pairs(src, out, lossless=True).ok and tree(outside) == before


def test_a_planted_lock_link_is_refused_not_truncated(tmp_path, src):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "out" / ".dybench").mkdir(parents=True)
    (tmp_path / "out" / ".dybench" / "lock").symlink_to(victim)
    with pytest.raises(BuildError, match="lock"):
        build_pairs(src, tmp_path / "out", lossless=True)
    assert victim.read_text() == "keep me"


# --- 2. a planted manifest -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        {"videos/../../victim/notes.txt": "x"},  # the issue's: no format, not a sha256
        {"videos/../../victim/notes.txt": "0" * 64},
        {"/abs/victim/notes.txt": "0" * 64},
    ],
)
def test_a_planted_manifest_deletes_nothing_outside(tmp_path, src, files):
    victim = tmp_path / "victim" / "notes.txt"
    victim.parent.mkdir()
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"format": "dybench-pairs/1", "files": files}))
    report = build_pairs(src, out, lossless=True)
    assert victim.read_text() == "keep me"
    assert any("manifest.json" in w and "ignored" in w for w in report.warnings), report.warnings


def test_cleanup_deletes_only_inside_videos_even_through_a_valid_manifest(tmp_path, src):
    victim = tmp_path / "victim" / "notes.txt"
    victim.parent.mkdir()
    victim.write_text("keep me")
    out = tmp_path / "out"
    build_pairs(src, out, lossless=True)
    (out / "videos" / "link").symlink_to(victim.parent, target_is_directory=True)
    manifest = read_manifest(out)
    manifest["files"]["videos/link/notes.txt"] = "0" * 64
    manifest["files"]["pairs.parquet.bak"] = "0" * 64
    (out / "pairs.parquet.bak").write_text("not under videos/")
    (out / "manifest.json").write_text(json.dumps(manifest))
    report = build_pairs(src, out, lossless=True)
    assert victim.read_text() == "keep me" and (out / "pairs.parquet.bak").exists()
    assert any("not deleted" in w for w in report.warnings)


# --- 3. output collisions --------------------------------------------------------------------------


def test_two_sources_never_share_an_output(tmp_path):
    src = tmp_path / "src"
    clip(src / "x", seed=1)  # no extension: its render would be x.mp4 ...
    clip(src / "x.mp4", seed=2)  # ... which is this file's own render name
    clip(src / "y.mp4" / "inner.mp4", seed=3)  # a folder named like another source's render
    clip(src / "y", seed=4)
    write_annotations(src, [record("bare", "x"), record("mp4", "x.mp4"), record("inner", "y.mp4/inner.mp4"),
                            record("y", "y")])  # fmt: skip
    out = tmp_path / "out"
    report = build_pairs(src, out, lossless=True)
    messages = " ".join(e.message for e in report.errors)
    assert "skipped questions: bare" in messages and "skipped questions: y" in messages
    assert {i.source_id for i in report.items} == {"mp4", "inner"}
    # every counterfactual is the render of its own source, and no file holds two videos
    videos = {i.video for i in load_items(out)}
    assert len(videos) == 6  # two sources, each an original, a mirror and a reverse
    assert len({sha256_file(out / v) for v in videos}) == 6  # six different videos in six files


# --- 4. a write failure leaves the previous dataset whole -------------------------------------------


def test_a_file_size_limit_mid_write_keeps_the_old_set_and_reports_one_message(tmp_path, src):
    out = tmp_path / "out"
    build_pairs(src, out)
    before = tree(out)
    long = "Which way does the square move? " * 40
    write_annotations(src, [record(f"q{k}", "a.mp4", question=long) for k in range(300)])  # ~1 MB of rows
    limit = max(p.stat().st_size for p in out.rglob("*") if p.is_file()) + 50_000

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    cmd = [sys.executable, "-m", "dybench.cli", "build", "--src", str(src), "--out", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=small_files)
    assert result.returncode == 1
    assert "error:" in result.stderr and "the build stopped" in result.stderr
    assert "Traceback" not in result.stderr
    after = tree(out)
    for name in ("pairs.parquet", "pairs.jsonl", "manifest.json"):
        assert after[name] == before[name], name
    assert not [k for k in after if ".tmp" in k]


def test_a_manifest_that_fails_to_write_keeps_the_old_pairs_files(tmp_path, src):
    from dybench.pairs import write_items

    out = tmp_path / "out"
    build_pairs(src, out)
    before = tree(out)

    def broken(hashes: dict[str, str]) -> dict:
        raise OSError(27, "File too large")

    with pytest.raises(OSError):
        write_items(out, load_items(out)[:1], manifest=broken)
    assert tree(out) == before


# --- 5. a source that is missing for a while --------------------------------------------------------


def test_a_missing_source_keeps_its_renders_until_its_rows_go(tmp_path, src):
    clip(src / "b.mp4", seed=2)
    write_annotations(src, [record("a", "a.mp4"), record("b", "b.mp4")])
    out = tmp_path / "out"
    first = build_pairs(src, out, lossless=True)
    b_files = {"videos/original/b.mp4", "videos/hflip/b.mp4", "videos/reverse/b.mp4"}
    assert b_files <= set(read_manifest(out)["files"])

    (src / "b.mp4").rename(tmp_path / "b.mp4")  # unplugged disk, a sync in progress
    second = build_pairs(src, out, lossless=True)
    error = next(e for e in second.errors if "skipped questions: b" in e.message)
    assert "not found" in error.message and "kept" in error.message
    assert all((out / f).is_file() for f in b_files)
    assert b_files <= set(read_manifest(out)["files"])
    assert {i.source_id for i in second.items} == {"a"}

    (tmp_path / "b.mp4").rename(src / "b.mp4")
    third = build_pairs(src, out, lossless=True)
    assert third.ok and third.rendered == 0 and third.reused == first.rendered

    (src / "b.mp4").rename(tmp_path / "b.mp4")
    write_annotations(src, [record("a", "a.mp4")])  # the row is gone: now its files go too
    build_pairs(src, out, lossless=True)
    assert not any((out / f).exists() for f in b_files)


# --- 6. originals are hard links: an in-place edit is caught --------------------------------------


def _edit_in_place(path: Path, seed: int) -> None:
    """Overwrite the file's bytes without replacing the file (as `ffmpeg -y` or an editor may)."""
    data = write_clip(path.parent / "new.tmpclip.mp4", make_frames(6, 24, 32, seed=seed)).read_bytes()
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(data)
    (path.parent / "new.tmpclip.mp4").unlink()


def test_a_source_edited_in_place_is_caught_by_readers_and_the_next_build(tmp_path, src):
    out = tmp_path / "out"
    build_pairs(src, out, lossless=True)
    assert os.path.samefile(src / "a.mp4", out / "videos/original/a.mp4")
    assert len(load_items(out)) == 4

    _edit_in_place(src / "a.mp4", seed=7)
    with pytest.raises(PairsChanged, match="videos/original/a.mp4.*--copy"):
        load_items(out)
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(json.dumps({"item_id": "a:hflip:original", "response": "B"}) + "\n")
    result = CliRunner().invoke(app, ["score", "--task", "dybench_pair", "--predictions", str(predictions),
                                      "--data", str(out)])  # fmt: skip
    assert result.exit_code == 1 and "changed since the build" in result.output

    again = build_pairs(src, out, lossless=True)
    assert any("changed since the last build" in w for w in again.warnings)
    assert again.rendered == 2 and len(load_items(out)) == 4


def test_copy_keeps_the_dataset_apart_from_its_sources(tmp_path, src):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "--src", str(src), "--out", str(out), "--lossless", "--copy"])
    assert result.exit_code == 0, result.output
    assert not os.path.samefile(src / "a.mp4", out / "videos/original/a.mp4")
    _edit_in_place(src / "a.mp4", seed=7)
    assert len(load_items(out)) == 4  # untouched
    # a linked build turned into a copying one replaces the links
    linked = tmp_path / "linked"
    build_pairs(src, linked, lossless=True)
    build_pairs(src, linked, lossless=True, copy=True)
    assert not os.path.samefile(src / "a.mp4", linked / "videos/original/a.mp4")


def test_the_check_hashes_only_files_whose_stat_changed(tmp_path, src, monkeypatch):
    from dybench.pairs import _dataset

    out = tmp_path / "out"
    build_pairs(src, out, lossless=True)
    hashed: list[str] = []
    real = _dataset.sha256_file
    monkeypatch.setattr(_dataset, "sha256_file", lambda p: hashed.append(str(p)) or real(p))
    load_items(out)
    assert hashed == []
    os.utime(out / "videos/hflip/a.mp4")  # touched, same bytes: hashed once, then remembered
    load_items(out)
    load_items(out)
    assert hashed == [str(out / "videos/hflip/a.mp4")]


# --- 11, 12. rows and videos that cannot make a sound pair -----------------------------------------


def test_more_than_26_options_is_a_row_error(tmp_path, src):
    options = [f"option {k}" for k in range(27)]
    write_annotations(src, [record("a", "a.mp4"), record("many", "a.mp4", options=options, answer="A")])
    report = build_pairs(src, tmp_path / "out", lossless=True)
    assert [e.id for e in report.errors] == ["many"] and "at most 26" in report.errors[0].message


@pytest.mark.parametrize("frames", [1, 5])
def test_a_video_without_two_distinct_frames_gets_no_reverse_pair(tmp_path, frames):
    src = tmp_path / "src"
    still = np.repeat(make_frames(1, 24, 32), frames, axis=0)
    src.mkdir()
    write_clip(src / "still.mp4", still)
    write_annotations(src, [record("still", "still.mp4")])
    report = build_pairs(src, tmp_path / "out", lossless=True)
    assert {i.transform for i in report.items} == {"hflip"}
    assert len(report.errors) == 1 and "played backwards it is the same video" in report.errors[0].message
    assert not (tmp_path / "out/videos/reverse/still.mp4").exists()


# --- 13. byte-identical renders whatever the CPUs ---------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")
def test_renders_do_not_depend_on_the_cpus_a_process_may_use(tmp_path):
    """The cause of issue 12's differing renders: libx264 picks its thread count from the CPUs the
    process may use, and its output depends on that count. Settings now fix the count.

    Preset superfast: its output still changes with the thread count (1 and 4 threads give different files),
    so this test still catches the bug, and unlike presets with mb-tree and lookahead (medium, the default)
    it does not depend on leftover heap memory in the PyAV 15 build (see ``SYNTH_ENCODER``), which made this
    test fail now and then inside the full suite."""
    source = write_clip(tmp_path / "s.mp4", make_frames(16, 64, 96, seed=5), lossless=False)
    script = textwrap.dedent(f"""
        import os, sys
        from dybench.pairs import render_counterfactuals
        from dybench.video import EncoderSettings
        os.sched_setaffinity(0, {{sorted(os.sched_getaffinity(0))[0]}})
        render_counterfactuals({str(source)!r}, {{"hflip": sys.argv[1], "reverse": sys.argv[2]}},
                               settings=EncoderSettings(preset="superfast"))
    """)
    one_cpu = [tmp_path / "h1.mp4", tmp_path / "r1.mp4"]
    subprocess.run([sys.executable, "-c", script, *map(str, one_cpu)], check=True)
    fast = EncoderSettings(preset="superfast")
    render_counterfactuals(source, {"hflip": tmp_path / "h.mp4", "reverse": tmp_path / "r.mp4"}, settings=fast)
    assert sha256_file(one_cpu[0]) == sha256_file(tmp_path / "h.mp4")
    assert sha256_file(one_cpu[1]) == sha256_file(tmp_path / "r.mp4")


# --- 14, 15. messages, not tracebacks ---------------------------------------------------------------


@pytest.mark.parametrize(
    "option,value,needle",
    [("--preset", "bogus", "preset"), ("--crf", "-5", "crf"), ("--crf", "999", "crf"),
     ("--pix-fmt", "bogus", "pixel format"), ("--pix-fmt", "rgb24", "pixel format")],
)  # fmt: skip
def test_bad_encoder_options_are_refused_before_anything_is_built(tmp_path, src, option, value, needle):
    result = CliRunner().invoke(app, ["build", "--src", str(src), "--out", str(tmp_path / "out"), option, value])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert needle in result.output.lower() and "Traceback" not in result.output
    assert not (tmp_path / "out" / "pairs.jsonl").exists()


@pytest.mark.parametrize("kw", [dict(crf=-5), dict(crf=999), dict(preset="bogus"), dict(pix_fmt="rgb24")])
def test_encoder_settings_refuse_what_the_encoder_cannot_do(kw):
    with pytest.raises(VideoError, match="encoder settings"):
        EncoderSettings(**kw)


def test_hostile_values_in_annotations_are_row_errors_naming_the_row(tmp_path, src):
    lines = [
        json.dumps(record("ok", "a.mp4")),
        json.dumps(record("eszett", "a.mp4", answer="ß")),
        json.dumps(record("ligature", "a.mp4", answer="\ufb00")),
        "[" * 100_000 + "]" * 100_000,
        '{"id": ' + "9" * 5000 + ', "video": "a.mp4"}',
    ]
    (src / "annotations.jsonl").write_text("\n".join(lines) + "\n")
    report = build_pairs(src, tmp_path / "out", lossless=True)
    rows = {e.row: e.message for e in report.errors}
    assert set(rows) == {2, 3, 4, 5}
    assert "not among the options" in rows[2] and "not among the options" in rows[3]
    assert "nested deeper" in rows[4] and "digits" in rows[5]
    assert {i.source_id for i in report.items} == {"ok"}


def test_a_byte_order_mark_is_not_data(tmp_path, src):
    import csv

    (src / "a.jsonl").write_text("\ufeff" + json.dumps(record("a", "a.mp4")) + "\n", encoding="utf-8")
    with open(src / "a.csv", "w", newline="", encoding="utf-8-sig") as fh:  # as Excel saves CSV
        writer = csv.DictWriter(fh, fieldnames=list(record("a", "a.mp4")))
        writer.writeheader()
        writer.writerow({**record("a", "a.mp4"), "options": "left|right|up"})
    for name in ("a.jsonl", "a.csv"):
        report = build_pairs(src, tmp_path / name, annotations=src / name, lossless=True)
        assert report.ok, report.errors


def test_a_one_pixel_video_gets_advice_it_can_follow(tmp_path):
    with pytest.raises(VideoError) as caught:
        check_size(tmp_path / "dot.mp4", 1, 1, "yuv420p")
    message = str(caught.value)
    assert "crop=0" not in message and "scale=2:2" in message and "yuv444p" in message


def test_relative_folders_build_like_absolute_ones(tmp_path, src, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = build_pairs("src", "out", lossless=True)
    assert report.ok, report.errors
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out/videos").rglob("*.mp4")) == [
        "videos/hflip/a.mp4", "videos/original/a.mp4", "videos/reverse/a.mp4"
    ]  # fmt: skip
    assert len(load_items("out")) == 4
