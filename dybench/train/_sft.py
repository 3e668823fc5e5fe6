"""``dybench train sft``: supervised fine-tuning on target answers, the start of a randomly initialised model.

The papers start from instruction-tuned models that already answer ``<think>...</think><answer>X</answer>``
and perceive part of what their videos show. A tiny model built offline (``dybench.testing``) writes random
tokens, so every RL reward would be 0. This method stands in for that instruction tuning, through the
trainer's own loop (prompts encoded as every method encodes them, the same log-probs, optimiser, checkpoints
and distributed modes): each prompt's completion is a fixed target, and the loss is its cross-entropy.

- ``sft_targets=gold``: the target is the question's true answer. On a pairs dataset it is trained on BOTH
  branches of every pair: a cue planted in the data (DyBench-Synth's ``--bias``) is right on one branch and
  wrong on the other, so the targets teach perception and no shortcut.
- ``sft_targets=random``: an answer drawn uniformly among the question's own choices, independently of the
  gold and of the video: the answer format and nothing about the content.

Prompts are split once (seeded) into held-back prompts (whole pairs under gold targets on pairs data) and
training prompts; every ``sft_check_every`` steps greedy accuracy on the held-back prompts is logged
(``heldout_acc``), and ``sft_stop_accuracy`` stops the run once it is reached: partial perception, as the
papers' start models have. Batches are drawn uniformly *with replacement* from the training prompts (one
seeded generator for the split, the draws and the random targets, saved in every checkpoint).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dybench.records import letter
from dybench.train._data import Example, Prompt, load_examples


def target_text(prompt: Prompt, *, targets: str, think: str, rng: np.random.Generator) -> str:
    """The completion ``prompt`` is trained to give: its gold answer, or a uniformly drawn choice of its own."""
    if targets == "gold":
        answer = _gold(prompt)
    else:
        choices = [letter(i) for i in range(prompt.n_options)] if prompt.n_options else ["yes", "no"]
        answer = choices[int(rng.integers(len(choices)))]
    return f"<think>{think}</think><answer>{answer}</answer>"


@dataclass(frozen=True)
class SFTData:
    """The prompts an sft run trains on and the ones it holds back to measure itself."""

    train: list[Example]
    """One single-prompt example per training prompt (a pair's two branches are two examples)."""
    held_back: list[Prompt]


def sft_data(data: str | Path, *, targets: str, held_back: int, rng: np.random.Generator, **load) -> SFTData:
    """Split ``data``'s prompts with ``rng``; gold targets on a pairs dataset take both branches of each pair
    and hold back whole pairs (``held_back // 2`` of them)."""
    paired = targets == "gold" and Path(data).is_dir()
    examples = load_examples(data, paired=paired, **load)
    order = rng.permutation(len(examples))
    n_held = max(1, held_back // 2) if paired else held_back
    held = [p for i in order[:n_held] for p in examples[i].prompts]
    train = [p for i in order[n_held:] for p in examples[i].prompts] or held
    return SFTData([Example((p,)) for p in train], held)


class DrawCursor:
    """Uniform draws with replacement from ``size`` examples, resumable (the generator's state is saved)."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.size, self.rng = size, rng

    def take(self, count: int) -> list[int]:
        return self.rng.integers(self.size, size=count).tolist()

    def state_dict(self) -> dict:
        return {"size": self.size, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        if state["size"] != self.size:
            raise ValueError(f"the checkpoint was made on {state['size']} prompts, this data has {self.size}")
        self.rng.bit_generator.state = state["rng"]


@dataclass(frozen=True)
class HeldOutCheck:
    """Greedy answers to the held-back prompts, scored by the evaluation's parser."""

    accuracy: float
    format_rate: float
    """Share of answers in the ``<think>...</think><answer>...</answer>`` format."""
    answers: dict[str, int]
    """Parsed answers, counted (``None`` = unparsable)."""


def check_held_back(texts: list[str], prompts: list[Prompt]) -> HeldOutCheck:
    from dybench.scoring import answer_reward, format_ok, parse_answer

    parsed = [parse_answer(t, p.n_options) for t, p in zip(texts, prompts, strict=True)]
    scores = [answer_reward(a, _gold(p)) for a, p in zip(parsed, prompts, strict=True)]
    return HeldOutCheck(
        accuracy=float(np.mean(scores)),
        format_rate=float(np.mean([format_ok(t) for t in texts])),
        answers=dict(Counter(str(a) for a in parsed)),
    )


def _gold(prompt: Prompt) -> str:
    """``prompt``'s gold answer: sft trains on and checks with questions that have one (pairs datasets and
    Video-R1 files give every question its gold)."""
    if prompt.answer is None:
        raise ValueError(f"{prompt.prompt_id}: sft needs the question's gold answer")
    return prompt.answer
