"""dybench.video: exact probing, frame sampling, reading upright RGB, writing, and bad input."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from videos import cut_without_reencoding, ffmpeg_exe, make_frames, with_rotation, write_clip

from dybench.video import EncoderSettings, VideoError, probe, read_frames, sample_indices, write_video

# --- probe ------------------------------------------------------------------------------------------


def test_probe_describes_the_clip(clip):
    info = probe(clip)
    assert (info.width, info.height, info.frame_count) == (32, 24, 12)
    assert info.fps == 10.0 and info.duration == pytest.approx(1.2)
    assert (info.rotation, info.codec, info.pix_fmt) == (0, "h264", "yuv420p")
    assert not info.variable_frame_rate and not info.has_audio
    assert info.path == Path(clip)


def test_frame_count_is_exact_without_a_header_count(tmp_path):
    """Matroska stores no frame count; B-frames reorder timestamps: the count must still be exact."""
    frames = make_frames(17, 24, 32)
    path = write_clip(tmp_path / "clip.mkv", frames, lossless=False, fps=Fraction(30000, 1001))
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0  # the header really has no count
    info = probe(path)
    assert info.frame_count == 17 == len(read_frames(path))
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert not info.variable_frame_rate  # millisecond timestamps alternate 33/34 ms: still constant


@pytest.mark.skipif(ffmpeg_exe() is None, reason="needs an ffmpeg binary to cut with an edit list")
def test_frame_count_is_exact_with_an_edit_list(tmp_path):
    whole = write_clip(tmp_path / "whole.mp4", make_frames(30), lossless=False)
    cut = cut_without_reencoding(whole, tmp_path / "cut.mp4", 1.35)
    with av.open(str(cut)) as container:
        stream = container.streams.video[0]
        decoded = sum(1 for _ in container.decode(stream))
        assert stream.frames > decoded  # the header counts the hidden reference frames too
    assert probe(cut).frame_count == decoded == len(read_frames(cut))


def test_variable_frame_rate_is_flagged_with_average_fps(clip_factory):
    pts = [0, 100, 150, 400, 450, 500, 900, 1000]
    path = clip_factory("vfr.mp4", make_frames(8), pts_ms=pts)
    info = probe(path)
    assert info.variable_frame_rate
    assert info.frame_count == 8
    assert info.fps == pytest.approx(7 / 1.0)  # 7 intervals over one second
    assert len(read_frames(path)) == 8


def test_audio_is_reported(clip_factory):
    assert probe(clip_factory("a.mp4", audio=True)).has_audio


@pytest.mark.skipif(ffmpeg_exe() is None, reason="needs an ffmpeg binary to write rotation metadata")
@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_is_applied(clip, tmp_path, degrees):
    rotated = with_rotation(clip, tmp_path / "rotated.mp4", degrees)
    info = probe(rotated)
    assert info.rotation == degrees
    assert (info.width, info.height) == ((24, 32) if degrees in (90, 270) else (32, 24))
    upright = read_frames(rotated)
    # ffmpeg's autorotate turns the picture counterclockwise by the display rotation
    np.testing.assert_array_equal(upright, np.rot90(read_frames(clip), degrees // 90, axes=(1, 2)))


# --- sampling and reading ---------------------------------------------------------------------------


def test_sample_indices():
    assert sample_indices(10, num_frames=4) == [0, 3, 6, 9]
    assert sample_indices(10, num_frames=1) == [4]
    assert sample_indices(3, num_frames=5) == [0, 0, 1, 2, 2]  # a fixed count, repeating frames
    assert sample_indices(5) == [0, 1, 2, 3, 4]
    assert sample_indices(30, fps=2, src_fps=30) == [0, 15]
    assert sample_indices(10, fps=3, src_fps=10) == [0, 3, 6]
    assert sample_indices(4, fps=60, src_fps=30) == [0, 1, 2, 3]
    for bad in ({"num_frames": 0}, {"fps": 2}, {"num_frames": 2, "fps": 2, "src_fps": 10}):
        with pytest.raises(ValueError):
            sample_indices(10, **bad)
    with pytest.raises(ValueError):
        sample_indices(0, num_frames=2)


def test_read_frames_selects_the_right_frames(clip, clip_frames):
    every = read_frames(clip)
    assert every.shape == (12, 24, 32, 3) and every.dtype == np.uint8
    assert np.abs(every.astype(int) - clip_frames).mean() < 4  # yuv420p: close, not exact
    np.testing.assert_array_equal(read_frames(clip, num_frames=4), every[[0, 4, 7, 11]])
    np.testing.assert_array_equal(read_frames(clip, fps=5), every[::2])
    np.testing.assert_array_equal(read_frames(clip, indices=[5, 1, 5]), every[[5, 1, 5]])
    with pytest.raises(VideoError, match="out of range"):
        read_frames(clip, indices=[12])


# --- writing ----------------------------------------------------------------------------------------


def test_write_video_lossless_round_trips_rgb(tmp_path, clip_frames):
    path = tmp_path / "out.mp4"
    write_video(path, clip_frames, fps=10, settings=EncoderSettings(lossless=True))
    np.testing.assert_array_equal(read_frames(path), clip_frames)
    info = probe(path)
    assert (info.frame_count, info.fps, info.width, info.height) == (12, 10.0, 32, 24)


def test_write_video_default_is_close_and_takes_iterables(tmp_path, clip_frames):
    path = tmp_path / "out.mp4"
    write_video(path, iter(list(clip_frames)), fps=Fraction(30000, 1001))
    info = probe(path)
    assert (info.pix_fmt, info.frame_count) == ("yuv420p", 12)
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert np.abs(read_frames(path).astype(int) - clip_frames).mean() < 6  # noise costs at crf 17


def test_write_video_odd_size_needs_yuv444p(tmp_path):
    frames = make_frames(4, 25, 33)
    with pytest.raises(VideoError) as e:
        write_video(tmp_path / "odd.mp4", frames, fps=10)
    assert str(tmp_path / "odd.mp4") in str(e.value)
    assert "crop=32:24" in str(e.value) and "yuv444p" in str(e.value)
    write_video(tmp_path / "odd.mp4", frames, fps=10, settings=EncoderSettings(pix_fmt="yuv444p"))
    assert read_frames(tmp_path / "odd.mp4").shape == (4, 25, 33, 3)


def test_write_video_is_atomic(tmp_path, clip_frames):
    path = tmp_path / "out.mp4"
    path.write_bytes(b"previous")

    def frames():
        yield clip_frames[0]
        yield clip_frames[1, :10]  # wrong size: the write fails half way

    with pytest.raises(ValueError, match="same size"):
        write_video(path, frames(), fps=10)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


# --- bad input: every error names the file and a fix ------------------------------------------------


def _no_video_frames(path: Path, *, video_stream: bool) -> Path:
    """A file with a little audio and, if ``video_stream``, a video stream that holds no frame."""
    with av.open(str(path), "w") as container:
        if video_stream:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        sound = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 4096), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return path


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, a phrase the error must contain)."""
    whole = write_clip(tmp_path / "whole.mp4", make_frames(30, 48, 64), lossless=False).read_bytes()
    fast = write_clip(tmp_path / "fast.mp4", make_frames(30, 48, 64), lossless=False, faststart=True).read_bytes()
    cases = {
        "missing": (tmp_path / "missing.mp4", "not found"),
        "directory": (tmp_path, "directory"),
        "empty": (tmp_path / "empty.mp4", "empty"),
        "garbage": (tmp_path / "garbage.mp4", "corrupt"),
        "text": (tmp_path / "notes.mp4", "not a video"),
        "truncated": (tmp_path / "truncated.mp4", "truncated"),
        "truncated_faststart": (tmp_path / "truncated_fast.mp4", "truncated"),
        "zero_frames": (_no_video_frames(tmp_path / "zero.mkv", video_stream=True), "no frames"),
        "zero_frames_mp4": (_no_video_frames(tmp_path / "zero.mp4", video_stream=True), "no frames"),
        "audio_only": (_no_video_frames(tmp_path / "audio.m4a", video_stream=False), "no video stream"),
        "png": (tmp_path / "picture.png", "still image"),
    }
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    (tmp_path / "notes.mp4").write_text("this is not a video\n")
    (tmp_path / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "truncated_fast.mp4").write_bytes(fast[: len(fast) * 9 // 10])
    Image.fromarray(make_frames(1)[0]).save(tmp_path / "picture.png")
    return cases


def test_bad_input_errors_name_the_file_and_a_fix(tmp_path):
    for name, (path, phrase) in _bad_inputs(tmp_path).items():
        for read in (probe, read_frames):
            with pytest.raises(VideoError) as e:
                read(path)
            message = str(e.value)
            assert message.startswith(f"{path}: "), (name, message)
            assert phrase in message, (name, message)
            assert "; " in message, (name, message)  # problem; fix


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(clip, tmp_path):
    path = tmp_path / "locked.mp4"
    path.write_bytes(Path(clip).read_bytes())
    path.chmod(0)
    try:
        with pytest.raises(VideoError, match="permission denied.*chmod"):
            probe(path)
    finally:
        path.chmod(0o600)


def test_unreadable_file_message(clip, monkeypatch):
    """The same check without relying on file modes (tests often run as root, who reads anything)."""
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(VideoError, match="permission denied.*chmod u\\+r"):
        probe(clip)


def test_lossless_needs_libx264(tmp_path, clip_frames):
    with pytest.raises(ValueError, match="libx264"):
        write_video(tmp_path / "x.mp4", clip_frames, 10, EncoderSettings(codec="mpeg4", lossless=True))


def test_render_workers_one_per_16_videos_at_most_one_per_cpu(monkeypatch):
    """synth's and build's automatic --workers: a pool costs more than it saves on a few videos."""
    from dybench.video import render_workers

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert [render_workers(n) for n in (0, 8, 31, 32, 48, 64, 1000)] == [1, 1, 1, 2, 3, 4, 4]
    assert render_workers(8, 3) == 3, "a number given wins"
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert render_workers(1000) == 1
