"""``dybench demo``: the whole chain on the embedded default, offline, in a few minutes on a CPU.

DyBench-Synth clips are rendered, built into counterfactual pairs, and evaluated through lmms-eval by
three models: the two floor models and a tiny random Qwen2.5-VL built offline and run by lmms-eval's
own ``qwen2_5_vl`` model class. The table shows what the strict pair metric does to models that do
not watch: their Acc is near chance, their P-Acc far below it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from dybench.evaluation._report import comparison_table, output_console
from dybench.evaluation._run import OFFLINE, EvalError, EvalRun, evaluate

DEMO_TASKS = ("dybench_pair", "dybench_pair_single_frame")
#: The tiny model's pixel budget: a 64x64 frame stays 64x64 (lmms-eval's defaults are for real models).
TINY_PIXELS = "min_pixels=3136,max_pixels=12544"


@dataclass(frozen=True)
class DemoReport:
    """Where the demo wrote everything, and its runs."""

    folder: Path
    pairs: Path
    """The pairs dataset (use it as DYBENCH_PAIRS)."""
    results: Path
    """The results folder (the leaderboard reads it: ``dybench leaderboard --results ...``)."""
    runs: tuple[EvalRun, ...]


def demo(
    out: str | os.PathLike = "runs/demo",
    *,
    n: int = 20,
    seed: int = 0,
    size: int = 64,
    frames: int = 8,
    tiny_model: bool = True,
    console: Console | None = None,
) -> DemoReport:
    """Render ``n`` clips, build their pairs, evaluate the models, print the comparison table.

    Re-running reuses finished work (the synth and build steps skip what is done and valid; the tiny
    model is built once). ``tiny_model=False`` evaluates the two floor models only.
    """
    from dybench.build import build_pairs
    from dybench.synth import synthesize

    for key, value in OFFLINE.items():  # nothing in the demo may reach a hub
        os.environ.setdefault(key, value)
    console = console or output_console()
    folder = Path(out)
    synth, pairs, results = folder / "synth", folder / "pairs", folder / "results"
    console.print(f"[bold]1/3[/] rendering {n} DyBench-Synth clips ({size}x{size}, {frames} frames) into {synth}")
    synthesize(synth, n=n, seed=seed, size=size, frames=frames)
    console.print(f"[bold]2/3[/] building counterfactual pairs into {pairs}")
    report = build_pairs(synth, pairs)
    if not report.ok:
        raise EvalError(f"building the demo pairs failed: {report.errors[0]}")

    models = [("dybench_constant", "answer=A", None), ("dybench_random", f"seed={seed}", None)]
    if tiny_model:
        checkpoint = _tiny_qwen(folder / "tiny-qwen2_5_vl", seed)
        args = f"pretrained={checkpoint},device_map=cpu,max_num_frames={frames},{TINY_PIXELS}"
        models.append(("qwen2_5_vl", args, "cpu"))
    console.print(f"[bold]3/3[/] evaluating {len(models)} models on {', '.join(DEMO_TASKS)} with lmms-eval")
    runs = tuple(
        evaluate(model, DEMO_TASKS, model_args=args, device=device, data=pairs, output=results)
        for model, args, device in models
    )
    n_pairs = len({i.pair_id for i in report.items})
    title = f"DyBench-Synth demo: {n_pairs} pairs, {len(report.items)} items (95% intervals in brackets)"
    console.print(
        comparison_table(
            runs, "dybench_pair", title=title, extra=[("dybench_pair_single_frame", "p_acc", "P-Acc, 1 frame")]
        )
    )
    console.print(
        "Acc counts items; P-Acc counts a pair only when the original and its counterfactual are both "
        "answered right. The last column shows the same items as one middle frame (the shortcut check).\n"
        f"results: {results}"
    )
    return DemoReport(folder, pairs, results, runs)


def _tiny_qwen(path: Path, seed: int) -> Path:
    """The tiny offline Qwen2.5-VL, built once (``build_tiny_model`` is deterministic per seed)."""
    if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
        return path
    from dybench.tiny_model import build_tiny_model

    return build_tiny_model("qwen2_5_vl", path, seed=seed)
