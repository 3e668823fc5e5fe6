"""The public datasets annotations come from, as a dataset card names them: licence and citation.

Each importer writes ``"source": {"dataset": <key>, ...}`` into every row; a pairs dataset's card
(:func:`dybench.pairs.write_card`) looks each key up here to say where its videos come from and
under which terms. The facts are those of ``data_cards/importers.md``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceDataset:
    """A dataset whose videos and labels a pairs dataset may be made from."""

    name: str
    """How the card names it."""
    licence: str
    """The terms its videos come under, as their owners state them."""
    cite: str
    """The publication its owners ask users to cite."""


#: ``source.dataset`` as the importers write it (and as a converted release may) -> the dataset.
SOURCE_DATASETS: dict[str, SourceDataset] = {
    "something-something-v2": SourceDataset(
        "Something-Something v2",
        "Qualcomm's licence for the dataset (free for academic research; see its download page)",
        "Goyal et al., \"The 'something something' video database for learning and evaluating visual common "
        'sense", ICCV 2017',
    ),
    "breakfast": SourceDataset(
        "Breakfast Actions",
        "the terms of its project page, where it is downloaded",
        'Kuehne, Arslan and Serre, "The Language of Actions: Recovering the Syntax and Semantics of '
        'Goal-Directed Human Activities", CVPR 2014',
    ),
    "50salads": SourceDataset(
        "50 Salads",
        "CC BY-NC-SA 4.0",
        'Stein and McKenna, "Combining Embedded Accelerometers with Computer Vision for Recognizing Food '
        'Preparation Activities", UbiComp 2013',
    ),
    "seconds": SourceDataset(
        "action segments given in seconds (`dybench import segments --format seconds`)",
        "those of the dataset the videos come from: state them above the card's marker",
        "the dataset the videos come from",
    ),
    "mstcn": SourceDataset(
        "per-frame ground truth in MS-TCN's layout (`groundTruth/<video>.txt`: Breakfast, 50Salads or GTEA)",
        "those of the dataset the videos come from (Breakfast: its project page's terms; 50Salads: CC BY-NC-SA "
        "4.0; GTEA: its project page's terms)",
        'Farha and Gall, "MS-TCN: Multi-Stage Temporal Convolutional Network for Action Segmentation", CVPR 2019 '
        "(for the ground-truth files), and the dataset the videos come from",
    ),
    "tracks": SourceDataset(
        "tracking sequences in GOT-10k's layout (`dybench import tracks`)",
        "GOT-10k's terms of use (research) for GOT-10k's sequences; else those of their dataset",
        'Huang, Zhao and Huang, "GOT-10k: A Large High-Diversity Benchmark for Generic Object Tracking in the '
        'Wild", TPAMI 2021',
    ),
    "dybench": SourceDataset(
        "DyBench's release (Hugging Face `ddz16/DyBench`, gated), converted as `given` pairs",
        "MIT, as its dataset card states",
        "the CRPO paper (arXiv 2605.21988)",
    ),
}

__all__ = ["SOURCE_DATASETS", "SourceDataset"]
