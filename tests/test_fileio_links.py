"""Every writer refuses a planted link under its output folder (issue 28): ``dybench import``, ``review``,
``synth``, ``build`` and the leaderboard's store go through ``dybench.fileio.inside``, so a folder link in
their output, even one that leads back inside, stops them with the link named and nothing written through it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from annotation_rows import record, write_annotations
from evaldata import make_pairs
from PIL import Image
from typer.testing import CliRunner
from videos import write_clip

from dybench.cli import app
from dybench.pairs import build_pairs
from dybench.results import ResultsError, ResultsStore


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside every output, with a file that must stay as it is."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "victim.txt").write_text("keep me")
    return folder


def untouched(folder: Path) -> bool:
    return [p.name for p in folder.iterdir()] == ["victim.txt"] and (folder / "victim.txt").read_text() == "keep me"


def plant(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)


def refused(args: list[str], link: Path) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{link} is a symbolic link inside" in result.output or "lies outside" in result.output, result.output
    return result.output


def test_import_ssv2_refuses_a_planted_videos_link(tmp_path: Path, elsewhere: Path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "1.webm").write_bytes(b"a video")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([{"id": "1", "template": "Pushing [something] from left to right",
                                   "placeholders": ["pen"]}]))  # fmt: skip
    out = tmp_path / "ann"
    plant(out / "videos", elsewhere)
    refused(["import", "ssv2", "--labels", str(labels), "--videos", str(tmp_path / "clips"), "--out", str(out)],
            out / "videos")  # fmt: skip
    assert untouched(elsewhere) and not (out / "annotations.jsonl").exists()


def test_import_tracks_refuses_a_videos_link_even_one_that_leads_back_inside(tmp_path: Path):
    sequence = tmp_path / "got10k" / "seq1"
    sequence.mkdir(parents=True)
    boxes = []
    for i in range(6):
        image = np.full((48, 64, 3), 40, np.uint8)
        image[20:28, 8 + 8 * i : 16 + 8 * i] = 250
        Image.fromarray(image).save(sequence / f"{i + 1:08d}.png")
        boxes.append(f"{8 + 8 * i},20,8,8")
    (sequence / "groundtruth.txt").write_text("\n".join(boxes) + "\n")
    out = tmp_path / "ann"
    plant(out / "videos", out / "inner")  # inside --out, but not a folder the importer made
    (out / "inner").mkdir()
    refused(["import", "tracks", "--sequences", str(tmp_path / "got10k"), "--out", str(out)], out / "videos")
    assert list((out / "inner").iterdir()) == []


def test_review_refuses_a_planted_review_link(tmp_path: Path, elsewhere: Path):
    pairs = make_pairs(tmp_path / "pairs")
    plant(pairs / "review", elsewhere)
    refused(["review", "--pairs", str(pairs)], pairs / "review")
    assert untouched(elsewhere)
    (pairs / "review").unlink()
    assert CliRunner().invoke(app, ["review", "--pairs", str(pairs)]).exit_code == 0
    assert (pairs / "review" / "index.html").is_file()


def test_synth_refuses_a_planted_clips_link(tmp_path: Path, elsewhere: Path):
    out = tmp_path / "synth"
    plant(out / "clips", elsewhere)
    refused(["synth", "--out", str(out), "--n", "1", "--size", "64", "--frames", "8", "--workers", "1"],
            out / "clips")  # fmt: skip
    assert untouched(elsewhere)


def test_build_refuses_a_videos_link_that_leads_back_inside(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    write_clip(src / "a.mp4")
    write_annotations(src, [record("a", "a.mp4")])
    out = tmp_path / "out"
    (out / "real").mkdir(parents=True)
    plant(out / "videos", out / "real")
    report = build_pairs(src, out)
    assert report.items == [] and report.errors
    assert all(f"{out / 'videos'} is a symbolic link inside {out}" in e.message for e in report.errors)
    assert list((out / "real").iterdir()) == []


def test_the_results_store_refuses_a_planted_uploads_link(tmp_path: Path, elsewhere: Path):
    results = tmp_path / "results"
    plant(results / "uploads", elsewhere)
    data = (Path(__file__).parent / "data/leaderboard/runs/dybench_random/20261128_165130_results.json").read_bytes()
    store = ResultsStore(results, index_path=tmp_path / "index.sqlite")
    with pytest.raises(ResultsError, match="could not store it .* is a symbolic link inside|lies outside"):
        store.submit(data)
    assert untouched(elsewhere)
