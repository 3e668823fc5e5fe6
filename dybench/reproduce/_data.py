"""The data stages: DyBench-Synth splits, their pairs datasets, and the training files each run reads.

- GRPO, the bias model and CDPO train on the *original* branch only (Contract 4's Video-R1 json): the
  correctness-only setting whose shortcut the papers target. CRPO trains on the pairs themselves
  (both branches in one step), which is the method.
- The bias model (CDPO stage 1) trains on the *shortcut subset*: with DyBench-Synth training data, the
  clips where the planted cue agrees with the answer (``shortcut.agrees`` in the annotations), so the
  shortcut is all there is to learn there. With a user's pairs dataset, whose shortcuts dybench cannot
  know, it is the whole original branch (give ``bias_data`` for your own subset).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dybench.fileio import read_jsonl, write_json_atomic, write_jsonl_atomic
from dybench.pairs import load_items
from dybench.records import Item, letter
from dybench.reproduce._presets import SynthData


def synthesize_split(spec: SynthData, out: Path, split: str, *, workers: int | None = None) -> None:
    """Render one DyBench-Synth split (resumes: finished clips are kept)."""
    from dybench.synth import synthesize

    synthesize(
        out,
        n=spec.n_train if split == "train" else spec.n_test,
        seed=spec.seed,
        size=spec.size,
        frames=spec.frames,
        fps=spec.fps,
        categories=list(spec.categories),
        bias=spec.bias,
        split=split,
        max_distractors=spec.max_distractors,
        workers=workers,
        progress=False,
    )


def fixed_order(row: dict) -> bool:
    """A multiple-choice question whose options are listed in its family's fixed order (``VALUES``).

    The tiny preset keeps only these: a 1M-parameter model learns *which letter* means "right" when it
    is the same letter in every question (measured: with synth's shuffled options and yes/no wordings
    it learned neither the planted cue nor the motion in 800 supervised steps; with a fixed order it
    learned the cue in under 200). Answers stay balanced: synth deals the answer values evenly.
    """
    from dybench.records import letter_index
    from dybench.synth import VALUES

    kind = str(row.get("family", "")).partition("/")[2]
    values = VALUES.get(kind)
    if not row.get("options") or values is None or row.get("truth") not in values:
        return False
    return letter_index(row["answer"]) == values.index(row["truth"]) and len(row["options"]) == len(values)


def select_annotations(src: Path, selection: str) -> Path | None:
    """Write ``<src>/annotations.<selection>.jsonl`` with the questions ``selection`` keeps (None: all)."""
    if selection == "all":
        return None
    if selection != "fixed_order":
        raise ValueError(f"unknown question selection {selection!r}; use all or fixed_order")
    rows = [row for row in read_jsonl(src / "annotations.jsonl") if fixed_order(row)]
    if not rows:
        raise ValueError(f"{src}: no multiple-choice question lists its options in the fixed order; synthesize more")
    path = src / f"annotations.{selection}.jsonl"
    write_jsonl_atomic(path, rows)
    return path


def build_split(src: Path, out: Path, *, lossless: bool, selection: str = "all", workers: int = 1) -> None:
    """``dybench build`` of a synthesized split (its ``selection`` of questions); every item must build."""
    from dybench.pairs import build_pairs

    annotations = select_annotations(src, selection)
    report = build_pairs(src, out, annotations=annotations, lossless=lossless, workers=workers)
    if report.errors:
        shown = "; ".join(str(e) for e in report.errors[:3])
        raise ValueError(f"{out}: {len(report.errors)} item(s) failed to build ({shown})")


def video_r1_rows(pairs_dir: Path, relative_to: Path, items: list[Item]) -> list[dict]:
    """Items as Video-R1 rows (``problem``, ``options``, ``solution``, ``path``, ``problem_type``)."""
    rows = []
    for item in items:
        options = [f"{letter(i)}. {text}" for i, text in enumerate(item.options)]
        rows.append(
            {
                "problem": item.question,
                "options": options,
                "solution": f"<answer>{item.answer}</answer>",
                "path": os.path.relpath(pairs_dir / item.video, relative_to),
                "problem_type": "multiple choice" if options else "yes/no",
                "data_type": "video",
                "source_id": item.source_id,
            }
        )
    return rows


def originals(pairs_dir: Path) -> list[Item]:
    """One item per source question: the original branch, first pair of each question."""
    seen: set[str] = set()
    out = []
    for item in load_items(pairs_dir):
        if item.branch == "original" and item.source_id not in seen:
            seen.add(item.source_id)
            out.append(item)
    return out


def shortcut_ids(synth_dir: Path) -> set[str] | None:
    """Annotation ids whose answer follows the planted shortcut (cue -> the rule's answer, no cue -> the
    other one); None when the folder is not synth output."""
    path = synth_dir / "annotations.jsonl"
    if not path.is_file():
        return None
    return {row["id"] for row in read_jsonl(path) if (row.get("shortcut") or {}).get("agrees")}


def write_training_files(pairs_dir: Path, out_dir: Path, *, synth_dir: Path | None) -> None:
    """``original.json`` (GRPO / CDPO) and ``shortcut.json`` (the bias model) beside ``pairs_dir``."""
    items = originals(pairs_dir)
    if not items:
        raise ValueError(f"{pairs_dir}: no original-branch items to train on")
    write_json_atomic(out_dir / "original.json", video_r1_rows(pairs_dir, out_dir, items))
    ids = shortcut_ids(synth_dir) if synth_dir is not None else None
    subset = [it for it in items if ids is None or it.source_id in ids]
    if not subset:
        raise ValueError(f"{synth_dir}: no clip follows the planted shortcut; the bias model has nothing to learn")
    write_json_atomic(out_dir / "shortcut.json", video_r1_rows(pairs_dir, out_dir, subset))


def pairs_problem(folder: Path) -> str | None:
    """None when ``folder`` is a pairs dataset whose videos all exist, else what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} is not a folder"
    try:
        items = load_items(folder)
    except ValueError as e:
        return str(e)
    if not items:
        return f"{folder} holds no items"
    missing = [it.video for it in items if not (folder / it.video).is_file()]
    if missing:
        return f"{folder}: {len(missing)} video(s) missing, e.g. {missing[0]}"
    return None


def video_r1_problem(path: Path) -> str | None:
    """None when ``path`` is a readable Video-R1 json list whose videos exist (relative to its folder)."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return f"{path}: not a readable JSON file ({e})"
    if not isinstance(rows, list) or not rows:
        return f"{path}: expected a non-empty JSON list of Video-R1 rows"
    bad = [r.get("path") for r in rows if not (Path(path).parent / str(r.get("path", ""))).is_file()]
    if bad:
        return f"{path}: {len(bad)} video(s) missing, e.g. {bad[0]}"
    return None
