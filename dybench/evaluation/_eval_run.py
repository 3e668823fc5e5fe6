"""``evaluate``: one lmms-eval run over dybench's tasks, through lmms-eval's Python API, checked.

lmms-eval's command line exits 0 when an evaluation fails and writes whatever it has; ``evaluate``
instead checks the data before the model loads, raises when lmms-eval raises, refuses a run in which
no task produced a score, and writes the results JSON (lmms-eval's schema, plus ``dybench_version``
and the tasks' 95 % intervals in ``dybench_intervals``, see ``dybench.results.task_metrics``) and the
logged samples atomically, named by the run's start time in UTC (``20261207T044655Z_results.json``;
lmms-eval's ``date`` field inside keeps its own time zone, see ``dybench.results.utc_date``).

Two things lmms-eval alone does differently: on a machine without a GPU, a model class that would load
onto one (``device=cuda``, ``device_map=auto``) is given the CPU, and said so; and a dybench_pair group
runs only the categories its data has (lmms-eval needs a document to build a task, so a category task
without items would send a stand-in document through the model).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from dybench import __version__
from dybench.errors import UserError
from dybench.evaluation import _benchmarks, _docs
from dybench.evaluation._lmms_metrics import intervals
from dybench.evaluation._locations import (
    MVBENCH,
    PAIRS,
    QA,
    TEMPCOMPASS,
    TIMEBLIND,
    VIDEOMME,
    DataLocation,
    DataLocationError,
    StopEvaluation,
    location_of,
    tasks_path,
)
from dybench.fileio import write_json_atomic, write_jsonl_atomic
from dybench.results import INTERVALS_KEY, TaskMetric, scored_tasks, task_metrics
from dybench.scoring import pair_task_category

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
"""Set (unless already set) for every run: evaluation reads local files only, never a hub."""


class EvalError(UserError, RuntimeError):
    """lmms-eval failed, or finished without scoring anything."""


@dataclass(frozen=True)
class EvalRun:
    """What one ``evaluate`` call produced."""

    model: str
    tasks: tuple[str, ...]
    results: dict[str, Any]
    """lmms-eval's results dict (``results``, ``groups``, ``configs``, ``versions``, ``n-samples``...),
    without the samples; metric values are plain numbers."""
    results_path: Path | None = None
    """The results JSON, when an output folder was given."""
    samples_paths: dict[str, Path] = field(default_factory=dict)
    """Task -> its logged samples (JSONL): the responses, to rescore offline."""
    skipped: tuple[str, ...] = ()
    """Subtasks of a requested group that did not run: pairs categories the data set does not have."""

    @cached_property
    def metrics(self) -> dict[str, tuple[TaskMetric, ...]]:
        """Task -> its metrics with their intervals, read by ``dybench.results.task_metrics``."""
        return task_metrics(self.results)

    def score(self, task: str, name: str) -> TaskMetric | None:
        """The task's metric ``name`` with its interval, or None when the task does not report it."""
        return next((m for m in self.metrics.get(task, ()) if m.metric == name), None)

    def metric(self, task: str, name: str) -> float | None:
        """The value of the task's metric ``name``, or None when the task does not report it."""
        score = self.score(task, name)
        return None if score is None else score.value


