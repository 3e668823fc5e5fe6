"""The core nouns of dybench, named once (DESIGN.md Contracts 1 and 2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, get_args

Category = Literal["moving_direction", "reversible_dynamics", "event_sequence", "spatial", "static"]
Transform = Literal["hflip", "reverse", "swap", "given"]
Relation = Literal["change", "keep"]
Branch = Literal["original", "counterfactual"]

CATEGORIES: tuple[Category, ...] = get_args(Category)
RELATIONS: tuple[Relation, ...] = get_args(Relation)
#: Every transform a pair can have: ``hflip`` mirrors the video, ``reverse`` plays it backwards, ``swap``
#: plays two segments in the other order, ``given`` is a counterfactual video the annotation names.
TRANSFORMS: tuple[Transform, ...] = get_args(Transform)
#: The transforms rendered from the frames of one whole video (:func:`dybench.pairs.render_counterfactuals`).
VIDEO_TRANSFORMS: tuple[Transform, ...] = ("hflip", "reverse")
#: DyBench's own three configs; the other two categories are dybench extensions.
DYBENCH_CATEGORIES: tuple[Category, ...] = ("reversible_dynamics", "moving_direction", "event_sequence")

#: Which counterfactuals a question gets when its annotation names none (CRPO's routing, docs/research.md).
DEFAULT_TRANSFORMS: dict[Category, tuple[Transform, ...]] = {
    "moving_direction": ("hflip", "reverse"),
    "reversible_dynamics": ("reverse",),
    "event_sequence": ("reverse",),
    "spatial": ("hflip",),
    "static": ("hflip", "reverse"),
}

YES_NO = ("yes", "no")
#: Options are answered by the letters A-Z, so a question has at most this many.
MAX_OPTIONS = 26


def letter(index: int) -> str:
    """Option letter for a 0-based index: 0 -> 'A'."""
    return chr(ord("A") + index)


def letter_index(answer: str) -> int:
    """0-based index of an option letter: 'B' -> 1 (either case); ``ValueError`` for anything else."""
    if len(answer) != 1 or not "A" <= answer.upper() <= "Z":
        raise ValueError(f"{answer!r} is not an option letter A-Z")
    return ord(answer.upper()) - ord("A")


@dataclass(frozen=True)
class Segment:
    """A time range of a video, one of the two a ``swap`` plays in both orders."""

    video: str
    """Video path relative to the source folder (the annotation's ``video`` unless the segment names one)."""
    start_s: float
    """Start, in seconds from the video's first frame."""
    end_s: float
    """End, in seconds (exclusive): the segment holds the frames shown from ``start_s`` until ``end_s``."""


@dataclass(frozen=True)
class Annotation:
    """One question about one video, as a user writes it (Contract 1)."""

    id: str
    """Unique question id."""
    video: str
    """Video path relative to the source folder."""
    question: str
    """Question text, without the options."""
    options: tuple[str, ...]
    """Option texts (two or more), or empty for a yes/no question."""
    answer: str
    """Gold option letter ('A', 'B', ...) or 'yes'/'no'."""
    category: Category
    """What the question is about; decides default transforms and counterfactual rules."""
    transforms: tuple[Transform, ...]
    """Counterfactuals to build (the category default when the annotation gives none)."""
    cf_answer: dict[str, str] = field(default_factory=dict)
    """Explicit counterfactual answer per transform; always wins."""
    events: tuple[str, ...] = ()
    """Event names in the order they happen, to remap event_sequence answers under reverse and swap."""
    segments: tuple[Segment, ...] = ()
    """For ``swap``: segments A and B; the original plays A then B, the counterfactual B then A."""
    cf_video: str | None = None
    """For ``given``: a counterfactual video that already exists, relative to the source folder."""
    relation: Relation | None = None
    """For ``given``: the relation the annotation states, checked against ``cf_answer``."""
    row: int | None = field(default=None, compare=False)
    """Where the record was read from (line or list index), for error messages."""

    @property
    def is_yes_no(self) -> bool:
        return not self.options

    def answer_text(self) -> str:
        """The text of the gold answer ('yes'/'no' for yes/no questions)."""
        return self.answer if self.is_yes_no else self.options[letter_index(self.answer)]


@dataclass(frozen=True)
class Item:
    """One row of the pairs dataset: one video plus one question (Contract 2)."""

    item_id: str
    """Unique and stable across rebuilds."""
    pair_id: str
    """Shared by the two items of a pair."""
    branch: Branch
    """'original' or 'counterfactual'."""
    transform: Transform
    """The pair's transform (the same on both rows); ``given`` when the counterfactual was not rendered."""
    relation: Relation
    """'change' when the counterfactual answer differs from the original, else 'keep'."""
    category: Category
    video: str
    """Video path relative to the pairs folder."""
    question: str
    options: tuple[str, ...]
    answer: str
    """Gold letter (or yes/no) for this branch."""
    source_id: str
    """The annotation id the item came from."""

    def to_row(self) -> dict:
        row = asdict(self)
        row["options"] = list(self.options)
        return row

    @classmethod
    def from_row(cls, row: dict) -> Item:
        fields = {k: row[k] for k in cls.__dataclass_fields__}
        fields["options"] = tuple(fields["options"] if fields["options"] is not None else ())
        return cls(**fields)
