"""Where a planted cue points, and how often a model's answers follow it.

A DyBench-Synth clip made under a bias rule (:mod:`dybench.synth._bias`) records in its annotation
whether its target carries the cue and which answer the rule ties the cue to. On balanced test data the
cue is right half the time, so a model that answers from the cue agrees with it on nearly every item
while its accuracy stays near chance; a model that watches agrees with it about half the time. The
reproduction report and ``dybench demo`` both read these numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from pathlib import Path

from dybench.fileio import read_jsonl


def planted_cues(pairs_dir: Path, synth_dir: Path) -> dict[str, str]:
    """item_id -> the answer the planted cue points to, for two-choice questions whose clip has a cue rule.

    Empty when the test data is not DyBench-Synth output with a bias rule.
    """
    from dybench.pairs import PairsDataset, group_pairs

    annotations, dataset = synth_dir / "annotations.jsonl", PairsDataset(pairs_dir)
    if not annotations.is_file() or not dataset.exists():
        return {}
    rows = {r["id"]: r for r in read_jsonl(annotations)}
    cues = {}
    for branches in group_pairs(dataset.items()).values():
        original = branches.get("original")
        row = rows.get(original.source_id) if original else None
        shortcut = row.get("shortcut") if row else None
        if original is None or row is None or not shortcut or len(original.options) > 2 or "truth" not in row:
            continue
        choices = [chr(65 + i) for i in range(len(original.options))] or ["yes", "no"]
        points_to_truth = (shortcut["answer"] == row["truth"]) == bool(shortcut["cue"])
        cue = original.answer if points_to_truth else next(c for c in choices if c != original.answer)
        for item in branches.values():  # same question, same look: the cue points to the same answer
            cues[item.item_id] = cue
    return cues


def answer_diagnostics(preds: dict[str, str | None], cues: dict[str, str]) -> dict[str, float | None]:
    """``cue_agreement`` (the share of cued items answered with the cue's answer), ``top_answer_share`` (the
    share of items given the most common answer: 1.0 is a model that always says the same) and, per answer the
    cue can point to, ``cue_agreement_<answer>`` (e.g. ``cue_agreement_A``: the agreement on the items whose cue
    points to A).

    The split tells a shortcut from a lean toward one answer: a model that follows the cue scores high on every
    half; one that leans toward B scores high where the cue points to B and low where it points to A, and its
    overall agreement then moves with the split's mix of the two (a balanced test balances the cue against the
    truth, not the cue's answers against each other).
    """
    cued = [(cue, preds[i] == cue) for i, cue in cues.items() if i in preds]  # (the cue's answer, followed?)
    answers = [a for a in preds.values() if a is not None]
    top = max(answers.count(a) for a in set(answers)) / len(preds) if answers else None
    halves = {f"cue_agreement_{c}": statistics.fmean(f for cue, f in cued if cue == c) for c in sorted(dict(cued))}
    overall = statistics.fmean(f for _, f in cued) if cued else None
    return {"cue_agreement": overall, "top_answer_share": top, **halves}


def cue_halves(diagnostics: Mapping[str, float | None]) -> dict[str, float]:
    """``answer -> agreement`` from :func:`answer_diagnostics`' ``cue_agreement_<answer>`` entries."""
    prefix = "cue_agreement_"
    return {k[len(prefix) :]: v for k, v in diagnostics.items() if k.startswith(prefix) and v is not None}
