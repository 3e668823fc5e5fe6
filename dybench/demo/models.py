"""The tiny models that ship with dybench, for ``dybench demo``: a reproduction's start, GRPO, CRPO, T-GRPO and
ArrowRL models.

They are copies of what ``dybench reproduce crpo --extra-runs all`` (tiny preset) trained on seed 0: the start
model (``runs/start/model``), the GRPO baseline, CRPO and the other two baselines of CRPO's table
(``runs/{grpo,crpo,tgrpo,arrowrl}-s0/model``), each with its
config, tokenizer and processor files. The weights are stored in bfloat16, the dtype lmms-eval's
``qwen2_5_vl`` runs them in, so the shipped models answer as the reproduction's own evaluation saw them
(~2 MB each). Each folder's ``provenance.json`` records the ``dybench reproduce`` command, the stage that
made the model and its exact command, dybench's version and git revision, the seed, the data settings,
the training metrics summary, and the sha256 of every file beside it (``check_shipped`` verifies them).

Regenerate them from a finished reproduction (only its stages that made these models need be done)::

    dybench reproduce crpo --extra-runs all --output-dir OUT
    python -m dybench.demo.models --from OUT
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dybench import __version__
from dybench.errors import UserError
from dybench.fileio import read_jsonl, sha256_file, write_json_atomic
from dybench.shipped import shipped_data
from dybench.weights_copy import WEIGHTS, copy_checkpoint

#: Where the shipped models live (package data: the wheel carries everything under ``dybench/``).
MODELS_DIR = shipped_data("demo_models")
PROVENANCE = "provenance.json"
#: The reproduction's training seed the shipped models come from.
SEED = 0
#: Files of a model folder that are not copied: the tiny model's build settings (kept in ``provenance.json``).
_NOT_SHIPPED = ("dybench_tiny_model.json",)


class DemoModelsError(UserError, RuntimeError):
    """Shipped demo models that are missing or do not match their provenance, or a reproduction that has
    not made them yet."""


@dataclass(frozen=True)
class DemoModel:
    """One shipped model and where it comes from in a reproduction's output folder."""

    name: str
    """Its folder under ``MODELS_DIR`` (and so lmms-eval's model name ``qwen2_5_vl__<name>``)."""
    label: str
    """How the demo's table names it."""
    source: str
    """Its folder inside the reproduction's output folder (``dybench.reproduce.Layout``)."""
    stage: str
    """The reproduction stage that made it."""

    def path(self, folder: Path = MODELS_DIR) -> Path:
        return Path(folder) / self.name


DEMO_MODELS: tuple[DemoModel, ...] = (
    DemoModel("tiny-start", "start model (sft)", "runs/start/model", "train-start"),
    DemoModel(f"tiny-grpo-s{SEED}", f"GRPO (seed {SEED})", f"runs/grpo-s{SEED}/model", f"train-grpo-s{SEED}"),
    DemoModel(f"tiny-crpo-s{SEED}", f"CRPO (seed {SEED})", f"runs/crpo-s{SEED}/model", f"train-crpo-s{SEED}"),
    # the other baselines of CRPO's table (`dybench reproduce crpo --extra-runs tgrpo,arrowrl`)
    DemoModel(f"tiny-tgrpo-s{SEED}", f"T-GRPO (seed {SEED})", f"runs/tgrpo-s{SEED}/model", f"train-tgrpo-s{SEED}"),
    DemoModel(
        f"tiny-arrowrl-s{SEED}", f"ArrowRL (seed {SEED})", f"runs/arrowrl-s{SEED}/model", f"train-arrowrl-s{SEED}"
    ),
)


def shipped(folder: Path = MODELS_DIR) -> list[DemoModel]:
    """The demo models present in ``folder`` (a folder with its provenance file), in ``DEMO_MODELS`` order."""
    return [m for m in DEMO_MODELS if (m.path(folder) / PROVENANCE).is_file()]


