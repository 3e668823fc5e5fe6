"""The task folders as files: every YAML versioned, every hook defined, metric lists complete, names unique.

(The tasks running inside lmms-eval are tested in test_tasks_cli.py and test_evaluation_run.py.)
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path

import lmms_eval
import pytest
import yaml

from dybench.evaluation import tasks_path
from dybench.evaluation._benchmarks import MVBENCH_SUBTASKS, TEMPCOMPASS_CATEGORIES, VIDEOMME_CATEGORIES
from dybench.evaluation._lmms_metrics import metric_names
from dybench.records import CATEGORIES

TASKS = tasks_path()
YAMLS = sorted(TASKS.rglob("*.yaml"))


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: ("!function", loader.construct_scalar(node)))


@cache
def config(path: Path) -> dict:
    """A task YAML with its include merged (as lmms-eval merges it)."""
    own = yaml.load(path.read_text(), Loader=_Loader)
    include = own.pop("include", None)
    return {**config(path.parent / include), **own} if include else own


@cache
def utils_of(folder: Path):
    spec = importlib.util.spec_from_file_location(f"utils_{folder.name}", folder / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def name(path: Path) -> str:
    """The task's or group's name."""
    cfg = config(path)
    return cfg["group"] if "group" in cfg else cfg["task"]


def _functions(value):
    if isinstance(value, tuple) and value[0] == "!function":
        yield value[1]
    elif isinstance(value, dict):
        for v in value.values():
            yield from _functions(v)
    elif isinstance(value, list):
        for v in value:
            yield from _functions(v)


def test_every_family_is_there():
    names = {name(p) for p in YAMLS}
    expected = {"dybench_pair", "dybench_pair_single_frame", "timeblind", "dyb_videomme", "dyb_videomme_r1"}
    expected |= {"dybench_pair_r1", "dybench_pair_single_frame_r1"} | {f"dybench_pair_r1_{c}" for c in CATEGORIES}
    expected |= {"dyb_mvbench", "dyb_mvbench_r1", "dyb_tempcompass", "dyb_tempcompass_r1"}
    expected |= {"dyb_qa", "dyb_qa_r1", "dyb_qa_videor1"}
    expected |= {f"dybench_pair_{c}" for c in CATEGORIES}
    expected |= {f"dyb_mvbench_{s}" for s in MVBENCH_SUBTASKS} | {f"dyb_mvbench_r1_{s}" for s in MVBENCH_SUBTASKS}
    assert names == expected


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.stem)
def test_yaml_is_versioned_and_its_hooks_exist(path):
    cfg = config(path)
    assert isinstance(cfg["metadata"]["version"], int), "every task and group YAML carries metadata: version"
    utils = utils_of(path.parent)
    for ref in _functions(cfg):
        module, name = ref.split(".")
        assert module == "utils" and callable(getattr(utils, name)), f"{path.name}: {ref}"
    if "task" in cfg and isinstance(cfg["task"], str):
        assert cfg["dataset_path"] == "json" and (path.parent / cfg["dataset_kwargs"]["data_files"]["test"]).is_file()
        assert cfg["reasoning_tags"] == "none", "the scorer must see the raw response"


FAMILIES = {"dybench_pair": "pair", "timeblind": "timeblind", "dyb_videomme": "choice", "dyb_mvbench": "choice"}
FAMILIES |= {"dyb_tempcompass": "choice"}


def breakdowns(task: str) -> tuple[str, ...]:
    """The categories a task reports ``<metric>_<category>`` for: all of its data's, or its subset's."""
    if task.startswith("dybench_pair_") and not task.startswith("dybench_pair_single_frame"):
        return (task.removeprefix("dybench_pair_").removeprefix("r1_"),)
    if task.startswith("dyb_mvbench"):
        return (task.removeprefix("dyb_mvbench_").removeprefix("r1_"),)
    return {"dyb_videomme": VIDEOMME_CATEGORIES, "dyb_tempcompass": TEMPCOMPASS_CATEGORIES}.get(
        task.removesuffix("_r1"), CATEGORIES if task.startswith("dybench_pair") else ()
    )


@pytest.mark.parametrize("folder", FAMILIES)
def test_metric_lists_are_exactly_what_the_tasks_report(folder):
    tasks = [p for p in (TASKS / folder).glob("*.yaml") if isinstance(config(p).get("task"), str)]
    assert tasks
    for path in tasks:
        expected = metric_names(FAMILIES[folder], breakdowns(name(path)))
        listed = {m["metric"]: m["aggregation"] for m in config(path)["metric_list"]}
        assert listed == {metric: ("!function", f"utils.{agg}") for metric, agg in expected.items()}, path.name
        assert all(m["higher_is_better"] is True for m in config(path)["metric_list"])


@pytest.mark.parametrize(
    ("group", "members"),
    [
        ("dybench_pair", [f"dybench_pair_{c}" for c in CATEGORIES]),
        ("dybench_pair_r1", [f"dybench_pair_r1_{c}" for c in CATEGORIES]),
        ("dyb_mvbench", [f"dyb_mvbench_{s}" for s in MVBENCH_SUBTASKS]),
        ("dyb_mvbench_r1", [f"dyb_mvbench_r1_{s}" for s in MVBENCH_SUBTASKS]),
    ],
)
def test_groups_pool_their_subtasks(group, members):
    path = next(p for p in YAMLS if name(p) == group)
    cfg = config(path)
    assert cfg["task"] == members
    assert {m["aggregation"] for m in cfg["aggregate_metric_list"]} == {("!function", "utils.pool")}


@pytest.mark.parametrize(
    ("task", "r1"),
    [
        ("dyb_videomme", "dyb_videomme_r1"),
        ("dyb_tempcompass", "dyb_tempcompass_r1"),
        ("dyb_mvbench_action_count", "dyb_mvbench_r1_action_count"),
        ("dybench_pair_static", "dybench_pair_r1_static"),
        ("dybench_pair_single_frame", "dybench_pair_single_frame_r1"),
    ],
)
def test_r1_variants_differ_from_their_task_in_the_prompt_only(task, r1):
    by_name = {name(p): config(p) for p in YAMLS}
    base, variant = by_name[task], by_name[r1]
    assert {k for k in base.keys() | variant.keys() if base.get(k) != variant.get(k)} == {
        "task",
        "lmms_eval_specific_kwargs",
        "generation_kwargs",
    }
    kwargs = variant["lmms_eval_specific_kwargs"]
    assert {model: k["prompt"] for model, k in kwargs.items()} == dict.fromkeys(kwargs, "r1")
    assert {m: {k: v for k, v in kw.items() if k != "prompt"} for m, kw in kwargs.items()} == {
        m: {k: v for k, v in kw.items() if k != "prompt"} for m, kw in base["lmms_eval_specific_kwargs"].items()
    }, "the same model-specific settings apart from the prompt"


def test_chat_models_that_decode_videos_themselves_get_frames():
    """lmms-eval's openai, vllm and sglang chat models sample a fixed frame count from a video path, which
    fails on a clip with fewer frames: the dybench_pair and timeblind tasks give them frames instead."""
    for path in YAMLS:
        cfg = config(path)
        if name(path).startswith(("dybench_pair", "timeblind")) and "task" in cfg and "group" not in cfg:
            kwargs = cfg["lmms_eval_specific_kwargs"]
            assert {m: kwargs[m]["video_frames"] for m in ("openai", "vllm", "sglang")} == {
                "openai": 10, "vllm": 32, "sglang": 32,
            }, name(path)  # fmt: skip
            assert "video_frames" not in kwargs["default"]


def test_no_name_is_an_lmms_eval_builtin():
    """A built-in task name always wins over an included one (RESEARCH.md)."""
    ours = {name(p) for p in YAMLS}
    builtin_dir = Path(lmms_eval.__file__).parent / "tasks"
    pattern = re.compile(r"^(?:task|group):\s*['\"]?([\w-]+)", re.M)
    builtin = {m for p in builtin_dir.rglob("*.yaml") for m in pattern.findall(p.read_text(errors="ignore"))}
    assert builtin and not ours & builtin
