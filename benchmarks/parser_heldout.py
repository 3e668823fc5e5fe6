"""Held-out parser fidelity: dybench's parser vs lmms-eval's own scoring on responses the parser never saw.

``tests/data/parser_corpus.jsonl`` was written with the parser, so reading all of it right shows
coverage. ``tests/data/parser_heldout.jsonl`` was written and labelled afterwards by someone who had
read neither the parser's rules nor that corpus: messy Video-MME, MVBench and TempCompass answers in the
styles of Qwen2.5-VL, LLaVA-OneVision, InternVL, GPT-4o and R1-style reasoning models. Its misread count
estimated how the parser does on answers it was not tuned to, until its misreads were read and the general
rules behind them fixed (27 misreads before, 8 after): since then it is no longer held out, and its
numbers are "after seeing it" (``data_cards/answer-parsing.md``). Its labels are never edited.

Misreads (wrong / missed / guessed), lmms-eval's command-line scoring, its GPT-judge fallback and
MVBench's dropped empty answers are those of ``parser_fidelity.py``, whose functions this reuses. Responses
lmms-eval hands to its judge are no misread of lmms-eval's, so the ``decided`` column also counts
dybench's misreads on only the responses lmms-eval's rules decide. Target: dybench misreads no more than
lmms-eval in total (ratio <= 1).

    python benchmarks/parser_heldout.py           # the table
    python benchmarks/parser_heldout.py --show    # also every dybench misread
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from parser_fidelity import BENCHMARKS, LmmsEval, dybench_credits, load_corpus, misread, reader_credits

from dybench.scoring import parse_answer

HELDOUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "parser_heldout.jsonl"


def measure(rows: list[dict], lmms: LmmsEval | None = None) -> tuple[dict[str, Counter], list[tuple[dict, str]]]:
    """Per benchmark: rows, misreads per scorer and kind, judge/dropped; and every dybench misread with its kind.

    ``lmms``: an ``LmmsEval`` to reuse (building one imports lmms-eval's task modules: ~20 s)."""
    lmms = lmms or LmmsEval()
    table: dict[str, Counter] = {b: Counter() for b in BENCHMARKS}
    ours_wrong: list[tuple[dict, str]] = []
    for row in rows:
        counts = table[row["benchmark"]]
        counts["n"] += 1
        reader = reader_credits(row)
        theirs = lmms.credits(row)
        decided = not isinstance(theirs, str)
        if kind := misread(reader, dybench_credits(row)):
            counts["dybench"] += 1
            counts[f"dybench {kind}"] += 1
            counts["dybench decided"] += decided
            ours_wrong.append((row, kind))
        if not decided:
            counts[theirs] += 1
        elif kind := misread(reader, theirs):
            counts["lmms-eval"] += 1
            counts[f"lmms-eval {kind}"] += 1
    return table, ours_wrong


def report(table: dict[str, Counter]) -> bool:
    """Print the table; True when dybench misreads no more than lmms-eval in total."""
    kinds = ("wrong", "missed", "guessed")
    head = (
        f"{'benchmark':12} {'n':>4}  {'dybench':>7} (w/m/g)   {'decided':>7}  "
        f"{'lmms-eval':>9} (w/m/g)   {'judge':>5} {'dropped':>7}  ratio"
    )
    print(head)
    print("-" * len(head))
    total = Counter()
    for bench, c in [*table.items(), ("total", total)]:
        if bench != "total":
            total.update(c)
        ours = "/".join(str(c[f"dybench {k}"]) for k in kinds)
        theirs = "/".join(str(c[f"lmms-eval {k}"]) for k in kinds)
        ratio = f"{c['dybench'] / c['lmms-eval']:.2f}" if c["lmms-eval"] else "-"
        if bench == "total":
            print("-" * len(head))
        print(
            f"{bench:12} {c['n']:4}  {c['dybench']:7} ({ours:8}) {c['dybench decided']:7}  "
            f"{c['lmms-eval']:9} ({theirs:8}) {c['judge']:5} {c['dropped']:7}  {ratio}"
        )
    ok = total["dybench"] <= total["lmms-eval"]
    print(f"\nheld-out misreads dybench / lmms-eval = {total['dybench']} / {total['lmms-eval']} (target: <=)")
    print("target met" if ok else "TARGET MISSED")
    return ok


def show(misreads: list[tuple[dict, str]]) -> None:
    print(f"\n{len(misreads)} dybench misreads:")
    for row, kind in misreads:
        n_options = 0 if row["format"] == "yes_no" else len(row["options"])
        got = parse_answer(row["response"], n_options, row["options"])
        print(f"  {kind:7} {row['id']} [{row['case']}]: {row['response']!r}  reader: {row['reader']}  dybench: {got}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=HELDOUT)
    parser.add_argument("--show", action="store_true", help="print every dybench misread")
    args = parser.parse_args()
    table, misreads = measure(load_corpus(args.corpus))
    ok = report(table)
    if args.show:
        show(misreads)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
