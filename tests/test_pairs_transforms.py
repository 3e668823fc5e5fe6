"""dybench.pairs' transforms: hflip/reverse on frames and as renders that keep fps, size and frame count."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from videos import ffmpeg_exe, make_frames, with_rotation

from dybench.pairs import _transforms, apply_transform, render_counterfactuals
from dybench.video import EncoderSettings, VideoError, probe, read_frames, write_video

LOSSLESS = EncoderSettings(lossless=True)


def test_apply_transform():
    frames = np.arange(2 * 2 * 3 * 1, dtype=np.uint8).reshape(2, 2, 3, 1)
    np.testing.assert_array_equal(apply_transform(frames, "hflip")[0, 0, :, 0], [2, 1, 0])
    np.testing.assert_array_equal(apply_transform(frames, "reverse")[0], frames[1])
    with pytest.raises(ValueError, match="unknown transform"):
        apply_transform(frames, "vflip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="T, H, W, C"):
        apply_transform(frames[0], "hflip")


def _render_both(src, tmp_path, settings=LOSSLESS, **kwargs):
    outputs = {"hflip": tmp_path / "h" / "out.mp4", "reverse": tmp_path / "r" / "out.mp4"}
    infos = render_counterfactuals(src, outputs, settings, **kwargs)
    return outputs, infos


def _assert_exact(src, outputs):
    source = read_frames(src)
    for transform, path in outputs.items():
        np.testing.assert_array_equal(read_frames(path), apply_transform(source, transform), err_msg=transform)


def test_lossless_render_is_pixel_exact(clip, tmp_path):
    outputs, infos = _render_both(clip, tmp_path)
    _assert_exact(clip, outputs)
    src = probe(clip)
    for info in infos.values():
        assert (info.fps, info.frame_count, info.width, info.height) == (src.fps, 12, 32, 24)
        assert (info.pix_fmt, info.rotation) == ("yuv420p", 0)
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name or "dybench-reverse" in p.name]


def test_lossless_render_of_an_rgb_source_is_exact(tmp_path):
    src = tmp_path / "rgb.mp4"
    write_video(src, make_frames(8), fps=8, settings=LOSSLESS)  # H.264 4:4:4 RGB
    outputs, _ = _render_both(src, tmp_path)
    _assert_exact(src, outputs)


def test_default_render_is_close_and_yuv420p(clip, tmp_path):
    outputs, infos = _render_both(clip, tmp_path, EncoderSettings())
    source = read_frames(clip).astype(int)
    for transform, path in outputs.items():
        assert infos[transform].pix_fmt == "yuv420p" and infos[transform].frame_count == 12
        error = np.abs(read_frames(path).astype(int) - apply_transform(source, transform)).mean()
        assert error < 6, (transform, error)


def test_one_output_alone(clip, tmp_path):
    infos = render_counterfactuals(clip, {"reverse": tmp_path / "r.mp4"}, LOSSLESS)
    assert list(infos) == ["reverse"] and [p.name for p in tmp_path.iterdir()] == ["r.mp4"]
    np.testing.assert_array_equal(read_frames(tmp_path / "r.mp4"), read_frames(clip)[::-1])
    with pytest.raises(ValueError, match="unknown transform"):
        render_counterfactuals(clip, {"vflip": tmp_path / "v.mp4"})  # type: ignore[dict-item]


def test_odd_size_needs_yuv444p(clip_factory, tmp_path):
    src = clip_factory("odd.mp4", make_frames(6, 25, 33), pix_fmt="yuv444p")
    with pytest.raises(VideoError) as e:
        _render_both(src, tmp_path, EncoderSettings())
    assert str(e.value).startswith(f"{src}: ") and "crop=32:24" in str(e.value) and "yuv444p" in str(e.value)
    assert not (tmp_path / "h" / "out.mp4").exists()
    outputs, infos = _render_both(src, tmp_path, EncoderSettings(pix_fmt="yuv444p"))
    assert (infos["hflip"].width, infos["hflip"].height, infos["hflip"].pix_fmt) == (33, 25, "yuv444p")
    outputs, _ = _render_both(src, tmp_path, EncoderSettings(pix_fmt="yuv444p", lossless=True))
    _assert_exact(src, outputs)


@pytest.mark.skipif(ffmpeg_exe() is None, reason="needs an ffmpeg binary to write rotation metadata")
def test_rotated_source_renders_upright(clip, tmp_path):
    src = with_rotation(clip, tmp_path / "rot.mp4", 90)
    outputs, infos = _render_both(src, tmp_path, memory_budget=0)  # through the spill file too
    for info in infos.values():
        assert (info.rotation, info.width, info.height) == (0, 24, 32)
    _assert_exact(src, outputs)  # read_frames(src) is upright too


def test_variable_frame_rate_renders_at_constant_average_rate(clip_factory, tmp_path):
    src = clip_factory("vfr.mp4", make_frames(8), pts_ms=[0, 100, 150, 400, 450, 500, 900, 1000])
    outputs, infos = _render_both(src, tmp_path)
    for info in infos.values():
        assert not info.variable_frame_rate
        assert info.frame_count == 8 and info.fps == pytest.approx(7.0)
    _assert_exact(src, outputs)


def test_audio_is_dropped(clip_factory, tmp_path):
    src = clip_factory("a.mp4", audio=True)
    _, infos = _render_both(src, tmp_path)
    assert probe(src).has_audio and not any(info.has_audio for info in infos.values())


def test_failed_render_leaves_nothing_and_keeps_old_outputs(clip, tmp_path, monkeypatch):
    outputs = {"hflip": tmp_path / "h.mp4", "reverse": tmp_path / "r.mp4"}
    outputs["hflip"].write_bytes(b"old")

    def broken(self):
        yield from []
        raise OSError("disk full")

    monkeypatch.setattr(_transforms._ReverseBuffer, "read_reversed", broken)
    with pytest.raises(OSError, match="disk full"):
        render_counterfactuals(clip, outputs, LOSSLESS)
    assert [p.name for p in tmp_path.iterdir()] == ["h.mp4"]  # no temp output, no spill file
    assert outputs["hflip"].read_bytes() == b"old"


def test_reverse_spills_to_disk_beyond_its_memory_budget(clip, tmp_path, monkeypatch):
    spill = tmp_path / "spill"
    render_counterfactuals(clip, {"reverse": tmp_path / "r.mp4"}, LOSSLESS, spill_dir=spill)
    assert not spill.exists()  # a short clip stays in memory
    budget = 3 * 32 * 24 * 3 // 2  # three yuv420p frames: the other nine go through the file
    render_counterfactuals(clip, {"reverse": tmp_path / "r.mp4"}, LOSSLESS, spill_dir=spill, memory_budget=budget)
    np.testing.assert_array_equal(read_frames(tmp_path / "r.mp4"), read_frames(clip)[::-1])
    assert spill.is_dir() and not list(spill.iterdir())  # the anonymous spill file is gone
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10, 10, 10))  # type: ignore[attr-defined]
    with pytest.raises(VideoError, match="free disk.*spill_dir"):
        render_counterfactuals(clip, {"reverse": tmp_path / "r2.mp4"}, spill_dir=spill, memory_budget=0)
    assert not (tmp_path / "r2.mp4").exists()


def test_bad_source_raises_video_error(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video")
    for src in (tmp_path / "missing.mp4", tmp_path / "notes.mp4"):
        with pytest.raises(VideoError, match=str(src)):
            render_counterfactuals(src, {"hflip": tmp_path / "h.mp4"})
    assert not (tmp_path / "h.mp4").exists()
