"""Parser fidelity: misreads of dybench's answer parser vs lmms-eval's own Video-MME, MVBench and TempCompass scoring.

The corpus (``tests/data/parser_corpus.jsonl``) holds messy responses, each with its benchmark, its
format (``letter``, ``yes_no``, ``caption``), the options and the answer a careful reader takes from it
(a letter, several letters, yes/no, or ``unreadable``). A scorer *misreads* a response when, for some
gold answer, it would score it differently from that reader:

- ``wrong``: it reads another answer than the reader's;
- ``missed``: the reader sees an answer, the scorer none (it counts a clear answer wrong);
- ``guessed``: the reader sees no single answer (unreadable, or several letters for a one-answer
  question), the scorer credits one.

lmms-eval is run as its default command line runs it: ``<think>`` blocks stripped first (its default
``--reasoning_tags``), then the task's own ``process_results`` against every possible gold. Its
TempCompass rules hand whatever they cannot match to a GPT judge: those responses count as ``judge``
(decided by no rule; no network here), not as misreads. MVBench's aggregation drops an empty response
from the denominator (``dropped``); dybench counts it wrong. Target: dybench misreads no more than
lmms-eval on every benchmark and fewer in total (ratio < 1).

    python benchmarks/parser_fidelity.py            # the table
    python benchmarks/parser_fidelity.py --show     # also every lmms-eval misread
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

from dybench.records import letter
from dybench.scoring import parse_answer

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "parser_corpus.jsonl"
BENCHMARKS = ("videomme", "mvbench", "tempcompass")
#: lmms-eval 0.7.3's default ``--reasoning_tags``: what its command line strips before scoring.
REASONING_TAGS = [["<think>", "</think>"], ["<analysis>", "</analysis>"]]
JUDGE, DROPPED = "judge", "dropped"


def load_corpus(path: Path = CORPUS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def golds(row: dict) -> list[str]:
    """Every answer the question could have."""
    return ["yes", "no"] if row["format"] == "yes_no" else [letter(i) for i in range(len(row["options"]))]


def reader_credits(row: dict) -> set[str]:
    """The golds for which the careful reader counts the response right (none for unreadable)."""
    return {row["reader"]} & set(golds(row))


def dybench_credits(row: dict) -> set[str]:
    n_options = 0 if row["format"] == "yes_no" else len(row["options"])
    pred = parse_answer(row["response"], n_options, row["options"])
    return {pred} & set(golds(row))


class LmmsEval:
    """lmms-eval's own per-task scoring of one response against one gold, offline."""

    def __init__(self) -> None:
        from lmms_eval.api.reasoning import strip_reasoning_tags

        self.strip = strip_reasoning_tags
        os.environ.setdefault("HF_HOME", tempfile.mkdtemp())  # TempCompass reads it at import
        self.videomme = importlib.import_module("lmms_eval.tasks.videomme.utils")
        self.mvbench = importlib.import_module("lmms_eval.tasks.mvbench.utils")
        self.tempcompass = importlib.import_module("lmms_eval.tasks.tempcompass.utils")
        self.tempcompass.get_eval_result = self._judge  # its GPT fallback: record it, call nothing
        self.judged = False

    def credits(self, row: dict) -> set[str] | str:
        """The golds lmms-eval counts right, or ``judge`` / ``dropped`` when no rule decides."""
        response = self.strip(row["response"], REASONING_TAGS)
        if row["benchmark"] == "mvbench" and response == "":
            return DROPPED
        self.judged = False
        credited = {g for g in golds(row) if self._score(row, response, g)}
        return JUDGE if self.judged else credited

    def _judge(self, prompt: str, *args, **kwargs) -> tuple[None, int]:
        self.judged = True
        return None, 0

    def _score(self, row: dict, response: str, gold: str) -> bool:
        options, bench, fmt = row["options"], row["benchmark"], row["format"]
        if bench == "videomme":
            doc = dict.fromkeys(["question_id", "duration", "domain", "sub_category", "task_type", "videoID"], "")
            result = self.videomme.videomme_process_results({**doc, "answer": gold}, [response])
            return result["videomme_perception_score"]["score"] == 1
        if bench == "mvbench":
            doc = {"candidates": options, "answer": options[ord(gold) - ord("A")]}
            return self.mvbench.mvbench_process_results(doc, [response])["mvbench_accuracy"]["score"] == 1
        doc = {"video_id": "v", "dim": "action"}
        if fmt == "yes_no":
            result = self.tempcompass.tempcompass_process_results_yes_no(
                {**doc, "question": "?", "answer": gold}, [response]
            )
        elif fmt == "caption":
            lines = [f"Caption {letter(i)}: {o}" for i, o in enumerate(options)]
            question = "\n".join(["Which caption matches the video better?", *lines])
            answer = lines[ord(gold) - ord("A")]
            result = self.tempcompass.tempcompass_process_results_caption_matching(
                {**doc, "question": question, "answer": answer}, [response]
            )
        else:
            lines = [f"{letter(i)}. {o}" for i, o in enumerate(options)]
            question = "\n".join(["What happens in the video?", *lines])
            answer = lines[ord(gold) - ord("A")]
            result = self.tempcompass.tempcompass_process_results_multi_choice(
                {**doc, "question": question, "answer": answer}, [response]
            )
        return result["avg_accuracy"]["rating"] == 1


