"""One model run read from an lmms-eval results JSON: parsing, validation, the `RunRow` record.

An lmms-eval 0.7 results file (``<output_path>/<model>/<date>_results.json``) holds ``results``
(``{task: {"<metric>,<filter>": value, "<metric>_stderr,<filter>": ..., "alias": ...}}``), ``configs``,
``versions``, ``n-samples``, ``higher_is_better``, ``config`` (``model``, ``model_args``, seeds,
``limit``...), ``git_hash``, ``date`` (``%Y%m%d_%H%M%S``), ``model_name`` and ``lmms_eval_version``;
dybench adds ``dybench_version`` and its tasks' intervals (``dybench_intervals``, read by ``_metrics``).
The same checks guard the results folder and uploads; nothing read here is ever executed or used as a
path, only parsed as JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from dybench.errors import UserError
from dybench.fileio import JSONInputError, parse_json
from dybench.results._columns import Column, is_fraction_metric, is_known_task
from dybench.results._task_metrics import TaskMetric, interval_issues, scored_tasks, section, task_metrics
from dybench.results._verify import Verification
from dybench.scoring import Proportion

#: Largest results file accepted (a real multi-task lmms-eval results JSON is a few hundred KB).
MAX_RESULTS_BYTES = 4 * 1024 * 1024
#: Deepest JSON nesting accepted (lmms-eval writes about 6 levels).
MAX_DEPTH = 32
_MAX_ISSUES = 8
_MAX_TEXT = 300

Origin = Literal["local", "uploaded"]

#: ``config`` entries a run's detail view shows (the run's settings that change its numbers).
CONFIG_KEYS = (
    "model",
    "model_args",
    "model_backend",
    "batch_size",
    "device",
    "limit",
    "offset",
    "gen_kwargs",
    "bootstrap_iters",
    "random_seed",
    "numpy_seed",
    "torch_seed",
)

#: The generation settings a row shows and groups by: name -> the ``model_args`` keys lmms-eval's video
#: models read it from (the first one present wins).
SETTING_KEYS: dict[str, tuple[str, ...]] = {
    "frames": ("max_num_frames", "num_frames", "nframes", "max_frames_num", "max_frame_num", "frames"),
    "fps": ("fps", "video_fps"),
    "max_pixels": ("max_pixels",),
}
#: The value of a setting the run left to the model's own default.
MODEL_DEFAULT = "model default"
#: lmms-eval writes ``date`` in this time zone unless its command line was given ``--timezone``
#: (``lmms_eval.utils.get_datetime_str``; ``simple_evaluate``, which ``dybench eval`` calls, uses it too).
LMMS_EVAL_TIMEZONE = "Asia/Singapore"


class ResultsError(UserError, ValueError):
    """A results file was refused; the message names the file, each bad field and how to fix it."""

    def __init__(self, name: str, issues: list[str]):
        self.name = name
        self.issues = issues
        shown = issues[:_MAX_ISSUES]
        more = f"\n  - ... and {len(issues) - len(shown)} more" if len(issues) > len(shown) else ""
        super().__init__(f"{name}: not a valid lmms-eval results file:\n  - " + "\n  - ".join(shown) + more)


@dataclass(frozen=True)
class RunRow:
    """One model run: one lmms-eval results file, one leaderboard row."""

    run_id: str
    """First 16 hex digits of the content hash: stable, never derived from a file name."""
    content_hash: str
    """sha256 of the file's canonical JSON; equal content means the same run (duplicates)."""
    path: str
    """Where the file lives, relative to the results folder (POSIX separators)."""
    origin: Origin
    """'uploaded' for files stored by the submission tab, 'local' for files placed in the folder."""
    model: str
    """Display name: the checkpoint's ``model_name``, else the model class plus its arguments."""
    model_class: str
    """lmms-eval model name (``config.model``), e.g. ``qwen2_5_vl`` or ``dybench_constant``."""
    model_args: str
    date: str
    """The run's date as lmms-eval wrote it (``%Y%m%d_%H%M%S``, in lmms-eval's time zone, see `date_utc`)."""
    date_utc: str | None = None
    """The same moment in UTC (``YYYY-MM-DD HH:MM``); None when ``date`` does not parse."""
    lmms_eval_version: str | None = None
    git_hash: str | None = None
    dybench_version: str | None = None
    task_versions: dict[str, str] = field(default_factory=dict)
    n_samples: dict[str, int] = field(default_factory=dict)
    """Documents evaluated per task (lmms-eval's ``n-samples.effective``)."""
    config: dict[str, str] = field(default_factory=dict)
    """The settings in `CONFIG_KEYS`, as text."""
    settings: dict[str, str] = field(default_factory=dict)
    """Generation settings (`generation_settings`): frames, fps, max_pixels, prompt, lmms_eval."""
    verification: Verification = field(default_factory=Verification)
    """What re-scoring the run's samples found (self-reported when none came with it)."""
    scores: tuple[TaskMetric, ...] = ()
    """Every fraction metric of the run's dybench tasks, with its interval (``dybench.results.task_metrics``)."""

    def score(self, column: Column) -> TaskMetric | None:
        """This run's score for a column, from the first of the column's sources it has."""
        for task, metric in column.sources:
            for s in self.scores:
                if s.task == task and s.metric == metric:
                    return s
        return None

    def value(self, column: Column) -> float | None:
        s = self.score(column)
        return None if s is None else s.value

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.task for s in self.scores))

    @property
    def display_date(self) -> str:
        """``YYYY-MM-DD HH:MM UTC`` when the date parses, else the date as written."""
        return f"{self.date_utc} UTC" if self.date_utc else self.date

    @property
    def settings_label(self) -> str:
        """The generation settings in one line; rows with different labels are not like for like."""
        return settings_label(self.settings)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> RunRow:
        d = json.loads(text)
        d["scores"] = tuple(TaskMetric(**{**s, "score": Proportion(**s["score"])}) for s in d["scores"])
        d["verification"] = Verification.from_dict(d["verification"])
        return cls(**d)


