"""Human-facing output shared by the commands: progress bars and summary tables (rich, on stderr)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from dybench.pairs import BuildReport

console = Console(stderr=True)


def fraction_text(value: float | None) -> str:
    """A score as every command prints it: a fraction with 3 decimals (``0.417``); ``n/a`` when undefined."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def interval_text(low: float | None, high: float | None) -> str:
    """A 95 % interval as every command prints it (``0.19-0.68``); empty when there is none."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return ""
    return f"{low:.2f}-{high:.2f}"


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar; yields ``update(done, total)``."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def build_progress() -> contextlib.AbstractContextManager[Callable[[int, int], None]]:
    return progress_bar("rendering counterfactuals")


def print_build_summary(report: BuildReport) -> None:
    """Pairs per category and transform, then every error and warning."""
    table = Table(title=f"pairs dataset: {report.out}")
    table.add_column("category")
    table.add_column("transform")
    table.add_column("pairs", justify="right")
    for key, n in report.counts().items():
        category, transform = key.split("/")
        table.add_row(category, transform, str(n))
    table.add_section()
    table.add_row("all", "", str(sum(report.counts().values())))
    console.print(table)
    console.print(f"renders: {report.rendered} made, {report.reused} reused (already done and valid)")
    if report.rejected:
        console.print(f"rejected in review: {len(report.rejected)} pair(s) left out (rejects.txt; videos kept)")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if report.errors:
        console.print(f"[red]{len(report.errors)} error(s)[/] — these items were skipped:")
        for error in report.errors:
            console.print(f"  [red]•[/] {error}", highlight=False)
