"""dybench import tracks: sequences in GOT-10k's layout -> moving-direction questions that build; bad boxes and
images are per-sequence skips."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from dybench.pairs import build_pairs
from dybench.pairs.importers import import_tracks
from dybench.pairs.importers._tracks import motion_of
from dybench.records import letter_index
from dybench.video import read_frames


def write_sequence(root: Path, name: str, centres: list[tuple[int, int] | None], *, meta: str | None = None) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    lines = []
    for i, centre in enumerate(centres):
        image = np.full((48, 64, 3), 40, np.uint8)
        if centre is None:
            lines.append("0,0,0,0")
        else:
            x, y = centre
            image[y - 4 : y + 4, x - 4 : x + 4] = (250, 200, 20)
            lines.append(f"{x - 4},{y - 4},8,8")
        Image.fromarray(image).save(folder / f"{i + 1:08d}.png")
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    if meta:
        (folder / "meta_info.ini").write_text(meta)


def test_tracks_directions_and_skips(tmp_path: Path) -> None:
    root = tmp_path / "got10k"
    write_sequence(root, "GOT-10k_Train_000001", [(8 + 6 * i, 24) for i in range(8)],
                   meta="[METAINFO]\nobject_class: zebra\nmotion_class: walking\n")  # fmt: skip
    write_sequence(root, "GOT-10k_Train_000002", [(32, 40 - 4 * i) for i in range(8)])
    write_sequence(root, "GOT-10k_Train_000003", [(32, 24)] * 8)
    write_sequence(root, "GOT-10k_Train_000004", [(8, 24), (56, 24), (8, 24), (56, 24), (8, 24), (30, 24)])
    write_sequence(root, "GOT-10k_Train_000005", [None, (8, 8), (20, 20), (32, 32), (44, 40), None])
    report = import_tracks(root, tmp_path / "ann", fps=10)
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "ann" / "annotations.jsonl").read_text().splitlines())}
    assert sorted(rows) == ["track-GOT-10k_Train_000001", "track-GOT-10k_Train_000002"]
    right, up = rows["track-GOT-10k_Train_000001"], rows["track-GOT-10k_Train_000002"]
    assert right["question"] == "In which direction does the zebra move?"
    assert right["options"][letter_index(right["answer"])] == "to the right"
    assert right["transforms"] == ["hflip", "reverse"]
    assert up["options"][letter_index(up["answer"])] == "up" and up["transforms"] == ["reverse"]
    assert report.skipped == {"moves less than 0.15 of the frame": 1, "goes back and forth": 1,
                              "moves diagonally": 1}  # fmt: skip
    frames = read_frames(tmp_path / "ann" / right["video"])
    assert frames.shape == (8, 48, 64, 3)
    built = build_pairs(tmp_path / "ann", tmp_path / "pairs")
    assert built.ok, built.errors
    cf = [json.loads(x) for x in (tmp_path / "pairs" / "pairs.jsonl").read_text().splitlines()]
    flipped = next(r for r in cf if r["source_id"] == right["id"] and r["branch"] == "counterfactual")
    assert flipped["options"][letter_index(flipped["answer"])] == "to the left"


def test_motion_rules() -> None:
    boxes = [(0.0, 0.0, 10.0, 10.0), None, (50.0, 2.0, 10.0, 10.0)]
    assert motion_of(boxes, 100, 100, min_displacement=0.15).direction == "to the right"
    assert motion_of(boxes, 100, 100, min_displacement=0.6).reason == "moves less than 0.6 of the frame"
    assert motion_of([None, (1.0, 1.0, 2.0, 2.0)], 10, 10, min_displacement=0.1).reason.startswith("the object")


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels: what Pillow reads before it decodes anything."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_tracks_skip_bad_boxes_bombs_and_the_test_split_each_with_its_reason(tmp_path: Path) -> None:
    root = tmp_path / "GOT-10k"
    moving = [(8 + 6 * i, 24) for i in range(8)]
    write_sequence(root / "train", "GOT-10k_Train_000001", moving)  # one level down, as GOT-10k ships its splits
    write_sequence(root / "train", "GOT-10k_Train_000002", moving)
    write_sequence(root / "train", "GOT-10k_Train_000003", moving)
    write_sequence(root / "train", "GOT-10k_Train_000004", moving)
    write_sequence(root / "train", "GOT-10k_Train_000005", moving)
    write_sequence(root / "test", "GOT-10k_Test_000001", moving)
    boxes = [f"{x - 4},{y - 4},8,8" for x, y in moving]
    overflow = [*boxes[:-1], "1.7e308,20,1.7e308,8"]  # a centre that overflows to inf
    (root / "train" / "GOT-10k_Train_000002" / "groundtruth.txt").write_text("\n".join(overflow) + "\n")
    far = [*boxes[:-1], "5000,20,8,8"]  # far right of a 64x48 frame: would read as "to the right"
    (root / "train" / "GOT-10k_Train_000003" / "groundtruth.txt").write_text("\n".join(far) + "\n")
    (root / "train" / "GOT-10k_Train_000004" / "00000001.png").write_bytes(png_header(20_000, 20_000))
    (root / "train" / "GOT-10k_Train_000005" / "00000005.png").write_bytes(png_header(20_000, 20_000))
    (root / "test" / "GOT-10k_Test_000001" / "groundtruth.txt").write_text(boxes[0] + "\n")  # the first box only

    report = import_tracks(root, tmp_path / "ann")
    rows = [json.loads(x) for x in (tmp_path / "ann" / "annotations.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["track-GOT-10k_Train_000001"]
    assert report.skipped == {
        "a box lies outside the frame": 2, "unreadable frame": 1, "frames could not be encoded": 1,
        "one box for the first frame only (GOT-10k's test split: its other boxes are not public)": 1,
    }  # fmt: skip
    outside = " ".join(report.examples["a box lies outside the frame"])
    assert "line 8" in outside and "64x48 frame" in outside
    assert "decompression bomb" in report.examples["unreadable frame"][0]
    assert "decompression bomb" in report.examples["frames could not be encoded"][0]
    assert not (tmp_path / "ann" / "videos" / "GOT-10k_Train_000005.mp4").exists()  # nothing half-written


def test_tracks_overlong_object_names_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "got10k"
    write_sequence(root, "a", [(8 + 6 * i, 24) for i in range(8)], meta=f"[METAINFO]\nobject_class: {'x' * 600}\n")
    report = import_tracks(root, tmp_path / "ann")
    assert report.written == 0 and report.skipped == {"question longer than 500 characters": 1}
    assert not (tmp_path / "ann" / "videos" / "a.mp4").exists()  # skipped before anything was encoded
