"""Prompt snapshots: the exact text every task shows a model, rendered by lmms-eval's own task objects.

A prompt change must be deliberate: update the snapshot (``DYBENCH_UPDATE_SNAPSHOTS=1 pytest
tests/test_prompts.py``), review the diff, and bump the task's ``metadata: version``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from evaldata import make_mvbench, make_pairs, make_tempcompass, make_timeblind, make_videomme

from dybench.evaluation import question_prompt, tasks_path
from dybench.evaluation._task_prompts import R1_INSTRUCTION

SNAPSHOTS = Path(__file__).parent / "snapshots"

#: task -> the documents (by position) whose prompts are frozen
CASES = {
    "dybench_pair_moving_direction": [0, 1],
    "dybench_pair_static": [0, 2],  # a multiple-choice item and a yes/no item
    "dybench_pair_single_frame": [6],
    "dybench_pair_r1_static": [0, 2],
    "timeblind": [0, 2, 4, 6],
    "dyb_videomme": [0],
    "dyb_videomme_r1": [0],
    "dyb_mvbench_action_sequence": [0],
    "dyb_mvbench_r1_action_sequence": [0],
    "dyb_tempcompass": [0, 1, 2, 3],
    "dyb_tempcompass_r1": [3],
}


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompts")
    env = {
        "DYBENCH_PAIRS": make_pairs(root / "pairs"),
        "TIMEBLIND_DIR": make_timeblind(root / "TimeBlind"),
        "VIDEOMME_DIR": make_videomme(root / "Video-MME"),
        "MVBENCH_DIR": make_mvbench(root / "MVBench"),
        "TEMPCOMPASS_DIR": make_tempcompass(root / "TempCompass"),
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, str(value))
        from lmms_eval.tasks import TaskManager

        manager = TaskManager("WARNING", include_path=str(tasks_path()))
        yield {name: manager.load_task_or_group(name)[name] for name in CASES}


def _render(task, positions: list[int]) -> str:
    docs = task.test_docs()
    return "".join(f"=== document {i} ===\n{task.doc_to_text(docs[i])}\n" for i in positions)


@pytest.mark.parametrize("name", CASES)
def test_prompt_snapshot(tasks, name):
    text = _render(tasks[name], CASES[name])
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("DYBENCH_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"no snapshot {path}; create it with DYBENCH_UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(), f"the prompt of {name} changed: update its snapshot and its metadata version"


def test_visuals(tasks):
    pair = tasks["dybench_pair_moving_direction"]
    doc = pair.test_docs()[0]
    (video,) = pair.doc_to_visual(doc)
    assert Path(video).is_absolute() and Path(video).is_file()
    single = tasks["dybench_pair_single_frame"]
    (frame,) = single.doc_to_visual(single.test_docs()[0])
    assert frame.size == (64, 64)


def test_r1_prompt_is_the_trainers():
    """Evaluation asks in the layout and words the trainer taught (dybench.train)."""
    from dybench.train._data import Prompt

    prompt = Prompt(prompt_id="x", video=Path("v.mp4"), question="Which way?", options=("left", "right"), answer="A")
    assert question_prompt("Which way?", ["left", "right"], "r1") == prompt.text(R1_INSTRUCTION)
