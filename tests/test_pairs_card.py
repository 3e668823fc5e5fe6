"""A pairs folder as a Hugging Face dataset repository: the card `dybench build` writes, `datasets.load_dataset`
on the folder (offline), and dybench's tasks on a copy of the repository as a clone or a download has it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from annotation_rows import record, write_annotations
from typer.testing import CliRunner
from videos import make_frames, write_clip

from dybench.cli import app
from dybench.evaluation._docs import pair_docs
from dybench.evaluation._locations import DataLocationError
from dybench.pairs import BuildError, build_pairs, load_items, read_manifest, write_card
from dybench.pairs._card import MARKER, category_file
from dybench.pairs._dataset import _schema
from dybench.pairs.importers import SEGMENT_FORMATS, SOURCE_DATASETS

ROWS = [
    record("move", "a.mp4", source={"dataset": "50salads", "file": "x.txt"}),
    record("side", "b.mp4", question="Is the square left of the centre?", options=[], answer="yes",
           category="spatial", source={"dataset": "something-something-v2", "id": "7"}),
    record("colour", "b.mp4", question="What colour is the square?", options=["red", "yellow"], answer="B",
           category="static"),
    record("rd", "a.mp4", cf_video="cf/a.mp4", cf_answer={"given": "A"}, category="reversible_dynamics",
           question="Is the square growing or shrinking?", options=["growing", "shrinking"], answer="B",
           source={"dataset": "dybench"}),
    record("lab", "b.mp4", question="Does the square move?", options=[], answer="yes", category="static",
           transforms=["hflip"], source={"dataset": "my-lab"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    (src / "cf").mkdir()
    for k, name in enumerate(("a.mp4", "b.mp4", "cf/a.mp4")):
        write_clip(src / name, make_frames(6, 24, 32, seed=k))
    write_annotations(src, ROWS)
    return src


def build(src: Path, out: Path, **kw):
    report = build_pairs(src, out, lossless=True, **kw)
    assert report.ok and not report.warnings, (report.errors, report.warnings)
    return report


@pytest.fixture(scope="module")
def built(src, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pairs")
    build(src, out, license="cc-by-4.0")
    return out


def card_parts(out: Path) -> tuple[dict, str, str]:
    """The card's front matter, the user's text and the generated text."""
    text = (out / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    matter, rest = text[4:].split("\n---\n", 1)
    user, generated = rest.split(MARKER + "\n", 1)
    return yaml.safe_load(matter), user, generated


def test_front_matter_is_a_hub_dataset_card(built):
    from huggingface_hub import DatasetCard

    data = DatasetCard.load(built / "README.md").data
    assert data.license == "cc-by-4.0"
    assert data.size_categories == ["n<1K"]
    assert data.task_categories == ["video-text-to-text", "visual-question-answering"]
    configs = {c["config_name"]: c for c in data.configs}
    assert list(configs) == ["all", "moving_direction", "reversible_dynamics", "spatial", "static"]
    assert configs["all"]["default"] is True and configs["all"]["data_files"] == [
        {"split": "test", "path": "pairs.parquet"}
    ]
    assert configs["static"]["data_files"] == [{"split": "test", "path": "data/static.parquet"}]
    assert all("default" not in c for name, c in configs.items() if name != "all")


@pytest.fixture
def load_dataset(tmp_path, monkeypatch):
    """``datasets.load_dataset`` offline, caching in the test's folder."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    def load(*args, **kw):
        return datasets.load_dataset(*args, cache_dir=str(tmp_path / "hf-cache"), **kw)

    return load


def test_load_dataset_reads_every_item_and_each_category(built, load_dataset):
    items = load_items(built)
    everything = load_dataset(str(built))
    assert list(everything) == ["test"]  # the default config, "all": not the videos under videos/
    assert everything["test"].column_names == _schema().names
    assert everything["test"].to_list() == [item.to_row() for item in items]
    for category in ("moving_direction", "reversible_dynamics", "spatial", "static"):
        rows = load_dataset(str(built), category, split="test")
        assert rows.to_list() == [item.to_row() for item in items if item.category == category]
        # the same types in every config, even where every question is yes/no
        assert rows.features["options"].feature.dtype == "string"
    assert all((built / row["video"]).is_file() for row in everything["test"])