# --- reading -------------------------------------------------------------------------------------


def parse_results_json(data: bytes, *, name: str) -> dict[str, Any]:
    """Bytes of a results file -> its JSON object; refuses oversize, non-UTF-8, bad or deep JSON and integers
    too long to be a number (``dybench.fileio.parse_json``)."""
    if (issue := size_issue(len(data))) is not None:
        raise ResultsError(name, [issue])
    try:
        obj = parse_json(data, max_depth=MAX_DEPTH)
    except JSONInputError as e:
        where = "" if e.lineno is None else f" at line {e.lineno}"
        raise ResultsError(name, [f"{e.reason}{where}; send the *_results.json file lmms-eval wrote"]) from None
    if not isinstance(obj, dict):
        raise ResultsError(name, [f"the top level is a JSON {_json_type(obj)}; an lmms-eval results file is an object"])
    return obj


def size_issue(n_bytes: int) -> str | None:
    """Why a file of this size is refused, or None."""
    if n_bytes <= MAX_RESULTS_BYTES:
        return None
    return f"file is {n_bytes:,} bytes; the limit is {MAX_RESULTS_BYTES:,} (send *_results.json, not samples)"


def validate_results(obj: dict[str, Any], *, name: str, allow_unknown_tasks: bool = False) -> None:
    """Check a parsed results file against the schema; raise `ResultsError` listing every problem.

    Required: ``results`` (an object of tasks), ``config.model`` (text) and ``date``. Every number of
    dybench's tasks must be finite; accuracies, consistencies and interval bounds (``dybench_intervals``, or
    the ``*_ci_low``/``*_ci_high`` metrics of older files) must lie in [0, 1]; stderrs
    must be >= 0 (or lmms-eval's "N/A"). At least one task must be one dybench knows; other tasks are refused
    unless ``allow_unknown_tasks`` (files an owner placed in the results folder may hold extra tasks).
    """
    issues: list[str] = []
    results = obj.get("results")
    if not isinstance(results, dict):
        issues.append("`results` is missing or not an object; pass the *_results.json file lmms-eval wrote")
        results = {}
    config = obj.get("config")
    if not isinstance(config, dict):
        issues.append("`config` is missing or not an object (lmms-eval writes the model and its arguments there)")
        config = {}
    elif not isinstance(config.get("model"), str) or not config["model"].strip():
        issues.append("`config.model` is missing or not text")
    elif isinstance(config.get("model_args"), (list, int, float, bool)):
        issues.append("`config.model_args` must be text or an object")
    if not isinstance(obj.get("date"), (str, int, float)) or isinstance(obj.get("date"), bool):
        issues.append("`date` is missing (lmms-eval writes it as YYYYMMDD_HHMMSS)")
    for key in ("model_name", "lmms_eval_version", "git_hash", "dybench_version"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            issues.append(f"`{key}` must be text, got a JSON {_json_type(obj[key])}")
    for key in ("versions", "n-samples", "configs", "higher_is_better"):
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            issues.append(f"`{key}` must be an object, got a JSON {_json_type(obj[key])}")

    known = [t for t in results if is_known_task(t)]
    unknown = [t for t in results if not is_known_task(t)]
    if results and not known:
        issues.append(
            f"no dybench task in `results` (found {', '.join(map(repr, list(results)[:5]))}); "
            "the leaderboard reads dybench_pair, timeblind, dyb_videomme, dyb_mvbench and dyb_tempcompass"
        )
    elif not results and isinstance(obj.get("results"), dict):
        issues.append("`results` is empty: the evaluation produced no scores (lmms-eval exits 0 even then)")
    elif known and not any(t in scored_tasks(obj) for t in known):
        issues.append("no dybench task in `results` has a score: the evaluation produced none (lmms-eval exits 0)")
    if unknown and not allow_unknown_tasks and known:
        issues.append(f"unknown task(s) {', '.join(map(repr, unknown[:5]))}: remove them from `results`")
    for task in known:
        issues.extend(_task_issues(task, results[task]))
    issues.extend(interval_issues(obj))
    if issues:
        raise ResultsError(name, issues)


def run_from_results(
    obj: dict[str, Any], *, path: str, origin: Origin, verification: Verification | None = None
) -> RunRow:
    """Build the `RunRow` of a validated results file (call `validate_results` first); ``verification``:
    what re-scoring its samples found (``dybench.results.verify_run``), self-reported when not given."""
    config = obj["config"]
    model_class = config["model"].strip()
    model_args = _args_text(config.get("model_args"))
    model_name = (obj.get("model_name") or "").strip()
    if model_name in ("", model_class):  # no checkpoint name: the arguments tell runs apart (baselines)
        model = f"{model_class} ({model_args})" if model_args else model_class
    else:
        model = model_name
    versions = obj.get("versions") or {}
    n_samples = obj.get("n-samples") or {}
    return RunRow(
        run_id=(h := content_hash(obj))[:16],
        content_hash=h,
        path=path,
        origin=origin,
        model=_clip(model),
        model_class=_clip(model_class),
        model_args=_clip(model_args),
        date=_clip(str(obj["date"])),
        date_utc=utc_date(obj),
        lmms_eval_version=_clip_opt(obj.get("lmms_eval_version")),
        git_hash=_clip_opt(obj.get("git_hash")),
        dybench_version=_clip_opt(obj.get("dybench_version")),
        task_versions={_clip(t): _clip(str(v)) for t, v in versions.items() if is_known_task(t) and v is not None},
        n_samples={
            _clip(t): n["effective"]
            for t, n in n_samples.items()
            if is_known_task(t) and isinstance(n, dict) and _is_int(n.get("effective"))
        },
        config={k: _clip(_args_text(config[k])) for k in CONFIG_KEYS if config.get(k) not in (None, "", [])},
        settings=generation_settings(obj),
        verification=verification or Verification(),
        scores=tuple(
            replace(m, task=_clip(m.task), metric=_clip(m.metric))
            for task, metrics in task_metrics(obj).items()
            if is_known_task(task)
            for m in metrics
            if is_fraction_metric(m.metric)
        ),
    )


def utc_date(obj: dict[str, Any]) -> str | None:
    """The run's ``date`` in UTC, ``YYYY-MM-DD HH:MM``; None when it does not parse.

    lmms-eval writes local time of ``Asia/Singapore`` (UTC+8) by default, not of the machine: read
    naively, a run looks 8 hours later than it was. Its command line's ``--timezone`` is kept in
    ``config.resolved_cli_args`` and wins when present.
    """
    try:
        local = datetime.strptime(str(obj.get("date")), "%Y%m%d_%H%M%S")
    except ValueError:
        return None
    cli = (obj.get("config") or {}).get("resolved_cli_args")
    name = cli.get("timezone") if isinstance(cli, dict) and isinstance(cli.get("timezone"), str) else None
    return local.replace(tzinfo=_zone(name or LMMS_EVAL_TIMEZONE)).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _zone(name: str) -> Any:
    """The named time zone; lmms-eval's default as a fixed UTC+8 when the system has no zone data."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=8))  # Asia/Singapore has kept UTC+8 since 1982


def generation_settings(obj: dict[str, Any]) -> dict[str, str]:
    """The settings that change a video model's answers, as text: ``frames``, ``fps``, ``max_pixels``
    (from ``config.model_args``; `MODEL_DEFAULT` when the run left them to the model), ``prompt`` (the
    dybench tasks' prompt variant, from their configs) and ``lmms_eval`` (its version)."""
    args = _model_args(obj["config"].get("model_args"))
    out = {name: next((args[k] for k in keys if k in args), MODEL_DEFAULT) for name, keys in SETTING_KEYS.items()}
    configs = section(obj, "configs")
    prompts = set()
    for task, conf in configs.items():
        kwargs = conf.get("lmms_eval_specific_kwargs") if is_known_task(task) and isinstance(conf, dict) else None
        if isinstance(kwargs, dict):
            prompt = kwargs.get("prompt", (kwargs.get("default") or {}).get("prompt"))
            prompts.add(str(prompt) if prompt is not None else "default")
    out["prompt"] = ", ".join(sorted(prompts)) or "not recorded"
    out["lmms_eval"] = str(obj.get("lmms_eval_version") or "not recorded")
    return {k: _clip(v) for k, v in out.items()}


def settings_label(settings: dict[str, str]) -> str:
    """``frames 32 · fps 1 · max_pixels 401408 · prompt r1 · lmms-eval 0.7.3`` (empty without settings)."""
    names = {"frames": "frames", "fps": "fps", "max_pixels": "max_pixels", "prompt": "prompt", "lmms_eval": "lmms-eval"}
    return " · ".join(f"{label} {settings[k]}" for k, label in names.items() if k in settings)


def _model_args(v: Any) -> dict[str, str]:
    """``model_args`` (``"a=1,b=2"`` or an object) as text key -> text value."""
    if isinstance(v, dict):
        return {str(k).strip(): str(x).strip() for k, x in v.items()}
    if not isinstance(v, str):
        return {}
    pairs = (part.split("=", 1) for part in v.split(",") if "=" in part)
    return {k.strip(): x.strip() for k, x in pairs}


def content_hash(obj: Any) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces): re-indented copies hash the same."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- helpers ---------------------------------------------------------------------------------------


def _task_issues(task: str, values: Any) -> list[str]:
    where = f"results.{task}"
    if not isinstance(values, dict):
        return [f"`{where}` must be an object of metrics, got a JSON {_json_type(values)}"]
    issues = []
    for key, v in values.items():
        metric = key.split(",", 1)[0]
        if isinstance(v, bool):
            issues.append(f"`{where}.{key}` is true/false; a metric is a number")
        elif isinstance(v, (int, float)):
            if not math.isfinite(v):
                issues.append(f"`{where}.{key}` is {v}; every score must be a finite number")
            elif "_stderr" in metric and v < 0:
                issues.append(f"`{where}.{key}` = {v} is negative; a standard error is >= 0")
            elif is_fraction_metric(metric) and not 0.0 <= v <= 1.0:
                hint = f" (write {v / 100:g}, not {v:g})" if 1.0 < v <= 100.0 else ""
                issues.append(f"`{where}.{key}` = {v:g} is outside [0, 1]; dybench metrics are fractions{hint}")
        elif is_fraction_metric(metric):
            issues.append(f"`{where}.{key}` must be a number in [0, 1], got a JSON {_json_type(v)}")
    return issues


def _args_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, dict):
        return ",".join(f"{k}={x}" for k, x in v.items())
    return json.dumps(v, ensure_ascii=False)


def _clip(s: str) -> str:
    """Drop control characters and cap the length of text shown in the page."""
    s = "".join(ch for ch in s if ch.isprintable())
    return s if len(s) <= _MAX_TEXT else s[: _MAX_TEXT - 1] + "…"


def _clip_opt(v: Any) -> str | None:
    return None if v is None else _clip(str(v))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(v), type(v).__name__)