def evaluate(
    model: str,
    tasks: str | Sequence[str],
    *,
    model_args: str = "",
    data: str | os.PathLike | None = None,
    output: str | os.PathLike | None = None,
    limit: int | float | None = None,
    batch_size: int | str = 1,
    device: str | None = None,
    gen_kwargs: str | None = None,
    seed: int = 0,
    log_samples: bool = True,
    verbosity: str = "WARNING",
    log: Callable[[str], None] | None = None,
) -> EvalRun:
    """Run lmms-eval's ``simple_evaluate`` with dybench's task folder; see the module docstring.

    ``data``: the folder of the tasks' data set, in place of its environment variable (``DYBENCH_PAIRS``
    for dybench_pair*, ``TIMEBLIND_DIR`` for timeblind...); the tasks must then all read the same one.
    Other suites' tasks (lmms-eval's own) may be listed too. ``log`` gets one line when the model is
    moved to the CPU. Raises :class:`DataLocationError` for missing or malformed data and
    :class:`EvalError` when lmms-eval fails or scores nothing.
    """
    task_list = _task_list(tasks)
    for key, value in OFFLINE.items():
        os.environ.setdefault(key, value)
    with _data_env(task_list, data):
        _check_data(task_list)
        manager = _task_manager(model, verbosity)
        _check_names(task_list, manager.all_tasks)
        manager.left_out = ()  # the index is shared: an earlier run's groups must not shape this one's
        manager.left_out = skipped = _empty_categories(task_list, manager)
        model_args, device = _placement(model, model_args, device, log)
        started = datetime.now(UTC)
        raw = _simple_evaluate(
            model=model,
            model_args=model_args,
            tasks=task_list,
            task_manager=manager,
            limit=limit,
            batch_size=batch_size,
            device=device,
            gen_kwargs=gen_kwargs or None,
            log_samples=log_samples,
            random_seed=seed,
            verbosity=verbosity,
            datetime_str=_lmms_eval_date(),
        )
    if raw is None:  # a non-zero rank of a distributed run: rank 0 reports
        return EvalRun(model, tuple(task_list), {})
    samples = raw.pop("samples", None) or {}
    _check_requests(samples)
    results = json.loads(json.dumps(raw, default=_jsonable))
    results |= {"dybench_version": __version__, "model_name": _model_name(model, model_args)}
    if found := intervals(raw.get("results", {})):
        results[INTERVALS_KEY] = found
    _check_scores(task_list, results)
    run = EvalRun(model, tuple(task_list), results, skipped=skipped)
    return _write(run, samples, Path(output), started) if output is not None else run


def results_folder(output: str | os.PathLike, model: str, model_args: str = "") -> Path:
    """Where ``evaluate`` writes a model's results (lmms-eval's layout: ``<output>/<model name>/``)."""
    return Path(output) / _model_name(model, model_args)


# --- before the run -----------------------------------------------------------------------------------


def _task_list(tasks: str | Sequence[str]) -> list[str]:
    names = tasks.split(",") if isinstance(tasks, str) else list(tasks)
    names = [t.strip() for t in names if t.strip()]
    if not names:
        raise EvalError("no task given; name one or more, e.g. dybench_pair,dybench_pair_single_frame")
    return names