def check_shipped(folder: Path = MODELS_DIR) -> list[str]:
    """Problems with the shipped models: a model missing, a file missing, extra or not matching its sha256."""
    problems = []
    for model in DEMO_MODELS:
        where = model.path(folder)
        if not (where / PROVENANCE).is_file():
            problems.append(f"{where}: no {PROVENANCE} (the model is not shipped)")
            continue
        recorded = json.loads((where / PROVENANCE).read_text(encoding="utf-8"))["files"]
        present = {p.name for p in where.iterdir() if p.is_file() and p.name != PROVENANCE}
        for name in sorted(present - recorded.keys()):
            problems.append(f"{where / name}: not in {PROVENANCE}")
        for name, digest in recorded.items():
            if name not in present:
                problems.append(f"{where / name}: missing")
            elif sha256_file(where / name) != digest:
                problems.append(f"{where / name}: sha256 differs from {PROVENANCE}")
    return problems


def ship(
    reproduction: Path, folder: Path = MODELS_DIR, *, command: str | None = None, note: str | None = None
) -> list[Path]:
    """Copy the start, GRPO, CRPO, T-GRPO and ArrowRL models of a ``dybench reproduce crpo --extra-runs all``
    output folder into ``folder``
    (weights converted to bfloat16) with their ``provenance.json``; returns the model folders. The start is
    copied only from a reproduction that trained it (``--train-start``): otherwise RL started from the shipped
    one, which stays as it is.

    Every model's stage must be done (its done-marker written): an unfinished run is refused, never
    shipped. ``command`` is the ``dybench reproduce`` command line when it differs from the one rebuilt
    from ``plan.json`` (training settings given on the command line are only in the stages' commands);
    ``note``: anything else a reader should know about the run (e.g. how it was resumed).
    """
    from dybench.reproduce import marker_path

    reproduction = Path(reproduction)
    plan = _read_json(reproduction / "plan.json", "a `dybench reproduce` output folder has one")
    if plan.get("target") != "crpo" or SEED not in plan.get("seeds", []):
        raise DemoModelsError(
            f"{reproduction}: a reproduction of {plan.get('target')!r} with seeds {plan.get('seeds')}; the demo "
            f"ships a `dybench reproduce crpo` run's seed-{SEED} models"
        )
    stages = {s["name"]: s for s in plan["stages"]}
    # a reproduction that started RL from the shipped start model (no train-start stage) leaves that one as it is
    models = [m for m in DEMO_MODELS if m.stage in stages or m.stage != DEMO_MODELS[0].stage]
    markers = {m.stage: marker_path(reproduction, m.stage, "done") for m in models}
    unfinished = [stage for stage, marker in markers.items() if not marker.is_file()]
    if unfinished:
        raise DemoModelsError(
            f"{reproduction}: stage(s) {', '.join(unfinished)} not done yet; let the reproduction finish them "
            "(`dybench reproduce crpo --extra-runs all` in that folder trains T-GRPO and ArrowRL too)"
        )
    shared = {
        "reproduce_command": command or _reproduce_command(plan),
        "note": note,
        "preset": plan["preset"],
        "seed": SEED,
        "dybench_version": __version__,
        "git": _git_state(),
        "data": {split: _stage_settings(reproduction, f"synth-{split}") for split in ("train", "test")}
        | {"pairs": _stage_settings(reproduction, "build-train")},
        "copied": datetime.now(UTC).isoformat(timespec="seconds"),
        "weights": "bfloat16 (trained in float32; lmms-eval's qwen2_5_vl evaluates in bfloat16)",
    }
    out = []
    for model in models:
        marker = json.loads(markers[model.stage].read_text(encoding="utf-8"))
        provenance = {
            "name": model.name,
            "label": model.label,
            "source": model.source,
            "stage": {
                "name": model.stage,
                "command": stages[model.stage]["command"],
                "finished": marker.get("finished"),
                "wall_s": marker.get("wall_s"),
            },
            **shared,
            "training": _training(reproduction, model),
        }
        out.append(_copy_model(reproduction / model.source, model.path(folder), provenance))
    return out


