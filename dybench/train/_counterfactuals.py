"""CRPO pairs from label-free video QA: route each question, render its counterfactual, cache the render.

A Video-R1-style json has no counterfactual videos and no counterfactual answers. Each question is routed
(``router.py``) to hflip or reverse and to a relation (``keep`` for Static questions, ``change`` for the
rest), and its video is rendered with ``dybench build``'s own renderer
(``dybench.pairs.render_counterfactuals``) into ``<output_dir>/counterfactuals/``. A render's
name is a hash of the source video's bytes, the transform and the encoder, so a rerun (or a resumed run)
reuses it and a changed video gets a new one. The counterfactual prompt's gold answer is the original's
for ``keep`` and unknown (None) for ``change``: CRPO's published rewards need no more (``rewards.py``).

Under several processes each one routes and renders; renders appear atomically, so they agree. Route and
render once in one process first (``max_steps=1``) to save the others the work. ``load_training_examples``
is what a run trains on: pairs as they are, a Video-R1 json as is (GRPO) or routed and rendered (CRPO).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import cast

from dybench import __version__
from dybench.fileio import sha256_file, write_json_atomic
from dybench.records import Relation, Transform
from dybench.train._config import TrainConfig
from dybench.train._data import Example, Prompt, load_examples
from dybench.train._router import route_questions

log = logging.getLogger(__name__)

CACHE = "counterfactuals"
ROUTES = "routes.jsonl"
ROUTING_REPORT = "routing.json"


def routed_examples(prompts: list[Prompt], cfg: TrainConfig) -> list[Example]:
    """(original, counterfactual) examples for ``prompts``; writes the routes file and ``routing.json``."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    routes, report = route_questions(
        [(p.question, p.options, p.category) for p in prompts],
        cfg.routes_file or out / ROUTES,
        router_model=cfg.router_model,
        static_transform=cast(Transform, cfg.static_transform),  # a choice TrainConfig.validate checked
    )
    wanted: dict[Path, set[Transform]] = defaultdict(set)
    for prompt, route in zip(prompts, routes, strict=True):
        if route.transform is not None:
            wanted[prompt.video].add(route.transform)
    videos, failed = render_cached(wanted, out / CACHE)
    examples = []
    for prompt, route in zip(prompts, routes, strict=True):
        if route.transform is None or (prompt.video, route.transform) in failed:
            continue
        relation: Relation = "change" if route.dynamic else "keep"
        counterfactual = dataclasses.replace(
            prompt,
            prompt_id=f"{prompt.prompt_id}:{route.transform}",
            video=videos[prompt.video, route.transform],
            answer=prompt.answer if relation == "keep" else None,
            branch="counterfactual",
        )
        examples.append(Example((prompt, counterfactual), relation, route.transform))
    summary = {
        **dataclasses.asdict(report),
        "not_rendered": {f"{video}:{t}": why for (video, t), why in failed.items()},
        "examples": len(examples),
    }
    write_json_atomic(out / ROUTING_REPORT, summary)
    log.warning("%s; %d could not be routed, %d not rendered; %d CRPO pairs (details: %s)", report.describe(),
                report.by_transform.get("not routed", 0), len(failed), len(examples), out / ROUTING_REPORT)  # fmt: skip
    return examples


def render_cached(
    wanted: dict[Path, set[Transform]], cache: Path
) -> tuple[dict[tuple[Path, Transform], Path], dict[tuple[Path, Transform], str]]:
    """Render each video's wanted transforms into ``cache`` unless already there.

    Returns (video, transform) -> render, and (video, transform) -> why it could not be rendered (a video
    that shows one picture has no reverse).
    """
    from dybench.pairs import NotReversible, render_counterfactuals
    from dybench.video import DEFAULT_ENCODER

    cache.mkdir(parents=True, exist_ok=True)
    encoder = hashlib.sha256(json.dumps(dataclasses.asdict(DEFAULT_ENCODER), sort_keys=True).encode()).hexdigest()
    done: dict[tuple[Path, Transform], Path] = {}
    failed: dict[tuple[Path, Transform], str] = {}
    for video, transforms in sorted(wanted.items()):
        digest = hashlib.sha256(f"{sha256_file(video)}:{encoder}:{__version__}".encode()).hexdigest()[:24]
        paths = {t: cache / f"{digest}.{t}.mp4" for t in sorted(transforms)}
        todo = {t: p for t, p in paths.items() if not p.is_file()}
        try:
            render_counterfactuals(video, todo, DEFAULT_ENCODER, within=cache)
        except NotReversible as e:
            failed[video, "reverse"] = str(e)
            rest = {t: p for t, p in todo.items() if t != "reverse"}
            render_counterfactuals(video, rest, DEFAULT_ENCODER, within=cache)
        done.update({(video, t): p for t, p in paths.items() if (video, t) not in failed})
    return done, failed


def load_training_examples(cfg: TrainConfig) -> list[Example]:
    """What ``cfg``'s run trains on: ``load_examples``, except that CRPO on a Video-R1 json routes every
    question to a transform and renders its counterfactual (``routed_examples``), and
    that the null option is appended when the config asks for it (``TrainConfig.uses_null_option``)."""
    paired = cfg.method == "crpo"
    if paired and Path(cfg.data).is_file():
        singles = load_examples(cfg.data, paired=False, video_root=cfg.video_root, categories=cfg.categories)
        examples = routed_examples([ex.prompts[0] for ex in singles], cfg)
    else:
        examples = load_examples(cfg.data, paired=paired, video_root=cfg.video_root, categories=cfg.categories)
    return [ex.with_null_option() for ex in examples] if cfg.uses_null_option else examples
