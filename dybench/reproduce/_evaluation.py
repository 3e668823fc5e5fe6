"""The evaluation and leaderboard stages: lmms-eval through ``dybench.evaluation.evaluate``, then the
leaderboard's own ingest (``dybench.results.ResultsStore.submit``).

The prompt. Models trained here answer the trainer's instruction (``<think>``/``<answer>``, the papers'
R1 prompt); asked with ``dybench_pair``'s default instruction ("Answer with the option's letter ...
directly") a tiny model answers nonsense (measured: a warmed-up model answered "no" to every
multiple-choice question). So the presets evaluate with the R1 variants of the pair tasks
(``dybench_pair_r1``, ``dybench_pair_r1_<category>``): same items, same scoring, the trainer's own
instruction (``dybench.prompts``). The results file records the prompt style in ``dybench_reproduce``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from dybench.fileio import write_json_atomic
from dybench.reproduce._presets import Evaluation
from dybench.results import ResultsError, parse_results_json, scored_tasks

MODEL_NAME_PREFIX = "dybench-reproduce"


def display_name(label: str, preset: str) -> str:
    """The leaderboard's name for a reproduced model: ``dybench-reproduce tiny crpo-s0``."""
    return f"{MODEL_NAME_PREFIX} {preset} {label}"


def evaluate_model(
    ev: Evaluation,
    model: Path,
    data: Path,
    out: Path,
    *,
    label: str,
    preset: str,
    tasks: Sequence[str] | None = None,
    model_args: str = "",
    env: Mapping[str, str] | None = None,
) -> Path:
    """Evaluate ``model`` with lmms-eval on ``data`` (the test pairs, or a benchmark's json or folder) with
    ``tasks`` (default: the preset's pair tasks); returns ``<out>/results.json``.

    lmms-eval's own files (results and logged samples) go to ``<out>/lmms-eval/``; ``results.json`` is a
    copy of the results under the run's display name, written last. ``env``: variables set for the run only
    (a QA json's video root).
    """
    import os

    from dybench.evaluation import evaluate

    raw = out / "lmms-eval"
    shutil.rmtree(raw, ignore_errors=True)
    before = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        run = evaluate(
            ev.model_class,
            list(tasks or ev.tasks),
            model_args=",".join(a for a in (f"pretrained={model}", ev.model_args, model_args) if a),
            data=data,
            output=raw,
            batch_size=ev.batch_size,
            device=ev.device,
            gen_kwargs=ev.gen_kwargs or None,
        )
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    results = dict(run.results)
    results["model_name"] = display_name(label, preset)
    results["dybench_reproduce"] = {"label": label, "preset": preset, "prompt": ev.prompt}
    path = out / "results.json"
    write_json_atomic(path, results)
    return path


def results_problem(path: Path) -> str | None:
    """None when ``path`` is an lmms-eval results file with at least one score."""
    try:
        results = parse_results_json(Path(path).read_bytes(), name=str(path))
    except OSError as e:
        return f"{path}: not readable ({e})"
    except ResultsError as e:
        return str(e)
    if not scored_tasks(results):
        return f"{path}: no scores in it"
    return None


def publish(results_files: list[Path], results_dir: Path, marker: Path) -> None:
    """Store each results file in the leaderboard folder (skipping runs already there); record the run ids."""
    from dybench.results import ResultsStore

    results_dir.mkdir(parents=True, exist_ok=True)
    store = ResultsStore(results_dir)
    rows = []
    for path in results_files:
        submission = store.submit(Path(path).read_bytes())
        rows.append({"results": str(path), "run_id": submission.run.run_id, "added": submission.added,
                     "model": submission.run.model, "stored_as": submission.run.path})  # fmt: skip
    write_json_atomic(marker, {"results_dir": str(results_dir), "runs": rows})
