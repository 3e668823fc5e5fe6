"""The one list of leaderboard columns: which lmms-eval task and metric each column reads.

Every column, table header, plot axis, upload check and sort direction comes from `COLUMNS`; add a
benchmark here and it appears everywhere. Task and metric names are the ones dybench's lmms-eval tasks
write (``results[task]["<metric>,none"]``); all values are fractions in [0, 1].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from dybench.records import CATEGORIES, Category

Section = Literal[
    "DyBench",
    "DyBench per category",
    "TimeBlind",
    "TimeBlind details",
    "Video benchmarks",
    "Video benchmarks, R1 prompt",
]
SECTIONS: tuple[Section, ...] = get_args(Section)
#: Sections shown in the table until the user picks others.
DEFAULT_SECTIONS: tuple[Section, ...] = ("DyBench", "TimeBlind", "Video benchmarks", "Video benchmarks, R1 prompt")


@dataclass(frozen=True)
class Column:
    """One leaderboard column: a metric of an lmms-eval task."""

    key: str
    """Stable id, used in data files (reported numbers) and the index."""
    label: str
    """Header shown to people."""
    sources: tuple[tuple[str, str], ...]
    """``(task, metric)`` places to read the value from, tried in order (a group's own value first). DyBench's
    columns read the R1-prompt tasks (``dybench_pair_r1``...) too: the prompt is a generation setting,
    shown and filtered as one, like frames and pixels."""
    section: Section
    """Which column group it belongs to (the table can show or hide a whole section)."""
    higher_is_better: bool = True
    """Sort direction: best first."""
    description: str = ""
    """One line for the page's legend."""

    @property
    def task(self) -> str:
        """The task whose value this column shows first."""
        return self.sources[0][0]


def _category_column(category: Category) -> Column:
    label = category.replace("_", " ")
    return Column(
        key=f"p_acc_{category}",
        label=f"P-Acc {label}",
        sources=(
            ("dybench_pair", f"p_acc_{category}"),
            (f"dybench_pair_{category}", "p_acc"),
            ("dybench_pair_r1", f"p_acc_{category}"),
            (f"dybench_pair_r1_{category}", "p_acc"),
        ),
        section="DyBench per category",
        description=f"DyBench pair accuracy on {label} questions.",
    )


COLUMNS: tuple[Column, ...] = (
    Column(
        "p_acc", "DyBench P-Acc", (("dybench_pair", "p_acc"), ("dybench_pair_r1", "p_acc")), "DyBench",
        description="A pair counts only when the original and the counterfactual are both answered right.",
    ),
    Column(
        "acc", "DyBench Acc", (("dybench_pair", "acc"), ("dybench_pair_r1", "acc")), "DyBench",
        description="Mean item accuracy.",
    ),
    Column(
        "change_consistency", "Change consistency",
        (("dybench_pair", "change_consistency"), ("dybench_pair_r1", "change_consistency")), "DyBench",
        description="Share of 'change' pairs whose answer changed as the counterfactual requires.",
    ),
    Column(
        "keep_consistency", "Keep consistency",
        (("dybench_pair", "keep_consistency"), ("dybench_pair_r1", "keep_consistency")), "DyBench",
        description="Share of 'keep' pairs whose answer stayed the same.",
    ),
    Column(
        "single_frame_p_acc", "P-Acc, 1 frame",
        (("dybench_pair_single_frame", "p_acc"), ("dybench_pair_single_frame_r1", "p_acc")), "DyBench",
        description="P-Acc when the model sees one frame only: what is answerable without watching.",
    ),
    *(_category_column(c) for c in CATEGORIES),
    Column(
        "timeblind_i_acc", "TimeBlind I-Acc", (("timeblind", "i_acc"),), "TimeBlind",
        description="TimeBlind instances with all four items right (its primary metric).",
    ),
    Column("timeblind_acc", "TimeBlind Acc", (("timeblind", "acc"),), "TimeBlind details"),
    Column("timeblind_q_acc", "TimeBlind Q-Acc", (("timeblind", "q_acc"),), "TimeBlind details"),
    Column("timeblind_v_acc", "TimeBlind V-Acc", (("timeblind", "v_acc"),), "TimeBlind details"),
    Column("videomme_acc", "VideoMME", (("dyb_videomme", "acc"),), "Video benchmarks"),
    Column("mvbench_acc", "MVBench", (("dyb_mvbench", "acc"),), "Video benchmarks"),
    Column("tempcompass_acc", "TempCompass", (("dyb_tempcompass", "acc"),), "Video benchmarks"),
    # the same benchmarks with the R1-style prompt (<think>, then <answer>) that CRPO and VideoThinker use
    Column("videomme_r1_acc", "VideoMME (R1)", (("dyb_videomme_r1", "acc"),), "Video benchmarks, R1 prompt"),
    Column("mvbench_r1_acc", "MVBench (R1)", (("dyb_mvbench_r1", "acc"),), "Video benchmarks, R1 prompt"),
    Column("tempcompass_r1_acc", "TempCompass (R1)", (("dyb_tempcompass_r1", "acc"),), "Video benchmarks, R1 prompt"),
)  # fmt: skip

COLUMNS_BY_KEY: dict[str, Column] = {c.key: c for c in COLUMNS}

#: The DyBench categories as (category, column) for per-category plots.
CATEGORY_COLUMNS: tuple[tuple[Category, Column], ...] = tuple((c, COLUMNS_BY_KEY[f"p_acc_{c}"]) for c in CATEGORIES)

#: Task families the leaderboard knows: the task itself and its subtasks (``<family>_<name>``).
TASK_FAMILIES: tuple[str, ...] = (
    "dybench_pair",
    "timeblind",
    "dyb_videomme",
    "dyb_mvbench",
    "dyb_tempcompass",
)

#: Metric names that are fractions in [0, 1] (with an optional ``_<suffix>``: per category, CI bounds).
_FRACTION_METRIC = re.compile(r"^(p_acc|acc|i_acc|q_acc|v_acc|change_consistency|keep_consistency)(_\w+)?$")


def column(key: str) -> Column:
    """The column with this key; a clear error lists the valid keys."""
    try:
        return COLUMNS_BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown column {key!r}; known: {', '.join(COLUMNS_BY_KEY)}") from None


def is_known_task(task: str) -> bool:
    """True for the tasks dybench ships (and their subtasks)."""
    return any(task == f or task.startswith(f + "_") for f in TASK_FAMILIES)


def is_fraction_metric(metric: str) -> bool:
    """True for metrics that must lie in [0, 1] (accuracies, consistencies, their CI bounds)."""
    return "_stderr" not in metric and _FRACTION_METRIC.match(metric) is not None
