"""The DeepSpeed config a run uses: the JSON file named by ``deepspeed=``, completed from the train config.

The trainer owns the batch arithmetic, the optimiser (torch AdamW) and the learning-rate schedule, so
the file may only say "auto" for what follows from them, or repeat the same value:

- ``train_micro_batch_size_per_gpu`` = ``micro_batch_size`` (rows per forward/backward pass);
- ``gradient_accumulation_steps`` = passes per optimiser step (``TrainConfig.micro_batches``);
- ``gradient_clipping`` = ``max_grad_norm`` (under DeepSpeed the engine clips, not accelerate);
- ``bf16.enabled`` = whether the run uses bf16 (``dtype``);
- ``zero_optimization.stage3_gather_16bit_weights_on_model_save`` = true under ZeRO-3, so the final
  ``save_pretrained`` gets whole weights.

``train_batch_size`` depends on the process count and is left to DeepSpeed. ``optimizer`` and
``scheduler`` sections, fp16 and a value that disagrees with the train config are refused. Pure Python
(no torch), so ``dybench train`` checks the file before it imports the training stack.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dybench.train.config import TrainConfig

#: Filled by accelerate from the model's hidden size when left "auto".
_HIDDEN_SIZE_KEYS = ("reduce_bucket_size", "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold")


def resolve_deepspeed_config(cfg: TrainConfig, *, bf16: bool) -> dict:
    """The file ``cfg.deepspeed`` as a dict with every trainer-owned value filled and checked.

    Raises ``TrainConfigError`` naming the file, the key and the fix.
    """
    from dybench.train.config import TrainConfigError

    path = Path(str(cfg.deepspeed))
    where = f"deepspeed={cfg.deepspeed}"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TrainConfigError(f"{where}: cannot read it ({e.strerror}); see recipes/deepspeed_zero3.json") from e
    except json.JSONDecodeError as e:
        raise TrainConfigError(f"{where}: not valid JSON ({e})") from e
    if not isinstance(raw, dict):
        raise TrainConfigError(f"{where}: a DeepSpeed config is a JSON object")
    ds = copy.deepcopy(raw)
    problems = []

    def fill(section: dict, key: str, value: object, name: str, setting: str) -> None:
        given = section.get(key, "auto")
        if given == "auto":
            section[key] = value
        elif given != value:
            problems.append(f'{name} is {given!r} but the train config gives {value!r} ({setting}); use "auto"')

    fill(ds, "train_micro_batch_size_per_gpu", cfg.micro_batch_size, "train_micro_batch_size_per_gpu",
         "micro_batch_size")  # fmt: skip
    fill(ds, "gradient_accumulation_steps", cfg.micro_batches, "gradient_accumulation_steps",
         "ceil(prompts_per_step x branches x num_generations / micro_batch_size)")  # fmt: skip
    fill(ds, "gradient_clipping", float(cfg.max_grad_norm), "gradient_clipping", "max_grad_norm")
    if ds.get("train_batch_size", "auto") != "auto":
        problems.append("train_batch_size: leave it out (it follows from the micro-batch, accumulation and processes)")
    ds.pop("train_batch_size", None)
    for section in ("optimizer", "scheduler"):
        if section in ds:
            problems.append(f"remove the {section!r} section: the trainer builds torch AdamW and its own schedule")
    if str(ds.get("fp16", {}).get("enabled", False)).lower() == "true":
        problems.append("fp16 is not supported (no loss scaling in the trainer); use dtype=bfloat16")
    ds.setdefault("bf16", {})
    fill(ds["bf16"], "enabled", bf16, "bf16.enabled", "dtype")
    zero = ds.get("zero_optimization")
    if not isinstance(zero, dict) or zero.get("stage") not in (0, 1, 2, 3):
        problems.append("zero_optimization.stage must be 0, 1, 2 or 3")
    else:
        if zero["stage"] == 3:
            fill(zero, "stage3_gather_16bit_weights_on_model_save", True,
                 "zero_optimization.stage3_gather_16bit_weights_on_model_save", "needed to save the model")  # fmt: skip
        ds.setdefault("zero_force_ds_cpu_optimizer", False)  # torch AdamW, also with an offloaded optimizer
        left = [k for k, v in zero.items() if v == "auto" and k not in _HIDDEN_SIZE_KEYS]
        left += [k for k, v in ds.items() if v == "auto"]
        if left:
            problems.append(f"'auto' is not resolved for {left}; give values")
    if problems:
        raise TrainConfigError(f"{where}:\n  " + "\n  ".join(problems))
    return ds
