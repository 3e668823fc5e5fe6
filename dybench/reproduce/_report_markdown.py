"""The reproduction report: ``report.md`` with PNG plots, and ``report.json``.

``write_report`` takes what the reproduction made as data (``summary.ReportInput``, built by the plan's
report stage), gathers the numbers (``summary.build_report``) and renders them. The report says
plainly when the method does not beat GRPO.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

from dybench.fileio import write_json_atomic, write_text_atomic
from dybench.reproduce._plots import plot_report
from dybench.reproduce._summary import (
    COLLAPSED,
    METHOD_TERMS,
    METRICS,
    PREMISE_CUE,
    Comparison,
    Premise,
    Report,
    ReportInput,
    build_report,
)
from dybench.scoring import Proportion
from dybench.synth import cue_halves


def write_report(inputs: ReportInput) -> Path:
    """Write ``report.json``, the plots and ``report.md``; returns the path of ``report.md``."""
    report = build_report(inputs)
    write_json_atomic(inputs.report_json, asdict(report))
    plots = plot_report(inputs.runs, report, inputs.plots)
    here = inputs.report_md.parent
    links = {name: Path(os.path.relpath(path, here)).as_posix() for name, path in plots.items()}
    write_text_atomic(inputs.report_md, render_markdown(inputs, report, links))
    return inputs.report_md


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _halves(halves: dict[str, float]) -> str:
    """``A 0.64, B 0.97``: cue agreement per answer the cue points to."""
    return ", ".join(f"{answer} {_fmt(v)}" for answer, v in sorted(halves.items())) or "-"


def _fmt_ci(i: Proportion) -> str:
    if i.value is None:
        return "-"
    if i.ci_low is None or i.ci_high is None:
        return f"{i.value:.3f}"
    return f"{i.value:.3f} [{i.ci_low:.2f}, {i.ci_high:.2f}]"


def render_markdown(inputs: ReportInput, report: Report, plots: dict[str, str]) -> str:
    """``report.md``: ``report``'s numbers in tables with their plots (name -> path relative to the
    report), then how the preset was chosen and every stage's command."""
    lines = [
        f"# dybench reproduce {report.target} (preset {report.preset})",
        "",
        f"Seeds {', '.join(map(str, report.seeds))}. Test data: the balanced held-out pairs "
        f"({inputs.test_data}). Every model is scored by lmms-eval with dybench's "
        f"`{', '.join(inputs.tasks)}` tasks; "
        "intervals are the tasks' own 95% intervals (over pairs).",
    ]
    lines += _premise(report.premise) + _verdict(report.comparisons, report.collapsed) + _confirmation(report)
    lines += _paper(report) + _methods(inputs, report) + _models(report)
    lines += _training(report)
    lines += _warmup(report)
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({rel})" for name, rel in plots.items()] or ["(matplotlib is not installed: no plots)"]
    lines += ["", "## Leaderboard rows", "", f"Stored in `{inputs.results_dir}`; view them with "
              f"`dybench leaderboard --results {inputs.results_dir}`.", "",
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
    lines += _machines(wt["machines"], {s.name for s in inputs.stages if s.kind == "train"})
    if inputs.preset_notes:
        lines += ["", f"## How the {report.preset} preset was chosen", ""] + [f"- {n}" for n in inputs.preset_notes]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    lines += ["", "## Stages and commands", ""]
    lines += [f"- `{s.name}`: `{s.command}`" for s in inputs.stages]
    return "\n".join(lines) + "\n"


def _premise(premise: list[Premise], heading: str = "## Premise: correctness-only RL learns the shortcut",
             explain: bool = True) -> list[str]:  # fmt: skip
    """First: does GRPO take the planted shortcut on each seed? Methods are compared only where it does."""
    if not premise:
        return []
    lines = ["", heading, ""]
    if explain:  # what the table checks, said once (the confirmation split's table repeats it)
        lines += [f"The papers start from \"correctness-only RL reinforces shortcuts\". Checked per seed: GRPO "
                  f"follows the planted cue on at least {PREMISE_CUE} of the balanced test's cue questions, with a "
                  "P-Acc below the start model's. The cue's two halves (agreement on the items whose cue points to "
                  "each answer) tell a shortcut (high on both) from a lean toward one answer (high on one, low on "
                  "the other).", ""]  # fmt: skip
    lines += ["| seed | GRPO cue agreement | by the cue's answer | GRPO P-Acc | start P-Acc | premise |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for p in premise:
        mark = "holds" if p.holds else "**FAILS**" if p.holds is False else "not checkable"
        if p.collapsed:
            mark += " (collapsed to one answer)"
        cells = [_fmt(p.cue_agreement), _halves(p.cue_by_answer), _fmt(p.p_acc), _fmt(p.start_p_acc), mark]
        lines.append(f"| {p.seed} | " + " | ".join(cells) + " |")
    failed = [str(p.seed) for p in premise if p.holds is False]
    if failed:
        lines += ["", f"The premise fails on seed(s) {', '.join(failed)}: the comparisons below leave them out "
                  "(there is no shortcut there for a method to remove)."]  # fmt: skip
    return lines


def _paper(report: Report) -> list[str]:
    """The paper's table: each evaluated model's measured score beside the paper's number for its method."""
    if not report.paper:
        return []
    first = report.paper[0]["cells"]
    header = [f"{c['benchmark']} {c['metric']}" for c in first]
    lines = ["", "## The paper's benchmarks: measured / reported", "",
             "| model | reported as | " + " | ".join(header) + " |", "|---|---|" + "---|" * len(header)]  # fmt: skip
    for row in report.paper:
        cells = []
        for c in row["cells"]:
            measured = "no data" if not c["given"] else _fmt_ci(c["measured"]) if c["measured"] else "-"
            reported = "-" if c["reported"] is None else f"{c['reported']:.3f}"
            cells.append(f"{measured} / {reported}")
        lines.append(f"| {row['label']} | {row['reported_as'] or '-'} | " + " | ".join(cells) + " |")
    return lines + [
        "",
        "Each cell: dybench's measurement [95% interval] / the paper's number (reported.yaml, not re-run). "
        '"no data": the benchmark\'s data was not given (--bench NAME=PATH, --eval-data); "-": not measured '
        "yet, or no paper row for that model.",
    ]


def _verdict(comparisons: list[Comparison], collapsed: list[str], heading: str = "## Verdict") -> list[str]:
    lines = ["", heading, ""]
    for c in comparisons:
        per_seed = ", ".join(f"seed {s} {d:+.3f}" for s, d in zip(c.seeds, c.diffs, strict=True))
        lines.append(f"- **{c.metric}**: {c.verdict}" + (f"; per seed: {per_seed}" if per_seed else ""))
    if not comparisons:
        lines.append("- (only the GRPO baseline was run)")
    if collapsed:
        lines += ["", f"Collapsed to one answer (on at least {COLLAPSED:.0%} of the test questions; top answer share "
                  f"below): {', '.join(collapsed)}. Such a model scores P-Acc near 0 on pairs whose answer "
                  "changes, whatever it learnt."]  # fmt: skip
    return lines


def _confirmation(report: Report) -> list[str]:
    """The premise and the verdicts again on the confirmation split, and every model's numbers there."""
    c = report.confirmation
    if c is None:
        return []
    lines = ["", "## Confirmation: a second test split", "",
             f"Every model again on {c.test_data}: balanced test clips drawn like the test split from another "
             "seed, on which no setting of the preset was chosen (`dybench reproduce --confirm`). The same rules as "
             "above: the premise per seed, then the methods compared on the seeds where it holds. A result that "
             "holds on the test split and not here was tuned to the test split's clips."]  # fmt: skip
    lines += _premise(c.premise, "### Premise on the confirmation split", explain=False)
    lines += _verdict(c.comparisons, c.collapsed, "### Verdict on the confirmation split")
    lines += ["", "### Every model on the confirmation split", "",
              "| model | Acc | P-Acc | cue agreement | by the cue's answer | top answer share |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for r in c.runs:
        cells = [_fmt_ci(r.metrics["acc"]), _fmt_ci(r.metrics["p_acc"]), _fmt(r.diagnostics.get("cue_agreement")),
                 _halves(cue_halves(r.diagnostics)), _fmt(r.diagnostics.get("top_answer_share"))]  # fmt: skip
        lines.append(f"| {r.label} | " + " | ".join(cells) + " |")
    return lines


def _methods(inputs: ReportInput, report: Report) -> list[str]:
    """Each method's mean ± sd over seeds, and what its ablation rows change."""
    lines = ["", "## Methods over seeds (mean ± sd)", ""]
    lines += ["| method | seeds | Acc | P-Acc | change consistency | keep consistency |", "|---|---|---|---|---|---|"]
    for m in report.methods:
        cells = [f"{_fmt(m.mean[k])} ± {_fmt(m.sd[k])}" if m.sd[k] is not None else _fmt(m.mean[k]) for k in METRICS]
        lines.append(f"| {m.method} | {m.n_seeds} | " + " | ".join(cells) + " |")
    ablations = inputs.ablations
    if ablations:
        described = [
            f"`{name}` = the `{base}` recipe with " + ", ".join(f"{k}={v}" for k, v in over.items())
            for name, (base, over) in ablations.items()
        ]
        seeds = sorted({r.seed for r in inputs.runs if r.method in ablations and r.seed is not None})
        lines += ["", f"Ablation rows: {'; '.join(described)} (seeds {', '.join(map(str, seeds)) or 'none'})."]
    return lines


def _models(report: Report) -> list[str]:
    """Every evaluated model: overall scores, P-Acc per category and per transform, the cue diagnostics."""
    lines = ["", "## Every model", ""]
    categories = sorted({c for r in report.runs for c in r.by_category})
    transforms = sorted({t for r in report.runs for t in r.by_transform})
    groups = [f"P-Acc {c}" for c in categories] + [f"P-Acc {t}" for t in transforms]
    header = "| model | Acc | P-Acc | change cons. | keep cons. | " + " | ".join(groups)
    lines += [header + " | cue agreement | by the cue's answer | top answer share |", "|" + "---|" * (8 + len(groups))]
    for r in report.runs:
        cells = [_fmt_ci(r.metrics[k]) for k in METRICS]
        cells += [_fmt_ci(r.by_category[c]["p_acc"]) if c in r.by_category else "-" for c in categories]
        cells += [_fmt_ci(r.by_transform[t]) if t in r.by_transform else "-" for t in transforms]
        cells += [_fmt(r.diagnostics.get("cue_agreement")), _halves(cue_halves(r.diagnostics))]
        cells += [_fmt(r.diagnostics.get("top_answer_share"))]
        lines.append(f"| {r.label} | " + " | ".join(cells) + " |")
    return lines + [
        "",
        "Intervals: 95% over pairs (the tasks' own). *Cue agreement*: share of answers to the planted-shortcut "
        "questions that follow the cue; at test time the cue carries no information (balanced), so a model "
        "that reads the video scores about 0.5 and one that follows the cue 1.0; *by the cue's answer* splits it "
        "by the answer the cue points to (a lean toward one answer is high on that half only). *Top answer "
        "share*: share of the most common answer (1.0: the same answer to everything, which scores P-Acc 0 on "
        "change pairs).",
    ]


def _training(report: Report) -> list[str]:
    if not report.training:
        return []
    lines = ["", "## Training", "", "| run | steps | reward first 10 -> last 10 | accuracy reward first 10 -> "
             "last 10 | groups without signal first 10 -> last 10 | behave last 10 | CRR orig / aug last 10 | "
             "KL to bias last 10 | s/step |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for label, t in report.training.items():
        if t:
            flat = "-" if t.get("flat_first10") is None else f"{t['flat_first10']:.2f} -> {t['flat_last10']:.2f}"
            lines.append(
                f"| {label} | {t['steps']} | {t['reward_first10']:.3f} -> {t['reward_last10']:.3f} | "
                f"{t['accuracy_first10']:.3f} -> {t['accuracy_last10']:.3f} | {flat} | "
                f"{t.get('behave_last10', 0):.3f} | "
                f"{t['crr_last10']:.3f} / {t.get('crr_aug_last10', 0):.3f} | "
                f"{t['kl_bias_last10']:.4f} | {t['step_s_mean']:.2f} |"
            )
    lines += [
        "",
        "Accuracy reward: over the rows that earn it (crpo published: the original branch only). Groups without "
        "signal: share of advantage groups whose rollouts all earned the same reward (`frac_reward_zero_std`; "
        "advantage 0, so only a KL term moves the policy there; `-`: not logged by that run). Behave: "
        "share of counterfactual rollouts that behave as expected (crpo published only).",
    ]
    terms = [
        (label, {k: t[f"{k}_mean"] for k in METHOD_TERMS if f"{k}_mean" in t})
        for label, t in report.training.items()
        if t
    ]
    terms = [(label, values) for label, values in terms if values]
    if terms:
        lines += ["", "### Each method's own terms (mean over the run)", "", "| run | terms |", "|---|---|"]
        lines += [
            f"| {label} | " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()) + " |" for label, values in terms
        ]
        lines += [
            "",
            "`crr_advantage_shift`: mean |advantage with CRPO's relation terms - without| (0: they change nothing "
            "the policy learns from). `kl_bias_cue_answers` / `kl_bias_other_answers`: CDPO's repulsive KL on "
            "completions that answer what the planted cue points to / something else. `reward_temporal`: share of "
            "ordered rollouts earning T-GRPO's bonus; `temporal_condition`: share of groups whose ordered accuracy "
            "reached mu x the shuffled one's. `reward_reverse`: ArrowRL's reverse reward; `reversed_acc`: the greedy "
            "answer on the reversed clip against the forward gold.",
        ]
    return lines + _kl_to_bias(report)


def _kl_to_bias(report: Report) -> list[str]:
    """CDPO runs: the KL to the bias model along training (near 0 all along: the repulsion did not act)."""
    series = {label: points for label, t in report.training.items() if (points := t.get("kl_bias_over_training"))}
    if not series:
        return []
    width = max(len(points) for points in series.values())
    header = "| run | " + " | ".join([f"point {i + 1}" for i in range(width)]) + " |"
    lines = ["", "### KL to the bias model over training", "", header, "|---|" + "---|" * width]
    lines += [f"| {label} | " + " | ".join(f"{kl:.4f} ({step:g})" for step, kl in points) + " |"
              for label, points in series.items()]  # fmt: skip
    return lines + [
        "",
        "Each cell: the mean per-sequence k3 KL(policy || bias model) over the 10 steps ending at the step in "
        "brackets, on the "
        "policy's own samples (after the log-ratio clamp and any bound). The repulsion's gradient grows with "
        "this gap: a KL near 0 all along means the bias model and the policy agree and the repulsion does nothing.",
    ]


def _warmup(report: Report) -> list[str]:
    """The start model (tiny preset): ``dybench train sft`` on gold answers (perception) or random ones (format)."""
    w = report.warmup
    if not w:
        return []
    checks = ", ".join(f"{acc:.2f} at step {step:g}" for step, acc in w.get("checks", []))
    fmt = f"{w['format_rate']:.0%}" if "format_rate" in w else "-"
    if w.get("targets") == "gold":
        return [
            "",
            "## Start model: supervised on gold answers (tiny preset)",
            "",
            f"{w['steps']} `dybench train sft` steps on the true answers of both branches of its pairs (the "
            "planted cue is right on one branch and wrong on the other, so it teaches no shortcut), stopped at the "
            f"recipe's held-back accuracy ({w.get('ended')}). Held-back accuracy: "
            f"{checks or '-'}. Answers in format: {fmt}. The base row above is this model.",
        ]
    return [
        "",
        "## Start model: the answer format only (tiny preset)",
        "",
        f"{w['steps']} `dybench train sft` steps on targets `<think>...</think><answer>X</answer>` with X drawn "
        f"uniformly among the question's own choices (no content is taught). Held-back answers in format: {fmt}; "
        f"greedy answers {w.get('answers')} score {w.get('accuracy', 0.0):.2f} (the targets carry no content).",
    ]


def _machines(machines: dict[str, list[str]], training: set[str]) -> list[str]:
    """Which machine ran the stages; a warning when the training stages ran on more than one."""
    if not machines:
        return []
    if len(machines) == 1:
        return ["", f"Machine: {next(iter(machines))}."]
    lines = ["", "Machines:"] + [f"- {m}: {', '.join(names)}" for m, names in machines.items()]
    if len([m for m, names in machines.items() if training & set(names)]) > 1:
        lines += ["", "**The training stages ran on more than one machine.** CPU training is deterministic on one "
                  "machine, not across machines (their kernels round differently and a run can end elsewhere): "
                  "compare runs made on the same machine."]  # fmt: skip
    return lines


def _by_kind(by_kind: dict[str, float]) -> str:
    return ", ".join(f"{kind} {seconds / 60:.1f} min" for kind, seconds in by_kind.items())
