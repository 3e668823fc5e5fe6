"""Training data: pairs datasets and Video-R1-style QA json, as prompts the policy can answer.

A training *example* is what one step samples: one prompt for GRPO / bias / CDPO, or the two branches
of a pair for CRPO (both rolled out in the same step, so the Counterfactual Relation Reward can compare
them). Frames are sampled with the evaluation's own helpers (``dybench.video``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dybench.prompts import question_text
from dybench.records import MAX_OPTIONS, Branch, Relation, Transform, letter
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


_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S | re.I)
_OPTION_PREFIX = re.compile(r"^\s*\(?([A-Z])[.):]\s*(.*)$", re.S)


def _video_r1_prompts(path: Path, root: Path) -> list[Prompt]:
    """Video-R1 rows (``problem``, ``options``, ``solution``, ``path``, ``problem_type``) as prompts.

    Only multiple-choice and yes/no video questions can be scored by the evaluation's parser; other
    rows (numerical, OCR, free-form, regression, images) are skipped with one warning that counts them.
    """
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TrainConfigError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(rows, list):
        raise TrainConfigError(f"{path}: a Video-R1 file is a JSON list of question records")
    prompts, skipped = [], 0
    for i, row in enumerate(rows):
        where = f"{path}[{i}]"
        missing = [k for k in ("problem", "solution", "path") if k not in row]
        if missing:
            raise TrainConfigError(f"{where}: missing {missing}; Video-R1 rows need problem, options, solution, path")
        match = _ANSWER_TAG.search(str(row["solution"]))
        gold = (match.group(1) if match else str(row["solution"])).strip()
        options = _strip_letters(row.get("options") or [], where)
        kind = str(row.get("problem_type", "multiple choice")).lower()
        if row.get("data_type", "video") != "video" or not (
            (kind == "multiple choice" and options) or gold.lower() in ("yes", "no")
        ):
            skipped += 1
            continue
        if options:
            letters = sorted({g.strip().upper() for g in gold.split(",") if g.strip()})
            if not letters or any(len(g) != 1 or not "A" <= g < letter(len(options)) for g in letters):
                raise TrainConfigError(f"{where}: solution {gold!r} is not option letters A-{letter(len(options) - 1)}")
            gold = ",".join(letters)
        else:
            gold = gold.lower()
        category = row.get("category")
        prompts.append(
            Prompt(
                f"{path.name}:{i}",
                (root / row["path"]).resolve(),
                row["problem"],
                options,
                gold,
                category=str(category) if category else None,
            )  # fmt: skip
        )
    if skipped:
        log.warning("%s: skipped %d row(s) that are not multiple-choice or yes/no video questions", path, skipped)
    return prompts


def _strip_letters(options: list[str], where: str) -> tuple[str, ...]:
    """'A. left' -> 'left' when every option carries its own letter; otherwise keep the texts."""
    parsed = [_OPTION_PREFIX.match(str(o)) for o in options]
    if parsed and all(m and m.group(1) == letter(i) for i, m in enumerate(parsed)):
        return tuple(m.group(2).strip() for m in parsed if m)
    return tuple(str(o) for o in options)


class ClipLoader:
    """Decode and sample a video as evaluation does, keeping the last few clips in memory."""

    def __init__(self, *, num_frames: int | None, fps: float | None, cache_size: int = 16):
        self.num_frames, self.fps, self.cache_size = num_frames, fps, cache_size
        self._cache: OrderedDict[Path, Clip] = OrderedDict()

    def __call__(self, path: Path) -> Clip:
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        clip = self._load(path)
        self._cache[path] = clip
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
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
        out = []
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
