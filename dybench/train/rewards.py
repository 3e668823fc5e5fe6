"""Rewards: the evaluation's own answer parser and scorer, the format check, and CRPO's relation reward.

Nothing here parses an answer itself: ``dybench.scoring.parse_answer`` / ``answer_reward`` /
``format_ok`` are the one implementation that evaluation uses too.

Counterfactual Relation Reward (CRR), dybench's reading of a paper that gives no formula
(RESEARCH.md): for a pair whose relation is ``keep``, a completion on one branch earns 1 for each
completion on the other branch that gives the same parsed answer *and* that answer is the pair's
(shared) gold one, so a consistent but wrong pair earns nothing; for ``change``:

- ``differ``: the two parsed answers differ (any change counts);
- ``mapped``: the counterfactual answer is the pair's mapping of the original answer. The pair defines
  the mapping only on its two gold answers (original gold <-> counterfactual gold, e.g. left <-> right),
  so an original answer outside those two earns nothing.

An unparsable answer on either side earns 0. A completion's CRR is the mean over the other branch's G
completions (not one arbitrary partner), so it does not depend on sample order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dybench.records import Relation
from dybench.scoring import answer_reward, format_ok, parse_answer
from dybench.train.data import Example, Prompt

CRRMode = Literal["differ", "mapped"]


@dataclass(frozen=True)
class RewardTerms:
    """Per-completion reward terms, each a list of B floats in rollout row order."""

    accuracy: list[float]
    format: list[float]
    crr: list[float]
    """0 for every row outside CRPO."""
    total: list[float]
    """accuracy_weight * accuracy + format_weight * format + crr_weight * crr."""
    parsed: list[str | None]
    """The parsed answer of each completion (None = unparsable)."""


def accuracy_reward(response: str, prompt: Prompt) -> float:
    """1 for the gold answer, |pred|/|gold| for a subset of a multi-letter gold, else 0."""
    return float(answer_reward(parse_answer(response, prompt.n_options), prompt.answer))


def format_reward(response: str) -> float:
    """1 when the response is exactly ``<think>...</think><answer>...</answer>``."""
    return float(format_ok(response))


def relation_reward(
    original: str | None,
    counterfactual: str | None,
    *,
    relation: Relation,
    mode: CRRMode,
    original_gold: str,
    counterfactual_gold: str,
) -> float:
    """CRR for one (original answer, counterfactual answer) pair of parsed answers."""
    if original is None or counterfactual is None:
        return 0.0
    if relation == "keep":  # both branches share one gold answer: consistent and right
        return float(original == counterfactual == original_gold)
    if mode == "differ":
        return float(original != counterfactual)
    mapping = {original_gold: counterfactual_gold, counterfactual_gold: original_gold}
    return float(mapping.get(original) == counterfactual)


def score_rollout(
    texts: list[str],
    examples: list[Example],
    num_generations: int,
    *,
    accuracy_weight: float = 1.0,
    format_weight: float = 1.0,
    crr_weight: float = 0.0,
    crr_mode: CRRMode = "mapped",
) -> RewardTerms:
    """Score B = (prompts in ``examples``) * G completions, rows ordered prompt-major as in ``Rollout``."""
    prompts = [p for ex in examples for p in ex.prompts]
    if len(texts) != len(prompts) * num_generations:
        raise ValueError(f"{len(texts)} completions for {len(prompts)} prompts x G={num_generations}")
    row_prompts = [p for p in prompts for _ in range(num_generations)]
    parsed = [parse_answer(t, p.n_options) for t, p in zip(texts, row_prompts, strict=True)]
    accuracy = [accuracy_reward(t, p) for t, p in zip(texts, row_prompts, strict=True)]
    fmt = [format_reward(t) for t in texts]
    crr = [0.0] * len(texts)
    row = 0
    for ex in examples:
        if len(ex.prompts) == 2 and ex.relation is not None and crr_weight:
            orig, cf = ex.prompts
            a = parsed[row : row + num_generations]
            b = parsed[row + num_generations : row + 2 * num_generations]
            table = [  # table[i][j]: original completion i against counterfactual completion j
                [
                    relation_reward(
                        x,
                        y,
                        relation=ex.relation,
                        mode=crr_mode,
                        original_gold=orig.answer,
                        counterfactual_gold=cf.answer,
                    )
                    for y in b
                ]
                for x in a
            ]
            for i in range(num_generations):
                crr[row + i] = sum(table[i]) / num_generations
                crr[row + num_generations + i] = sum(r[i] for r in table) / num_generations
        row += len(ex.prompts) * num_generations
    total = [
        accuracy_weight * a + format_weight * f + crr_weight * c for a, f, c in zip(accuracy, fmt, crr, strict=True)
    ]
    return RewardTerms(accuracy, fmt, crr, total, parsed)
