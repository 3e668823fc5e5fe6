"""Counterfactual pairs: a user's videos + annotations -> the pairs dataset, and the one reader of it.

A pair is a question asked of a video and of its counterfactual (mirrored, reversed, two segments
swapped, or a given second video), with the answer each one has. Annotations are read and validated
(Contract 1), the counterfactual answer is resolved without guessing, the counterfactual video is
rendered, and :func:`build_pairs` writes the dataset (Contract 2) that :func:`load_items` reads for
every consumer. :func:`write_review` shows the pairs for a check by eye; ``dybench.pairs.importers``
turns public datasets' own labels into annotations.
"""

from dybench.pairs._annotations import REQUIRED, load_annotations
from dybench.pairs._build import BuildError, BuildReport, build_pairs, read_manifest, swap_video_path
from dybench.pairs._counterfactual import CounterfactualError, Lexicon, load_lexicon, relation, resolve_counterfactual
from dybench.pairs._dataset import (
    FORMAT,
    PAIRS_JSONL,
    PAIRS_PARQUET,
    PairsChanged,
    group_pairs,
    load_items,
    write_items,
)
from dybench.pairs._review import read_rejects, write_review
from dybench.pairs._transforms import FrameRange, NotReversible, apply_transform, render_counterfactuals, render_swap

__all__ = [
    "FORMAT",
    "PAIRS_JSONL",
    "PAIRS_PARQUET",
    "REQUIRED",
    "BuildError",
    "BuildReport",
    "CounterfactualError",
    "FrameRange",
    "Lexicon",
    "NotReversible",
    "PairsChanged",
    "apply_transform",
    "build_pairs",
    "group_pairs",
    "load_annotations",
    "load_items",
    "load_lexicon",
    "read_manifest",
    "read_rejects",
    "relation",
    "render_counterfactuals",
    "render_swap",
    "resolve_counterfactual",
    "swap_video_path",
    "write_items",
    "write_review",
]
