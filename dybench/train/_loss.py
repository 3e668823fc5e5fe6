"""The pieces of the GRPO-family loss: group advantages, the k3 KL estimator, the PPO clip, normalisation.

All functions are pure tensor maths so they can be tested in isolation. Shapes: B completions, Lc
completion tokens; ``mask`` is 1 on a completion's tokens up to and including its first EOS.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch

LossNorm = Literal["sequence", "token"]


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """(R - group mean) / (group std + eps) for rewards of shape (groups, G); same shape out.

    The std is the unbiased sample std, as in TRL's GRPO and the VideoThinker code. A group whose
    completions all earn the same reward gets zero advantage (it carries no signal).
    """
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True)
    return (rewards - mean) / (std + eps)


def flat_group_share(rewards: torch.Tensor) -> float:
    """Share of the groups (rows of ``rewards``, shape (groups, G)) whose completions all earned the same
    reward: they get advantage 0 and give the policy-gradient term nothing to learn from (TRL logs the same
    number as ``frac_reward_zero_std``). Near 1 once the policy answers each question the same way in all G
    samples; what still moves it then is a KL term, e.g. CDPO's repulsion."""
    return float((rewards.max(dim=1).values == rewards.min(dim=1).values).float().mean()) if rewards.numel() else 0.0