def _copy_model(src: Path, dest: Path, provenance: dict[str, Any]) -> Path:
    """``src`` into ``dest``: bfloat16 weights, the other files as they are, then ``provenance.json``."""
    if not (src / WEIGHTS).is_file():
        raise DemoModelsError(f"{src}: no {WEIGHTS}; is this a model folder?")
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    copy_checkpoint(src, tmp, dtype="bfloat16", skip=(PROVENANCE, *_NOT_SHIPPED))
    for path in tmp.iterdir():
        path.chmod(0o644)  # package data: readable by everyone once installed
    provenance["files"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir())}
    write_json_atomic(tmp / PROVENANCE, provenance)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def _training(reproduction: Path, model: DemoModel) -> dict[str, Any]:
    """What made the model: the trainer's metrics summary, settings and run summary (the start model also the
    tiny random model it was trained from)."""
    import yaml

    from dybench.reproduce import training_summary

    run = reproduction / Path(model.source).parent
    metrics = run / "metrics.jsonl"
    config = run / "config.yaml"
    summary = run / "summary.json"
    record = {
        "metrics_summary": training_summary(metrics),
        "last_step": read_jsonl(metrics)[-1] if metrics.is_file() else None,
        "config": yaml.safe_load(config.read_text(encoding="utf-8")) if config.is_file() else None,
        "summary": json.loads(summary.read_text(encoding="utf-8")) if summary.is_file() else None,
    }
    if record["summary"]:
        record["summary"].pop("config", None)  # the same settings as "config"
    tiny = reproduction / "models" / "init" / "dybench_tiny_model.json"
    if model.name == "tiny-start" and tiny.is_file():
        record["init"] = json.loads(tiny.read_text())
    return record


def _reproduce_command(plan: dict[str, Any]) -> str:
    """The ``dybench reproduce`` command line that makes this plan (the preset's default seeds assumed
    unless the plan's differ)."""
    from dybench.reproduce import get_preset

    parts = ["dybench", "reproduce", plan["target"]]
    if plan["preset"] != "tiny":
        parts += ["--preset", plan["preset"]]
    parts += ["--output-dir", plan["output_dir"]]
    if tuple(plan["seeds"]) != get_preset(plan["preset"], plan["target"]).seeds:
        parts += ["--seeds", ",".join(map(str, plan["seeds"]))]
    if Path(plan["results_dir"]) != Path(plan["output_dir"]) / "leaderboard":
        parts += ["--results-dir", plan["results_dir"]]
    return " ".join(parts)


def _stage_settings(reproduction: Path, stage: str) -> dict[str, Any] | None:
    from dybench.reproduce import marker_path

    marker = marker_path(reproduction, stage, "done")
    return json.loads(marker.read_text(encoding="utf-8")).get("settings") if marker.is_file() else None


def _git_state() -> dict[str, Any] | None:
    """The git revision of the checkout dybench runs from, and the tracked files changed in it when the
    models are copied (None outside a git checkout, e.g. an installed wheel). ``dybench reproduce`` records
    no revision itself: run it and the copy from the same checkout, without edits in between."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout

    try:
        changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
        return {"revision": git("rev-parse", "HEAD").strip(), "changed_files_when_copied": changed}
    except (OSError, subprocess.CalledProcessError):
        return None


def _read_json(path: Path, why: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DemoModelsError(f"{path} is missing ({why})") from None


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m dybench.demo.models --from OUT``: ship a reproduction's models."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, required=True, help="A `dybench reproduce crpo` folder.")
    parser.add_argument("--to", type=Path, default=MODELS_DIR, help=f"Where the models go (default {MODELS_DIR}).")
    parser.add_argument("--command", default=None, help="The reproduce command line, if plan.json cannot tell it.")
    parser.add_argument("--note", default=None, help="Anything else about the run, for provenance.json.")
    args = parser.parse_args(argv)
    for path in ship(args.source, args.to, command=args.command, note=args.note):
        size = sum(p.stat().st_size for p in path.iterdir())
        print(f"{path} ({size / 1e6:.1f} MB)")
    problems = check_shipped(args.to)
    if problems:
        raise SystemExit("\n".join(problems))


if __name__ == "__main__":
    main()
