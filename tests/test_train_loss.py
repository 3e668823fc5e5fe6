"""The loss pieces: group advantages, k3 KL and the direction of CDPO's repulsion, the PPO clip."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from dybench.train._loss import (  # noqa: E402
    clipped_surrogate,
    flat_group_share,
    group_advantages,
    k3_kl,
    masked_mean,
    repulsive_kl,
    token_loss,
    token_weights,
)


def test_flat_groups_are_the_ones_group_advantages_zeroes():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0, 3.0], [1.0, 1.0, 1.0, 1.0]])
    assert flat_group_share(rewards) == 0.5
    flat = (group_advantages(rewards) == 0).all(dim=1)
    assert flat.float().mean().item() == flat_group_share(rewards)  # exactly the groups with no advantage
    assert flat_group_share(torch.zeros(3, 1)) == 1.0  # one completion per group: nothing to compare
    assert flat_group_share(torch.tensor([[1.0, 1.0 + 1e-6]])) == 0.0


def test_group_advantages_are_per_group():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0, 3.0]])
    adv = group_advantages(rewards, eps=0.0)
    # group 0: mean 0.5, unbiased std sqrt(1/3)
    assert torch.allclose(adv[0], torch.tensor([1.0, -1.0, -1.0, 1.0]) * 0.5 / (1 / 3) ** 0.5)
    assert torch.equal(group_advantages(rewards)[1], torch.zeros(4)), "a group with one reward carries no signal"
    assert adv[2, 3] > 0 > adv[2, 0]
    assert torch.allclose(group_advantages(rewards).sum(1), torch.zeros(3), atol=1e-5)
    # the eps keeps a near-constant group finite
    assert torch.isfinite(group_advantages(torch.tensor([[1.0, 1.0 + 1e-9]]))).all()


def test_k3_kl_is_an_unbiased_nonnegative_estimate():
    torch.manual_seed(0)
    p = torch.softmax(torch.tensor([2.0, 0.5, -1.0, 0.0]), 0)
    q = torch.softmax(torch.tensor([0.0, 1.0, 0.5, -0.5]), 0)
    samples = torch.multinomial(p, 200_000, replacement=True)
    estimate = k3_kl(p.log()[samples], q.log()[samples])
    exact = (p * (p.log() - q.log())).sum()
    assert (estimate >= 0).all()
    assert estimate.mean().item() == pytest.approx(exact.item(), rel=0.02)
    assert torch.equal(k3_kl(p.log(), p.log()), torch.zeros(4))
    # the clamp bounds the log-ratio: exp(11) - 11 - 1 at most
    big = k3_kl(torch.tensor([-30.0]), torch.tensor([0.0]), clamp=11.0)
    assert big.item() == pytest.approx(torch.exp(torch.tensor(11.0)).item() - 12, rel=1e-5)


def _exact_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> float:
    lp, lq = logits_p.log_softmax(0), logits_q.log_softmax(0)
    return float((lp.exp() * (lp - lq)).sum())


def test_repulsion_raises_the_kl_to_the_bias_model():
    """Minimising -beta * k3 on the policy's own samples moves the policy away from the bias model."""
    torch.manual_seed(0)
    bias_logits = torch.tensor([1.0, 0.5, 0.0, -0.5, -1.0])
    logits = (bias_logits + 0.1 * torch.randn(5)).requires_grad_(True)
    optimizer = torch.optim.SGD([logits], lr=0.5)
    before = _exact_kl(logits.detach(), bias_logits)
    for _ in range(20):
        samples = torch.multinomial(logits.detach().softmax(0), 256, replacement=True)
        logp = logits.log_softmax(0)[samples]
        logp_bias = bias_logits.log_softmax(0)[samples]
        loss = -0.5 * repulsive_kl(logp, logp_bias).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert _exact_kl(logits.detach(), bias_logits) > before + 0.05


def test_a_repulsion_bound_caps_the_gradient_and_never_zeroes_it():
    """Past the bound a token's term continues along its tangent: the strongest disagreement keeps pushing,
    at the slope where the bound is reached (a value clamp would give it zero gradient)."""
    logp = torch.tensor([-5.0, -0.1, 4.0], requires_grad=True)
    logp_bias = torch.tensor([0.0, -0.1, 0.0])
    capped = repulsive_kl(logp, logp_bias, bound=1.0)
    capped.sum().backward()
    d_hi = _root(lambda d: math.exp(d) - d - 2.0, 1.0, 2.0)  # k3(d) = 1 on the positive side
    assert capped[0].item() == pytest.approx(1.0 + (math.exp(d_hi) - 1) * (5.0 - d_hi), rel=1e-5)
    assert logp.grad[0].item() == pytest.approx(-(math.exp(d_hi) - 1), rel=1e-5), "capped at the bound's slope"
    assert logp.grad[1].item() == 0.0, "where the models agree there is nothing to push"
    d_lo = _root(lambda d: math.exp(d) - d - 2.0, -3.0, -1.0)  # and on the negative side
    assert logp.grad[2].item() == pytest.approx(-(math.exp(d_lo) - 1), rel=1e-5)
    free = torch.tensor([-5.0, -0.1, 4.0], requires_grad=True)
    repulsive_kl(free, logp_bias).sum().backward()
    assert abs(free.grad[0].item()) > 50 * abs(logp.grad[0].item()), "unbounded: e^5-sized gradient"
    under = repulsive_kl(torch.tensor([-0.5]), torch.tensor([0.0]), bound=1.0)
    assert under.item() == pytest.approx(math.exp(0.5) - 1.5, rel=1e-6), "below the bound: plain k3"


