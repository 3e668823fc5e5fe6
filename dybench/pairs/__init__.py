"""Counterfactual pairs: a user's videos + annotations -> the pairs dataset, and the one reader of it.

A pair is a question asked of a video and of its counterfactual (mirrored, reversed, two segments
swapped, or a given second video), with the answer each one has. Annotations are read and validated
(Contract 1), the counterfactual answer is resolved without guessing, the counterfactual video is
rendered, and :func:`build_pairs` writes the dataset (Contract 2) that :class:`PairsDataset` reads and
identifies for every consumer, with the card that makes the folder a Hugging Face dataset
(:func:`write_card`). :func:`write_review` shows the pairs for a check by eye; ``dybench.pairs.importers``
turns public datasets' own labels into annotations.

Names that need PyAV or PIL load their module on first use (``__getattr__`` below), not on
``import dybench.pairs``; pyarrow loads only when a parquet file is read or written.
"""

from __future__ import annotations

import importlib
from typing import Any

from dybench.pairs._annotations import REQUIRED, load_annotations
from dybench.pairs._counterfactual import CounterfactualError, Lexicon, load_lexicon, relation, resolve_counterfactual
from dybench.pairs._dataset import (
    FORMAT,
    PAIRS_JSONL,
    PAIRS_PARQUET,
    PairsChanged,
    PairsDataset,
    group_pairs,
    in_pair_order,
    load_items,
    read_manifest,
    write_items,
)

#: Public names whose modules load PyAV or PIL: name -> the private module (imported on first use).
_LAZY = {
    "BuildError": "_build",
    "BuildReport": "_build",
    "build_pairs": "_build",
    "swap_video_path": "_build",
    "CardError": "_card",
    "write_card": "_card",
    "read_rejects": "_review",
    "write_review": "_review",
    "FrameRange": "_transforms",
    "NotReversible": "_transforms",
    "apply_transform": "_transforms",
    "render_counterfactuals": "_transforms",
    "render_swap": "_transforms",
}

__all__ = [
    "FORMAT",
    "PAIRS_JSONL",
    "PAIRS_PARQUET",
    "REQUIRED",
    "BuildError",
    "BuildReport",
    "CardError",
    "CounterfactualError",
    "FrameRange",
    "Lexicon",
    "NotReversible",
    "PairsChanged",
    "PairsDataset",
    "apply_transform",
    "build_pairs",
    "group_pairs",
    "in_pair_order",
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
    "write_card",
    "write_items",
    "write_review",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"dybench.pairs.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'dybench.pairs' has no attribute {name!r}")
