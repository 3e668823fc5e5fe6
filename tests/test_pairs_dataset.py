"""PairsDataset: the one home of the pairs dataset's layout, its manifest and its fingerprint."""

from __future__ import annotations

import pytest

from dybench.fileio import sha256_file
from dybench.pairs import FORMAT, PairsDataset, write_items
from dybench.records import Item
from dybench.reproduce._stages import fingerprint as stage_input_fingerprint
from dybench.results import load_references

QUESTION = ("moving_direction", "Which way?", ("left", "right"))
ITEMS = [
    Item("a-o", "a", "original", "hflip", "change", QUESTION[0], "videos/a.mp4", *QUESTION[1:], "A", "a"),
    Item("a-c", "a", "counterfactual", "hflip", "change", QUESTION[0], "videos/a_h.mp4", *QUESTION[1:], "B", "a"),
]


def _manifest(hashes: dict[str, str]) -> dict:
    return {"format": FORMAT, "files": hashes}


def test_the_files_are_named_once(tmp_path):
    data = PairsDataset(str(tmp_path))
    assert data.root == tmp_path
    assert [p.name for p in (data.jsonl, data.parquet, data.manifest_path, data.videos)] == [
        "pairs.jsonl",
        "pairs.parquet",
        "manifest.json",
        "videos",
    ]
    assert not data.exists() and data.items_file() is None and data.manifest() is None
    with pytest.raises(ValueError, match="no pairs.jsonl or pairs.parquet"):
        data.items()
    with pytest.raises(ValueError, match="nothing to identify"):
        data.fingerprint()


def test_fingerprint_is_the_manifest_else_the_items_file(tmp_path):
    built, bare = PairsDataset(tmp_path / "built"), PairsDataset(tmp_path / "bare")
    write_items(built.root, ITEMS, manifest=_manifest)
    write_items(bare.root, ITEMS)
    assert built.fingerprint() == "manifest:" + sha256_file(built.manifest_path)
    assert built.manifest()["files"] == {
        "pairs.parquet": sha256_file(built.parquet),
        "pairs.jsonl": sha256_file(built.jsonl),
    }
    assert bare.fingerprint() == "items:" + sha256_file(bare.jsonl)
    bare.jsonl.unlink()
    assert bare.items_file() == bare.parquet and bare.fingerprint() == "items:" + sha256_file(bare.parquet)
    assert [it.item_id for it in bare.items()] == ["a-o", "a-c"]  # read from the parquet file


def test_every_package_identifies_a_dataset_by_the_same_fingerprint(tmp_path):
    for folder, manifest in ((tmp_path / "built", _manifest), (tmp_path / "bare", None)):
        write_items(folder, ITEMS, manifest=manifest)
        (ref,), problems = load_references([folder])
        assert problems == ()
        assert ref.fingerprint == stage_input_fingerprint(folder) == PairsDataset(folder).fingerprint()


def test_stamp_changes_with_the_items_and_the_manifest(tmp_path):
    data = PairsDataset(tmp_path)
    assert data.stamp() == ()
    write_items(tmp_path, ITEMS, manifest=_manifest)
    first = data.stamp()
    assert [name for name, _, _ in first] == ["pairs.jsonl", "pairs.parquet", "manifest.json"]
    assert data.stamp() == first
    write_items(tmp_path, ITEMS[:1], manifest=_manifest)
    assert data.stamp() != first


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "manifest.json"),
        ('{"format": "other/1", "files": {}}', "not a dybench-pairs/1 manifest"),
        ('{"format": "dybench-pairs/1", "files": {"../x": "' + "0" * 64 + '"}}', "not a path inside the dataset"),
    ],
)
def test_a_manifest_dybench_did_not_write_is_refused_by_name(tmp_path, text, problem):
    write_items(tmp_path, ITEMS)
    (tmp_path / "manifest.json").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=problem):
        PairsDataset(tmp_path).manifest()
    assert [it.item_id for it in PairsDataset(tmp_path).items()] == ["a-o", "a-c"]  # nothing to vouch for