def k3_kl(logp: torch.Tensor, logp_other: torch.Tensor, clamp: float | None = None) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || other) on samples from pi: exp(d) - d - 1 with d = logp_other - logp.

    Non-negative, zero where the two agree. ``clamp`` bounds d to [-clamp, clamp] before the exp
    (VideoThinker clamps at 11 for its repulsive term).
    """
    d = logp_other - logp
    if clamp is not None:
        d = d.clamp(-clamp, clamp)
    return torch.exp(d) - d - 1


def repulsive_kl(
    logp: torch.Tensor, logp_bias: torch.Tensor, *, clamp: float | None = 11.0, bound: float | None = None
) -> torch.Tensor:
    """CDPO's per-token repulsive term: k3 on the policy's samples, the log-ratio clamped to [-clamp, clamp]
    (VideoThinker: 11), optionally capped past ``bound``. The loss *subtracts* ``beta`` times it.

    Direction: as a loss on samples y ~ pi (no score-function term), k3's expected gradient is the gradient of
    KL(pi_bias || pi), not of KL(pi || pi_bias): with r = pi_bias(y) / pi(y), grad k3 = (1 - r) grad log pi(y),
    and E_pi[(1 - r) grad log pi] = -E_{pi_bias}[grad log pi] = grad KL(pi_bias || pi). Subtracting it lowers
    the policy's log-probability of what the bias model would say, weighted by the bias model's probability.
    KL(pi_bias || pi) grows without bound as pi of *any* answer goes to 0, so every one-answer policy maximises
    it: per sample the term raises whatever the policy is surer of than the bias model (r < 1), which deepens a
    lean toward one answer (``dybench.reproduce._toy``; docs/reproduce.md, round 7).

    ``bound`` caps each token's *gradient*, not its value: past the log-ratio at which k3 reaches ``bound``
    (one on each side of 0) the term continues as the tangent line there, so the strongest disagreements keep
    pushing at the capped slope. (Clamping the value instead would give them zero gradient.)
    """
    d = logp_bias - logp
    if clamp is not None:
        d = d.clamp(-clamp, clamp)
    if bound is None:
        return torch.exp(d) - d - 1
    lo, hi = _k3_level(bound, -1.0), _k3_level(bound, 1.0)
    inside = d.clamp(lo, hi)
    k3 = torch.exp(inside) - inside - 1
    slope = torch.exp(inside) - 1  # dk3/dd at the clamped point: the tangent past the bound
    return k3 + slope.detach() * (d - inside)


def _k3_level(level: float, side: float) -> float:
    """The log-ratio d on ``side`` (+1 or -1) of 0 where exp(d) - d - 1 = ``level`` (Newton's method)."""
    if level <= 0:
        raise ValueError(f"a repulsion bound must be positive, got {level}")
    d = side * (math.log1p(level) + 1.0 if side > 0 else level + 1.0)
    for _ in range(60):
        d -= (math.exp(d) - d - 1 - level) / (math.exp(d) - 1)
    return d


def clipped_surrogate(
    logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, eps_low: float, eps_high: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped objective per token, as a loss (to minimise), and where the clip bound.

    logp, old_logp: (B, Lc); advantages: (B,). Returns (loss (B, Lc), clipped (B, Lc) bool).
    """
    ratio = torch.exp(logp - old_logp)  # (B, Lc)
    adv = advantages[:, None]  # (B, 1)
    unclipped = ratio * adv
    clipped = ratio.clamp(1 - eps_low, 1 + eps_high) * adv
    loss = -torch.minimum(unclipped, clipped)
    return loss, clipped < unclipped


def masked_mean(values: torch.Tensor, mask: torch.Tensor, norm: LossNorm) -> torch.Tensor:
    """Mean of (B, Lc) ``values`` over masked tokens.

    sequence: each completion's token mean, then the mean over completions (long answers do not weigh
    more). token: one mean over every token of the batch (DAPO-style).
    """
    mask = mask.to(values.dtype)
    if norm == "sequence":
        per_seq = (values * mask).sum(1) / mask.sum(1).clamp(min=1)
        return per_seq.mean()
    return (values * mask).sum() / mask.sum().clamp(min=1)


def token_weights(
    mask: torch.Tensor, norm: LossNorm, total_rows: int, total_tokens: int, world_size: int = 1
) -> torch.Tensor:
    """(B, Lc) weights such that summing ``weights * values`` over all micro-batches equals
    ``masked_mean`` over the whole generation batch, so accumulated gradients match one big batch.

    With several processes, DDP and DeepSpeed average the processes' gradients. ``sequence``: every
    process has ``total_rows`` rows, so the average of the local means is the global mean. ``token``:
    ``total_tokens`` must be the count over *all* processes, and each process's sum is scaled by
    ``world_size`` so that the average of the processes' sums is the one global token mean.
    """
    mask = mask.float()
    if norm == "sequence":
        return mask / mask.sum(1, keepdim=True).clamp(min=1) / total_rows
    return mask * world_size / max(total_tokens, 1)


class TokenLoss(NamedTuple):
    """The loss of one micro-batch, per token, and its parts; every field (b, Lc)."""

    total: torch.Tensor
    """policy + kl_beta * kl_ref - bias_beta * (kl_bias, capped past the bound)."""
    policy: torch.Tensor
    kl_ref: torch.Tensor
    kl_bias: torch.Tensor
    """The repulsive k3 before any bound (the loss uses it capped past ``bias_bound``)."""
    clipped: torch.Tensor
    """1.0 where the PPO clip bound."""
    ratio: torch.Tensor


def token_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_eps: float,
    clip_eps_high: float,
    ref_logp: torch.Tensor | None = None,
    kl_beta: float = 0.0,
    bias_logp: torch.Tensor | None = None,
    bias_beta: float = 0.0,
    bias_clamp: float | None = 11.0,
    bias_bound: float | None = None,
) -> TokenLoss:
    """PPO-clip policy loss, plus the k3 KL to a reference (attraction), minus the k3 KL to a bias
    model (CDPO's repulsion). logp / old_logp / ref_logp / bias_logp: (b, Lc); advantages: (b,)."""
    policy, clipped = clipped_surrogate(logp, old_logp, advantages, clip_eps, clip_eps_high)
    zeros = torch.zeros_like(logp)
    kl_ref = k3_kl(logp, ref_logp) if ref_logp is not None else zeros
    kl_bias = pushed = zeros
    if bias_logp is not None:
        kl_bias = repulsive_kl(logp, bias_logp, clamp=bias_clamp)  # logged
        pushed = repulsive_kl(logp, bias_logp, clamp=bias_clamp, bound=bias_bound) if bias_bound else kl_bias
    total = policy + kl_beta * kl_ref - bias_beta * pushed
    return TokenLoss(total, policy, kl_ref, kl_bias, clipped.float(), torch.exp(logp - old_logp))


def sft_token_loss(logp: torch.Tensor) -> TokenLoss:
    """sft: each target token's cross-entropy, -log p (b, Lc), in the loss's shape (no ratio, no KL)."""
    zeros = torch.zeros_like(logp)
    return TokenLoss(-logp, -logp, zeros, zeros, zeros, torch.ones_like(logp))
