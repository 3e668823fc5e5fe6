"""Rewards: the evaluation's own answer parser and scorer, the format check, and CRPO's relation rewards.

Nothing here parses an answer itself: ``dybench.scoring.parse_answer`` / ``answer_reward`` /
``format_ok`` are the one implementation that evaluation uses too (the prompt's option texts are passed,
as evaluation passes them, so an answer written as an option's text, "None of the above" included, reads).

CRPO, ``crr_mode=published`` (the default; the CRPO project page, docs/research.md). A pair is G rollouts on the
original video (i) and G on its counterfactual (j); *dynamic* = the pair's relation is ``change``, *static*
= ``keep``; ``gold`` is the ORIGINAL question's answer (the only label this mode reads):

- ``correct_i`` = the accuracy reward of original rollout i (1 for the gold answer; CDPO's partial credit
  for a subset of a multi-letter gold);
- ``behave_j`` = 1 when counterfactual rollout j behaves as expected: dynamic, a parsed answer other than
  ``gold`` (any change, the null option "None of the above" included); static, ``gold`` itself. An
  unparsable answer never behaves;
- original rollout i earns ``correct_i + format_i + crr_orig_i`` with
  ``crr_orig_i = [correct_i = 1] * rate(behave over the counterfactual rollouts)``;
- counterfactual rollout j earns ``format_j + behave_j + crr_aug_j`` with
  ``crr_aug_j = [behave_j = 1] * rate([correct = 1] over the original rollouts)``.

Where the page is silent, dybench chooses (each configurable, ``TrainConfig``): the weights (all 1);
"rate" = the mean over the other branch's G rollouts (``crr_partner=group``; ``paired`` uses the rollout of
the same index); the gates (``crr_gated``; without them a crr term is the same for every rollout of a
branch, so under per-branch advantage groups it adds nothing); the counterfactual branch earns no
correctness term (the page lists none, and label-free data has no counterfactual gold).

``crr_mode=differ`` / ``mapped`` (dybench's earlier design, kept as alternatives): every rollout earns
accuracy against its own branch's gold + format + CRR, where a completion's CRR is the mean over the other
branch's G completions of: ``keep`` pairs, the same parsed answer on both sides *and* it is the shared
gold; ``change`` pairs, ``differ`` = the two parsed answers differ, ``mapped`` = the counterfactual answer
is the pair's mapping of the original one (defined only on the two gold answers, so it needs the
counterfactual's gold label). Unparsable on either side earns 0.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, fields
from typing import Literal

from dybench.records import Relation
from dybench.scoring import answer_reward, format_ok, normalize_answer, parse_answer
from dybench.train._data import Example, Prompt

CRRMode = Literal["published", "differ", "mapped"]
CRRPartner = Literal["group", "paired"]
ProbeKind = Literal["shuffled", "reversed"]


@dataclass(frozen=True)
class RewardWeights:
    """The weight of each reward term in the total (the CRPO page publishes none: 1 each is dybench's)."""

    correct: float = 1.0
    format: float = 1.0
    behave: float = 1.0
    """published only: the counterfactual branch's behave reward."""
    crr: float = 0.0
    """The relation terms (crr_orig, crr_aug); 0 outside CRPO."""
    temporal: float = 0.0
    """tgrpo: T-GRPO's bonus alpha (Video-R1: 0.3); 0 outside T-GRPO."""
    reverse: float = 0.0
    """arrowrl: the reverse reward's weight; 0 outside ArrowRL."""


@dataclass(frozen=True)
class RewardTerms:
    """Per-completion reward terms in rollout row order; None = this row does not earn this term."""

    correct: list[float | None]
    """Accuracy against the row's gold (published: original rows only)."""
    format: list[float]
    behave: list[float | None]
    """published, counterfactual rows: 1 when the answer behaves as expected (see the module docstring)."""
    crr_orig: list[float | None]
    """Original rows of CRPO pairs: the relation reward the original branch earns."""
    crr_aug: list[float | None]
    """Counterfactual rows of CRPO pairs: the relation reward the counterfactual branch earns."""
    temporal: list[float | None]
    """tgrpo: 1 for a correct ordered rollout of a group whose accuracy beat the shuffled group's (it earns
    the bonus alpha), else 0."""
    reverse: list[float | None]
    """arrowrl: 1 when the answer diverges from the answer on the reversed clip (a question whose answer the
    arrow of time decides) or agrees with it (one it does not decide); None: not routed, no term."""
    total: list[float]
    """The weighted sum of the terms the row earns."""
    parsed: list[str | None]
    """The parsed answer of each completion (None = unparsable)."""
    crr_weight: float = 0.0
    """The weight ``total`` gave the relation terms."""
    probes: dict[str, float] = field(default_factory=dict)
    """tgrpo: ``ordered_acc``, ``shuffled_acc`` and ``temporal_condition`` (the share of groups whose ordered
    accuracy reached mu x the shuffled one's), means over the step's prompts; arrowrl: ``reversed_acc``."""

    def total_without_relation(self) -> list[float]:
        """Each row's total minus its relation terms (what the advantages would be computed from without them)."""
        return [
            t - self.crr_weight * ((x or 0.0) + (y or 0.0))
            for t, x, y in zip(self.total, self.crr_orig, self.crr_aug, strict=True)
        ]

    def means(self) -> dict[str, float]:
        """``reward_<term>``: each term's mean over the rows that earn it (0.0 when none does)."""
        out = {}
        for f in fields(self):
            if f.name not in REWARD_TERMS:
                continue
            earned = [v for v in getattr(self, f.name) if v is not None]
            out[f"reward_{f.name}"] = statistics.fmean(earned) if earned else 0.0
        return out


#: The reward terms a row can earn, logged as ``reward_<term>``.
REWARD_TERMS = ("correct", "format", "behave", "crr_orig", "crr_aug", "temporal", "reverse")


def parse(response: str, prompt: Prompt) -> str | None:
    """The evaluation's reading of ``response`` to ``prompt`` (None = unparsable)."""
    return parse_answer(response, prompt.n_options, prompt.options)


def accuracy_reward(response: str, prompt: Prompt) -> float:
    """1 for the gold answer, |pred|/|gold| for a subset of a multi-letter gold, else 0."""
    if prompt.answer is None:
        raise ValueError(f"{prompt.prompt_id}: no gold answer to score against")
    return float(answer_reward(parse(response, prompt), prompt.answer))


def format_reward(response: str) -> float:
    """1 when the response is exactly ``<think>...</think><answer>...</answer>``."""
    return float(format_ok(response))


def behave_reward(answer: str | None, *, relation: Relation, gold: str) -> float:
    """published: does a counterfactual answer behave as expected, given the ORIGINAL question's gold?

    ``change`` (dynamic): any parsed answer but ``gold`` (the null option counts as a change);
    ``keep`` (static): ``gold`` (partial credit as the accuracy reward gives it). Unparsable: 0.
    """
    if answer is None:
        return 0.0
    if relation == "change":
        return float(normalize_answer(answer) != normalize_answer(gold))
    return float(answer_reward(answer, gold))


def relation_reward(
    original: str | None,
    counterfactual: str | None,
    *,
    relation: Relation,
    mode: Literal["differ", "mapped"],
    original_gold: str,
    counterfactual_gold: str | None,
) -> float:
    """differ / mapped CRR for one (original answer, counterfactual answer) pair of parsed answers."""
    if original is None or counterfactual is None:
        return 0.0
    if relation == "keep":  # both branches share one gold answer: consistent and right
        return float(original == counterfactual == original_gold)
    if mode == "differ":
        return float(original != counterfactual)
    if counterfactual_gold is None:
        raise ValueError("crr_mode=mapped needs the counterfactual's gold answer (a pairs dataset)")
    mapping = {original_gold: counterfactual_gold, counterfactual_gold: original_gold}
    return float(mapping.get(original) == counterfactual)


@dataclass(frozen=True)
class Probes:
    """Completions sampled on a transformed copy of each prompt's clip, scored but never trained on."""

    kind: ProbeKind
    """shuffled: the sampled frames in a random order (T-GRPO); reversed: played backwards (ArrowRL)."""
    texts: list[str]
    """``per_prompt`` completions per prompt, prompt-major, for the prompts of the scored examples."""
    per_prompt: int
    aot: list[bool | None] = field(default_factory=list)
    """reversed: per prompt, whether the arrow of time decides its answer (None: unknown, no term)."""
    mu: float = 0.8
    """shuffled: the bonus needs ordered accuracy >= mu x shuffled accuracy (Video-R1: 0.8)."""


def temporal_bonus(ordered: list[float], shuffled: list[float], mu: float) -> tuple[list[float], bool]:
    """T-GRPO (Video-R1's ``grpo_trainer.py``): when the ordered group's mean accuracy p reaches mu times the
    shuffled group's, every ordered rollout with accuracy > 0.1 earns the bonus (1 here; weight alpha)."""
    held = statistics.fmean(ordered) >= mu * statistics.fmean(shuffled)
    return [float(held and a > 0.1) for a in ordered], held


def reverse_reward(answers: list[str | None], reversed_answer: str | None, aot: bool | None) -> list[float | None]:
    """ArrowRL's reverse reward as dybench reads it for a lettered answer: 1 when a forward answer diverges
    from the answer on the reversed clip for a question the arrow of time decides, or agrees with it for one it
    does not; an unparsable answer earns 0; ``aot`` None (unknown) earns no term."""
    if aot is None:
        return [None] * len(answers)
    return [float(a is not None and reversed_answer is not None and (a != reversed_answer) == aot) for a in answers]


def score_rollout(
    texts: list[str],
    examples: list[Example],
    num_generations: int,
    *,
    weights: RewardWeights = RewardWeights(),
    crr_mode: CRRMode = "published",
    crr_gated: bool = True,
    crr_partner: CRRPartner = "group",
    probes: Probes | None = None,
) -> RewardTerms:
    """Score B = (prompts in ``examples``) * G completions, rows ordered prompt-major as in ``Rollout``.

    An example with two prompts (original, counterfactual) and a relation is a CRPO pair: under
    ``published`` its branches earn the terms of the module docstring; under differ / mapped both earn
    correctness + format, plus the relation terms when ``weights.crr`` is set. A single prompt earns
    correctness + format, plus T-GRPO's temporal bonus or ArrowRL's reverse reward from ``probes``.
    """
    G = num_generations
    prompts = [p for ex in examples for p in ex.prompts]
    if len(texts) != len(prompts) * G:
        raise ValueError(f"{len(texts)} completions for {len(prompts)} prompts x G={G}")
    row_prompts = [p for p in prompts for _ in range(G)]
    parsed = [parse(t, p) for t, p in zip(texts, row_prompts, strict=True)]
    correct: list[float | None] = [
        None if p.answer is None else accuracy_reward(t, p) for t, p in zip(texts, row_prompts, strict=True)
    ]
    fmt = [format_reward(t) for t in texts]
    behave: list[float | None] = [None] * len(texts)
    crr_orig: list[float | None] = [None] * len(texts)
    crr_aug: list[float | None] = [None] * len(texts)
    temporal: list[float | None] = [None] * len(texts)
    reverse: list[float | None] = [None] * len(texts)
    diagnostics = _score_probes(probes, prompts, correct, parsed, temporal, reverse, G) if probes else {}
    row = 0
    for ex in examples:
        o, c = slice(row, row + G), slice(row + G, row + 2 * G)  # the original and counterfactual rows
        row += len(ex.prompts) * G
        if len(ex.prompts) != 2 or ex.relation is None:
            continue
        orig, cf = ex.prompts
        assert orig.answer is not None, "a pair's original question always has its gold"
        if crr_mode == "published":
            right = [float(x == 1.0) for x in correct[o]]
            behaved = [behave_reward(b, relation=ex.relation, gold=orig.answer) for b in parsed[c]]
            done = [float(x == 1.0) for x in behaved]
            correct[c] = [None] * G
            behave[c] = behaved
            crr_orig[o] = _gated(right, done, gated=crr_gated, partner=crr_partner)
            crr_aug[c] = _gated(done, right, gated=crr_gated, partner=crr_partner)
            continue
        if not weights.crr:
            continue
        table = [  # table[i][j]: original completion i against counterfactual completion j
            [
                relation_reward(
                    x, y, relation=ex.relation, mode=crr_mode, original_gold=orig.answer, counterfactual_gold=cf.answer
                )  # fmt: skip
                for y in parsed[c]
            ]
            for x in parsed[o]
        ]
        if crr_partner == "paired":
            crr_orig[o] = crr_aug[c] = [table[i][i] for i in range(G)]
        else:
            crr_orig[o] = [sum(table[i]) / G for i in range(G)]
            crr_aug[c] = [sum(r[j] for r in table) / G for j in range(G)]
    total = [
        weights.correct * (a or 0.0)
        + weights.format * f
        + weights.behave * (b or 0.0)
        + weights.crr * ((x or 0.0) + (y or 0.0))
        + weights.temporal * (t or 0.0)
        + weights.reverse * (r or 0.0)
        for a, f, b, x, y, t, r in zip(correct, fmt, behave, crr_orig, crr_aug, temporal, reverse, strict=True)
    ]
    return RewardTerms(correct, fmt, behave, crr_orig, crr_aug, temporal, reverse, total, parsed, weights.crr,
                       diagnostics)  # fmt: skip


def _score_probes(
    probes: Probes,
    prompts: list[Prompt],
    correct: list[float | None],
    parsed: list[str | None],
    temporal: list[float | None],
    reverse: list[float | None],
    G: int,
) -> dict[str, float]:
    """Fill ``temporal`` or ``reverse`` (rows of each prompt) from the probe completions; step diagnostics."""
    n = probes.per_prompt
    if len(probes.texts) != len(prompts) * n:
        raise ValueError(f"{len(probes.texts)} probe completions for {len(prompts)} prompts x {n}")
    ordered_acc, probe_acc, held = [], [], []
    for k, prompt in enumerate(prompts):
        rows, probe_texts = slice(k * G, (k + 1) * G), probes.texts[k * n : (k + 1) * n]
        if prompt.answer is None:
            continue
        own = [c or 0.0 for c in correct[rows]]
        accs = [accuracy_reward(t, prompt) for t in probe_texts]
        ordered_acc.append(statistics.fmean(own))
        probe_acc.append(statistics.fmean(accs))
        if probes.kind == "shuffled":
            temporal[rows], condition = temporal_bonus(own, accs, probes.mu)
            held.append(float(condition))
        else:
            reverse[rows] = reverse_reward(parsed[rows], parse(probe_texts[0], prompt), probes.aot[k])
    if not ordered_acc:
        return {}
    if probes.kind == "shuffled":
        return {"ordered_acc": statistics.fmean(ordered_acc), "shuffled_acc": statistics.fmean(probe_acc),
                "temporal_condition": statistics.fmean(held)}  # fmt: skip
    return {"reversed_acc": statistics.fmean(probe_acc)}


def _gated(own: list[float], other: list[float], *, gated: bool, partner: CRRPartner) -> list[float]:
    """For each rollout i: [own_i] (when gated) x the other branch's rate (its mean, or its rollout i)."""
    rate = statistics.fmean(other)
    return [(x if gated else 1.0) * (other[i] if partner == "paired" else rate) for i, x in enumerate(own)]
