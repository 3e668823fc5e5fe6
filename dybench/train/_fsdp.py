"""FSDP (``fsdp=true``): torch's FSDP2 ``fully_shard`` over every process, driven by the trainer itself.

accelerate turns FSDP on only when it sees an accelerator, so on a CPU machine its FSDP plugin would
silently run plain DDP; dybench therefore shards with torch's own API on CPU (gloo) and GPU (NCCL)
alike, one code path that the CPU tests exercise. Each decoder layer and vision block (the model's
``_no_split_modules``) is its own shard group, the whole model the root group, for the policy and for
the frozen reference and bias models.

Three things differ from the other modes, and live here:

- ``generate`` runs with every group gathered once (:func:`gathered`): with FSDP's per-forward hooks on,
  each decoding step would all-gather, and processes that stop after different numbers of tokens would
  pair their collectives with the wrong layers. So during generation each process holds the whole
  model (in bf16 under ``dtype=bfloat16``), as ZeRO-3's gathered generation does.
- The saved model is the full state dict, gathered onto the main process (:func:`full_state_dict`).
- Resumable state (the sharded weights and optimiser moments) is a ``torch.distributed.checkpoint``
  folder that every process writes its own shard into (:func:`save_state`, :func:`load_state`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard, register_fsdp_forward_method

STATE = "fsdp"
"""The sub-folder of a checkpoint's ``state/`` holding the sharded model and optimiser."""


def shard(model, device: torch.device, *, bf16: bool):
    """Shard ``model`` in place over every process (the default process group) and return it.

    bf16: parameters are gathered and computed in bf16 while the sharded copies, the gradients'
    reduction and the optimiser stay fp32 (FSDP2's ``MixedPrecisionPolicy``).
    """
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(device.type, (torch.distributed.get_world_size(),))
    precision = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else None
    options = {"mesh": mesh, **({"mp_policy": precision} if precision else {})}
    model.to(device)
    blocks = set(getattr(model, "_no_split_modules", None) or ())
    for module in model.modules():
        if type(module).__name__ in blocks:
            fully_shard(module, **options)
    fully_shard(model, **options)
    # generate encodes the video before its first forward call; as a forward method of its own it makes
    # the whole model FSDP's root first (else the vision blocks would claim to be roots)
    register_fsdp_forward_method(model, "generate")
    return model


def is_sharded(model) -> bool:
    return isinstance(model, FSDPModule)


@contextlib.contextmanager
def gathered(model) -> Iterator:
    """Every shard group of ``model`` whole on this process, and kept whole across forward calls."""
    groups = [m for m in model.modules() if isinstance(m, FSDPModule)]
    for group in groups:
        group.unshard()
        group.set_reshard_after_forward(False)
    try:
        yield model
    finally:
        for group in groups:
            group.reshard()
            group.set_reshard_after_forward(True)


def full_state_dict(model) -> dict:
    """The whole model's weights on the main process, on the CPU (an empty dict on the others)."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def save_state(folder: Path, model, optimizer) -> None:
    """Every process writes its shard of the weights and optimiser state into ``folder`` (collective)."""
    import torch.distributed.checkpoint as dcp

    weights, moments = get_state_dict(model, optimizer)
    dcp.save({"model": weights, "optimizer": moments}, checkpoint_id=str(folder))


def load_state(folder: Path, model, optimizer) -> None:
    """Restore what :func:`save_state` wrote, each process its own shard (collective)."""
    import torch.distributed.checkpoint as dcp

    weights, moments = get_state_dict(model, optimizer)
    state = {"model": weights, "optimizer": moments}
    dcp.load(state, checkpoint_id=str(folder))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])


def clip_grad_norm(model, max_norm: float) -> float:
    """Clip the sharded gradients to a global norm; return the norm before clipping."""
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)
