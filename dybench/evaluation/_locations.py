"""Where dybench's task folders are (:func:`tasks_path`) and where each task family's data lives: one
environment variable per data set, and one clear error.

lmms-eval task YAMLs cannot name a folder that changes from machine to machine, so every dybench task
reads its data from an environment variable. A missing or wrong location is reported once, naming the
variable, the layout the folder must have and the command that makes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dybench.errors import UserError
from dybench.pairs import PairsDataset
from dybench.shipped import shipped_folder


class DataLocationError(UserError, ValueError):
    """A task's data folder is not set, missing, or not laid out as the task expects."""


class StopEvaluation(SystemExit):
    """A data error raised from inside lmms-eval's dataset loading, where it must end the run at once.

    A ``SystemExit`` on purpose: lmms-eval retries dataset loading on every ``Exception`` (5 tries,
    seconds apart) and then hides the cause behind tenacity's ``RetryError``, and its command line logs
    exceptions and exits 0. A missing folder is not transient; the run stops with exit status 1 and this
    message alone. ``dybench eval`` checks the data before it starts lmms-eval, so it never gets here.
    """

    def __init__(self, error: DataLocationError) -> None:
        super().__init__(f"error: {error}")
        self.error = error


@dataclass(frozen=True)
class DataLocation:
    """One data set a task family reads, and how a user gets it."""

    variable: str
    """The environment variable holding the folder."""
    tasks: str
    """The lmms-eval tasks that read it (for messages)."""
    layout: str
    """What the folder must hold."""
    make: str
    """The command(s) that make the folder and point the variable at it."""
    kind: str = "folder"
    """What the variable names: a ``folder`` or a ``file``."""

    def folder(self, value: str | os.PathLike | None = None) -> Path:
        """The folder (or file) given (default: the variable's value), checked to exist.

        Raises :class:`DataLocationError` naming the variable, the layout and the command.
        """
        raw = os.environ.get(self.variable, "") if value is None else os.fspath(value)
        if not raw.strip():
            raise self.error(f"{self.variable} is not set")
        path = Path(raw).expanduser()
        if not (path.is_file() if self.kind == "file" else path.is_dir()):
            raise self.error(f"{self.variable}={raw} is not a {self.kind}")
        return path.resolve()

    def error(self, problem: str) -> DataLocationError:
        """The error for ``problem``, saying what the folder must hold and how to make it."""
        return DataLocationError(
            f"{problem}. The {self.tasks} task(s) read {self.variable}: {self.layout}. Make it with:\n    {self.make}"
        )


PAIRS = DataLocation(
    variable="DYBENCH_PAIRS",
    tasks="dybench_pair*",
    layout=f"a dybench pairs dataset, a folder with {PairsDataset.LAYOUT}",
    make="dybench synth --out synth && dybench build --src synth --out pairs && export DYBENCH_PAIRS=$PWD/pairs",
)
TIMEBLIND = DataLocation(
    variable="TIMEBLIND_DIR",
    tasks="timeblind",
    layout="TimeBlind's own folder, with data.jsonl (index, video_path, question, answer, type) and "
    "videos/vid_XXXXX_{0,1}.mp4",
    make="git clone https://huggingface.co/datasets/BaiqiL/TimeBlind && export TIMEBLIND_DIR=$PWD/TimeBlind",
)
VIDEOMME = DataLocation(
    variable="VIDEOMME_DIR",
    tasks="dyb_videomme*",
    layout="a copy of the lmms-lab/Video-MME dataset, with videomme/test-*.parquet and the unzipped "
    "videos in data/<videoID>.mp4",
    make="git clone https://huggingface.co/datasets/lmms-lab/Video-MME && cd Video-MME && "
    "for z in videos_chunked_*.zip; do unzip -q $z; done && export VIDEOMME_DIR=$PWD",
)
MVBENCH = DataLocation(
    variable="MVBENCH_DIR",
    tasks="dyb_mvbench*",
    layout="a copy of the OpenGVLab/MVBench dataset, with json/<subtask>.json and the unzipped videos "
    "in video/<source>/ (for example video/clevrer/video_validation/)",
    make="git clone https://huggingface.co/datasets/OpenGVLab/MVBench && cd MVBench/video && "
    "for z in *.zip; do unzip -q $z; done && cd .. && export MVBENCH_DIR=$PWD",
)
TEMPCOMPASS = DataLocation(
    variable="TEMPCOMPASS_DIR",
    tasks="dyb_tempcompass*",
    layout="a copy of lmms-lab/TempCompass (multi-choice/, yes_no/, caption_matching/ with test-*.parquet) "
    "or of the TempCompass GitHub repo's questions/<format>.json, plus videos/<video_id>.mp4",
    make="git clone https://huggingface.co/datasets/lmms-lab/TempCompass && cd TempCompass && "
    "unzip -q tempcompass_videos.zip && export TEMPCOMPASS_DIR=$PWD",
)

QA = DataLocation(
    variable="DYBENCH_QA",
    tasks="dyb_qa*",
    layout="a Video-R1-style QA json file (a list of {problem, options, solution, path or video, problem_type}: "
    "the format Video-R1 and VideoThinker release their evaluation files in); its videos relative to the json's "
    "folder, or to $DYBENCH_QA_VIDEOS",
    make="export DYBENCH_QA=$PWD/eval_mmvu.json DYBENCH_QA_VIDEOS=$PWD/videos",
    kind="file",
)
QA_VIDEOS = "DYBENCH_QA_VIDEOS"
"""The folder a dyb_qa json's video paths are relative to (default: the json's own folder)."""

LOCATIONS: tuple[DataLocation, ...] = (PAIRS, TIMEBLIND, VIDEOMME, MVBENCH, TEMPCOMPASS, QA)

#: Task-name prefixes -> the data set they read (the longest matching prefix wins).
_TASK_PREFIXES: tuple[tuple[str, DataLocation], ...] = (
    ("dybench_pair", PAIRS),
    ("timeblind", TIMEBLIND),
    ("dyb_videomme", VIDEOMME),
    ("dyb_mvbench", MVBENCH),
    ("dyb_tempcompass", TEMPCOMPASS),
    ("dyb_qa", QA),
)


def location_of(task: str) -> DataLocation | None:
    """The data set a dybench task or group reads; None for a task that is not dybench's."""
    for prefix, location in _TASK_PREFIXES:
        if task == prefix or task.startswith(prefix + "_"):
            return location
    return None


def tasks_path() -> Path:
    """The folder to give lmms-eval as ``--include_path``: ``tasks/`` in a checkout, ``dybench/_tasks`` in
    a wheel (``dybench.shipped``)."""
    return shipped_folder("tasks")