def test_body_is_generated_from_the_manifest(built):
    _, _, body = card_parts(built)
    version = read_manifest(built)["tool"]["dybench"]
    assert f"by dybench {version} (format `dybench-pairs/1`)" in body
    assert "7 counterfactual pairs (14 items" in body
    # category | pairs | items | hflip | reverse | given | change | keep
    assert "| `moving_direction` | 2 | 4 | 1 | 1 | 0 | 2 | 0 |" in body
    assert "| `reversible_dynamics` | 1 | 2 | 0 | 0 | 1 | 1 | 0 |" in body
    assert "| `static` | 3 | 6 | 2 | 1 | 0 | 0 | 3 |" in body
    assert "| **all** | 7 | 14 | 4 | 2 | 1 | 4 | 3 |" in body
    assert "- `given`: a second video that came with the annotation, packaged as it is" in body
    assert "- Renders: libx264 (lossless, yuv420p, preset medium)" in body
    assert "- `swap`" not in body  # only the transforms the dataset has
    assert "| 50 Salads | 2 | CC BY-NC-SA 4.0 |" in body
    assert f"| {SOURCE_DATASETS['dybench'].name} | 1 | MIT" in body
    assert "| Something-Something v2 | 1 |" in body
    assert "| `my-lab` | 1 | not known to dybench" in body
    assert "| annotations without a `source` | 2 | not recorded" in body
    assert "own licence (`cc-by-4.0` in the front matter) is its publisher's choice; it does not lift" in body
    assert '--tasks dybench_pair --include_path "$(dybench tasks-path)"' in body
    assert "export DYBENCH_PAIRS=" in body
    assert 'load_dataset("<user>/<dataset>", "moving_direction", split="test")' in body
    assert "**P-Acc** (the headline): a pair scores 1 only when both of its items are answered correctly" in body
    assert str(built) not in body and "/tmp" not in body  # no local paths in a card meant to be published


def test_rebuild_keeps_what_the_user_wrote_and_follows_the_data(src, tmp_path):
    out = tmp_path / "pairs"
    build(src, out, license="cc-by-nc-sa-4.0")
    front, user, _ = card_parts(out)
    assert user.startswith("\n# Counterfactual video pairs (dybench)\n\n<!-- Say here what the dataset is for")
    assert front["pretty_name"] == "Counterfactual video pairs (dybench)"
    front["pretty_name"] = "My pairs"
    front["language"] = ["en"]
    del front["tags"]
    front["configs"].append({"config_name": "hard", "data_files": [{"split": "test", "path": "hard.parquet"}]})
    matter = yaml.safe_dump(front, sort_keys=False)
    mine = "\n# My pairs\n\nWhat they test, and how to cite them.\n\n"
    (out / "README.md").write_text(f"---\n{matter}---\n{mine}{MARKER}\n\nstale text\n", encoding="utf-8")

    fewer = tmp_path / "fewer.jsonl"  # the static questions go: their config and file must go too
    fewer.write_text("".join(json.dumps(r) + "\n" for r in ROWS if r["category"] != "static"))
    build(src, out, annotations=fewer)
    front, user, body = card_parts(out)
    assert user == mine
    assert (front["pretty_name"], front["language"], front["license"]) == ("My pairs", ["en"], "cc-by-nc-sa-4.0")
    assert "tags" not in front  # the user removed it: not put back
    names = [c["config_name"] for c in front["configs"]]
    assert names == ["all", "moving_direction", "reversible_dynamics", "spatial", "hard"]
    assert not (out / category_file("static")).exists() and (out / category_file("spatial")).is_file()
    assert "stale text" not in body and "| **all** | 4 | 8 |" in body

    before = (out / "README.md").read_bytes()
    build(src, out, annotations=fewer)
    assert (out / "README.md").read_bytes() == before  # the same dataset gives the same card


def test_a_readme_written_before_the_first_build_is_kept_whole(src, tmp_path):
    out = tmp_path / "pairs"
    out.mkdir()
    (out / "README.md").write_text("---\nlicense: mit\npretty_name: Mine\n---\n# Mine\n\nHand-written.\n")
    build(src, out)
    front, user, _ = card_parts(out)
    assert user == "\n# Mine\n\nHand-written.\n\n"
    assert (front["license"], front["pretty_name"]) == ("mit", "Mine")
    assert front["tags"][-1] == "dybench"  # dybench's defaults fill what the user's front matter lacks


