"""Human-facing output of ``dybench score``: JSON for machines on stdout, a rich table on stderr."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping

from rich.console import Console
from rich.table import Table

from dybench.report import fraction_text, interval_text

_HEADLINE = ("i_acc", "p_acc", "acc", "q_acc", "v_acc", "change_consistency", "keep_consistency")


def metrics_json(metrics: Mapping[str, float]) -> str:
    """The metrics as strict JSON: an undefined value (NaN, nothing to score) becomes null."""
    clean = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in metrics.items()}
    return json.dumps(clean, indent=2)


def print_score_summary(
    task: str, metrics: Mapping[str, float], notes: Iterable[str] = (), console: Console | None = None
) -> None:
    """A table of every metric with its 95 % interval and the coverage behind it (the share of items with
    a prediction), as fractions like ``dybench eval``'s, then the counts and any warnings (stderr)."""
    console = console or Console(stderr=True)
    table = Table(title=f"{task} (95% Wilson intervals)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("coverage", justify="right")
    names = [k for k in metrics if not k.endswith(("_ci_low", "_ci_high")) and not k.startswith(("n_", "coverage"))]
    names.sort(key=lambda k: (_HEADLINE.index(k) if k in _HEADLINE else len(_HEADLINE), k))
    for name in names:
        low, high = metrics.get(f"{name}_ci_low", math.nan), metrics.get(f"{name}_ci_high", math.nan)
        table.add_row(
            name, fraction_text(metrics[name]), interval_text(low, high), fraction_text(_coverage_of(name, metrics))
        )
    console.print(table)
    counts = {k.removeprefix("n_"): v for k, v in metrics.items() if k.startswith("n_")}
    console.print(", ".join(f"{re.sub('_', ' ', k)}: {v}" for k, v in counts.items()), highlight=False)
    for note in notes:
        console.print(f"[yellow]warning:[/] {note}", highlight=False)


def _coverage_of(name: str, metrics: Mapping[str, float]) -> float:
    """The coverage behind a metric: its category's for ``<metric>_<category>``, else the overall one."""
    for key, value in metrics.items():
        if key.startswith("coverage_") and name.endswith(key.removeprefix("coverage")):
            return value
    return metrics.get("coverage", math.nan)
