"""Summary tables of evaluation runs (rich). The numbers shown are the results JSON's, rounded."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from dybench.evaluation._eval_run import EvalRun
from dybench.evaluation._locations import PAIRS, location_of
from dybench.report import fraction_text, interval_text

#: (metric, column header), in the order shown; a task shows the ones it reports.
COLUMNS = (
    ("p_acc", "P-Acc"),
    ("i_acc", "I-Acc"),
    ("acc", "Acc"),
    ("change_consistency", "change cons."),
    ("keep_consistency", "keep cons."),
)


def score_text(run: EvalRun, task: str, metric: str) -> str:
    """``0.417 (0.19-0.68)``: a metric with its 95 % interval; ``-`` when the task does not report it."""
    score = run.score(task, metric)
    if score is None:
        return "-"
    interval = interval_text(*(score.score.interval or (None, None)))
    return fraction_text(score.value) + (f" ({interval})" if interval else "")


def counts(run: EvalRun, task: str) -> tuple[int | None, int | None]:
    """(items, pairs) a task's scores are over: items evaluated (a group: its subtasks'), and for a
    dybench_pair task the whole pairs among them (P-Acc's population; ``--limit`` may cut one pair per
    task, which is left out); None where unknown or not a pairs task."""
    n_samples = run.results.get("n-samples", {})
    leaves = run.results.get("group_subtasks", {}).get(task) or [task]
    items = [n_samples.get(t, {}).get("effective") for t in leaves]
    if any(n is None for n in items):
        return None, None
    pairs = sum(n // 2 for n in items) if location_of(task) is PAIRS else None
    return sum(items), pairs


def summary_table(run: EvalRun, title: str | None = None) -> Table:
    """One row per task (groups first, their subtasks indented): the items and pairs scored, headline
    metrics with intervals."""
    results = run.results.get("results", {})
    subtasks = run.results.get("group_subtasks", {})
    shown = [m for m, _ in COLUMNS if any(run.metric(t, m) is not None for t in results)]
    with_pairs = any(location_of(t) is PAIRS for t in results)
    table = Table(title=title or f"{run.model}: {', '.join(run.tasks)}", title_justify="left")
    table.add_column("task", no_wrap=True)
    table.add_column("items", justify="right")
    if with_pairs:
        table.add_column("pairs", justify="right")
    for metric, header in COLUMNS:
        if metric in shown:
            table.add_column(header, justify="right")
    children = {s for subs in subtasks.values() for s in subs}
    rows = []
    for task in sorted(t for t in results if t not in children):
        rows += [(task, 0)] + [(s, 1) for s in subtasks.get(task, []) if s in results]
    for task, depth in rows:
        n = [("-" if c is None else str(c)) for c in counts(run, task)][: 2 if with_pairs else 1]
        table.add_row("  " * depth + task, *n, *(score_text(run, task, m) for m in shown))
    return table


def comparison_table(
    runs: Sequence[EvalRun], task: str, *, title: str, extra: Sequence[tuple[str, str, str]] = ()
) -> Table:
    """One row per model on one task, its headline metrics; ``extra`` adds (task, metric, header) columns."""
    table = Table(title=title, title_justify="left")
    table.add_column("model", no_wrap=True)
    shown = [(m, h) for m, h in COLUMNS if any(r.metric(task, m) is not None for r in runs)]
    for _, header in shown:
        table.add_column(header, justify="right")
    for _, _, header in extra:
        table.add_column(header, justify="right")
    for run in runs:
        cells = [score_text(run, task, m) for m, _ in shown] + [score_text(run, t, m) for t, m, _ in extra]
        table.add_row(run.results.get("model_name", run.model), *cells)
    return table


def output_console() -> Console:
    """stdout; at least 120 columns wide when it is not a terminal (logs, pipes), so tables stay whole."""
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 120))


def print_summary(run: EvalRun, console: Console | None = None) -> None:
    """Print the run's summary table and where its files are (nothing on a distributed run's other ranks)."""
    if not run.results:
        return
    console = console or output_console()
    console.print(summary_table(run))
    if run.skipped:
        console.print(f"not run (the data has no items of their category): {', '.join(run.skipped)}")
    if run.results_path is not None:
        console.print(f"results: {run.results_path}")