def misread(reader: set[str], credited: set[str]) -> str | None:
    """How a scorer's credits differ from the reader's: wrong, missed, guessed, or None (they agree)."""
    if credited == reader:
        return None
    if not credited:
        return "missed"
    return "wrong" if reader else "guessed"


def measure(rows: list[dict], show: bool = False, lmms: LmmsEval | None = None) -> dict[tuple[str, str], Counter]:
    """Per (benchmark, format): counts of rows, of each misread kind per scorer, of judge/dropped.

    ``lmms``: an ``LmmsEval`` to reuse (building one imports lmms-eval's task modules: ~20 s)."""
    lmms = lmms or LmmsEval()
    table: dict[tuple[str, str], Counter] = {}
    for row in rows:
        counts = table.setdefault((row["benchmark"], row["format"]), Counter())
        counts["n"] += 1
        reader = reader_credits(row)
        if kind := misread(reader, dybench_credits(row)):
            counts[f"dybench {kind}"] += 1
            counts["dybench"] += 1
        theirs = lmms.credits(row)
        if isinstance(theirs, str):
            counts[theirs] += 1
        elif kind := misread(reader, theirs):
            counts[f"lmms-eval {kind}"] += 1
            counts["lmms-eval"] += 1
            if show:
                print(f"  lmms-eval {kind:7} {row['id']}: {row['response']!r} (reader: {row['reader']})")
    return table


def report(table: dict[tuple[str, str], Counter]) -> bool:
    """Print the table; True when dybench meets the target."""
    kinds = ("wrong", "missed", "guessed")
    head = f"{'benchmark':12} {'format':8} {'n':>4}  {'dybench':>7} (w/m/g)   {'lmms-eval':>9} (w/m/g)   judge dropped"
    print(head)
    print("-" * len(head))
    totals: dict[str, Counter] = {b: Counter() for b in BENCHMARKS}
    for (bench, fmt), c in sorted(table.items(), key=lambda kv: (BENCHMARKS.index(kv[0][0]), kv[0][1])):
        totals[bench].update(c)
        ours = "/".join(str(c[f"dybench {k}"]) for k in kinds)
        theirs = "/".join(str(c[f"lmms-eval {k}"]) for k in kinds)
        print(
            f"{bench:12} {fmt:8} {c['n']:4}  {c['dybench']:7} ({ours:7}) "
            f"{c['lmms-eval']:9} ({theirs:7}) {c[JUDGE]:6} {c[DROPPED]:7}"
        )
    print("-" * len(head))
    ok = True
    for bench, c in totals.items():
        ok &= c["dybench"] <= c["lmms-eval"]
        print(f"{bench:12} {'all':8} {c['n']:4}  {c['dybench']:7} {'':9} {c['lmms-eval']:9}")
    ours, theirs = sum(c["dybench"] for c in totals.values()), sum(c["lmms-eval"] for c in totals.values())
    n = sum(c["n"] for c in totals.values())
    ok &= ours < theirs
    ratio = ours / theirs if theirs else float("nan")
    print(f"{'total':12} {'':8} {n:4}  {ours:7} {'':9} {theirs:9}")
    print(f"\nmisreads dybench / lmms-eval = {ours} / {theirs} = {ratio:.3f}  (target: <= per benchmark, < 1 overall)")
    print("target met" if ok else "TARGET MISSED")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--show", action="store_true", help="print every lmms-eval misread")
    args = parser.parse_args()
    sys.exit(0 if report(measure(load_corpus(args.corpus), show=args.show)) else 1)


if __name__ == "__main__":
    main()
