"""Loading the policy and the frozen models (reference, bias), and handing the policy to ``generate``.

The frozen models are prepared for whichever distributed mode the run uses. VideoThinker's released
trainer honours its bias model only under ZeRO-3 and otherwise silently repels the initial policy
(RESEARCH.md); here every mode loads the model it is given, and a bias model that is missing, that
is the policy's own folder, or that has the policy's exact weights is an error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch


def load_model(path: str, *, trainable: bool):
    """A Qwen-VL model in fp32 (bf16 comes from autocast on GPU, so small updates are not rounded away)."""
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    if not trainable:
        model.eval().requires_grad_(False)
    return model


def check_bias_model(bias_model: str | None, policy: str) -> Path:
    """The bias model's folder, or ``ValueError`` if it is missing or is the policy itself."""
    if not bias_model:
        raise ValueError("cdpo needs bias_model=<folder written by `dybench train bias`>")
    path = Path(bias_model)
    if not (path / "config.json").is_file():
        raise ValueError(
            f"bias_model={bias_model}: no checkpoint there (no config.json); train one with "
            "`dybench train bias --model <policy> --data <shortcut subset> --output-dir <dir>` "
            "and pass <dir>/model"
        )
    if Path(policy).exists() and path.resolve() == Path(policy).resolve():
        raise ValueError(
            f"bias_model={bias_model} is the policy itself; CDPO must repel a separately trained bias model"
        )
    return path


def assert_not_same_weights(bias, policy) -> None:
    """Refuse a bias model whose weights equal the policy's (a copy of the policy under another name)."""
    policy_state = policy.state_dict()
    for name, tensor in bias.state_dict().items():
        other = policy_state.get(name)
        if other is None or other.shape != tensor.shape or not torch.equal(other, tensor):
            return
    raise ValueError("the bias model has exactly the policy's weights; CDPO would repel the policy from itself")


def prepare_frozen(model, accelerator):
    """Place a frozen model for the run's distributed mode (no optimiser, no gradients)."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        import deepspeed

        plugin = accelerator.state.deepspeed_plugin
        config = {
            "train_micro_batch_size_per_gpu": 1,
            "bf16": {"enabled": accelerator.mixed_precision == "bf16"},
            "zero_optimization": {"stage": plugin.zero_stage if plugin.zero_stage == 3 else 0},
        }
        engine, *_ = deepspeed.initialize(model=model, config=config)
        return engine.eval()
    if accelerator.distributed_type == DistributedType.FSDP:
        return accelerator.prepare_model(model, evaluation_mode=True).eval()
    return model.to(accelerator.device).eval()


@contextlib.contextmanager
def generation_model(policy, accelerator) -> Iterator:
    """The policy as ``generate`` needs it: unwrapped, with its parameters whole on this process."""
    from accelerate.utils import DistributedType

    unwrapped = accelerator.unwrap_model(policy)
    if accelerator.distributed_type == DistributedType.DEEPSPEED and accelerator.state.deepspeed_plugin.zero_stage == 3:
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(policy.parameters())):
            yield unwrapped
    elif accelerator.distributed_type == DistributedType.FSDP:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        with FSDP.summon_full_params(policy, writeback=False, recurse=True):
            yield unwrapped
    else:
        yield unwrapped
