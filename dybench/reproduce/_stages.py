"""Resumable stages: each a small function with declared outputs and a done-marker written last.

A stage's *key* is a hash of its settings, of the keys of the stages it reads from, of the dybench
version, and of a fingerprint of each input no stage produced (a pairs dataset's manifest, a file's
contents, a model folder's files), so changing a setting, the data or dybench reruns that stage and
everything downstream of it, and nothing else. Two markers per stage
live in ``<output>/.stages/``:

- ``<name>.started.json``: written before the stage runs. A rerun whose key matches it *continues* the
  stage (the trainer resumes from its last checkpoint, synth and build reuse what they finished); a
  different key means the outputs are stale, so they are removed first.
- ``<name>.done.json``: written atomically after the stage's outputs passed its check. A rerun whose
  key matches it, with outputs that still pass the check, skips the stage.

A run killed at any point therefore resumes at the stage it was in.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from dybench.errors import UserError
from dybench.fileio import write_json_atomic

MARKERS = ".stages"

StageKind = Literal["synth", "build", "data", "model", "warmup", "train", "eval", "publish", "report"]


class StageError(UserError, RuntimeError):
    """A stage failed or left outputs that do not pass its check."""


@dataclass(frozen=True)
class Stage:
    """One step of a reproduction."""

    name: str
    """Unique within the plan, also the marker's file name (``train-crpo-s0``)."""
    kind: StageKind
    description: str
    run: Callable[[], object]
    """Produces the outputs (what it returns is ignored); may resume from partial outputs of an interrupted run
    with the same key."""
    outputs: tuple[Path, ...]
    """Files or folders the stage writes (removed when its key changed)."""
    command: str
    """The equivalent shell command, for ``--dry-run`` and the report."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """What the outputs depend on (JSON-able), hashed into the key."""
    deps: tuple[str, ...] = ()
    """Names of the stages whose outputs this one reads."""
    check: Callable[[], str | None] = lambda: None
    """None when the outputs are complete and valid, else what is wrong with them."""
    estimate: str = ""
    """Expected compute, as text (e.g. '0.5 GPU-h' or '~1 min on 2 CPU cores')."""
    always: bool = False
    """Run even when done (cheap stages that read many others, e.g. the report)."""
    inputs: tuple[Path, ...] = ()
    """Files or folders the stage reads that no stage produces (the user's data or model): their
    fingerprints are part of the key, so replacing or rebuilding them reruns the stage."""


@dataclass(frozen=True)
class StageRecord:
    """What ``run_stages`` did with one stage."""

    name: str
    kind: StageKind
    status: Literal["done", "skipped"]
    wall_s: float
    """Wall time of the stage when it ran (this call, or the call that completed it when skipped)."""
    key: str


def stage_keys(stages: Sequence[Stage]) -> dict[str, str]:
    """Each stage's key: sha256 of its settings, its dependencies' keys, the dybench version and its
    inputs' fingerprints (stages in dependency order)."""
    from dybench import __version__

    keys: dict[str, str] = {}
    for stage in stages:
        missing = [d for d in stage.deps if d not in keys]
        if missing:
            raise ValueError(f"stage {stage.name} depends on {missing}, which come later or do not exist")
        blob = json.dumps(
            {
                "settings": stage.settings,
                "deps": {d: keys[d] for d in stage.deps},
                "dybench": __version__,
                "inputs": {str(p): fingerprint(p) for p in stage.inputs},
            },
            sort_keys=True,
            default=str,
        )
        keys[stage.name] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return keys


#: Files larger than this are fingerprinted by size and modification time instead of their contents.
_HASHED_FILE_LIMIT = 64 << 20


def fingerprint(path: Path) -> str:
    """What identifies the state of an input: a pairs dataset's own fingerprint
    (:meth:`dybench.pairs.PairsDataset.fingerprint`), a small file's contents, else names, sizes and
    modification times (model weights are too large to hash on every run); "missing" when there is nothing
    at ``path``."""
    from dybench.fileio import sha256_file
    from dybench.pairs import PairsDataset

    path = Path(path)
    if path.is_file():
        stat = path.stat()
        return sha256_file(path) if stat.st_size <= _HASHED_FILE_LIMIT else f"{stat.st_size}:{stat.st_mtime_ns}"
    if PairsDataset(path).exists():
        return PairsDataset(path).fingerprint()
    if path.is_dir():
        listing = sorted(
            (str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns) for f in path.rglob("*") if f.is_file()
        )
        return hashlib.sha256(json.dumps(listing).encode()).hexdigest()
    return "missing"


def marker_path(output_dir: Path, name: str, which: Literal["started", "done"]) -> Path:
    return Path(output_dir) / MARKERS / f"{name}.{which}.json"


def read_marker(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_done(output_dir: Path, stage: Stage, key: str) -> bool:
    """True when the stage's done-marker matches ``key`` and its outputs pass the check."""
    done = read_marker(marker_path(output_dir, stage.name, "done")) or {}
    return done.get("key") == key and stage.check() is None


def run_stages(
    stages: Sequence[Stage],
    output_dir: Path,
    *,
    log: Callable[[str], None] = print,
) -> list[StageRecord]:
    """Run ``stages`` in order, skipping the done ones and resuming the interrupted one."""
    output_dir = Path(output_dir)
    keys = stage_keys(stages)
    records = []
    for i, stage in enumerate(stages, 1):
        key = keys[stage.name]
        head = f"[{i}/{len(stages)}] {stage.name}"
        done_path = marker_path(output_dir, stage.name, "done")
        if not stage.always and is_done(output_dir, stage, key):
            wall = float((read_marker(done_path) or {}).get("wall_s", 0.0))
            log(f"{head}: done already, skipped")
            records.append(StageRecord(stage.name, stage.kind, "skipped", wall, key))
            continue
        started_path = marker_path(output_dir, stage.name, "started")
        started = read_marker(started_path)
        previous = read_marker(done_path) or started
        if previous is not None and previous.get("key") != key:
            log(f"{head}: settings changed since the last run; removing its old outputs")
            _remove(stage.outputs)
        done_path.unlink(missing_ok=True)
        resuming = not stage.always and started is not None and started.get("key") == key
        log(f"{head}: {'resuming' if resuming else 'running'} - {stage.description}")
        write_json_atomic(started_path, {"key": key, "started": _now()})
        t0 = time.perf_counter()
        try:
            stage.run()
        except Exception as e:
            raise StageError(f"stage {stage.name} failed: {type(e).__name__}: {e}") from e
        wall = time.perf_counter() - t0
        problem = stage.check()
        if problem is not None:
            raise StageError(f"stage {stage.name} finished but its outputs are not valid: {problem}")
        write_json_atomic(
            done_path,
            {
                "key": key,
                "stage": stage.name,
                "kind": stage.kind,
                "settings": stage.settings,
                "outputs": [str(p) for p in stage.outputs],
                "finished": _now(),
                "wall_s": round(wall, 3),
                "load_average": round(os.getloadavg()[1], 2),  # 5-minute load: was the CPU shared?
                "machine": machine(),
            },
        )
        records.append(StageRecord(stage.name, stage.kind, "done", wall, key))
    return records


def machine() -> str:
    """The machine a stage ran on, in words: ``AMD EPYC (torch 2.14.0+cu130, CPU kernels AVX2, 2 threads)``.

    Training on CPU is deterministic on one machine, not across machines: another CPU's kernels (AVX2 against
    AVX-512) round differently, the difference grows over the steps of a run, and a tiny model's run can end
    elsewhere (docs/reproduce.md, round 8). The report names the machines its stages ran on."""
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    parts = [f"torch {torch.__version__}", f"CPU kernels {torch.backends.cpu.get_cpu_capability()}",
             f"{torch.get_num_threads()} threads"]  # fmt: skip
    if torch.cuda.is_available():
        parts.insert(1, f"GPU {torch.cuda.get_device_name(0)}")
    return f"{cpu} ({', '.join(parts)})"


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- output checks shared by the plans ----------------------------------------------------------------


def missing_files(*paths: Path) -> str | None:
    """None when every path exists, else the first missing one."""
    for path in paths:
        if not path.exists():
            return f"{path} is missing"
    return None


def model_folder_problem(folder: Path) -> str | None:
    """None when ``folder`` holds a loadable ``save_pretrained`` checkpoint with its processor."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        return f"{folder}: no config.json"
    if not (list(folder.glob("*.safetensors")) or (folder / "model.safetensors.index.json").is_file()):
        return f"{folder}: no *.safetensors weights"
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer_config.json").is_file():
        return f"{folder}: no tokenizer files"
    return None