@contextlib.contextmanager
def _data_env(tasks: list[str], data: str | os.PathLike | None) -> Iterator[None]:
    """Point the tasks' data variable at ``data`` for the run, then restore it."""
    if data is None:
        yield
        return
    locations = {loc for t in tasks if (loc := location_of(t)) is not None}
    if not locations:
        _check_names(tasks, _task_index().all_tasks)  # a misspelt task is the problem, not --data
        raise EvalError(
            f"--data gives the folder of a dybench data set, but {', '.join(tasks)} read(s) none "
            "(lmms-eval's own tasks find their data themselves); drop --data"
        )
    if len(locations) > 1:
        names = ", ".join(sorted(loc.variable for loc in locations))
        raise EvalError(
            f"--data gives one folder, but these tasks read {names}; set each variable instead "
            "(e.g. DYBENCH_PAIRS=... TIMEBLIND_DIR=...)"
        )
    variable = locations.pop().variable
    before = os.environ.get(variable)
    os.environ[variable] = str(Path(data).expanduser().resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = before


def _mvbench_check(task: str) -> None:
    suffix = task.removeprefix("dyb_mvbench").removeprefix("_r1").lstrip("_")
    for subtask in [suffix] if suffix else _benchmarks.MVBENCH_SUBTASKS:
        if subtask in _benchmarks.MVBENCH_SOURCES:  # an unknown name is reported with the task names
            _benchmarks.mvbench_docs(subtask)


_CHECKS: dict[DataLocation, Callable[[str], object]] = {
    PAIRS: lambda task: _docs.pair_docs(),
    TIMEBLIND: lambda task: _docs.timeblind_docs(),
    VIDEOMME: lambda task: _benchmarks.videomme_docs(),
    MVBENCH: _mvbench_check,
    TEMPCOMPASS: lambda task: _benchmarks.tempcompass_docs(),
    QA: lambda task: _benchmarks.qa_docs(),
}


def _check_data(tasks: list[str]) -> None:
    """Read every requested data set once, so a problem is reported before a model loads."""
    for task in tasks:
        location = location_of(task)
        if location is not None:
            _CHECKS[location](task)


@lru_cache(maxsize=1)
def _task_index() -> Any:
    from lmms_eval.tasks import TaskManager

    class Tasks(TaskManager):
        """lmms-eval's task index; a group's configuration lists its subtasks but ``left_out``."""

        left_out: tuple[str, ...] = ()

        def _get_config(self, name: str) -> dict:
            config = super()._get_config(name)
            if self.left_out and isinstance(config.get("task"), list):
                config = {**config, "task": [t for t in config["task"] if t not in self.left_out]}
            return config

    return Tasks("WARNING", include_path=str(tasks_path()))


def _task_manager(model: str, verbosity: str) -> Any:
    """lmms-eval's task index with dybench's tasks (built once per process: it reads ~2,000 YAMLs)."""
    from loguru import logger  # lmms-eval logs through loguru; its CLI sets the level the same way

    logger.remove()
    logger.add(sys.stderr, level=verbosity)
    manager = _task_index()
    manager.model_name = model  # selects model-specific prompt kwargs in other suites' tasks
    return manager


def _check_names(tasks: list[str], known: list[str]) -> None:
    """Raise for task names neither dybench nor lmms-eval has, with close matches and how to list them."""
    unknown = [t for t in tasks if t not in known]
    if unknown:
        hints = [
            f"{t} (did you mean {', '.join(m)}?)" if (m := difflib.get_close_matches(t, known, 3)) else t
            for t in unknown
        ]
        raise EvalError(
            f"no such task: {'; '.join(hints)}. dybench's tasks are the folders in {tasks_path()} "
            "(dybench_pair*, timeblind, dyb_videomme*, dyb_mvbench*, dyb_tempcompass*); "
            "`lmms-eval --tasks list` lists every task"
        )


def _empty_categories(tasks: list[str], manager: Any) -> tuple[str, ...]:
    """The subtasks of the requested dybench_pair groups whose category the data has no items of (they
    are left out of the run); raises when such a category task is asked for by name."""
    if not any(location_of(t) is PAIRS for t in tasks):
        return ()
    present = _docs.pair_categories()
    asked = [t for t in tasks if (c := pair_task_category(t)) is not None and c not in present]
    if asked:
        raise EvalError(
            f"{', '.join(asked)}: the pairs dataset has no items of that category (it has "
            f"{', '.join(sorted(present))}); ask for those categories' tasks or the whole group"
        )
    subtasks = [s for t in tasks if manager._name_is_group(t) for s in manager._get_config(t).get("task", [])]
    return tuple(s for s in subtasks if (c := pair_task_category(s)) is not None and c not in present)


def _placement(
    model: str, model_args: str, device: str | None, log: Callable[[str], None] | None
) -> tuple[str, str | None]:
    """``model_args`` and ``device``, with the CPU in place of a GPU default when the machine has no GPU.

    lmms-eval's local model classes default to ``device=cuda`` and ``device_map=auto`` and fail on a
    machine without one ("Found no NVIDIA driver"); neither setting given, the CPU is named instead.
    """
    given = {k.strip() for k, _, _ in (a.partition("=") for a in model_args.split(",")) if k.strip()}
    if device is not None or given & {"device", "device_map"}:
        return model_args, device
    import torch

    if torch.cuda.is_available():
        return model_args, device
    parameters = _init_parameters(model)
    on_gpu = {n for n in ("device", "device_map") if str(parameters.get(n, "")).startswith(("cuda", "auto"))}
    if not on_gpu:
        return model_args, device
    if "device_map" in on_gpu:
        model_args = ",".join(a for a in (model_args, "device_map=cpu") if a)
    chosen = ", ".join(f"{n}=cpu" for n in sorted(on_gpu))
    hint = (
        "; lower max_pixels and max_num_frames for speed (see the README's CPU example)"
        if "max_pixels" in parameters and "max_pixels" not in given
        else ""
    )
    if log is not None:
        log(f"no GPU found: {model} runs on the CPU ({chosen}){hint}")
    return model_args, "cpu" if "device" in on_gpu else device


def _init_parameters(model: str) -> dict[str, object]:
    """The model class's constructor parameters and their defaults (empty for an unknown model: lmms-eval
    reports that itself)."""
    import inspect

    from lmms_eval import models

    try:
        cls = models.get_model(model)
    except Exception:
        return {}
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()}


# --- the run ------------------------------------------------------------------------------------------


#: The model arguments that name the checkpoint or model, by lmms-eval's model classes.
MODEL_KEYS = ("pretrained", "model", "model_version")
#: What lmms-eval's API models (openai...) answer in place of a response when a request failed.
FAILED_REQUEST = ("[LMMS_EVAL_REQUEST_FAILED", "[LMMS_EVAL_BUDGET_EXCEEDED]")


