"""Where a reproduction puts everything inside its output folder.

The paths, named by ``Layout``::

    data/train/synth/ data/train/pairs/   DyBench-Synth training split (biased; some clips subtle) and its pairs
    data/start/synth/ data/start/pairs/   the start model's own split, when the preset has one (``n_start``)
    data/train/original.json              the original branch as Video-R1 json (GRPO, CDPO)
    data/train/shortcut.json              the shortcut subset (the CDPO bias model)
    data/test/synth/ data/test/pairs/     the balanced held-out split and its pairs (the evaluation)
    data/confirm/synth/ data/confirm/pairs/  ``--confirm``: a second balanced split from another seed (the check)
    models/start/                         tiny preset: the shipped start model, in float32 (RL starts from it)
    models/init/                          ``--train-start``: the random model the start run trains from
    runs/start/                           ``--train-start``: ``dybench train sft`` of it (model/ is the start)
    runs/<run>-s<seed>/                   trainer folders (model/, metrics.jsonl, checkpoints/)
    eval/<label>/results.json             lmms-eval results of each model on the test pairs
    eval/<benchmark>/<label>/results.json  the same on each benchmark whose data was given (paper presets)
    eval/confirm/<label>/results.json     ``--confirm``: the same on the confirmation split
    leaderboard/                          the results, stored for ``dybench leaderboard --results``
    published.json                        which results the leaderboard stage stored, under which run ids
    report.md report.json plots/          the report
    .stages/                              done-markers (``stages.py``)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The confirmation split's name (``--confirm``): ``data/confirm/``, and ``eval/confirm/<label>`` for its results.
CONFIRM = "confirm"


@dataclass(frozen=True)
class Layout:
    """The paths of one output folder (see the module docstring)."""

    root: Path

    def synth(self, split: str) -> Path:
        return self.root / "data" / split / "synth"

    def pairs(self, split: str) -> Path:
        return self.root / "data" / split / "pairs"

    @property
    def train_files(self) -> Path:
        return self.root / "data" / "train"

    @property
    def init_model(self) -> Path:
        return self.root / "models" / "init"

    @property
    def start_model(self) -> Path:
        """The shipped start model's float32 copy (the tiny preset without ``--train-start``)."""
        return self.root / "models" / "start"

    @property
    def start_run(self) -> Path:
        """The tiny preset's start run (``dybench train sft``); its ``model/`` is the start model."""
        return self.run("start")

    def run(self, label: str) -> Path:
        return self.root / "runs" / label

    def eval(self, label: str, benchmark: str | None = None) -> Path:
        """lmms-eval's output for a model on the test pairs (``eval/<label>``) or a benchmark
        (``eval/<benchmark>/<label>``)."""
        return self.root / "eval" / label if benchmark is None else self.root / "eval" / benchmark / label

    def results(self, label: str, benchmark: str | None = None) -> Path:
        return self.eval(label, benchmark) / "results.json"

    @property
    def leaderboard(self) -> Path:
        """The default leaderboard folder (``--results-dir`` puts it elsewhere)."""
        return self.root / "leaderboard"

    @property
    def published(self) -> Path:
        return self.root / "published.json"

    @property
    def report_md(self) -> Path:
        return self.root / "report.md"

    @property
    def report_json(self) -> Path:
        return self.root / "report.json"

    @property
    def plots(self) -> Path:
        return self.root / "plots"
