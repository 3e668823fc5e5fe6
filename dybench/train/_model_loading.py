"""Loading the policy and the frozen models (reference, bias), and handing the policy to ``generate``.

The frozen models are prepared for whichever distributed mode the run uses. VideoThinker's released
trainer honours its bias model only under ZeRO-3 and otherwise silently repels the initial policy
(docs/research.md); here every mode loads the model it is given, and a bias model that is missing, that
is the policy's own folder, or that has the policy's exact weights is an error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch

from dybench.train._config import TrainConfigError


def load_model(path: str, *, trainable: bool):
    """A Qwen-VL model in fp32 (bf16 comes from autocast on GPU, so small updates are not rounded away)."""
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    if not trainable:
        model.eval().requires_grad_(False)
    return model


def check_bias_model(bias_model: str | None, policy: str) -> Path:
    """The bias model's folder, or ``TrainConfigError`` if it is missing or is the policy itself."""
    if not bias_model:
        raise TrainConfigError("cdpo needs bias_model=<folder written by `dybench train bias`>")
    path = Path(bias_model)
    if not (path / "config.json").is_file():
        raise TrainConfigError(
            f"bias_model={bias_model}: no checkpoint there (no config.json); train one with "
            "`dybench train bias --model <policy> --data <shortcut subset> --output-dir <dir>` "
            "and pass <dir>/model"
        )
    if Path(policy).exists() and path.resolve() == Path(policy).resolve():
        raise TrainConfigError(
            f"bias_model={bias_model} is the policy itself; CDPO must repel a separately trained bias model"
        )
    return path


def bias_training_frames(bias_model: Path) -> int | None:
    """The ``num_frames`` the bias model was trained with: its run folder's ``config.yaml`` (the model is that
    folder's ``model/``); None when it was not trained by ``dybench train``."""
    import yaml

    try:
        config = yaml.safe_load((Path(bias_model).parent / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    frames = config.get("num_frames") if isinstance(config, dict) else None
    return frames if isinstance(frames, int) and frames > 0 else None


def assert_not_same_weights(bias, policy) -> None:
    """Refuse a bias model whose weights equal the policy's (a copy of the policy under another name)."""
    policy_state = policy.state_dict()
    for name, tensor in bias.state_dict().items():
        other = policy_state.get(name)
        if other is None or other.shape != tensor.shape or not torch.equal(other, tensor):
            return
    raise TrainConfigError("the bias model has exactly the policy's weights; CDPO would repel the policy from itself")


def prepare_frozen(model, accelerator, ds_config: dict | None = None, *, fsdp: bool = False, bf16: bool = False):
    """Place a frozen model for the run's distributed mode (no optimiser, no gradients).

    Under DeepSpeed it gets its own inference engine with the run's precision: sharded like the policy
    under ZeRO-3 (each process holds a slice, gathered layer by layer in the forward pass), whole on
    every process under ZeRO-0/1/2 (they shard only optimiser state and gradients, which it has none of).
    Under ``fsdp`` it is sharded like the policy.
    """
    from accelerate.utils import DistributedType

    if fsdp:
        from dybench.train import _fsdp

        return _fsdp.shard(model, accelerator.device, bf16=bf16).eval()
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        import deepspeed

        assert ds_config is not None, "DeepSpeed runs pass their resolved config"
        stage = ds_config["zero_optimization"]["stage"]
        config = {
            "train_micro_batch_size_per_gpu": ds_config["train_micro_batch_size_per_gpu"],
            "gradient_accumulation_steps": ds_config["gradient_accumulation_steps"],
            "bf16": {"enabled": ds_config["bf16"]["enabled"]},
            "zero_optimization": {"stage": 3 if stage == 3 else 0},
        }
        if stage == 3:
            hidden = model.config.get_text_config().hidden_size
            config["zero_optimization"].update(
                stage3_param_persistence_threshold=10 * hidden, stage3_prefetch_bucket_size=int(0.9 * hidden * hidden)
            )
        engine, *_ = deepspeed.initialize(model=model, config=config)
        engine.eval()  # DeepSpeedEngine.eval() returns None, not the engine
        return engine
    return model.to(accelerator.device).eval()


@contextlib.contextmanager
def generation_model(policy, accelerator) -> Iterator:
    """The policy as ``generate`` needs it: unwrapped, with its parameters whole on this process."""
    from accelerate.utils import DistributedType

    from dybench.train import _fsdp

    unwrapped = accelerator.unwrap_model(policy)
    if accelerator.distributed_type == DistributedType.DEEPSPEED and accelerator.state.deepspeed_plugin.zero_stage == 3:
        # Gather every shard once and lift ZeRO-3's per-module hooks for the whole of generate: with the
        # hooks on, each decoding step would re-gather (and processes that stop at different lengths
        # would wait on each other's collectives).
        from deepspeed.runtime.zero.stage3 import unwrap_model_for_generation

        with unwrap_model_for_generation(policy):
            yield unwrapped
    elif _fsdp.is_sharded(policy):
        with _fsdp.gathered(policy):  # the same reason as ZeRO-3's
            yield policy
    else:
        yield unwrapped
