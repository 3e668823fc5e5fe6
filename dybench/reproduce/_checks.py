"""Input checks for ``dybench reproduce`` (and its ``--dry-run``): every problem, named, with its fix."""

from __future__ import annotations

import json
from pathlib import Path

from dybench.errors import UserError
from dybench.reproduce._data_stages import pairs_problem
from dybench.video_r1 import read_video_r1, video_r1_problem

#: Processor files a Qwen-VL checkpoint folder carries (one of them is enough).
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


class ReproduceInputError(UserError, ValueError):
    """The inputs of a reproduction cannot work; the message lists every problem and its fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("cannot reproduce with these inputs:\n  - " + "\n  - ".join(problems))


def model_problems(folder: str | Path, *, arch: str, hub_id: str) -> list[str]:
    """What a local checkpoint folder lacks to be trained and evaluated (empty when it is complete)."""
    folder = Path(folder)
    fetch = (
        f"download the whole snapshot on a machine with network, e.g. "
        f"`huggingface-cli download {hub_id} --local-dir {folder}`"
    )
    if not folder.is_dir():
        return [f"--model {folder}: not a folder; {fetch}"]
    problems = []
    config = folder / "config.json"
    if not config.is_file():
        problems.append(f"--model {folder}: config.json is missing; {fetch}")
    else:
        try:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except ValueError as e:
            problems.append(f"--model {folder}: config.json is not valid JSON ({e}); {fetch}")
        else:
            if model_type != arch:
                problems.append(
                    f"--model {folder}: config.json says model_type={model_type!r}, this preset trains {arch!r} "
                    f"({hub_id}); pass a {arch} checkpoint"
                )
    problems += _weight_problems(folder, fetch)
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        problems.append(f"--model {folder}: no tokenizer ({' or '.join(TOKENIZER_FILES)}); {fetch}")
    if not any((folder / f).is_file() for f in PROCESSOR_FILES):
        problems.append(f"--model {folder}: no processor config ({' or '.join(PROCESSOR_FILES)}); {fetch}")
    return problems


def _weight_problems(folder: Path, fetch: str) -> list[str]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (ValueError, KeyError) as e:
            return [f"--model {folder}: {index.name} is unreadable ({e}); {fetch}"]
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            return [f"--model {folder}: {len(missing)} weight shard(s) named in {index.name} are missing "
                    f"({', '.join(missing[:3])}); {fetch}"]  # fmt: skip
        return []
    if not list(folder.glob("*.safetensors")):
        return [f"--model {folder}: no weights (*.safetensors or model.safetensors.index.json); {fetch}"]
    return []


def train_data_problems(
    path: str | Path, video_root: str | Path | None = None, min_questions: int | None = None
) -> list[str]:
    """A training pairs dataset folder or a Video-R1 json (CRPO routes and renders its counterfactuals): its
    format, every video it names, and at least ``min_questions`` scorable questions (the released run's count)."""
    path = Path(path)
    if not path.exists():
        return [
            f"--train-data {path}: does not exist; give a pairs dataset folder (`dybench build`) or a Video-R1 json"
        ]
    if path.is_dir():
        problem = pairs_problem(path)
        return [f"--train-data {problem}"] if problem else []
    problem = video_r1_problem(path, video_root)
    if problem is None and min_questions is not None:
        count = len(read_video_r1(path, video_root).questions)
        if count < min_questions:
            problem = (
                f"{path}: {count} multiple-choice or yes/no questions; the released run trained on {min_questions} "
                "(give the whole released file)"
            )
    return [f"--train-data {problem}"] if problem else []


def eval_data_problems(path: str | Path) -> list[str]:
    problem = pairs_problem(Path(path))
    return [f"--eval-data {problem}; the evaluation reads a pairs dataset (`dybench build`)"] if problem else []


def model_parameters_b(folder: str | Path) -> float | None:
    """The parameter count of a checkpoint folder in billions, from its config.json (the language model's
    layers and embeddings; the vision tower adds a few percent); None when it cannot be read."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    text = config.get("text_config", config)
    try:
        hidden, layers = int(text["hidden_size"]), int(text["num_hidden_layers"])
        inner, vocab = int(text.get("intermediate_size", 4 * hidden)), int(text.get("vocab_size", 0))
    except (KeyError, TypeError, ValueError):
        return None
    return (layers * (4 * hidden * hidden + 3 * hidden * inner) + 2 * vocab * hidden) / 1e9
