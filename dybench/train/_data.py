"""Training data: pairs datasets and Video-R1-style QA json, as prompts the policy can answer.

A training *example* is what one step samples: one prompt for GRPO / bias / CDPO, or the two branches
of a pair for CRPO (both rolled out in the same step, so the Counterfactual Relation Reward can compare
them). Frames are sampled with the evaluation's own helpers (``dybench.video``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dybench.prompts import question_text
from dybench.records import MAX_OPTIONS, Branch, Relation, Transform
from dybench.train._config import TrainConfigError

log = logging.getLogger(__name__)


#: CRPO's null option (project page): appended to every multiple-choice training question.
NULL_OPTION = "None of the above"


@dataclass(frozen=True)
class Prompt:
    """One question about one video, as the policy sees it and the reward scores it."""

    prompt_id: str
    """Item id (pairs data) or ``<json name>:<row>`` (Video-R1 json)."""
    video: Path
    """Absolute path of the video file."""
    question: str
    """Question text without options."""
    options: tuple[str, ...]
    """Option texts; empty for a yes/no question."""
    answer: str | None
    """Gold: one letter, several comma-joined sorted letters ('A,C'), or 'yes'/'no'. None: not known (the
    counterfactual of a question from label-free data, rendered by the trainer)."""
    branch: Branch = "original"
    category: str | None = None
    """The question's category when the data gives one (pairs data; a Video-R1 row's optional ``category``)."""
    cue_answer: str | None = None
    """The answer a known shortcut cue points to, when the data says (a Video-R1 row's optional
    ``cue_answer``, written for DyBench-Synth by ``dybench reproduce``): only logged, never rewarded."""

    @property
    def n_options(self) -> int:
        """What ``dybench.scoring.parse_answer`` expects: 0 for yes/no."""
        return len(self.options)

    def text(self, instruction: str) -> str:
        """The user turn's text: question, lettered options, then the answer-format instruction."""
        return question_text(self.question, self.options, instruction)

    def with_null_option(self) -> Prompt:
        """The prompt with "None of the above" as its last option (CRPO's null option), so a model can say
        that no option fits; the letters of the existing options do not change. Yes/no questions and
        questions that already offer it are returned as they are."""
        if not self.options or any(o.strip().casefold() == NULL_OPTION.casefold() for o in self.options):
            return self
        if len(self.options) >= MAX_OPTIONS:
            raise TrainConfigError(f"{self.prompt_id}: {len(self.options)} options leave no letter for {NULL_OPTION!r}")
        return dataclasses.replace(self, options=(*self.options, NULL_OPTION))


@dataclass(frozen=True)
class Example:
    """What one draw from the dataset gives: one prompt, or a pair's (original, counterfactual)."""

    prompts: tuple[Prompt, ...]
    relation: Relation | None = None
    """For a pair: 'change' if the counterfactual's answer must differ, 'keep' if it must stay."""
    transform: Transform | None = None

    def with_null_option(self) -> Example:
        """Every prompt of the example with the null option appended (``Prompt.with_null_option``)."""
        return dataclasses.replace(self, prompts=tuple(p.with_null_option() for p in self.prompts))


@dataclass(frozen=True)
class Clip:
    """Frames sampled from one video, with what Qwen3-VL's processor needs for its timestamps."""

    frames: np.ndarray
    """(T, H, W, 3) uint8 RGB, T even."""
    indices: tuple[int, ...]
    """Source frame index of each frame."""
    fps: float
    """Source frame rate."""
    total_frames: int
    """Frames in the source video (with ``fps`` and ``indices``, gives the sampled rate)."""


def load_examples(
    data: str | Path,
    *,
    paired: bool,
    video_root: str | Path | None = None,
    categories: list[str] | tuple[str, ...] = (),
) -> list[Example]:
    """Read a pairs dataset folder or a Video-R1 json file.

    ``paired=True`` (CRPO) needs a pairs dataset and yields one example per complete pair; otherwise every
    item is its own example. Raises ``TrainConfigError`` naming the file and the fix.
    """
    data = Path(data)
    if data.is_dir():
        examples = _pairs_examples(data, paired=paired, categories=tuple(categories))
    elif data.is_file() and data.suffix == ".json":
        if paired:
            raise TrainConfigError(
                f"{data}: pairs come from a pairs dataset folder here; `dybench train crpo` routes and renders the "
                "counterfactuals of a Video-R1 json itself (_counterfactuals.load_training_examples)"
            )
        if categories:
            raise TrainConfigError(f"{data}: categories=... filters pairs datasets only; filter the json instead")
        examples = [Example((p,)) for p in _video_r1_prompts(data, Path(video_root) if video_root else data.parent)]
    else:
        raise TrainConfigError(f"{data}: not a pairs dataset folder nor a Video-R1 style .json file")
    if not examples:
        raise TrainConfigError(f"{data}: no usable training examples (check the categories filter and the file)")
    return examples


