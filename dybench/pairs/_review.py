"""``dybench review``: a static HTML page to check a pairs dataset by eye before it is used.

DyBench's authors verified every pair by hand (static content consistent, the change minimal). This
page shows each pair side by side — a strip of frames of each branch, the question, the options and
both gold answers — with a filter by category. Ticking "reject" on pairs and pressing "Save rejects"
downloads ``rejects.txt`` (one pair id per line); put it in the pairs folder and ``dybench build`` leaves
those pairs out. No server: open ``index.html`` in a browser.
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dybench.fileio import atomic_path, inside, write_text_atomic
from dybench.pairs._dataset import group_pairs, load_items
from dybench.records import Item, letter_index
from dybench.video import VideoError, read_frames

#: The rejects file ``dybench build`` honours, in the pairs folder: one exact pair id per line.
REJECTS = "rejects.txt"
#: A line of ``rejects.txt`` that starts with this and names no pair is a comment.
COMMENT = "#"
_THUMBS = "frames"


def read_rejects(pairs_dir: str | Path) -> set[str]:
    """Every line of ``<pairs_dir>/rejects.txt``, without the spaces around it (empty when there is none).

    A line is one pair id, exactly: ``#`` inside or after an id is part of it (``clip#1:hflip``), since
    ids come from annotation ids, which may hold any character. A line that starts with ``#`` is a
    comment unless it is a pair's id; :func:`dybench.pairs.build_pairs` warns about the other lines that
    name no pair.
    """
    path = Path(pairs_dir) / REJECTS
    if not path.is_file():
        return set()
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    return {line.strip() for line in lines} - {""}


def _strip(video: Path, frames: int, height: int) -> Image.Image:
    """``frames`` frames of ``video`` (first and last included), side by side, ``height`` pixels high."""
    images = read_frames(video, num_frames=frames)
    scale = height / images.shape[1]
    width = max(1, round(images.shape[2] * scale))
    tiles = [np.asarray(Image.fromarray(im).resize((width, height))) for im in images]
    gap = np.full((height, 4, 3), 255, np.uint8)
    row = [part for tile in tiles for part in (tile, gap)][:-1]
    return Image.fromarray(np.concatenate(row, axis=1))


def _answer(item: Item) -> str:
    if not item.options:
        return item.answer
    return f"{item.answer}. {item.options[letter_index(item.answer)]}"


def write_review(pairs_dir: str | Path, out: str | Path | None = None, *, frames: int = 4, height: int = 96) -> Path:
    """Write the review page (``index.html`` + ``frames/``) into ``out`` (default ``<pairs>/review``)."""
    pairs_dir = Path(pairs_dir)
    out = Path(out) if out is not None else pairs_dir / "review"
    root = pairs_dir if out == pairs_dir / "review" else out  # the folder the user named: writes stay inside
    page = inside(root, out / "index.html")
    inside(root, out / _THUMBS / "x.jpg").parent.mkdir(parents=True, exist_ok=True)
    rejected = read_rejects(pairs_dir)
    cards = []
    for pair_id, branches in sorted(group_pairs(load_items(pairs_dir)).items()):
        sides: list[dict[str, Any]] = []
        for branch in ("original", "counterfactual"):
            item = branches.get(branch)
            if item is None:
                sides.append({"branch": branch, "missing": True})
                continue
            thumb = f"{_THUMBS}/{hashlib.sha1(item.item_id.encode()).hexdigest()[:16]}.jpg"
            try:
                with atomic_path(out / thumb, within=root) as tmp:
                    _strip(pairs_dir / item.video, frames, height).save(tmp, format="JPEG", quality=85)
                problem = ""
            except (VideoError, OSError, ValueError) as e:
                thumb, problem = "", str(e)
            sides.append({"branch": branch, "thumb": thumb, "problem": problem, "answer": _answer(item),
                          "options": list(item.options), "item_id": item.item_id})  # fmt: skip
        first = next(iter(branches.values()))
        cards.append({
            "pair_id": pair_id, "category": first.category, "transform": first.transform,
            "relation": first.relation, "question": first.question, "sides": sides,
            "rejected": pair_id in rejected,
        })  # fmt: skip
    write_text_atomic(page, _page(pairs_dir, cards), within=root)
    return page


def _side(side: dict) -> str:
    if side.get("missing"):
        return f'<div class="side"><b>{side["branch"]}</b><p class="bad">missing from the dataset</p></div>'
    picture = (
        f'<img src="{html.escape(side["thumb"])}" alt="{html.escape(side["item_id"])}">'
        if side["thumb"]
        else f'<p class="bad">cannot show the video: {html.escape(side["problem"])}</p>'
    )
    options = "".join(f"<li>{html.escape(o)}</li>" for o in side["options"])
    return (
        f'<div class="side"><b>{side["branch"]}</b>{picture}<ol type="A">{options}</ol>'
        f"<p>gold: <b>{html.escape(side['answer'])}</b></p></div>"
    )


def _page(pairs_dir: Path, cards: list[dict]) -> str:
    categories = sorted({c["category"] for c in cards})
    choices = "".join(f'<option value="{html.escape(c)}">{html.escape(c)}</option>' for c in categories)
    body = "".join(
        f'<section class="pair" data-category="{html.escape(c["category"])}" data-pair="{html.escape(c["pair_id"])}">'
        f"<h3>{html.escape(c['pair_id'])} <small>{html.escape(c['category'])} · {html.escape(c['transform'])} · "
        f"answer must {'change' if c['relation'] == 'change' else 'stay'}</small></h3>"
        f'<p class="q">{html.escape(c["question"])}</p><div class="sides">{"".join(_side(s) for s in c["sides"])}</div>'
        f'<label><input type="checkbox" class="reject"{" checked" if c["rejected"] else ""}> reject this pair</label>'
        "</section>"
        for c in cards
    )
    title = f"dybench review: {html.escape(pairs_dir.name or str(pairs_dir))}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
.pair {{ border-top: 1px solid #ccc; padding: .5rem 0; }}
.sides {{ display: flex; gap: 2rem; flex-wrap: wrap; }}
.side img {{ display: block; max-width: 100%; }}
.q {{ font-size: 1.1rem; }} .bad {{ color: #b00; }} small {{ color: #666; font-weight: normal; }}
header {{ position: sticky; top: 0; background: #fff; padding: .5rem 0; border-bottom: 2px solid #333; }}
</style></head><body>
<header><h1>{title}</h1>
<p>{len(cards)} pairs. Check that the static content matches and that only the asked-about change differs;
tick <i>reject</i> on bad pairs, press <b>Save rejects</b>, put the downloaded <code>{REJECTS}</code> in the pairs
folder and run <code>dybench build</code> again: it leaves those pairs out.</p>
<label>category <select id="category"><option value="">all</option>{choices}</select></label>
<button id="save">Save rejects</button> <span id="count"></span></header>
{body}
<script>
const pairs = [...document.querySelectorAll('.pair')];
function refresh() {{
  const want = document.getElementById('category').value;
  pairs.forEach(p => p.hidden = want !== '' && p.dataset.category !== want);
  const n = pairs.filter(p => p.querySelector('.reject').checked).length;
  document.getElementById('count').textContent = n + ' rejected';
}}
document.getElementById('category').addEventListener('change', refresh);
pairs.forEach(p => p.querySelector('.reject').addEventListener('change', refresh));
document.getElementById('save').addEventListener('click', () => {{
  const ids = pairs.filter(p => p.querySelector('.reject').checked).map(p => p.dataset.pair);
  const text = '# pairs rejected in dybench review; dybench build leaves them out\\n' + ids.join('\\n') + '\\n';
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([text], {{type: 'text/plain'}}));
  link.download = '{REJECTS}';
  link.click();
}});
refresh();
</script></body></html>
"""


__all__ = ["REJECTS", "read_rejects", "write_review"]
