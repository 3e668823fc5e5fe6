"""Scoring: the one answer parser, pair metrics (P-Acc, Acc, consistency), TimeBlind's official metrics,
and offline scoring of prediction files. Every metric value is a fraction in [0, 1], higher is better."""

from dybench.scoring._ci import Score, wilson_interval
from dybench.scoring._metrics import (
    IncompletePairsWarning,
    ItemResult,
    accuracy,
    change_consistency,
    grouped,
    incomplete_pairs,
    keep_consistency,
    pair_accuracy,
    pair_metrics,
    score_item,
)
from dybench.scoring._parse import answer_reward, format_ok, normalize_answer, parse_answer
from dybench.scoring._predictions import TASKS, PredictionsError, score_predictions
from dybench.scoring._report import metrics_json, print_score_summary
from dybench.scoring._timeblind import (
    ROLES,
    TimeBlindInstance,
    timeblind_acc,
    timeblind_extract,
    timeblind_i_acc,
    timeblind_instances,
    timeblind_metrics,
    timeblind_q_acc,
    timeblind_v_acc,
)

__all__ = [
    "ROLES",
    "TASKS",
    "IncompletePairsWarning",
    "ItemResult",
    "PredictionsError",
    "Score",
    "TimeBlindInstance",
    "accuracy",
    "answer_reward",
    "change_consistency",
    "format_ok",
    "grouped",
    "incomplete_pairs",
    "keep_consistency",
    "metrics_json",
    "normalize_answer",
    "pair_accuracy",
    "pair_metrics",
    "parse_answer",
    "print_score_summary",
    "score_item",
    "score_predictions",
    "timeblind_acc",
    "timeblind_extract",
    "timeblind_i_acc",
    "timeblind_instances",
    "timeblind_metrics",
    "timeblind_q_acc",
    "timeblind_v_acc",
    "wilson_interval",
]
