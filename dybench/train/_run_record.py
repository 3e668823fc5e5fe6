"""What a training run says when it starts and leaves behind when it ends.

- At the start (main process): what the rewards mean, and that a model built offline or at random earns
  reward 0 until it has learnt the answer format (so "reward 0, loss 0" is read as what it is).
- At the end: ``summary.json`` (machine-readable: steps, how the run ended, last-steps means of the main
  metrics, the method's own numbers) and ``metrics.png`` (reward, loss and KL terms per step), and the same
  summary printed. A rerun of a finished run with the same settings is "already done" (``finished_run``).
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Any

from dybench.fileio import read_jsonl, write_json_atomic
from dybench.train._config import TrainConfig

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
PLOT = "metrics.png"
#: Metrics summarised over the last steps, when the method logs them.
_SUMMARISED = ("reward", "reward_std", "frac_reward_zero_std", "loss", "kl_ref", "kl_bias", "heldout_acc",
               "crr_advantage_shift", "completion_len", "step_s")  # fmt: skip
_LAST = 10


def finished_run(out: Path, cfg: TrainConfig) -> str | None:
    """How the run in ``out`` finished, when it did with the same settings (else None: train or resume)."""
    try:
        summary = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = summary.get("config") == _comparable(cfg.to_dict())
    return summary.get("ended") if same and (out / "model" / "config.json").is_file() else None


def _comparable(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "resume"}


def explain_start(cfg: TrainConfig, processes: int) -> None:
    """Log what this run's rewards and losses mean before the first step."""
    if cfg.method == "sft":
        log.warning("sft: cross-entropy on %s targets; held-back greedy accuracy every %d steps",
                    cfg.sft_targets, cfg.sft_check_every)  # fmt: skip
        return
    tiny = (Path(cfg.model) / "dybench_tiny_model.json").is_file()
    log.warning(
        "%s on %d process(es): reward = accuracy (0-1) + format (0-1)%s. A group whose %d completions earn the "
        "same reward has advantage 0, and with ppo_epochs=1 and no KL term its loss is 0: reward 0 and loss 0 "
        "mean no completion has earned anything yet.%s",
        cfg.method,
        processes,
        " + the method's own terms" if cfg.method in ("crpo",) else "",
        cfg.num_generations,
        " This model was built offline at random (dybench tiny-model): it writes noise until it learns the "
        "<think>...</think><answer>X</answer> format; start from a warm-up (`dybench train sft`) as "
        "`dybench reproduce` does."
        if tiny
        else "",
    )


def write_summary(out: Path, cfg: TrainConfig, *, stopped: str | None, wall_s: float, extras: dict[str, Any]) -> dict:
    """``summary.json`` and ``metrics.png`` in ``out``; the summary is also logged. Returns the summary."""
    rows = read_jsonl(out / "metrics.jsonl") if (out / "metrics.jsonl").is_file() else []
    last = rows[-_LAST:]
    means = {}
    for key in _SUMMARISED:
        values = [r[key] for r in last if isinstance(r.get(key), (int, float))]
        if values:
            means[key] = round(statistics.fmean(values), 6)
    flat = [r for r in rows if r.get("reward_std") == 0.0]
    notes = []
    if cfg.method != "sft" and rows and len(flat) == len(rows):
        notes.append(
            "every step's groups earned equal rewards (reward_std 0): no learning signal; a model that does not "
            "answer in the format earns 0 everywhere (warm it up first: `dybench train sft`)"
        )
    summary = {
        "method": cfg.method,
        "steps": rows[-1]["step"] if rows else 0,
        "max_steps": cfg.max_steps,
        "ended": stopped or f"reached max_steps ({cfg.max_steps})",
        "wall_s": round(wall_s, 1),
        f"last_{_LAST}_steps": means,
        **extras,
        "notes": notes,
        "config": _comparable(cfg.to_dict()),
    }
    write_json_atomic(out / SUMMARY, summary)
    _plot(rows, out / PLOT, cfg.method)
    shown = ", ".join(f"{k} {v:g}" for k, v in means.items() if k != "step_s")
    log.warning("%s done: %s; last %d steps: %s%s", cfg.method, summary["ended"], _LAST, shown,
                "".join(f"\n  note: {n}" for n in notes))  # fmt: skip
    return summary


def _plot(rows: list[dict], path: Path, method: str) -> None:
    """Reward, loss and KL per step (only the series this method logs); skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib is not installed: no %s", path.name)
        return
    from dybench.fileio import atomic_path

    steps = [r["step"] for r in rows]
    panels = [("loss", ["loss"])] if method == "sft" else [("reward", ["reward", "reward_correct"]), ("loss", ["loss"])]
    kl = [k for k in ("kl_ref", "kl_bias") if any(r.get(k) for r in rows)]
    if kl:
        panels.append(("KL", kl))
    if any(r.get("heldout_acc") is not None for r in rows):
        panels.append(("held-back accuracy", ["heldout_acc"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels, strict=True):
        for key in keys:
            points = [(s, r[key]) for s, r in zip(steps, rows, strict=True) if r.get(key) is not None]
            if points:
                ax.plot(*zip(*points, strict=True), label=key, marker="." if key == "heldout_acc" else None)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.suptitle(f"dybench train {method}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