def _check_requests(samples: dict[str, list[dict]]) -> None:
    """Raise when an API model's requests failed: lmms-eval scores the failure text as a wrong answer."""
    responses = [
        r for rows in samples.values() for row in rows for r in _flat(row.get("resps", row.get("filtered_resps")))
    ]
    failed = [r for r in responses if isinstance(r, str) and r.startswith(FAILED_REQUEST)]
    if failed:
        raise EvalError(
            f"{len(failed)} of {len(responses)} requests to the model failed, e.g. {failed[0][:300]!r}; nothing "
            "was written (they would count as wrong answers). Check base_url, the API key and the model name"
        )


def _flat(value: Any) -> list:
    return [x for v in value for x in _flat(v)] if isinstance(value, list) else [value]


def _lmms_eval_date() -> str:
    """Now, as lmms-eval writes a run's ``date`` (its default time zone; ``simple_evaluate``'s own default
    is the time lmms-eval was imported)."""
    from lmms_eval.utils import get_datetime_str

    return get_datetime_str()


def _simple_evaluate(**settings: Any) -> dict | None:
    """lmms-eval's ``simple_evaluate``; its failures become :class:`EvalError` (data ones stay data errors)."""
    from lmms_eval import evaluator

    try:
        # dybench's intervals are its own; lmms-eval's bootstrap has nothing to add
        return evaluator.simple_evaluate(bootstrap_iters=0, **settings)
    except StopEvaluation as e:
        raise e.error from None
    except DataLocationError:
        raise
    except Exception as e:
        raise EvalError(f"lmms-eval failed on {','.join(settings['tasks'])}: {type(e).__name__}: {e}") from e


# --- after the run ------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """lmms-eval's results hold functions (in configs) and numpy scalars."""
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return str(value)


def _check_scores(tasks: list[str], results: dict) -> None:
    """Raises when no task scored or a score is not finite."""
    scored = set(scored_tasks(results))
    bad = [
        f"{m.task}.{m.metric}={m.value}"
        for metrics in task_metrics(results).values()
        for m in metrics
        if not math.isfinite(m.value)
    ]
    if bad:
        raise EvalError(f"lmms-eval reported non-finite scores: {', '.join(bad[:5])}")
    if not scored:
        raise EvalError(f"lmms-eval ran {','.join(tasks)} but no task produced a score")


def _model_name(model: str, model_args: str) -> str:
    """A folder-safe run name: the model class, and the checkpoint's folder name when one is given
    (``pretrained=``; ``model=`` for vllm and sglang, ``model_version=`` for API models)."""
    named = (re.search(rf"(?:^|,)\s*{key}=([^,]+)", model_args or "") for key in MODEL_KEYS)
    found = next((m for m in named if m), None)
    name = f"{model}__{Path(found.group(1).rstrip('/')).name}" if found else model
    return re.sub(r"[^\w.-]+", "_", name)


def _write(run: EvalRun, samples: dict[str, list[dict]], output: Path, started: datetime) -> EvalRun:
    folder = output / run.results["model_name"]
    stem = started.strftime("%Y%m%dT%H%M%SZ")
    samples_paths = {}
    for task, rows in samples.items():
        path = folder / f"{stem}_samples_{task}.jsonl"
        write_jsonl_atomic(
            path, [json.loads(json.dumps(_sample_row(r), default=_jsonable)) for r in rows], within=output
        )
        samples_paths[task] = path
    results_path = folder / f"{stem}_results.json"
    write_json_atomic(results_path, run.results, within=output)
    return EvalRun(run.model, run.tasks, run.results, results_path, samples_paths, run.skipped)


def _sample_row(sample: dict) -> dict:
    """One logged sample as lmms-eval's own tracker writes it: no document, no request arguments."""
    row = {k: v for k, v in sample.items() if k not in ("doc", "arguments")}
    row["input"] = sample["arguments"][0] if sample.get("arguments") else None
    for key in ("resps", "filtered_resps"):
        if isinstance(row.get(key), list) and len(row[key]) == 1:
            row[key] = row[key][0]
    if row.get("resps") in (row.get("filtered_resps"), [row.get("filtered_resps")]):
        row.pop("resps", None)
    return row