def _root(f, lo: float, hi: float) -> float:
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (f(lo) < 0) == (f(mid) < 0) else (lo, mid)
    return (lo + hi) / 2


def test_the_k3_loss_gradient_is_the_gradient_of_kl_from_the_bias_model():
    """On samples from pi, E[grad k3] = grad KL(pi_bias || pi) (the docstring's claim), not grad KL(pi || pi_bias)."""
    torch.manual_seed(0)
    logits = torch.randn(6, requires_grad=True)
    bias = torch.randn(6).log_softmax(0)
    logp = logits.log_softmax(0)
    expected = (logp.exp().detach() * repulsive_kl(logp, bias, clamp=None)).sum()  # E_{y ~ pi} k3(y), pi fixed
    (grad_k3,) = torch.autograd.grad(expected, logits)
    reverse = (bias.exp() * (bias - logits.log_softmax(0))).sum()  # KL(pi_bias || pi)
    (grad_reverse,) = torch.autograd.grad(reverse, logits)
    forward = (logits.softmax(0) * (logits.log_softmax(0) - bias)).sum()  # KL(pi || pi_bias)
    (grad_forward,) = torch.autograd.grad(forward, logits)
    assert torch.allclose(grad_k3, grad_reverse, atol=1e-6)
    assert not torch.allclose(grad_k3, grad_forward, atol=1e-3)


@pytest.mark.parametrize(
    ("log_ratio", "adv", "binds"),
    [(0.5, 1.0, True), (-0.5, -1.0, True), (0.1, 1.0, False), (0.5, -1.0, False), (-0.5, 1.0, False)],
)
def test_the_clip_binds_only_outside_the_trust_region(log_ratio, adv, binds):
    old = torch.zeros(1, 1)
    logp = torch.full((1, 1), log_ratio, requires_grad=True)
    loss, clipped = clipped_surrogate(logp, old, torch.tensor([adv]), 0.2, 0.2)
    loss.sum().backward()
    assert bool(clipped.item()) is binds
    assert (logp.grad.item() == 0.0) is binds, "a clipped token gets no gradient"


def test_on_policy_ratio_one_gives_the_policy_gradient():
    logp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    parts = token_loss(logp, logp.detach(), torch.tensor([2.0]), clip_eps=0.2, clip_eps_high=0.2)
    parts.total.sum().backward()
    assert torch.equal(parts.ratio, torch.ones(1, 2))
    assert torch.equal(logp.grad, torch.full((1, 2), -2.0)), "d/dlogp of -A * ratio at ratio 1 is -A"


def test_token_loss_signs():
    logp = torch.tensor([[-1.0]])
    ref = torch.tensor([[-2.0]])
    parts = token_loss(
        logp,
        logp,
        torch.tensor([0.0]),
        clip_eps=0.2,
        clip_eps_high=0.2,
        ref_logp=ref,
        kl_beta=0.5,
        bias_logp=ref,
        bias_beta=0.25,
    )
    kl = k3_kl(logp, ref)
    assert parts.total.item() == pytest.approx(0.5 * kl.item() - 0.25 * kl.item())


@pytest.mark.parametrize("norm", ["sequence", "token"])
def test_micro_batch_weights_add_up_to_the_batch_mean(norm):
    torch.manual_seed(0)
    values = torch.randn(6, 5)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1] * 5, [1, 1, 1, 1, 0]])
    whole = masked_mean(values, mask, norm)
    total_tokens = int(mask.sum())
    pieces = sum((values[i:j] * token_weights(mask[i:j], norm, 6, total_tokens)).sum() for i, j in ((0, 4), (4, 6)))
    assert pieces.item() == pytest.approx(whole.item(), rel=1e-6)
    if norm == "sequence":  # every completion weighs the same, whatever its length
        assert whole.item() == pytest.approx(
            torch.stack([values[r, : int(mask[r].sum())].mean() for r in range(6)]).mean().item(), rel=1e-6
        )


def _token_mean_rank(rank: int, port: int, masks: list, values: torch.Tensor, out: dict) -> None:
    """One process of a two-process run: its rows only, gradients averaged the way DDP/DeepSpeed do."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    mask = torch.tensor(masks[rank])
    weight = torch.ones(values.shape[-1], requires_grad=True)
    total_tokens = mask.sum().clone()
    dist.all_reduce(total_tokens)  # what the trainer's accelerator.reduce(..., "sum") gives
    loss = (values[rank] * weight * token_weights(mask, "token", len(mask), int(total_tokens), world_size=2)).sum()
    loss.backward()
    dist.all_reduce(weight.grad)
    out[rank] = (weight.grad / 2).tolist()  # the average over processes
    dist.destroy_process_group()


def test_token_norm_is_the_global_mean_across_processes():
    """loss_norm=token under 2 processes with different token counts equals one process on all rows."""
    import socket

    import torch.multiprocessing as mp

    masks = [[[1, 1, 1, 1], [1, 1, 1, 0]], [[1, 0, 0, 0], [1, 0, 0, 0]]]  # 7 tokens on rank 0, 2 on rank 1
    values = torch.arange(16, dtype=torch.float32).view(2, 2, 4) / 10  # (rank, rows, Lc)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_token_mean_rank, args=(port, masks, values, out), nprocs=2)

    weight = torch.ones(4, requires_grad=True)
    all_mask = torch.tensor(masks[0] + masks[1])
    masked_mean(values.view(4, 4) * weight, all_mask, "token").backward()
    assert torch.allclose(torch.tensor(out[0]), weight.grad) and out[0] == out[1]
    local_only = (values[1] * torch.tensor(masks[1])).sum(0) / 2  # rank 1 dividing by its own 2 tokens
    assert not torch.allclose(local_only, weight.grad)
