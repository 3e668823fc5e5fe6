"""A toy model of the answer token under GRPO and CDPO: when can repelling a bias model remove a shortcut?

Two-option questions. On each clip the true answer is ``m`` (+1 or -1: the motion) and a planted cue points to
``c`` (the colour); in training ``c = m`` on ``cue_rate`` of the clips, at test independently. How clearly the
policy sees the motion varies from clip to clip: its evidence is ``v * m`` with ``v ~ Normal(visibility, 1)``
(``v < 0``: it sees the motion the wrong way). It answers +1 with probability
``sigmoid(w_letter + w_cue * c + w_motion * v * m)``: a lean toward one answer, a weight for the shortcut and one
for perception, starting at ``w_letter = start_letter`` (0: no lean), ``w_cue = 0`` (a start that learnt no
shortcut) and ``w_motion = start_motion``. Evaluation is greedy, so a test clip is right when ``w_motion * v``
beats the pull of the lean and the cue, ``w_letter + w_cue * c`` (or adds to it, when they agree), and a pair
(the clip and its mirror: the motion flips, the cue stays) only when ``w_motion * v > |w_letter + w_cue * c|``.
The bias model answers from the cue alone: ``P_bias(+1) = sigmoid(bias_logit * c)`` (``bias_logit`` 3: 95%
confident).

GRPO samples G answers per clip, rewards the true one, standardises within the group and takes the
policy-gradient step. CDPO adds, per sampled answer y, ``beta * (1 - r) * grad log pi(y)`` with
``r = pi_bias(y) / pi(y)``: the gradient of the repulsive k3 term (``dybench.train``'s loss), whose expectation
pushes P(+1) away from the bias model's probability (``beta * (pi(+1) - pi_bias(+1))`` on the logit).
``kl_beta`` optionally adds the k3 attraction to the start policy.

Reading it (``simulate`` gives the numbers; ``docs/reproduce.md`` and the tests quote them):

- When GRPO takes up the shortcut (partial perception, no anchor to the start), ``w_cue`` grows, the test
  answers follow the cue and P-Acc falls; repelling a *confident* bias model holds ``w_cue`` down on every
  clip and CDPO's P-Acc stays above GRPO's.
- When GRPO does not take the shortcut (``w_cue`` stays near 0), there is nothing to remove: CDPO gains
  nothing.
- An *unconfident* bias model (P_bias of the cue's answer below the policy's) makes the repulsion push the
  policy further toward the cue: the sign of ``pi(+1) - pi_bias(+1)`` flips once the policy is more sure of
  the cue than the bias model is.
- The same sign rule deepens a lean toward one answer. The repulsion climbs KL(pi_bias || pi), which grows
  without bound as pi of either answer goes to 0 (every one-answer policy is a maximum), and the per-sample push
  ``(1 - r)`` raises every sampled answer the policy is surer of than the bias model. Where the motion is hard to
  see, a policy that leans toward one answer is pushed further that way on the items whose cue points to the
  other answer, while GRPO's reward pulls it back only where a group's samples still differ; from a strong
  enough lean, with a large enough weight, CDPO ends giving one answer to every question (``top_answer_share``
  1.0) where GRPO loses the lean. That is how the tiny preset's CDPO runs freeze on one letter on some seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ToySettings:
    cue_rate: float = 0.95
    visibility: float = 1.0
    """Mean motion evidence per clip (its spread is 1): 1.0 sees the motion the right way on 84% of clips."""
    start_motion: float = 2.0
    start_letter: float = 0.0
    """The start's lean toward answer +1 (a logit offset on every question; negative: toward -1)."""
    steps: int = 400
    batch: int = 16
    generations: int = 4
    lr: float = 0.05
    beta: float = 0.0
    """The repulsion's weight (0: GRPO)."""
    bias_logit: float = 3.0
    """The bias model's confidence in the cue: P_bias(cue's answer) = sigmoid(bias_logit)."""
    kl_beta: float = 0.0
    """Attraction to the start policy (k3), as the tiny preset's KL anchor."""
    log_ratio_clamp: float = 11.0
    seed: int = 0