def _pairs_examples(folder: Path, *, paired: bool, categories: tuple[str, ...]) -> list[Example]:
    from dybench.pairs import group_pairs, load_items

    items = [it for it in load_items(folder) if not categories or it.category in categories]
    if not paired:
        return [Example((_item_prompt(folder, it),)) for it in items]
    examples = []
    incomplete = 0
    for branches in group_pairs(items).values():
        if set(branches) != {"original", "counterfactual"}:
            incomplete += 1
            continue
        orig, cf = branches["original"], branches["counterfactual"]
        examples.append(Example((_item_prompt(folder, orig), _item_prompt(folder, cf)), orig.relation, orig.transform))
    if incomplete:
        log.warning("%s: %d pair(s) miss a branch and are skipped", folder, incomplete)
    return examples


def _item_prompt(folder: Path, item) -> Prompt:
    return Prompt(
        prompt_id=item.item_id,
        video=(folder / item.video).resolve(),
        question=item.question,
        options=tuple(item.options),
        answer=item.answer,
        branch=item.branch,
        category=item.category,
    )


def _video_r1_prompts(path: Path, root: Path) -> list[Prompt]:
    """A Video-R1 json's scorable questions as prompts (``dybench.video_r1``); the others are skipped with one
    warning that counts them."""
    from dybench.video_r1 import VideoR1Error, read_video_r1

    try:
        read = read_video_r1(path, root)
    except VideoR1Error as e:
        raise TrainConfigError(str(e)) from e
    if read.skipped:
        why = ", ".join(f"{n} x {reason}" for reason, n in read.skipped.most_common())
        log.warning("%s: skipped %d row(s) that are not multiple-choice or yes/no video questions (%s)", path,
                    sum(read.skipped.values()), why)  # fmt: skip
    return [
        Prompt(
            f"{path.name}:{q.index}",
            q.video,
            q.question,
            q.options,
            q.answer,
            category=q.category,
            cue_answer=q.cue_answer,
        )  # fmt: skip
        for q in read.questions
    ]


def transform_clip(clip: Clip, kind: str, rng: np.random.Generator | None = None) -> Clip:
    """The clip's sampled frames played backwards (``reversed``) or in a random order drawn from ``rng``
    (``shuffled``); the timestamps stay those of the original frames, as a video that plays this way has."""
    if kind == "reversed":
        frames = clip.frames[::-1]
    elif kind == "shuffled":
        if rng is None:
            raise ValueError("shuffling a clip needs a random generator")
        frames = clip.frames[rng.permutation(len(clip.frames))]
    else:
        raise ValueError(f"unknown clip transform {kind!r}; use reversed or shuffled")
    return dataclasses.replace(clip, frames=np.ascontiguousarray(frames))


class ClipLoader:
    """Decode and sample a video as evaluation does, keeping recently used clips in memory (up to
    ``cache_bytes`` of frames: a small dataset is decoded once, a large one as it is met)."""

    def __init__(self, *, num_frames: int | None, fps: float | None, cache_bytes: int = 512 << 20):
        self.num_frames, self.fps, self.cache_bytes = num_frames, fps, cache_bytes
        self._cache: OrderedDict[Path, Clip] = OrderedDict()
        self._bytes = 0

    def __call__(self, path: Path) -> Clip:
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        clip = self._load(path)
        self._cache[path] = clip
        self._bytes += clip.frames.nbytes
        while self._bytes > self.cache_bytes and len(self._cache) > 1:
            self._bytes -= self._cache.popitem(last=False)[1].frames.nbytes
        return clip

    def _load(self, path: Path) -> Clip:
        from dybench.video import probe, read_frames, sample_indices

        if not path.is_file():
            raise TrainConfigError(f"{path}: video not found; check the dataset's video paths (or video_root=...)")
        info = probe(path)
        if self.fps is not None:
            indices = sample_indices(info.frame_count, fps=self.fps, src_fps=info.fps)
            if self.num_frames is not None and len(indices) > self.num_frames:  # fps sampling, capped
                keep = np.linspace(0, len(indices) - 1, self.num_frames).round().astype(int)
                indices = [indices[k] for k in keep]
        else:
            indices = sample_indices(info.frame_count, num_frames=self.num_frames)
        if len(indices) % 2:  # Qwen's temporal patch is 2 frames: an even count keeps every frame its own
            indices = indices[:-1] if len(indices) > 1 else indices * 2
        frames = read_frames(path, indices=list(indices))
        return Clip(frames, tuple(int(i) for i in indices), float(info.fps), int(info.frame_count))


class DataCursor:
    """Where the run is in the data: a fresh seeded permutation per epoch, resumable from its state."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed = size, seed
        self.epoch, self.position = 0, 0

    def take(self, count: int) -> list[int]:
        """The next ``count`` example indices (wrapping into the next epoch's order)."""
        out: list[int] = []
        while len(out) < count:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
            take = min(count - len(out), self.size - self.position)
            out += order[self.position : self.position + take].tolist()
            self.position += take
            if self.position == self.size:
                self.epoch, self.position = self.epoch + 1, 0
        return out

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "size": self.size, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        if state["size"] != self.size:
            raise TrainConfigError(f"the checkpoint was made on {state['size']} examples, this data has {self.size}")
        self.epoch, self.position = state["epoch"], state["position"]
