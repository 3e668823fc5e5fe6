"""The reproduction's numbers: what the report needs (``ReportInput``) gathered into a ``Report``.

Scores come from the lmms-eval results files of the evaluation stage (the leaderboard's own source),
training numbers from the trainers' ``metrics.jsonl``; nothing is recomputed here except means and
spreads over seeds, P-Acc per transform (rescored from the logged answers with ``dybench.scoring``) and
the method-vs-baseline comparison, paired by seed (same start, same data, same seed). Rendering the
numbers is ``report.py``'s.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dybench.fileio import read_jsonl
from dybench.records import CATEGORIES
from dybench.reproduce._presets import BASELINE
from dybench.results import TaskMetric, read_samples, samples_task, task_metrics
from dybench.scoring import ItemResult, Proportion, grouped, pair_accuracy
from dybench.synth import cue_halves

METRICS = ("acc", "p_acc", "change_consistency", "keep_consistency")
COMPARED_METRICS = ("p_acc", "acc", "cue_agreement")
GROUP_TASK = "dybench_pair"
GROUP_TASKS = ("dybench_pair", "dybench_pair_r1")
"""The pooled pair tasks (default prompt and R1 prompt); their subtasks are ``<group>_<category>``."""


# --- what the report reads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """One evaluated model of the reproduction (the start model, or a training run's model)."""

    label: str
    """``base`` or ``<run>-s<seed>``."""
    method: str
    """grpo, crpo, bias, cdpo, an ablation's name, or base (the start model)."""
    seed: int | None
    results: Path
    """Its lmms-eval results file (the model is left out of the report while it does not exist)."""
    answers: tuple[ItemResult, ...] = ()
    """The scored items lmms-eval logged (P-Acc per transform is rescored from them)."""
    diagnostics: Mapping[str, float | None] = field(default_factory=dict)
    """Measured on its answers by the caller, e.g. ``cue_agreement`` and ``top_answer_share``
    (``dybench.synth.answer_diagnostics``); empty when there is nothing to measure."""
    metrics: Path | None = None
    """The trainer's ``metrics.jsonl``; None for a model that was not trained here (the start model)."""
    benchmarks: Mapping[str, Path] = field(default_factory=dict)
    """Benchmark -> its lmms-eval results file for this model (the paper presets' benchmarks)."""


@dataclass(frozen=True)
class StageInfo:
    """One stage of the reproduction, with the wall time its done-marker recorded (None: not done)."""

    name: str
    kind: str
    command: str
    wall_s: float | None = None
    load_average: float | None = None
    """The 5-minute load average when the stage finished."""
    machine: str | None = None
    """The machine it ran on (``dybench.reproduce._stages.machine``); None: not recorded (older markers)."""


@dataclass(frozen=True)
class PaperColumn:
    """One column of a paper's table that the reproduction measures: a benchmark's metric."""

    benchmark: str
    """``dybench`` (the test pairs) or a preset benchmark's name."""
    task: str
    """The lmms-eval task whose metric it is."""
    metric: str
    column: str
    """Its key in ``reported.yaml`` (a column key or an ``extra`` name)."""
    given: bool
    """Whether the benchmark's data was given (else the report marks the column "no data")."""


@dataclass(frozen=True)
class ReportInput:
    """Everything the report reads: the runs, what they are compared with, and where things are."""

    target: str
    preset: str
    seeds: tuple[int, ...]
    runs: tuple[RunInfo, ...]
    """Every evaluated model, the start model first, in the order the report lists them."""
    compared: tuple[str, ...]
    """The methods compared with ``BASELINE`` seed by seed (the target and its ablations)."""
    ablations: Mapping[str, tuple[str, Mapping[str, Any]]]
    """Ablation name -> (the recipe it starts from, the settings it changes), described in the report."""
    tasks: tuple[str, ...]
    """The lmms-eval tasks every model was scored with."""
    test_data: str
    """The test data in words (pairs, items, folder)."""
    stages: tuple[StageInfo, ...]
    published: Path
    """The leaderboard stage's record of the results it stored (``evaluation.publish``)."""
    results_dir: Path
    """The leaderboard folder."""
    warmup: Path | None
    """The start run's folder (``dybench train sft``: ``summary.json``, ``metrics.jsonl``); None: no warm-up."""
    report_md: Path
    report_json: Path
    plots: Path
    """The folder of the PNG plots."""
    preset_notes: tuple[str, ...] = ()
    """How the preset's settings were chosen."""
    paper_columns: tuple[PaperColumn, ...] = ()
    """The paper's table columns the preset measures (the paper presets)."""
    reported_rows: Mapping[str, str] = field(default_factory=dict)
    """Method -> the model name of its row in ``reported.yaml``."""
    notes: tuple[str, ...] = ()
    """About this reproduction's inputs."""
    confirmation: tuple[RunInfo, ...] = ()
    """The same models evaluated on the confirmation split (``--confirm``); empty without one."""
    confirm_data: str = ""
    """The confirmation split in words."""


# --- what the report says ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunScores:
    """One evaluated model: its overall and per-category scores on the balanced test pairs."""

    label: str
    method: str
    """grpo, crpo, bias, cdpo, or base (the start model)."""
    seed: int | None
    metrics: dict[str, Proportion]
    by_category: dict[str, dict[str, Proportion]]
    n_items: int | None
    results: str
    by_transform: dict[str, Proportion] = field(default_factory=dict)
    """P-Acc per counterfactual transform, from the logged answers."""
    diagnostics: dict[str, float | None] = field(default_factory=dict)
    """From the logged answers: ``cue_agreement`` (share of answers to the planted-shortcut questions
    that follow the cue; the cue carries no information at test time, so a model that reads the video
    scores ~0.5 and one that follows the cue 1.0) and ``top_answer_share`` (share of the most common
    answer: 1.0 is a model that says the same thing to everything)."""


@dataclass(frozen=True)
class MethodSummary:
    """A method over its seeds: mean, sample standard deviation and the per-seed values."""

    method: str
    n_seeds: int
    mean: dict[str, float | None]
    sd: dict[str, float | None]
    per_seed: dict[str, list[float | None]]


@dataclass(frozen=True)
class Comparison:
    """Method minus GRPO, paired by seed."""

    method: str
    baseline: str
    metric: str
    diffs: list[float]
    mean: float | None
    wins: int
    """Seeds where the method did better than its GRPO twin (higher; lower for ``cue_agreement``)."""
    verdict: str
    seeds: list[int | None]
    """The seed of each of ``diffs``."""


#: GRPO "takes the shortcut" on a seed when its test answers follow the planted cue at least this often (and
#: its P-Acc falls below the start model's): the papers' premise, checked before any method is compared.
PREMISE_CUE = 0.75
#: A model giving one answer to at least this share of the test questions has collapsed (said so in the premise).
COLLAPSED = 0.95


@dataclass(frozen=True)
class Premise:
    """The papers' premise on one seed: correctness-only RL (GRPO) learns the planted shortcut."""

    seed: int
    cue_agreement: float | None
    """GRPO's share of test answers that follow the cue."""
    p_acc: float | None
    start_p_acc: float | None
    holds: bool | None
    """None: it cannot be checked (no planted cue in the test data, or a model not evaluated yet)."""
    why: str
    collapsed: bool = False
    """GRPO gives one answer to at least ``COLLAPSED`` of the test questions: a collapse, not a shortcut."""
    cue_by_answer: dict[str, float] = field(default_factory=dict)
    """GRPO's cue agreement on the items whose cue points to each answer (``dybench.synth.cue_halves``): high
    on every answer is a shortcut, high on one and low on the other a lean toward one answer."""


@dataclass(frozen=True)
class Report:
    """The numbers of ``report.json`` (and of ``report.md``)."""

    target: str
    preset: str
    seeds: list[int]
    runs: list[RunScores]
    methods: list[MethodSummary]
    comparisons: list[Comparison]
    training: dict[str, dict[str, Any]]
    """Per run label: steps, first/last-10-step mean reward and accuracy reward."""
    wall_time: dict[str, Any]
    leaderboard: list[dict[str, Any]]
    warmup: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    paper: list[dict[str, Any]] = field(default_factory=list)
    """Measured beside reported, one row per evaluated model: ``label``, ``method``, ``reported_as`` and per column
    ``{benchmark, metric, column, measured: Proportion | None, reported: float | None, given}``."""
    premise: list[Premise] = field(default_factory=list)
    """Per seed, whether GRPO took the shortcut; the comparisons use only the seeds where it did (all seeds
    when it cannot be checked)."""
    collapsed: list[str] = field(default_factory=list)
    """Labels of the evaluated models that give one answer to at least ``COLLAPSED`` of the test questions."""
    confirmation: Confirmation | None = None
    """The premise and the comparisons again on the confirmation split (``--confirm``); None without one."""


@dataclass(frozen=True)
class Confirmation:
    """The same models on a second balanced test split drawn from a seed no setting was chosen on: the premise
    checked and the methods compared there again, by the same rules (a result tuned to the test split shows)."""

    test_data: str
    runs: list[RunScores]
    premise: list[Premise]
    comparisons: list[Comparison]
    collapsed: list[str]


def _collapsed(run: RunScores) -> bool:
    """The model gives one answer to at least ``COLLAPSED`` of the test questions."""
    return (run.diagnostics.get("top_answer_share") or 0.0) >= COLLAPSED


def premise_check(runs: Sequence[RunScores]) -> list[Premise]:
    """For every seed with a GRPO run: does it follow the cue on >= ``PREMISE_CUE`` of the test's cue questions,
    with a P-Acc below the start model's?"""
    start = next((r.metrics["p_acc"].value for r in runs if r.method == "base"), None)
    checks = []
    for run in sorted((r for r in runs if r.method == BASELINE), key=lambda r: r.seed or 0):
        cue, p_acc = run.diagnostics.get("cue_agreement"), run.metrics["p_acc"].value
        if cue is None or p_acc is None or start is None:
            checks.append(Premise(run.seed or 0, cue, p_acc, start, None, "no planted cue to check against"))
            continue
        holds = cue >= PREMISE_CUE and p_acc < start
        why = (
            f"GRPO follows the cue on {cue:.2f} of the cue questions ({'>=' if cue >= PREMISE_CUE else '<'} "
            f"{PREMISE_CUE}) and its P-Acc {p_acc:.3f} is {'below' if p_acc < start else 'NOT below'} the start "
            f"model's {start:.3f}"
        )
        collapsed = _collapsed(run)
        if collapsed:
            top = run.diagnostics["top_answer_share"] or 0.0
            why += f"; it gives one answer to {top:.0%} of the questions: collapsed, not a shortcut"
        checks.append(Premise(run.seed or 0, cue, p_acc, start, holds, why, collapsed, cue_halves(run.diagnostics)))
    return checks


def build_report(inputs: ReportInput) -> Report:
    """The report's numbers: every evaluated model that has results, per method over seeds, the
    comparisons with the baseline, training, wall time and the leaderboard rows."""
    runs = _scored(inputs.runs)
    methods = ["base", *dict.fromkeys(r.method for r in inputs.runs if r.method != "base")]
    warmup = start_summary(inputs.warmup) if inputs.warmup else None
    premise, comparisons = _judged(inputs, runs)
    confirmation = None
    if inputs.confirmation:
        confirm_runs = _scored(inputs.confirmation)
        confirm_premise, confirm_comparisons = _judged(inputs, confirm_runs)
        confirmation = Confirmation(inputs.confirm_data, confirm_runs, confirm_premise, confirm_comparisons,
                                    [r.label for r in confirm_runs if _collapsed(r)])  # fmt: skip
    return Report(
        target=inputs.target,
        preset=inputs.preset,
        seeds=list(inputs.seeds),
        runs=runs,
        methods=[summarize(m, [r for r in runs if r.method == m]) for m in methods],
        comparisons=comparisons,
        training={r.label: training_summary(r.metrics) for r in inputs.runs if r.metrics is not None},
        wall_time=wall_time(inputs.stages),
        leaderboard=leaderboard_rows(inputs.published),
        warmup=warmup,
        notes=list(inputs.notes),
        premise=premise,
        paper=paper_table(inputs),
        collapsed=[r.label for r in runs if _collapsed(r)],
        confirmation=confirmation,
    )


def _scored(infos: Sequence[RunInfo]) -> list[RunScores]:
    """The scores of every model whose results file exists (the rest are not evaluated yet)."""
    runs = []
    for run in infos:
        if run.results.is_file():
            results = json.loads(run.results.read_text())
            scores = scores_from_results(results, run.label, run.method, run.seed, run.results)
            scores.diagnostics.update(run.diagnostics)
            scores.by_transform.update(by_transform(list(run.answers)))
            runs.append(scores)
    return runs


def _judged(inputs: ReportInput, runs: list[RunScores]) -> tuple[list[Premise], list[Comparison]]:
    """The premise per seed, and the comparisons on the seeds where it holds (every seed when it cannot be
    checked)."""
    premise = premise_check(runs)
    checked = [p for p in premise if p.holds is not None]
    seeds = {p.seed for p in checked if p.holds} if checked else None
    comparisons = [
        compare(m, base, runs, metric, seeds=seeds) for m, base in _pairs(inputs) for metric in COMPARED_METRICS
    ]
    return premise, comparisons


def _pairs(inputs: ReportInput) -> list[tuple[str, str]]:
    """(method, baseline) pairs the report compares: every compared method with ``BASELINE``, then the target
    with each ablation row built on the baseline (GRPO at the target's batch: a second baseline)."""
    variants = [name for name, (base, _) in inputs.ablations.items() if base == BASELINE and name in inputs.compared]
    target = [inputs.target] if inputs.target in inputs.compared else []
    return [(m, BASELINE) for m in inputs.compared] + [(m, v) for m in target for v in variants]


def paper_table(inputs: ReportInput) -> list[dict[str, Any]]:
    """Every evaluated model's measured score on each paper column, beside the paper's number for the same
    method (``reported.yaml``); a column whose data was not given is marked, never filled."""
    if not inputs.paper_columns:
        return []
    from dybench.results import load_reported

    reported = {row.model: row for row in load_reported()}
    rows = []
    for run in inputs.runs:
        name = inputs.reported_rows.get(run.method)
        paper = reported.get(name) if name else None
        cells = []
        for col in inputs.paper_columns:
            path = run.results if col.benchmark == "dybench" else run.benchmarks.get(col.benchmark)
            measured = _measured(path, col.task, col.metric) if col.given and path is not None else None
            value = None if paper is None else paper.scores.get(col.column, paper.extra.get(col.column))
            cells.append({"benchmark": col.benchmark, "metric": col.metric, "column": col.column, "given": col.given,
                          "measured": measured, "reported": value})  # fmt: skip
        rows.append({"label": run.label, "method": run.method, "reported_as": name, "cells": cells})
    return rows


def _measured(path: Path, task: str, metric: str) -> Proportion | None:
    """``metric`` of ``task`` in an lmms-eval results file (None while it does not exist)."""
    if not path.is_file():
        return None
    metrics = _by_name(json.loads(path.read_text(encoding="utf-8"))).get(task, {})
    found = metrics.get(metric)
    return found.score if found is not None and math.isfinite(found.value) else None


def scores_from_results(results: dict, label: str, method: str, seed: int | None, path: Path) -> RunScores:
    """Overall and per-category Acc, P-Acc and consistency from an lmms-eval results dict."""
    tasks = _by_name(results)
    task = _group_metrics(tasks)
    metrics = {m: _interval(task, m) for m in METRICS}
    categories = [c for c in CATEGORIES if f"p_acc_{c}" in task]
    by_category: dict[str, dict[str, Proportion]] = {
        c: {"p_acc": _interval(task, f"p_acc_{c}"), "acc": _interval(task, f"acc_{c}")} for c in categories
    }
    if not categories:  # the group did not pool per-category numbers: read the subtasks
        for name, sub in tasks.items():
            c = _category(name)
            if c in CATEGORIES and "p_acc" in sub:
                by_category[c] = {"p_acc": _interval(sub, "p_acc"), "acc": _interval(sub, "acc")}
    n = results.get("n-samples", {})
    n_items = sum(v.get("effective", 0) for k, v in n.items() if k.startswith(GROUP_TASK)) or None
    return RunScores(label, method, seed, metrics, by_category, n_items, str(path))


def start_summary(run: Path) -> dict[str, Any] | None:
    """What the report says of the start model: the sft run's steps, targets, held-back checks and final
    held-back answers (None while the run has not finished)."""
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rows = read_jsonl(run / "metrics.jsonl") if (run / "metrics.jsonl").is_file() else []
    return {
        "steps": summary.get("steps"),
        "ended": summary.get("ended"),
        "targets": summary.get("config", {}).get("sft_targets"),
        "checks": [[r["step"], r["heldout_acc"]] for r in rows if r.get("heldout_acc") is not None],
        **(summary.get("held_back") or {}),
    }


def logged_results(eval_dir: Path) -> list[ItemResult]:
    """The scored items (``dybench.scoring.ItemResult``) that lmms-eval logged for a dybench_pair run
    (read by ``dybench.results.read_samples``)."""
    results: dict[str, ItemResult] = {}
    for path in sorted(Path(eval_dir).rglob(f"*_samples_{GROUP_TASK}_*.jsonl")):
        if "single_frame" in path.name:
            continue
        task = samples_task(path.name) or GROUP_TASK
        for sample in read_samples(path.read_bytes(), task=task, name=str(path)).items:
            results[sample.item_id] = sample.logged
    return list(results.values())


def by_transform(results: list[ItemResult]) -> dict[str, Proportion]:
    """P-Acc per counterfactual transform (hflip, reverse), rescored with ``dybench.scoring``."""
    return grouped(pair_accuracy, "transform")(results)


def summarize(method: str, runs: Sequence[RunScores]) -> MethodSummary:
    """``method``'s mean and sample standard deviation over its seeds, per metric."""
    per_seed = {m: [r.metrics[m].value for r in runs] for m in METRICS}
    mean, sd = {}, {}
    for m, values in per_seed.items():
        known = [v for v in values if v is not None]
        mean[m] = statistics.fmean(known) if known else None
        sd[m] = statistics.stdev(known) if len(known) > 1 else None
    return MethodSummary(method, len(runs), mean, sd, per_seed)


def compare(
    method: str, baseline: str, runs: Sequence[RunScores], metric: str, *, seeds: set[int] | None = None
) -> Comparison:
    """``method`` minus ``baseline`` on ``metric``, paired by seed (only ``seeds`` when given), with a
    plain-words verdict.

    ``cue_agreement`` is lower-is-better (following the planted cue is the shortcut)."""
    ours = {r.seed: _value(r, metric) for r in runs if r.method == method and (seeds is None or r.seed in seeds)}
    theirs = {r.seed: _value(r, metric) for r in runs if r.method == baseline}
    paired = [(s, ours[s], theirs.get(s)) for s in sorted(ours, key=lambda s: s or 0)]  # only the base has no seed
    known = [(s, mine - other) for s, mine, other in paired if mine is not None and other is not None]
    diffs = [d for _, d in known]
    mean = statistics.fmean(diffs) if diffs else None
    lower_better = metric == "cue_agreement"
    wins = sum((d < 0) if lower_better else (d > 0) for d in diffs)
    if mean is None:
        why = "not measured" if seeds is None or seeds else "not compared: the premise holds on no seed"
        verdict = f"{method} - {baseline} {why}"
    elif not any(diffs):
        verdict = f"no difference ({method} - {baseline} = 0 on every seed)"
    elif len(diffs) > 1 and abs(mean) <= 2 * statistics.stdev(diffs) / math.sqrt(len(diffs)):
        verdict = f"no clear difference ({method} - {baseline} = {mean:+.3f}, within 2 standard errors over seeds)"
    elif lower_better:
        verdict = (
            f"{method} follows the planted cue {'less' if mean < 0 else 'MORE'} than {baseline}: {mean:+.3f} "
            f"({wins}/{len(diffs)} seeds lower)"
        )
    elif mean > 0:
        verdict = f"{method} above {baseline} by {mean:+.3f} ({wins}/{len(diffs)} seeds)"
    else:
        verdict = f"{method} does NOT beat {baseline}: {mean:+.3f} ({wins}/{len(diffs)} seeds higher)"
    return Comparison(method, baseline, metric, diffs, mean, wins, verdict, [s for s, _ in known])


def training_summary(path: Path) -> dict[str, Any]:
    """A trainer's ``metrics.jsonl`` in a few numbers: steps, rewards over the first and last 10 steps, the
    share of groups without reward signal over them (None for runs that did not log it), seconds per step
    (empty when there is no file yet)."""
    if not path.is_file():
        return {}
    rows = read_jsonl(path)
    if not rows:
        return {}

    def mean(key: str, part: list[dict], old: str | None = None) -> float:
        """``key``'s mean over ``part`` (``old``: its name in metrics files written before issue 14)."""
        return round(statistics.fmean(r.get(key, r.get(old or key, 0.0)) for r in part), 4)

    head, tail = rows[:10], rows[-10:]
    return {
        "steps": rows[-1]["step"],
        "reward_first10": mean("reward", head),
        "reward_last10": mean("reward", tail),
        "accuracy_first10": mean("reward_correct", head, "reward_accuracy"),
        "accuracy_last10": mean("reward_correct", tail, "reward_accuracy"),
        "behave_last10": mean("reward_behave", tail),
        "crr_last10": mean("reward_crr_orig", tail, "reward_crr"),
        "crr_aug_last10": mean("reward_crr_aug", tail, "reward_crr"),
        "kl_bias_last10": mean("kl_bias", tail),
        "flat_first10": _logged_mean(head, "frac_reward_zero_std", zeros=True),
        "flat_last10": _logged_mean(tail, "frac_reward_zero_std", zeros=True),
        "kl_bias_over_training": kl_over_training(rows),
        "step_s_mean": mean("step_s", rows),
        **{f"{key}_mean": value for key in METHOD_TERMS if (value := _logged_mean(rows, key)) is not None},
    }


#: Per-step numbers only some methods log: the report shows each over the whole run where it was logged.
METHOD_TERMS = ("crr_advantage_shift", "kl_bias_cue_answers", "kl_bias_other_answers", "reward_temporal",
                "temporal_condition", "shuffled_acc", "ordered_acc", "reward_reverse", "reversed_acc")  # fmt: skip


def _logged_mean(rows: list[dict], key: str, zeros: bool = False) -> float | None:
    """``key``'s mean over the rows that logged it; None when none did (or, unless ``zeros``, all logged 0)."""
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    return round(statistics.fmean(values), 4) if values and (zeros or any(values)) else None


#: How many points of the run the report's KL-to-bias series has (each the mean of a window of steps).
KL_POINTS = 5


def kl_over_training(rows: list[dict], points: int = KL_POINTS, window: int = 10) -> list[list[float]]:
    """CDPO's KL to the bias model along the run: ``[step, mean kl_bias over the window ending there]`` at
    ``points`` evenly spaced steps (first window, ..., last window); empty when the run has no bias model,
    so a repulsion that does not act (a KL near 0 all along) is visible in the report."""
    if not any(r.get("kl_bias") for r in rows):
        return []
    n = len(rows)
    points = max(1, min(points, n // window))  # windows never overlap
    ends = [round(n * (i + 1) / points) for i in range(points)]
    return [
        [rows[e - 1]["step"], round(statistics.fmean(r.get("kl_bias", 0.0) for r in rows[max(0, e - window) : e]), 5)]
        for e in ends
    ]


def wall_time(stages: Sequence[StageInfo]) -> dict[str, Any]:
    """The stages' wall times (of the calls that completed them), summed by kind."""
    done = {s.name: (s.kind, s.wall_s) for s in stages if s.wall_s is not None}
    loads = [s.load_average for s in stages if s.wall_s is not None and s.load_average is not None]
    by_kind: dict[str, float] = {}
    for kind, wall in done.values():
        by_kind[kind] = round(by_kind.get(kind, 0.0) + wall, 1)
    return {
        "total_s": round(sum(w for _, w in done.values()), 1),
        "by_kind_s": by_kind,
        "by_stage_s": {name: round(w, 1) for name, (_, w) in done.items()},
        "cpu_count": os.cpu_count(),
        "load_average_mean": round(statistics.fmean(loads), 2) if loads else None,
        "machines": machines(stages),
        "note": "sum of the stages' own wall times (the report stage excluded), on the machine that ran them; "
        "a 5-minute load average above its CPU count means other work shared the CPU and the times are "
        "pessimistic",
    }


def machines(stages: Sequence[StageInfo]) -> dict[str, list[str]]:
    """Each machine the finished stages ran on -> those stages' names (``not recorded`` for older markers).
    More than one among the training stages means their runs are not comparable to the last float: CPU
    training is deterministic on one machine only."""
    out: dict[str, list[str]] = {}
    for s in stages:
        if s.wall_s is not None:
            out.setdefault(s.machine or "not recorded", []).append(s.name)
    return out


def leaderboard_rows(published: Path) -> list[dict[str, Any]]:
    """The runs the leaderboard stage stored, with their P-Acc and Acc (empty before that stage ran)."""
    if not published.is_file():
        return []
    rows = []
    for entry in json.loads(published.read_text())["runs"]:
        task = _group_metrics(_by_name(json.loads(Path(entry["results"]).read_text())))
        rows.append(
            {
                "run_id": entry["run_id"],
                "model": entry["model"],
                "p_acc": _interval(task, "p_acc").value,
                "acc": _interval(task, "acc").value,
                "stored_as": entry["stored_as"],
            }
        )
    return rows


def _value(run: RunScores, metric: str) -> float | None:
    return run.metrics[metric].value if metric in run.metrics else run.diagnostics.get(metric)


def _category(task: str) -> str | None:
    """``moving_direction`` for ``dybench_pair_moving_direction`` or ``dybench_pair_r1_moving_direction``."""
    for group in sorted(GROUP_TASKS, key=len, reverse=True):
        if task.startswith(group + "_"):
            return task.removeprefix(group + "_")
    return None


def _by_name(results: dict) -> dict[str, dict[str, TaskMetric]]:
    """task -> metric name -> its record, read by ``dybench.results.task_metrics`` (intervals included)."""
    return {name: {m.metric: m for m in metrics} for name, metrics in task_metrics(results).items()}


def _group_metrics(tasks: dict[str, dict[str, TaskMetric]]) -> dict[str, TaskMetric]:
    """The metrics of the run's dybench_pair group (``dybench.results.task_metrics``, by metric name)."""
    for group in GROUP_TASKS:
        if "p_acc" in tasks.get(group, {}):
            return tasks[group]
    # a single-category task run: take the only dybench_pair* task with scores
    for name, metrics in tasks.items():
        if name.startswith(GROUP_TASK) and "p_acc" in metrics:
            return metrics
    return {}


def _interval(metrics: dict[str, TaskMetric], name: str) -> Proportion:
    m = metrics.get(name)
    if m is None or not math.isfinite(m.value):
        return Proportion(None)
    return m.score
