"""``dybench review``: a static HTML page to check a pairs dataset by eye before it is used.

DyBench's authors verified every pair by hand (static content consistent, the change minimal). This
page shows each pair side by side — a strip of frames of each branch, an animated preview that plays it,
a link to the video itself, the question, the options and both gold answers — with a filter by
category. A swap pair's strip is taken around its cut (where the second segment starts, from the
build's render stamp), marked in red, so the swapped events are in view. Ticking "reject" on pairs and
pressing "Save rejects" downloads ``rejects.txt`` (one pair id per line); put it in the pairs folder and
``dybench build`` leaves those pairs out. No server: open ``index.html`` in a browser.
"""

from __future__ import annotations

import hashlib
import html
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dybench.fileio import JSONInputError, atomic_path, inside, parse_json, write_text_atomic
from dybench.pairs._dataset import group_pairs, load_items, stamp_path
from dybench.records import Item, letter_index
from dybench.video import VideoError, probe, read_frames, sample_indices

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


#: Most frames an animated preview plays (uniformly spaced over the video).
PREVIEW_FRAMES = 24
_GAP, _CUT = (255, 255, 255), (220, 0, 0)


def strip_indices(frame_count: int, frames: int, cut: int | None = None) -> list[int]:
    """The frames a strip shows: ``frames`` spread over the video (first and last included); with a swap's
    ``cut`` (the first frame of the second segment), half of them up to the frame before it and half from
    it on, so both sides of the cut are in view."""
    if cut is None or not 0 < cut < frame_count:
        return sample_indices(frame_count, num_frames=frames)
    before = sample_indices(cut, num_frames=frames // 2)
    after = [cut + i for i in sample_indices(frame_count - cut, num_frames=frames - frames // 2)]
    return [*before, *after]


def _tiles(images: np.ndarray, height: int) -> list[np.ndarray]:
    scale = height / images.shape[1]
    width = max(1, round(images.shape[2] * scale))
    return [np.asarray(Image.fromarray(im).resize((width, height))) for im in images]


def _strip(video: Path, indices: list[int], height: int, cut: int | None = None) -> Image.Image:
    """The frames ``indices`` of ``video`` side by side, ``height`` pixels high; a red bar before ``cut``."""
    tiles = _tiles(read_frames(video, indices=indices), height)
    row: list[np.ndarray] = []
    for index, tile in zip(indices, tiles, strict=True):
        if row:
            row.append(np.full((height, 4, 3), _CUT if index == cut else _GAP, np.uint8))
        row.append(tile)
    return Image.fromarray(np.concatenate(row, axis=1))


def _preview(video: Path, frame_count: int, height: int) -> list[Image.Image]:
    """The frames of the animated preview: every frame, or :data:`PREVIEW_FRAMES` spread over a longer video."""
    indices = sorted(set(sample_indices(frame_count, num_frames=min(frame_count, PREVIEW_FRAMES))))
    return [Image.fromarray(t) for t in _tiles(read_frames(video, indices=indices), height)]


def swap_cut(pairs_dir: Path, item: Item) -> int | None:
    """The first frame of the second segment in a swap item's video (None for other transforms, or when
    the build's render stamp is gone): A's length in the original (A then B), B's in the counterfactual."""
    if item.transform != "swap":
        return None
    try:
        stamp = parse_json(stamp_path(pairs_dir, item.video).read_bytes())
        (a_start, a_stop), (b_start, b_stop) = stamp["key"]["frames"]
    except (OSError, JSONInputError, KeyError, TypeError, ValueError):
        return None
    return a_stop - a_start if item.branch == "original" else b_stop - b_start


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
            name = f"{_THUMBS}/{hashlib.sha1(item.item_id.encode()).hexdigest()[:16]}"
            thumb, preview, cut = f"{name}.jpg", f"{name}.gif", swap_cut(pairs_dir, item)
            video = pairs_dir / item.video
            try:
                info = probe(video)
                strip = _strip(video, strip_indices(info.frame_count, frames, cut), height, cut)
                with atomic_path(out / thumb, within=root) as tmp:
                    strip.save(tmp, format="JPEG", quality=85)
                images = _preview(video, info.frame_count, height)
                step = info.frame_count / len(images)
                with atomic_path(out / preview, within=root) as tmp:
                    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], loop=0,
                                   duration=max(20, round(1000 * step / info.fps)))  # fmt: skip
                problem = ""
            except (VideoError, OSError, ValueError) as e:
                thumb, preview, problem = "", "", str(e)
            sides.append({"branch": branch, "thumb": thumb, "preview": preview, "problem": problem,
                          "answer": _answer(item), "options": list(item.options), "item_id": item.item_id,
                          "video": Path(os.path.relpath(video, out)).as_posix(), "cut": cut})  # fmt: skip
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
    if side["thumb"]:
        cut = f" · red line: the swap cut, before frame {side['cut']}" if side["cut"] is not None else ""
        picture = (
            f'<img src="{html.escape(side["thumb"])}" alt="{html.escape(side["item_id"])}">'
            f'<img class="preview" loading="lazy" src="{html.escape(side["preview"])}" alt="plays the video">'
            f'<p class="meta">strip · animated preview · <a href="{html.escape(side["video"])}">the video</a>{cut}</p>'
        )
    else:
        picture = f'<p class="bad">cannot show the video: {html.escape(side["problem"])}</p>'
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
.side img {{ display: block; max-width: 100%; }} .side img.preview {{ margin-top: .3rem; }}
.meta {{ color: #666; font-size: .85rem; margin: .2rem 0; }}
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
