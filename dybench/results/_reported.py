"""Numbers reported in papers: labelled rows with their source, never mixed with verified runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dybench.results._columns import COLUMNS_BY_KEY
from dybench.shipped import shipped_data

REPORTED_PATH = shipped_data("reported.yaml")


@dataclass(frozen=True)
class PaperSource:
    """Where a reported number comes from."""

    arxiv: str
    paper: str
    """Short name of the paper (or of its method)."""
    table: str | None = None
    """Table or figure in the paper; None when not recorded."""

    def cite(self) -> str:
        where = f", {self.table}" if self.table else ""
        return f"arXiv {self.arxiv}{where}"

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"


@dataclass(frozen=True)
class ReportedRow:
    """A model's numbers as a paper printed them (not re-run by dybench)."""

    model: str
    method: str
    base_model: str
    source: PaperSource
    scores: dict[str, float] = field(default_factory=dict)
    """Column key -> fraction in [0, 1] (converted from the paper's percent)."""
    extra: dict[str, float] = field(default_factory=dict)
    """Benchmarks dybench has no column for: name -> fraction."""
    deltas: dict[str, float] = field(default_factory=dict)
    """Column key -> gain in percentage points over ``base_model`` (no absolute number public)."""
    settings: str = ""
    note: str = ""


def load_reported(path: str | Path = REPORTED_PATH) -> tuple[ReportedRow, ...]:
    """Read the reported-numbers file; an unknown column or a bad number is an error naming the row."""
    path = Path(path)
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a YAML list of rows")
    return tuple(_row(e, f"{path}: row {i + 1}") for i, e in enumerate(entries))


def _row(e: Any, where: str) -> ReportedRow:
    if not isinstance(e, dict):
        raise ValueError(f"{where}: expected a mapping")
    try:
        source = PaperSource(**e["source"])
        model, method, base = str(e["model"]), str(e["method"]), str(e["base_model"])
    except (KeyError, TypeError) as err:
        raise ValueError(
            f"{where}: needs model, method, base_model and source {{arxiv, paper, table}} ({err})"
        ) from None
    for key in [*e.get("scores", {}), *e.get("deltas", {})]:
        if key not in COLUMNS_BY_KEY:
            raise ValueError(f"{where} ({model}): unknown column {key!r}; use one of {', '.join(COLUMNS_BY_KEY)}")
    return ReportedRow(
        model=model,
        method=method,
        base_model=base,
        source=source,
        scores={k: _percent(v, f"{where} ({model}) {k}") for k, v in e.get("scores", {}).items()},
        extra={str(k): _percent(v, f"{where} ({model}) {k}") for k, v in e.get("extra", {}).items()},
        deltas={k: _points(v, f"{where} ({model}) {k}") for k, v in e.get("deltas", {}).items()},
        settings=str(e.get("settings", "")),
        note=str(e.get("note", "")),
    )


def _percent(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100:
        raise ValueError(f"{where}: {v!r} is not a percentage in [0, 100]")
    return v / 100


def _points(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 100:
        raise ValueError(f"{where}: {v!r} is not a change in points")
    return float(v)
