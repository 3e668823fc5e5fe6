"""The table `dybench synth` prints: clips per family, answer letters, and the bias in force."""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dybench.synth._synthesize import ANNOTATIONS, read_summary


def print_summary(out_dir: str | os.PathLike, console: Console | None = None) -> None:
    """Print what a synthesized folder holds (read back from its annotations, so it is what build sees)."""
    console = console or Console(stderr=True)
    summary = read_summary(out_dir)
    table = Table(title=f"DyBench-Synth: {Path(out_dir)}")
    table.add_column("family")
    table.add_column("clips", justify="right")
    for family, count in summary["by_family"].items():
        table.add_row(family, str(count))
    table.add_section()
    table.add_row("all", str(summary["clips"]))
    console.print(table)
    answers = ", ".join(f"{answer}: {count}" for answer, count in summary["by_answer"].items())
    console.print(f"answers: {answers}")
    console.print(f"clips shaped by a --bias rule: {summary['biased']}")
    console.print(f"questions: {Path(out_dir) / ANNOTATIONS}; next: dybench build --src {out_dir} --out PAIRS")
