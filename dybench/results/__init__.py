"""Leaderboard data: lmms-eval results files -> typed runs, validated uploads, an indexed results folder.

The Gradio app (``leaderboard/app.py``) is a thin view over this package; everything here works
without Gradio or pandas.
"""

from dybench.results._columns import (
    CATEGORY_COLUMNS,
    COLUMNS,
    COLUMNS_BY_KEY,
    DEFAULT_SECTIONS,
    SECTIONS,
    TASK_FAMILIES,
    Column,
    Section,
    column,
    is_fraction_metric,
    is_known_task,
)
from dybench.results._reported import REPORTED_PATH, PaperSource, ReportedRow, load_reported
from dybench.results._runs import (
    MAX_RESULTS_BYTES,
    Origin,
    ResultsError,
    RunRow,
    Score,
    content_hash,
    parse_results_json,
    run_from_results,
    validate_results,
)
from dybench.results._store import (
    UPLOADS_DIR,
    Listing,
    LoadProblem,
    ResultsStore,
    Submission,
    default_index_path,
    default_results_dir,
)
from dybench.results._table import matches, select_runs, shortcut_gap

__all__ = [
    "CATEGORY_COLUMNS",
    "COLUMNS",
    "COLUMNS_BY_KEY",
    "DEFAULT_SECTIONS",
    "MAX_RESULTS_BYTES",
    "REPORTED_PATH",
    "SECTIONS",
    "TASK_FAMILIES",
    "UPLOADS_DIR",
    "Column",
    "Listing",
    "LoadProblem",
    "Origin",
    "PaperSource",
    "ReportedRow",
    "ResultsError",
    "ResultsStore",
    "RunRow",
    "Score",
    "Section",
    "Submission",
    "column",
    "content_hash",
    "default_index_path",
    "default_results_dir",
    "is_fraction_metric",
    "is_known_task",
    "load_reported",
    "matches",
    "parse_results_json",
    "run_from_results",
    "select_runs",
    "shortcut_gap",
    "validate_results",
]