def test_a_card_with_broken_front_matter_is_left_alone_with_a_warning(src, tmp_path):
    out = tmp_path / "pairs"
    build(src, out)
    assert "own licence is not chosen yet" in card_parts(out)[2] and card_parts(out)[0]["license"] == "unknown"
    broken = "---\nlicense: mit\ntags: [unclosed\n---\nmine\n"
    (out / "README.md").write_text(broken)
    report = build_pairs(src, out, lossless=True, license="mit")
    assert report.ok and len(report.warnings) == 1
    assert "README.md:4: the card's front matter is not valid YAML" in report.warnings[0]
    assert (out / "README.md").read_text() == broken
    assert len(load_items(out)) == 14  # the dataset itself is built


def test_a_card_written_later_without_the_annotations(src, tmp_path):
    annotations = tmp_path / "annotations.jsonl"
    shutil.copyfile(src / "annotations.jsonl", annotations)
    out = tmp_path / "pairs"
    build(src, out, annotations=annotations)
    annotations.unlink()
    write_card(out, license="mit")
    front, _, body = card_parts(out)
    assert front["license"] == "mit"
    assert "The annotations file was not at hand, so the sources of the videos are not listed." in body


def test_a_bad_licence_is_refused_before_anything_is_built(src, tmp_path):
    with pytest.raises(BuildError, match="Hugging Face licence identifier"):
        build_pairs(src, tmp_path / "pairs", license="CC BY 4.0")
    assert not (tmp_path / "pairs").exists()


def test_build_command_sets_the_licence(src, tmp_path):
    out = tmp_path / "pairs"
    result = CliRunner().invoke(app, ["build", "--src", str(src), "--out", str(out), "--license", "mit"])
    assert result.exit_code == 0, result.output
    assert card_parts(out)[0]["license"] == "mit"


def published(built: Path, dest: Path) -> Path:
    """The repository as an upload leaves it (``--exclude ".dybench/*"``) and a download gives it back:
    plain copies with new modification times, no build state."""
    shutil.copytree(built, dest, ignore=shutil.ignore_patterns(".dybench"), copy_function=shutil.copyfile)
    return dest


def test_tasks_read_a_downloaded_copy_of_the_repository(built, tmp_path, monkeypatch):
    clone = published(built, tmp_path / "clone")
    monkeypatch.setenv("DYBENCH_PAIRS", str(clone))
    docs = pair_docs()
    assert [d["item_id"] for d in docs] == [item.item_id for item in load_items(built)]
    assert all(Path(d["video_path"]).is_relative_to(clone.resolve()) for d in docs)

    # the Hub's cache: every file of a snapshot is a link into a folder of blobs
    snapshot = tmp_path / "hub" / "snapshots" / "0123abc"
    blobs = tmp_path / "hub" / "blobs"
    for path in sorted(p for p in clone.rglob("*") if p.is_file()):
        blob = blobs / path.relative_to(clone).as_posix().replace("/", "_")
        blob.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, blob)
        link = snapshot / path.relative_to(clone)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(blob)
    assert len(pair_docs(folder=snapshot)) == len(docs)


def test_tasks_check_a_copy_against_its_manifest(built, tmp_path):
    edited = published(built, tmp_path / "edited")
    (edited / "videos/hflip/a.mp4").write_bytes(b"not the video the manifest hashed")
    with pytest.raises(DataLocationError, match=r"changed since the build .*videos/hflip/a\.mp4"):
        pair_docs(folder=edited)

    unfetched = published(built, tmp_path / "unfetched")  # `git clone` without Git LFS
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{'0' * 64}\nsize 1234\n"
    (unfetched / "videos/original/b.mp4").write_text(pointer)
    with pytest.raises(DataLocationError, match=r"are Git LFS pointers.*videos/original/b\.mp4.*git lfs pull"):
        pair_docs(folder=unfetched)


def test_every_importer_source_has_its_licence():
    """The ``source.dataset`` each importer writes (``segments`` writes its format) is one the card knows."""
    for dataset in (*SEGMENT_FORMATS, "something-something-v2", "tracks"):
        known = SOURCE_DATASETS[dataset]
        assert known.name and known.licence and known.cite