@dataclass(frozen=True)
class ToyResult:
    w_cue: float
    w_motion: float
    w_letter: float
    accuracy: float
    """Test accuracy (the cue independent of the answer)."""
    p_acc: float
    """Test pairs (a clip and its mirror: the motion flips, the cue stays): both answered right."""
    cue_agreement: float
    """Test answers that are the cue's."""
    top_answer_share: float
    """Test answers that are the more common of the two (1.0: one answer to every question)."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate(s: ToySettings) -> ToyResult:
    """Train the three weights with GRPO (+ the repulsion when ``beta`` > 0); exact test scores at the end."""
    rng = np.random.default_rng(s.seed)
    w = np.array([s.start_letter, 0.0, s.start_motion])  # (w_letter, w_cue, w_motion)
    start = w.copy()
    for _ in range(s.steps):
        m = rng.choice([-1.0, 1.0], size=s.batch)  # (B,)
        c = np.where(rng.random(s.batch) < s.cue_rate, m, -m)
        v = rng.normal(s.visibility, 1.0, size=s.batch)
        features = np.stack([np.ones(s.batch), c, v * m], 1)  # (B, 3): dz/dw
        p = _sigmoid(features @ w)  # (B,) P(+1)
        y = np.where(rng.random((s.batch, s.generations)) < p[:, None], 1.0, -1.0)  # (B, G)
        reward = (y == m[:, None]).astype(float)
        adv = (reward - reward.mean(1, keepdims=True)) / (reward.std(1, ddof=1, keepdims=True) + 1e-4)
        dlogp = (y + 1) / 2 - p[:, None]  # d log pi(y) / dz for a sigmoid policy: (B, G)
        push = adv
        if s.beta:
            p_bias = _sigmoid(s.bias_logit * c)[:, None]
            pi_y = np.where(y > 0, p[:, None], 1 - p[:, None])
            bias_y = np.where(y > 0, p_bias, 1 - p_bias)
            d = np.clip(np.log(bias_y) - np.log(pi_y), -s.log_ratio_clamp, s.log_ratio_clamp)
            push = push + s.beta * (1 - np.exp(d))  # gradient ascent on beta * k3
        if s.kl_beta:
            p0 = _sigmoid(features @ start)[:, None]
            start_y = np.where(y > 0, p0, 1 - p0)
            pi_y = np.where(y > 0, p[:, None], 1 - p[:, None])
            push = push - s.kl_beta * (1 - start_y / pi_y)  # descent on kl_beta * k3 to the start
        grad = ((push * dlogp).mean(1)[:, None] * features).mean(0)
        w = w + s.lr * grad
    return _test(w, s.visibility)


def _above(x: float, visibility: float) -> float:
    """P(v > x) for v ~ Normal(visibility, 1)."""
    return 0.5 * math.erfc((x - visibility) / math.sqrt(2))


def _test(w: np.ndarray, visibility: float) -> ToyResult:
    """Exact greedy test scores (as evaluation decodes): the motion m and the cue c independent and balanced, so
    each of the four (m, c) cases is a quarter of the items. With the pull ``k = w_letter + w_cue * c`` the
    answer is +1 when ``k + w_motion * v * m > 0``."""
    w_letter, w_cue, w_motion = float(w[0]), float(w[1]), max(float(w[2]), 1e-9)
    right = cue = plus = p_acc = 0.0
    for c in (1.0, -1.0):
        k = w_letter + w_cue * c
        up_right = _above(-k / w_motion, visibility)  # m = +1: answered +1
        down_right = _above(k / w_motion, visibility)  # m = -1: answered -1
        right += (up_right + down_right) / 4
        plus_c = (up_right + 1 - down_right) / 2  # P(answer +1) on this cue's half
        plus += plus_c / 2
        cue += (plus_c if c > 0 else 1 - plus_c) / 2
        p_acc += _above(abs(k) / w_motion, visibility) / 2  # a clip and its mirror: same v and c, m flips
    return ToyResult(w_cue, float(w[2]), w_letter, right, p_acc, cue, max(plus, 1 - plus))
