"""The report's PNG plots: reward curves, P-Acc per category over seeds, Acc against P-Acc."""

from __future__ import annotations

import statistics
from pathlib import Path

from dybench.fileio import read_jsonl
from dybench.reproduce._summary import Report, RunInfo

COLOURS = {"base": "grey", "grpo": "tab:blue", "crpo": "tab:orange", "cdpo": "tab:green", "bias": "tab:red",
           "crpo_differ": "tab:purple", "crpo_mapped": "tab:brown"}  # fmt: skip


def plot_report(runs: tuple[RunInfo, ...], report: Report, folder: Path) -> dict[str, Path]:
    """Plot name -> its PNG in ``folder``; empty when matplotlib is missing (the report says so)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    made = {}

    # reward curves
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for run in runs:
        if run.metrics is None or not run.metrics.is_file():
            continue
        rows = read_jsonl(run.metrics)
        steps = [r["step"] for r in rows]
        for ax, key in zip(axes, ("reward", "reward_correct"), strict=True):
            values = [r.get(key, r.get("reward_accuracy", 0.0)) for r in rows]
            ax.plot(steps, _smooth(values), color=COLOURS.get(run.method, "black"),
                    alpha=0.8, linestyle=("-", "--", ":", "-.")[(run.seed or 0) % 4], label=run.label)  # fmt: skip
    for ax, title in zip(axes, ("total reward", "accuracy reward"), strict=True):
        ax.set_title(f"{title} (moving mean over 10 steps)")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    made["reward curves"] = _save(fig, folder / "reward_curves.png")

    # KL to the bias model (CDPO runs), log scale: a repulsion that does not act stays near 0
    biased = [(run, rows) for run in runs if run.metrics is not None and run.metrics.is_file()
              for rows in [read_jsonl(run.metrics)] if any(r.get("kl_bias") for r in rows)]  # fmt: skip
    if biased:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for i, (run, rows) in enumerate(biased):
            ax.plot([r["step"] for r in rows], _smooth([r.get("kl_bias", 0.0) for r in rows]),
                    color=plt.get_cmap("tab10")(i % 10), label=run.label)  # fmt: skip
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set_title("KL to the bias model (moving mean over 10 steps)")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        made["KL to the bias model"] = _save(fig, folder / "kl_to_bias.png")

    # P-Acc per category, mean over seeds with the per-seed values as dots
    categories = sorted({c for r in report.runs for c in r.by_category})
    methods = [m.method for m in report.methods if m.n_seeds]
    if categories and methods:
        fig, ax = plt.subplots(figsize=(max(6, 2 * len(categories) + 2), 4))
        width = 0.8 / len(methods)
        for j, method in enumerate(methods):
            scored = [r for r in report.runs if r.method == method]
            for i, c in enumerate(categories):
                values = [r.by_category[c]["p_acc"].value for r in scored if c in r.by_category]
                values = [v for v in values if v is not None]
                if not values:
                    continue
                x = i + (j - (len(methods) - 1) / 2) * width
                ax.bar(x, statistics.fmean(values), width, color=COLOURS.get(method, "black"),
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
        ax.errorbar(a.value, p.value, xerr=xerr, yerr=yerr, fmt="o", color=COLOURS.get(r.method, "black"),
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
    return made


def _smooth(values: list[float], window: int = 10) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from dybench.fileio import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
