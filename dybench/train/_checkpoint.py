"""Checkpoints: a loadable model plus everything needed to resume exactly, written atomically.

Layout of ``<output_dir>``::

    config.yaml                   the resolved TrainConfig
    metrics.jsonl                 one row per optimiser step
    checkpoints/step-000050/
        model/                    save_pretrained weights + processor (evaluable as is)
        state/                    accelerate's save_state: optimiser, scheduler, RNG, data cursor
          fsdp/                   fsdp=true: each process's shard of the weights and optimiser state
        trainer_state.json        {"step": 50}
    model/                        the final model (save_pretrained + processor)

A checkpoint is built in a hidden temporary folder beside it and renamed into place when complete
(:func:`dybench.fileio.atomic_dir`), so any ``step-*`` folder is whole; a kill mid-save leaves only the
temporary folder, which the next save of that step removes.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path

from dybench.fileio import atomic_dir, atomic_path, write_json_atomic

CHECKPOINTS = "checkpoints"
FINAL_MODEL = "model"
METRICS = "metrics.jsonl"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    folder = Path(output_dir) / CHECKPOINTS
    if not folder.is_dir():
        return None
    steps = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return max(steps)[1] if steps else None


def save_model(accelerator, policy, processor, out: Path) -> None:
    """``save_pretrained`` the (unwrapped, gathered) policy and its processor into ``out``, atomically."""
    from dybench.train import _fsdp

    # gathers ZeRO-3 / FSDP shards onto the main process
    state_dict = _fsdp.full_state_dict(policy) if _fsdp.is_sharded(policy) else accelerator.get_state_dict(policy)
    if accelerator.is_main_process:
        with atomic_dir(out) as tmp:
            accelerator.unwrap_model(policy).save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
            processor.save_pretrained(tmp)
    accelerator.wait_for_everyone()


def save_checkpoint(accelerator, output_dir: str | Path, step: int, policy, optimizer, processor, *, keep: int) -> Path:
    """Write ``checkpoints/step-<step>`` (model, resumable state) and keep only the newest ``keep``."""
    from accelerate.utils import broadcast_object_list

    from dybench.train import _fsdp

    folder = Path(output_dir) / CHECKPOINTS
    final = folder / f"step-{step:06d}"
    main = accelerator.is_main_process
    with atomic_dir(final) if main else contextlib.nullcontext() as tmp:
        (tmp,) = broadcast_object_list([tmp])  # every process writes its own part of the state
        accelerator.save_state(str(tmp / "state"), safe_serialization=True)
        if _fsdp.is_sharded(policy):  # accelerate's save_state does not hold the shards (_fsdp.py)
            _fsdp.save_state(tmp / "state" / _fsdp.STATE, policy, optimizer)
        save_model(accelerator, policy, processor, tmp / "model")  # ends on a barrier: all parts written
        if main:
            write_json_atomic(tmp / "trainer_state.json", {"step": step})
    if main:
        done = sorted(p for p in folder.iterdir() if _STEP_DIR.match(p.name))
        for old in done[: max(len(done) - keep, 0)]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator, checkpoint: Path, policy, optimizer) -> int:
    """Restore model, optimiser, scheduler, RNG and data cursor; return the step it was taken at."""
    from dybench.train import _fsdp

    accelerator.load_state(str(checkpoint / "state"))
    if _fsdp.is_sharded(policy):
        _fsdp.load_state(checkpoint / "state" / _fsdp.STATE, policy, optimizer)
    return int(json.loads((checkpoint / "trainer_state.json").read_text())["step"])


def truncate_metrics(output_dir: str | Path, step: int) -> None:
    """Drop metric rows after ``step`` (written by a run that died after its last checkpoint)."""
    path = Path(output_dir) / METRICS
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the kill
            continue
        if row.get("step", 0) <= step:
            kept.append(line + "\n")
    with atomic_path(path) as tmp:
        tmp.write_text("".join(kept), encoding="utf-8")


def append_metrics(output_dir: str | Path, row: dict) -> None:
    with open(Path(output_dir) / METRICS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
