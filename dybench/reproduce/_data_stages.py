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

import os
from pathlib import Path

from dybench.fileio import read_jsonl, write_jsonl_atomic
from dybench.pairs import load_items
from dybench.records import Item
from dybench.reproduce._presets import SynthData
from dybench.video_r1 import video_r1_row, write_video_r1


def synthesize_split(spec: SynthData, out: Path, part: str, *, workers: int | None = None) -> None:
    """Render one part of the DyBench-Synth data (``SynthData.synth_settings``; resumes: finished clips are kept)."""
    from dybench.synth import synthesize

    synthesize(out, **spec.synth_settings(part), workers=workers, progress=False)


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


def video_r1_rows(pairs_dir: Path, relative_to: Path, items: list[Item], cues: dict[str, str]) -> list[dict]:
    """Items as Video-R1 records (``dybench.video_r1``), with the answer their planted cue points to."""
    return [
        video_r1_row(
            item.question,
            item.options,
            item.answer,
            os.path.relpath(pairs_dir / item.video, relative_to),
            source_id=item.source_id,
            **({"cue_answer": cues[item.item_id]} if item.item_id in cues else {}),
        )  # fmt: skip
        for item in items
    ]


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
    """``original.json`` (GRPO / CDPO) and ``shortcut.json`` (the bias model) beside ``pairs_dir``; on
    DyBench-Synth data each record names the answer its planted cue points to (``cue_answer``: the trainer logs
    CDPO's repulsion on cue-agreeing and cue-conflicting items apart)."""
    from dybench.synth import planted_cues

    items = originals(pairs_dir)
    if not items:
        raise ValueError(f"{pairs_dir}: no original-branch items to train on")
    cues = planted_cues(pairs_dir, synth_dir) if synth_dir is not None else {}
    write_video_r1(out_dir / "original.json", video_r1_rows(pairs_dir, out_dir, items, cues))
    ids = shortcut_ids(synth_dir) if synth_dir is not None else None
    subset = [it for it in items if ids is None or it.source_id in ids]
    if not subset:
        raise ValueError(f"{synth_dir}: no clip follows the planted shortcut; the bias model has nothing to learn")
    write_video_r1(out_dir / "shortcut.json", video_r1_rows(pairs_dir, out_dir, subset, cues))


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


def copy_in_float32(shipped: Path, out: Path) -> None:
    """The shipped start model (bfloat16, ``dybench/data``) into ``out`` in float32, the dtype RL trains in;
    ``out`` appears whole or not at all. Its ``provenance.json`` stays with the shipped copy."""
    from dybench.fileio import atomic_dir
    from dybench.weights_copy import copy_checkpoint

    with atomic_dir(out) as tmp:
        copy_checkpoint(shipped, tmp, dtype="float32", skip=("provenance.json",))
