"""`dybench synth` on disk: deterministic, resumable, atomic; the command line and its summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import dybench.synth._synthesize as dataset
from dybench.cli import app
from dybench.fileio import read_jsonl, sha256_file
from dybench.records import CATEGORIES
from dybench.synth import plan_clips, render_scene, synthesize
from dybench.synth._synthesize import SYNTH_ENCODER
from dybench.video import probe, read_frames, write_video

SMALL = dict(n=6, seed=3, size=64, frames=8, fps=6.0, progress=False)


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_arguments_give_identical_files_whatever_the_worker_count(tmp_path: Path) -> None:
    one = synthesize(tmp_path / "one", **SMALL, workers=1)
    two = synthesize(tmp_path / "two", **SMALL, workers=2)
    assert (one / "annotations.jsonl").read_bytes() == (two / "annotations.jsonl").read_bytes()
    assert _files(one) == _files(two)  # clips byte-identical too, so decoded frames are identical
    rows = read_jsonl(one / "annotations.jsonl")
    assert [r["id"] for r in rows] == [f"synth-test-{i:05d}" for i in range(6)]
    info = probe(one / rows[0]["video"])
    assert (info.width, info.height, info.frame_count, info.fps) == (64, 64, 8, 6.0)
    other = synthesize(tmp_path / "other", **{**SMALL, "seed": 4}, workers=1)
    assert (other / "annotations.jsonl").read_bytes() != (one / "annotations.jsonl").read_bytes()
    manifest = json.loads((one / "synth.json").read_text())
    assert manifest["parameters"]["seed"] == 3 and manifest["counts"]["clips"] == 6
    assert manifest["regenerate"].startswith("dybench synth --out DIR --n 6 --seed 3 --size 64 --frames 8")


def test_the_clip_encoder_gives_the_same_file_whatever_the_heap_holds(tmp_path: Path) -> None:
    """x264 with mb-tree or lookahead on (presets veryfast and slower) reads leftover memory in the
    PyAV 15 build and makes different files from the same frames; SYNTH_ENCODER must not."""
    for clip in plan_clips(n=5, seed=5, size=96, frames=16, categories=CATEGORIES, rules={}, split="test"):
        frames = render_scene(clip.scene)
        digests = set()
        for _ in range(4):
            _litter = [np.random.bytes(96 * 96 * 3) for _ in range(3)]  # leave different garbage on the heap
            write_video(tmp_path / "clip.mp4", frames, 8, SYNTH_ENCODER)
            digests.add(sha256_file(tmp_path / "clip.mp4"))
        assert len(digests) == 1


def test_a_rerun_renders_only_what_is_missing_or_damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = synthesize(tmp_path / "out", **SMALL, workers=1)
    before = _files(out)
    rows = read_jsonl(out / "annotations.jsonl")
    (out / rows[1]["video"]).unlink()
    (out / rows[2]["video"]).write_bytes(b"damaged")
    rendered = []
    real = dataset.render_clip
    monkeypatch.setattr(dataset, "render_clip", lambda job: (rendered.append(job.path.name), real(job)))
    synthesize(out, **SMALL, workers=1)
    assert sorted(rendered) == sorted(Path(rows[i]["video"]).name for i in (1, 2))
    assert _files(out) == before


def test_an_interrupted_run_leaves_no_partial_file_and_resumes_to_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _files(synthesize(tmp_path / "reference", **SMALL, workers=1))
    calls = []
    real_write = dataset.write_video

    def crash_on_fourth(path, frames, fps, settings):
        calls.append(path)
        if len(calls) == 4:
            raise KeyboardInterrupt  # killed while writing the fourth clip
        real_write(path, frames, fps, settings)

    monkeypatch.setattr(dataset, "write_video", crash_on_fourth)
    with pytest.raises(KeyboardInterrupt):
        synthesize(tmp_path / "out", **SMALL, workers=1)
    out = tmp_path / "out"
    assert not (out / "annotations.jsonl").exists()  # written last, so never describes missing clips
    assert len(list((out / "clips").glob("*.mp4"))) == 3
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    monkeypatch.setattr(dataset, "write_video", real_write)
    synthesize(out, **SMALL, workers=1)
    assert _files(out) == reference


def test_the_command_line_writes_a_folder_build_can_read(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["synth", "--out", str(tmp_path / "s"), "--n", "4", "--size", "64", "--frames", "8", "--seed", "1",
         "--categories", "moving_direction,static", "--bias", "moving_direction:colour=red->right:train=0.9,test=0.5",
         "--split", "train", "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "moving_direction/horizontal" in result.output and "dybench build --src" in result.output
    rows = read_jsonl(tmp_path / "s" / "annotations.jsonl")
    assert [r["category"] for r in rows] == ["moving_direction", "static"] * 2
    assert rows[0]["split"] == "train" and rows[0]["bias"] == "moving_direction:colour=red->right:0.9"
    assert rows[1]["bias"] is None and rows[1]["shortcut"] is None
    assert read_frames(tmp_path / "s" / rows[0]["video"]).shape == (8, 64, 64, 3)
    built = runner.invoke(app, ["build", "--src", str(tmp_path / "s"), "--out", str(tmp_path / "pairs")])
    assert built.exit_code == 0, built.output

    bad = runner.invoke(app, ["synth", "--out", str(tmp_path / "x"), "--bias", "moving_direction:colour=red"])
    assert bad.exit_code == 1 and "FAMILY:ATTRIBUTE=VALUE->ANSWER:STRENGTH" in bad.output
    assert not (tmp_path / "x").exists()


def test_max_distractors_keeps_only_the_objects_the_question_needs(tmp_path: Path) -> None:
    plan = dict(n=40, seed=5, size=96, frames=8, categories=CATEGORIES, rules={}, split="test")
    busy, bare = plan_clips(**plan), plan_clips(**plan, max_distractors=0)
    needed = {"moving_direction": 1, "reversible_dynamics": 1, "spatial": 2}
    assert any(len(c.scene.objects) > needed.get(c.query.category, 0) for c in busy if c.query.category in needed)
    for clip in bare:
        if clip.query.category in needed:
            assert len(clip.scene.objects) == needed[clip.query.category], clip.query.category
    assert [c.question.truth for c in plan_clips(**plan, max_distractors=0)] == [c.question.truth for c in bare]
    one = plan_clips(**plan, max_distractors=1)
    assert all(len(c.scene.objects) <= needed[c.query.category] + 1 for c in one if c.query.category in needed)

    runner = CliRunner()
    args = ["synth", "--out", str(tmp_path / "s"), "--n", "2", "--size", "64", "--frames", "8", "--workers", "1",
            "--categories", "moving_direction"]  # fmt: skip
    assert runner.invoke(app, [*args, "--max-distractors", "0"]).exit_code == 0
    manifest = json.loads((tmp_path / "s" / "synth.json").read_text())
    assert manifest["parameters"]["max_distractors"] == 0 and "--max-distractors 0" in manifest["regenerate"]
    bad = runner.invoke(app, [*args, "--max-distractors", "-1"])
    assert bad.exit_code == 1 and "--max-distractors -1" in bad.output


def test_subtle_clips_are_the_same_scenes_with_their_target_moving_a_twentieth_as_far() -> None:
    plan = dict(n=12, seed=2, size=64, frames=8, categories=("moving_direction",), rules={}, split="train",
                max_distractors=0)  # fmt: skip
    plain, mixed = plan_clips(**plan), plan_clips(**plan, subtle=2 / 3)
    subtle = [i for i, clip in enumerate(mixed) if clip.travel != 1.0]
    assert subtle == [1, 2, 4, 5, 7, 8, 10, 11]  # exactly 2/3 of them, spread evenly
    assert [dataset.is_subtle(i, 0.0) for i in range(5)] == [False] * 5
    assert [dataset.is_subtle(i, 1.0) for i in range(5)] == [True] * 5
    for i, (a, b) in enumerate(zip(plain, mixed, strict=True)):
        assert a.question == b.question  # the same question and answer: nothing drawn differently
        tracks = (a.scene.objects[0].track, b.scene.objects[0].track)
        path = [abs(t.x[-1] - t.x[0]) + abs(t.y[-1] - t.y[0]) for t in tracks]
        if i in subtle and a.question.truth not in ("left", "right", "up", "down"):  # circles: travel is not theirs
            assert a.scene == b.scene
        elif i in subtle:
            assert b.travel == dataset.SUBTLE_TRAVEL
            assert path[1] == pytest.approx(path[0] * dataset.SUBTLE_TRAVEL, rel=1e-3)
            assert path[1] < 1.5  # about a pixel at 64x64
        else:
            assert a == b
    hard = plan_clips(**plan, subtle=2 / 3, subtle_travel=0.25)  # motion hard to see, but there
    assert [i for i, clip in enumerate(hard) if clip.travel == 0.25] == subtle
    scaled = 0
    for a, b in zip(mixed, hard, strict=True):
        assert a.question == b.question
        if b.travel == 0.25 and a.scene != b.scene:
            path = [abs(o.track.x[-1] - o.track.x[0]) + abs(o.track.y[-1] - o.track.y[0])
                    for o in (a.scene.objects[0], b.scene.objects[0])]  # fmt: skip
            assert path[1] == pytest.approx(path[0] * 0.25 / dataset.SUBTLE_TRAVEL, rel=1e-3)
            scaled += 1
    assert scaled >= 3  # the left/right and up/down clips among the subtle ones


def test_the_regenerate_command_remakes_the_folder(tmp_path: Path) -> None:
    """synth.json's command line, run as it is written, gives the same annotations (every option spelt right)."""
    import shlex

    first = synthesize(tmp_path / "first", n=3, seed=1, size=64, frames=8, categories=["moving_direction"],
                       bias="moving_direction:colour=red->right:train=1.0,test=0.5", split="train",
                       max_distractors=0, subtle=0.5, subtle_travel=0.2, workers=1, progress=False)  # fmt: skip
    rows = read_jsonl(first / "annotations.jsonl")
    assert [r.get("travel") for r in rows] == [None, 0.2, None]
    command = json.loads((first / "synth.json").read_text())["regenerate"].replace("DIR", str(tmp_path / "again"))
    words = shlex.split(command)
    assert words[:2] == ["dybench", "synth"] and "--subtle" in words and "--max-distractors" in words
    assert words[words.index("--subtle-travel") + 1] == "0.2"
    result = CliRunner().invoke(app, [*words[1:], "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again" / "annotations.jsonl").read_bytes() == (first / "annotations.jsonl").read_bytes()
    bad = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "x"), "--subtle", "1.5"])
    assert bad.exit_code == 1 and "--subtle 1.5" in bad.output
    bad = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "x"), "--subtle", "0.5", "--subtle-travel", "0"])
    assert bad.exit_code == 1 and "--subtle-travel 0" in bad.output
