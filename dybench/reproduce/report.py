"""The reproduction report: ``report.md`` with PNG plots, ``report.json``, and the leaderboard rows.

Numbers come from the lmms-eval results files of the evaluation stage (the leaderboard's own source)
and the trainers' ``metrics.jsonl``; nothing is recomputed here except means and spreads over seeds.
The method-vs-baseline comparison is paired by seed (same start, same data, same seed), and the
report says plainly when the method does not beat GRPO.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dybench.fileio import read_jsonl, write_json_atomic, write_text_atomic
from dybench.records import CATEGORIES
from dybench.reproduce.presets import ABLATIONS, COMPARED
from dybench.reproduce.stages import MARKERS
from dybench.results import TaskMetric, task_metrics
from dybench.scoring import ItemResult, grouped, pair_accuracy
from dybench.synth.cues import answer_diagnostics, planted_cues

if TYPE_CHECKING:
    from dybench.reproduce.plan import Plan

METRICS = ("acc", "p_acc", "change_consistency", "keep_consistency")
GROUP_TASK = "dybench_pair"
GROUP_TASKS = ("dybench_pair", "dybench_pair_r1")
"""The pooled pair tasks (default prompt and R1 prompt); their subtasks are ``<group>_<category>``."""
PLOTS = "plots"


@dataclass(frozen=True)
class Interval:
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class RunScores:
    """One evaluated model: its overall and per-category scores on the balanced test pairs."""

    label: str
    method: str
    """grpo, crpo, bias, cdpo, or base (the start model)."""
    seed: int | None
    metrics: dict[str, Interval]
    by_category: dict[str, dict[str, Interval]]
    n_items: int | None
    results: str
    by_transform: dict[str, Interval] = field(default_factory=dict)
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


@dataclass(frozen=True)
class Report:
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


def write_report(plan: Plan) -> Path:
    """Write ``report.md``, ``report.json`` and ``plots/*.png`` into the plan's output folder."""
    out = plan.output_dir
    report = build_report(plan)
    write_json_atomic(out / "report.json", asdict(report))
    plots = _plots(plan, report, out / PLOTS)
    write_text_atomic(out / "report.md", render_markdown(plan, report, plots))
    return out / "report.md"


def build_report(plan: Plan) -> Report:
    lay = plan.layout
    runs = []
    cues = planted_cues(_test_pairs(plan), lay.synth("test"))
    for label in plan.eval_labels:
        path = lay.results(label)
        if path.is_file():
            method, seed = _split_label(label)
            scores = scores_from_results(json.loads(path.read_text()), label, method, seed, path)
            logged = logged_results(lay.eval(label))
            scores.diagnostics.update(answer_diagnostics({r.item_id: r.pred for r in logged}, cues))
            scores.by_transform.update(by_transform(logged))
            runs.append(scores)
    methods = [_summary(m, [r for r in runs if r.method == m]) for m in _methods(plan)]
    comparisons = [
        _compare(m, "grpo", runs, metric)
        for m in (*COMPARED[plan.target], *ABLATIONS[plan.target])
        if m != "grpo"
        for metric in ("p_acc", "acc", "cue_agreement")
    ]
    training = {r.label: training_summary(r.output_dir / "metrics.jsonl") for r in plan.runs}
    warmup_file = lay.base_model / "warmup.json"
    warmup = json.loads(warmup_file.read_text()) if warmup_file.is_file() else None
    if warmup:
        warmup.pop("losses", None)
    return Report(
        target=plan.target,
        preset=plan.preset.name,
        seeds=list(plan.seeds),
        runs=runs,
        methods=methods,
        comparisons=comparisons,
        training=training,
        wall_time=_wall_time(plan),
        leaderboard=_leaderboard_rows(plan),
        warmup=warmup,
        notes=list(plan.notes),
    )


def scores_from_results(results: dict, label: str, method: str, seed: int | None, path: Path) -> RunScores:
    """Overall and per-category Acc, P-Acc and consistency from an lmms-eval results dict."""
    tasks = _by_name(results)
    task = _group_metrics(tasks)
    metrics = {m: _interval(task, m) for m in METRICS}
    categories = [c for c in CATEGORIES if f"p_acc_{c}" in task]
    by_category = {c: {"p_acc": _interval(task, f"p_acc_{c}"), "acc": _interval(task, f"acc_{c}")} for c in categories}
    if not categories:  # the group did not pool per-category numbers: read the subtasks
        for name, sub in tasks.items():
            c = _category(name)
            if c in CATEGORIES and "p_acc" in sub:
                by_category[c] = {"p_acc": _interval(sub, "p_acc"), "acc": _interval(sub, "acc")}
    n = results.get("n-samples", {})
    n_items = sum(v.get("effective", 0) for k, v in n.items() if k.startswith(GROUP_TASK)) or None
    return RunScores(label, method, seed, metrics, by_category, n_items, str(path))


def logged_results(eval_dir: Path) -> list[ItemResult]:
    """The scored items (``dybench.scoring.ItemResult``) that lmms-eval logged for a dybench_pair run."""
    results: dict[str, ItemResult] = {}
    for path in sorted(Path(eval_dir).rglob(f"*_samples_{GROUP_TASK}_*.jsonl")):
        if "single_frame" in path.name:
            continue
        for row in read_jsonl(path):
            record = row.get("p_acc")
            if isinstance(record, dict) and "item_id" in record:
                results[record["item_id"]] = ItemResult.from_row(record)
    return list(results.values())


def by_transform(results: list[ItemResult]) -> dict[str, Interval]:
    """P-Acc per counterfactual transform (hflip, reverse), rescored with ``dybench.scoring``."""
    return {t: Interval(s.value, s.ci_low, s.ci_high) for t, s in grouped(pair_accuracy, "transform")(results).items()}


def _test_pairs(plan: Plan) -> Path:
    for stage in plan.stages:
        if stage.name.startswith("eval-"):
            return Path(stage.settings["data"])
    return plan.layout.pairs("test")


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


def _interval(metrics: dict[str, TaskMetric], name: str) -> Interval:
    m = metrics.get(name)
    if m is None or not math.isfinite(m.value):
        return Interval(None)
    return Interval(m.value, m.ci_low, m.ci_high)


def _split_label(label: str) -> tuple[str, int | None]:
    if label == "base":
        return "base", None
    method, _, seed = label.rpartition("-s")
    return method, int(seed)


def _methods(plan: Plan) -> list[str]:
    seen = ["base"]
    for run in plan.runs:
        if run.method not in seen:
            seen.append(run.method)
    return seen


def _summary(method: str, runs: Sequence[RunScores]) -> MethodSummary:
    per_seed = {m: [r.metrics[m].value for r in runs] for m in METRICS}
    mean, sd = {}, {}
    for m, values in per_seed.items():
        known = [v for v in values if v is not None]
        mean[m] = statistics.fmean(known) if known else None
        sd[m] = statistics.stdev(known) if len(known) > 1 else None
    return MethodSummary(method, len(runs), mean, sd, per_seed)


def _value(run: RunScores, metric: str) -> float | None:
    return run.metrics[metric].value if metric in run.metrics else run.diagnostics.get(metric)


def _compare(method: str, baseline: str, runs: Sequence[RunScores], metric: str) -> Comparison:
    """``method`` minus ``baseline`` on ``metric``, paired by seed, with a plain-words verdict.

    ``cue_agreement`` is lower-is-better (following the planted cue is the shortcut)."""
    ours = {r.seed: _value(r, metric) for r in runs if r.method == method}
    theirs = {r.seed: _value(r, metric) for r in runs if r.method == baseline}
    diffs = [ours[s] - theirs[s] for s in sorted(ours) if ours[s] is not None and theirs.get(s) is not None]
    mean = statistics.fmean(diffs) if diffs else None
    lower_better = metric == "cue_agreement"
    wins = sum((d < 0) if lower_better else (d > 0) for d in diffs)
    if mean is None:
        verdict = "not measured"
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
    return Comparison(method, baseline, metric, diffs, mean, wins, verdict)


def training_summary(path: Path) -> dict[str, Any]:
    """A trainer's ``metrics.jsonl`` in a few numbers: steps, rewards over the first and last 10 steps,
    seconds per step (empty when there is no file yet)."""
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
        "step_s_mean": mean("step_s", rows),
    }


def _wall_time(plan: Plan) -> dict[str, Any]:
    """Wall time of every stage from its done-marker (the call that completed it), summed by kind."""
    by_stage, loads = {}, []
    for stage in plan.stages:
        marker = plan.output_dir / MARKERS / f"{stage.name}.done.json"
        try:
            done = json.loads(marker.read_text())
            by_stage[stage.name] = (stage.kind, float(done["wall_s"]))
        except (OSError, ValueError, KeyError):
            continue
        if isinstance(done.get("load_average"), (int, float)):
            loads.append(float(done["load_average"]))
    by_kind: dict[str, float] = {}
    for kind, wall in by_stage.values():
        by_kind[kind] = round(by_kind.get(kind, 0.0) + wall, 1)
    return {
        "total_s": round(sum(w for _, w in by_stage.values()), 1),
        "by_kind_s": by_kind,
        "by_stage_s": {k: round(w, 1) for k, (_, w) in by_stage.items()},
        "cpu_count": os.cpu_count(),
        "load_average_mean": round(statistics.fmean(loads), 2) if loads else None,
        "note": "sum of the stages' own wall times (the report stage excluded), on the machine that ran them; "
        "a 5-minute load average above its CPU count means other work shared the CPU and the times are "
        "pessimistic",
    }


def _leaderboard_rows(plan: Plan) -> list[dict[str, Any]]:
    from dybench.reproduce.plan import PUBLISHED

    path = plan.output_dir / PUBLISHED
    if not path.is_file():
        return []
    published = json.loads(path.read_text())
    rows = []
    for entry in published["runs"]:
        results = json.loads(Path(entry["results"]).read_text())
        task = _group_metrics(_by_name(results))
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


# --- markdown -------------------------------------------------------------------------------------------


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _fmt_ci(i: Interval) -> str:
    if i.value is None:
        return "-"
    if i.ci_low is None or i.ci_high is None:
        return f"{i.value:.3f}"
    return f"{i.value:.3f} [{i.ci_low:.2f}, {i.ci_high:.2f}]"


def render_markdown(plan: Plan, report: Report, plots: dict[str, str]) -> str:
    lines = [
        f"# dybench reproduce {report.target} (preset {report.preset})",
        "",
        f"Seeds {', '.join(map(str, report.seeds))}. Test data: the balanced held-out pairs "
        f"({_test_data(plan)}). Every model is scored by lmms-eval with dybench's "
        f"`{', '.join(plan.preset.evaluation.tasks)}` tasks; "
        "intervals are the tasks' own 95% intervals (over pairs).",
        "",
        "## Verdict",
        "",
    ]
    lines += [f"- **{c.metric}**: {c.verdict}; per seed {', '.join(f'{d:+.3f}' for d in c.diffs)}"
              for c in report.comparisons] or ["- (only the GRPO baseline was run)"]  # fmt: skip
    lines += ["", "## Methods over seeds (mean ± sd)", ""]
    lines += ["| method | seeds | Acc | P-Acc | change consistency | keep consistency |", "|---|---|---|---|---|---|"]
    for m in report.methods:
        cells = [f"{_fmt(m.mean[k])} ± {_fmt(m.sd[k])}" if m.sd[k] is not None else _fmt(m.mean[k]) for k in METRICS]
        lines.append(f"| {m.method} | {m.n_seeds} | " + " | ".join(cells) + " |")
    ablations = ABLATIONS[plan.target]
    if ablations:
        described = [
            f"`{name}` = the `{base}` recipe with " + ", ".join(f"{k}={v}" for k, v in over.items())
            for name, (base, over) in ablations.items()
        ]
        seeds = sorted({r.seed for r in plan.runs if r.method in ablations})
        lines += ["", f"Ablation rows: {'; '.join(described)} (seeds {', '.join(map(str, seeds)) or 'none'})."]
    lines += ["", "## Every model", ""]
    categories = sorted({c for r in report.runs for c in r.by_category})
    transforms = sorted({t for r in report.runs for t in r.by_transform})
    groups = [f"P-Acc {c}" for c in categories] + [f"P-Acc {t}" for t in transforms]
    header = "| model | Acc | P-Acc | change cons. | keep cons. | " + " | ".join(groups)
    lines += [header + " | cue agreement | top answer share |", "|" + "---|" * (7 + len(groups))]
    for r in report.runs:
        cells = [_fmt_ci(r.metrics[k]) for k in METRICS]
        cells += [_fmt_ci(r.by_category[c]["p_acc"]) if c in r.by_category else "-" for c in categories]
        cells += [_fmt_ci(r.by_transform[t]) if t in r.by_transform else "-" for t in transforms]
        cells += [_fmt(r.diagnostics.get("cue_agreement")), _fmt(r.diagnostics.get("top_answer_share"))]
        lines.append(f"| {r.label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Intervals: 95% over pairs (the tasks' own). *Cue agreement*: share of answers to the planted-shortcut "
        "questions that follow the cue; at test time the cue carries no information (balanced), so a model "
        "that reads the video scores about 0.5 and one that follows the cue 1.0. *Top answer share*: share of "
        "the most common answer (1.0: the same answer to everything, which scores P-Acc 0 on change pairs).",
    ]
    if report.training:
        lines += ["", "## Training", "", "| run | steps | reward first 10 -> last 10 | accuracy reward first 10 -> "
                  "last 10 | behave last 10 | CRR orig / aug last 10 | KL to bias last 10 | s/step |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for label, t in report.training.items():
            if t:
                lines.append(
                    f"| {label} | {t['steps']} | {t['reward_first10']:.3f} -> {t['reward_last10']:.3f} | "
                    f"{t['accuracy_first10']:.3f} -> {t['accuracy_last10']:.3f} | {t.get('behave_last10', 0):.3f} | "
                    f"{t['crr_last10']:.3f} / {t.get('crr_aug_last10', 0):.3f} | "
                    f"{t['kl_bias_last10']:.4f} | {t['step_s_mean']:.2f} |"
                )
        lines += [
            "",
            "Accuracy reward: over the rows that earn it (crpo published: the original branch only). Behave: "
            "share of counterfactual rollouts that behave as expected (crpo published only).",
        ]
    if report.warmup:
        w = report.warmup
        sampled = f" (sampled at temperature 1: {w['sampled_format_rate']:.0%})" if "sampled_format_rate" in w else ""
        if w.get("targets") == "gold":
            checks = ", ".join(f"{acc:.2f} at step {step:g}" for step, acc in w.get("checks", []))
            lines += [
                "",
                "## Start model: perception warm-up (tiny preset)",
                "",
                f"{w['steps']} supervised steps on the true answers of both branches of the training pairs (the "
                "planted cue is right on one branch and wrong on the other, so it teaches no shortcut), stopped while "
                f"perception is partial, as in an instruction-tuned start model. Held-back accuracy: {checks or '-'}. "
                f"Answers in format: {w['format_rate']:.0%}{sampled}. The base row above is this model.",
            ]
        else:
            lines += [
                "",
                "## Start model: format warm-up (tiny preset)",
                "",
                f"{w['steps']} supervised steps on targets `<think>...</think><answer>X</answer>` with X drawn "
                "uniformly among the question's own choices (no content is taught). On held-back prompts the "
                f"warmed-up model answers in format {w['format_rate']:.0%} of the time{sampled}; its greedy answers "
                f"{w['answers']} score {w['accuracy']:.2f} (the targets carry no content, so this reflects those "
                "prompts' mix of answers, not knowledge).",
            ]
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({rel})" for name, rel in plots.items()] or ["(matplotlib is not installed: no plots)"]
    lines += ["", "## Leaderboard rows", "", f"Stored in `{plan.results_dir}`; view them with "
              f"`dybench leaderboard --results {plan.results_dir}`.", "",
              "| run id | model | P-Acc | Acc |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['run_id']} | {r['model']} | {_fmt(r['p_acc'])} | {_fmt(r['acc'])} |" for r in report.leaderboard]
    wt = report.wall_time
    lines += [
        "",
        "## Wall time",
        "",
        f"{wt['total_s'] / 60:.1f} min in all ({_by_kind(wt['by_kind_s'])}); {wt['note']}. Mean 5-minute load "
        f"average at the end of the stages: {wt['load_average_mean']} on {wt['cpu_count']} CPUs.",
    ]
    if plan.preset.notes:
        lines += ["", f"## How the {plan.preset.name} preset was chosen", ""] + [f"- {n}" for n in plan.preset.notes]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    lines += ["", "## Stages and commands", ""]
    lines += [f"- `{s.name}`: `{s.command}`" for s in plan.stages]
    return "\n".join(lines) + "\n"


def _by_kind(by_kind: dict[str, float]) -> str:
    return ", ".join(f"{kind} {seconds / 60:.1f} min" for kind, seconds in by_kind.items())


def _test_data(plan: Plan) -> str:
    from dybench.pairs import load_items

    pairs = _test_pairs(plan)
    try:
        items = load_items(pairs)
    except ValueError:
        return str(pairs)
    return f"{len({i.pair_id for i in items})} pairs, {len(items)} items in {pairs}"


# --- plots ----------------------------------------------------------------------------------------------


def _plots(plan: Plan, report: Report, folder: Path) -> dict[str, str]:
    """PNG plots; an empty dict when matplotlib is missing (the report says so)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    colours = {"base": "grey", "grpo": "tab:blue", "crpo": "tab:orange", "cdpo": "tab:green", "bias": "tab:red",
               "crpo_differ": "tab:purple", "crpo_mapped": "tab:brown"}  # fmt: skip
    made = {}

    # reward curves
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for run in plan.runs:
        path = run.output_dir / "metrics.jsonl"
        if not path.is_file():
            continue
        rows = read_jsonl(path)
        steps = [r["step"] for r in rows]
        for ax, key in zip(axes, ("reward", "reward_correct"), strict=True):
            values = [r.get(key, r.get("reward_accuracy", 0.0)) for r in rows]
            ax.plot(steps, _smooth(values), color=colours.get(run.method, "black"),
                    alpha=0.8, linestyle=("-", "--", ":", "-.")[run.seed % 4], label=run.label)  # fmt: skip
    for ax, title in zip(axes, ("total reward", "accuracy reward"), strict=True):
        ax.set_title(f"{title} (moving mean over 10 steps)")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    made["reward curves"] = _save(fig, folder / "reward_curves.png")

    # P-Acc per category, mean over seeds with the per-seed values as dots
    categories = sorted({c for r in report.runs for c in r.by_category})
    methods = [m.method for m in report.methods if m.n_seeds]
    if categories and methods:
        fig, ax = plt.subplots(figsize=(max(6, 2 * len(categories) + 2), 4))
        width = 0.8 / len(methods)
        for j, method in enumerate(methods):
            runs = [r for r in report.runs if r.method == method]
            for i, c in enumerate(categories):
                values = [r.by_category[c]["p_acc"].value for r in runs if c in r.by_category]
                values = [v for v in values if v is not None]
                if not values:
                    continue
                x = i + (j - (len(methods) - 1) / 2) * width
                ax.bar(x, statistics.fmean(values), width, color=colours.get(method, "black"),
                       label=method if i == 0 else None, alpha=0.7)  # fmt: skip
                ax.scatter([x] * len(values), values, color="black", s=8, zorder=3)
        ax.set_xticks(range(len(categories)), [c.replace("_", " ") for c in categories])
        ax.set_ylabel("P-Acc (balanced test pairs)")
        ax.set_ylim(0, 1)
        ax.set_title("P-Acc per category (bars: mean over seeds; dots: seeds)")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        made["P-Acc per category"] = _save(fig, folder / "p_acc_per_category.png")

    # Acc against P-Acc
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for r in report.runs:
        a, p = r.metrics["acc"], r.metrics["p_acc"]
        if a.value is None or p.value is None:
            continue
        xerr = [[a.value - (a.ci_low if a.ci_low is not None else a.value)],
                [(a.ci_high if a.ci_high is not None else a.value) - a.value]]  # fmt: skip
        yerr = [[p.value - (p.ci_low if p.ci_low is not None else p.value)],
                [(p.ci_high if p.ci_high is not None else p.value) - p.value]]  # fmt: skip
        ax.errorbar(a.value, p.value, xerr=xerr, yerr=yerr, fmt="o", color=colours.get(r.method, "black"),
                    alpha=0.8, capsize=2, label=r.method)  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Acc (items)")
    ax.set_ylabel("P-Acc (pairs)")
    ax.set_title("Acc against P-Acc (95% intervals)")
    ax.grid(alpha=0.3)
    made["Acc against P-Acc"] = _save(fig, folder / "acc_vs_p_acc.png")
    return {name: f"{PLOTS}/{Path(path).name}" for name, path in made.items()}


def _smooth(values: list[float], window: int = 10) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    from dybench.fileio import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return str(path)
