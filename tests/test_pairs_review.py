"""dybench review: a static page with every pair side by side, and the rejects file it leads to."""

from __future__ import annotations

from pathlib import Path

from evaldata import make_pairs, pair_items
from PIL import Image
from typer.testing import CliRunner

from dybench.cli import app
from dybench.pairs import read_rejects, write_items, write_review
from dybench.video import probe


def test_review_page_shows_every_pair_with_both_answers(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path / "pairs")
    (pairs / "rejects.txt").write_text("# from an earlier review\n  md0:hflip  \nst0:hflip # not an id\n\n")
    page = write_review(pairs, frames=3)
    text = page.read_text()
    assert page == pairs / "review" / "index.html"
    for item in pair_items():
        assert f'data-pair="{item.pair_id}"' in text
    assert text.count('class="pair"') == 6
    assert 'data-pair="md0:hflip"' in text.split('class="reject" checked')[0].rsplit("<section", 1)[1]
    assert text.count('class="reject" checked') == 1
    thumbs = sorted((pairs / "review" / "frames").glob("*.jpg"))
    assert len(thumbs) == 12
    info = probe(pairs / pair_items()[0].video)
    tile = round(info.width * 96 / info.height)
    for thumb in thumbs:
        with Image.open(thumb) as im:
            assert im.size == (3 * tile + 2 * 4, 96)  # three frames side by side, 4-pixel gaps


def test_review_escapes_text_and_reports_unreadable_videos(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path / "pairs")
    items = pair_items()
    items[0] = items[0].__class__(**{**items[0].__dict__, "question": "<script>alert(1)</script>"})
    write_items(pairs, items)
    (pairs / items[1].video).write_bytes(b"not a video")
    text = write_review(pairs, tmp_path / "page").read_text()
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
    assert "cannot show the video" in text


def test_read_rejects_and_cli(tmp_path: Path) -> None:
    assert read_rejects(tmp_path) == set()
    (tmp_path / "rejects.txt").write_text("\ufeffa:hflip\n# note\nb:reverse # why\n")
    assert read_rejects(tmp_path) == {"a:hflip", "# note", "b:reverse # why"}  # exact ids; a comment names no pair
    pairs = make_pairs(tmp_path / "pairs")
    result = CliRunner().invoke(app, ["review", "--pairs", str(pairs), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0 and (tmp_path / "r" / "index.html").is_file()
    missing = CliRunner().invoke(app, ["review", "--pairs", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "no pairs.jsonl" in missing.output
