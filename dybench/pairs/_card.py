"""The pairs folder as a Hugging Face dataset repository: its card ``README.md`` and a file per category.

DyBench is shared as a Hub dataset (a config per category, both videos of every pair, a card). ``dybench
build`` makes every pairs folder one, after writing the dataset itself:

- ``data/<category>.parquet``: the category's rows of ``pairs.parquet``. A config can only name files,
  not filter rows, so each category needs its own. Parquet rather than JSON Lines: it carries the
  contract's column types, so every config has the same features (a JSON reader types ``options`` of a
  category of yes/no questions as a list of nulls).
- ``README.md``: YAML front matter in the Hub's card format (``configs``: ``all``, the default, naming
  ``pairs.parquet``, and one per category; ``license``, ``task_categories``, ``size_categories``) and a
  body generated from the items and ``manifest.json``: counts, how the counterfactuals were made, the
  sources and their licences, how to load and evaluate, what P-Acc is.

Everything above :data:`MARKER` is the user's. The first card gets a title and dybench's front matter;
afterwards a build changes in the front matter only what follows the data (``size_categories``, and the
``configs`` named ``all`` or after a category: the user's other configs stay) and ``license`` when one is
given, and regenerates everything below the marker. A README.md the user wrote before the first build
is kept whole above the marker. The card holds no timestamps and no local paths, so the same dataset
gives the same card, byte for byte.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from dybench.errors import UserError
from dybench.fileio import JSONInputError, atomic_paths, parse_json, remove_file
from dybench.pairs._annotations import _read_rows, _text
from dybench.pairs._dataset import (
    FORMAT,
    MANIFEST,
    PAIRS_JSONL,
    PAIRS_PARQUET,
    VIDEOS,
    group_pairs,
    items_table,
    load_items,
)
from dybench.pairs.importers import SOURCE_DATASETS
from dybench.records import CATEGORIES, TRANSFORMS, Item

CARD = "README.md"
#: The folder of the per-category files: ``data/<category>.parquet``.
CATEGORY_DATA = "data"
#: The line that parts the user's text (above) from the card dybench rewrites at every build (below).
MARKER = "<!-- dybench card: everything below this line is rewritten by `dybench build`; write above it -->"
_MARKER_START = "<!-- dybench card:"
#: The first card's title: not the folder's name, so that where a dataset is built does not change its card.
PRETTY_NAME = "Counterfactual video pairs (dybench)"
#: The split every config has: the pairs are a test set.
SPLIT = "test"
#: The config of every item (the default one).
ALL = "all"
#: A Hub licence identifier's spelling (https://huggingface.co/docs/hub/repositories-licenses).
_LICENSE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
#: Hub size categories: (upper bound on the rows, name).
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
_TRANSFORM_TEXT = {
    "hflip": "the original mirrored left to right",
    "reverse": "the original played backwards",
    "swap": "two segments of a source video in both orders: the original item's video is segment A then B, "
    "the counterfactual's B then A (both rendered)",
    "given": "a second video that came with the annotation, packaged as it is (not rendered)",
}


class CardError(UserError, ValueError):
    """A card that dybench cannot update without losing what the user wrote, or a bad licence."""


def check_license(license: str | None) -> None:
    """Raise :class:`CardError` unless ``license`` (when given) is spelled as a Hub licence identifier."""
    if license is not None and not _LICENSE.match(license):
        raise CardError(
            f"license {license!r}: give a Hugging Face licence identifier, such as cc-by-4.0, cc-by-nc-sa-4.0, "
            "mit or other (the list: https://huggingface.co/docs/hub/repositories-licenses)"
        )


def category_file(category: str) -> str:
    """The path, inside the pairs folder, of a category's rows (its config's data file)."""
    return f"{CATEGORY_DATA}/{category}.parquet"


def write_card(pairs_dir: str | Path, *, license: str | None = None) -> Path:
    """Write ``README.md`` and ``data/<category>.parquet`` into a built pairs folder; return the card's path.

    ``license``: a Hub licence identifier for the front matter (default: the card's, else ``unknown``).
    The files are written atomically and together; the category files of categories the dataset no
    longer has are deleted. Raises :class:`CardError` when the card's front matter cannot be read (the
    card is left as it is), and the readers' errors when the pairs folder cannot be read.
    """
    check_license(license)
    root = Path(pairs_dir)
    items = load_items(root)
    manifest = _read_manifest(root)
    front, text, fresh = _read_card(root)
    categories = [c for c in CATEGORIES if any(item.category == c for item in items)]
    front = _front_matter(front, fresh, len(items), categories, license, root / CARD)
    if fresh and not text.strip():
        text = f"# {front.get('pretty_name') or PRETTY_NAME}\n\n{_INVITATION}"
    card = _compose(front, text, _body(items, manifest, categories, front.get("license")))

    with atomic_paths(*(root / category_file(c) for c in categories), root / CARD, within=root) as temps:
        for category, tmp in zip(categories, temps, strict=False):
            # the category's rows of pairs.parquet, in its order (filtering by a Python value imports pandas)
            pq.write_table(items_table([item for item in items if item.category == category]), tmp)
        temps[-1].write_text(card, encoding="utf-8")
    for category in CATEGORIES:
        if category not in categories:
            remove_file(root / category_file(category), within=root)
    return root / CARD


_INVITATION = (
    "<!-- Say here what the dataset is for, how its videos and questions were chosen, who checked the pairs\n"
    "     and how to cite it. This part and the front matter above are yours: `dybench build` keeps them. -->\n"
)


# --- the user's part ------------------------------------------------------------------------------------


def _read_card(root: Path) -> tuple[dict, str, bool]:
    """The card's front matter, the user's text after it, and whether dybench has not written this card yet."""
    path = root / CARD
    if path.is_symlink():
        raise CardError(f"{path}: a symbolic link; dybench writes the card only as a file of the pairs folder")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, "", True
    except (OSError, UnicodeDecodeError) as e:
        raise CardError(f"{path}: cannot read it ({e}); fix or delete it and run the build again") from e
    at = next((m.start() for m in re.finditer(f"^{re.escape(_MARKER_START)}", text, re.M)), None)
    user = text if at is None else text[:at]
    match = _FRONT_MATTER.match(user)
    if match is None:
        return {}, user, at is None
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        where = f"{path}:{line + 2}" if line is not None else str(path)  # +1 for 1-based, +1 for the '---' line
        raise CardError(
            f"{where}: the card's front matter is not valid YAML ({getattr(e, 'problem', None) or e}); the card "
            "was left as it is: fix it and run the build again"
        ) from e
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise CardError(f"{path}: the card's front matter must be a YAML mapping (key: value lines); fix it")
    return front, user[match.end() :], at is None


def _front_matter(
    front: dict, fresh: bool, rows: int, categories: Sequence[str], license: str | None, card: Path
) -> dict:
    """The user's front matter with what follows the data brought up to date (and defaults in a fresh card)."""
    front = dict(front)
    if fresh:
        defaults = {
            "pretty_name": PRETTY_NAME,
            "license": "unknown",
            "task_categories": ["video-text-to-text", "visual-question-answering"],
            "tags": ["video", "counterfactual", "spatiotemporal", "paired-evaluation", "dybench"],
        }
        front = {**defaults, **front}
    if license is not None:
        front["license"] = license
    front["size_categories"] = [next((name for bound, name in _SIZES if rows < bound), "n>1M")]
    front["configs"] = _configs(front.get("configs"), categories, card)
    return front


def _configs(theirs: object, categories: Sequence[str], card: Path) -> list:
    """``all`` (every item, the default) and one config per category, then the user's own configs."""
    if theirs is None:
        theirs = []
    if not isinstance(theirs, list):
        raise CardError(f"{card}: the front matter's configs must be a list of configs; fix it")
    ours = {ALL, *CATEGORIES}
    theirs = [c for c in theirs if not (isinstance(c, dict) and c.get("config_name") in ours)]
    default = {} if any(isinstance(c, dict) and c.get("default") for c in theirs) else {"default": True}
    configs: list = [{"config_name": ALL, **default, "data_files": [{"split": SPLIT, "path": PAIRS_PARQUET}]}]
    configs += [{"config_name": c, "data_files": [{"split": SPLIT, "path": category_file(c)}]} for c in categories]
    return configs + theirs


def _compose(front: dict, user_text: str, body: str) -> str:
    matter = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    user_text = user_text.strip("\n")
    return f"---\n{matter}---\n\n" + (f"{user_text}\n\n" if user_text.strip() else "") + f"{MARKER}\n\n{body}"


# --- the generated part ---------------------------------------------------------------------------------


def _read_manifest(root: Path) -> dict:
    try:
        manifest = parse_json((root / MANIFEST).read_bytes())
    except (OSError, JSONInputError) as e:
        raise CardError(f"{root / MANIFEST}: cannot read it ({e}); run `dybench build` to make it") from e
    if not isinstance(manifest, dict):
        raise CardError(f"{root / MANIFEST}: not a manifest dybench wrote; run `dybench build` again")
    return manifest


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    cells = [[str(cell).replace("|", "\\|") for cell in row] for row in rows]  # a source's name is the user's text
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def _body(items: list[Item], manifest: dict, categories: Sequence[str], license: object) -> str:
    pairs = [next(iter(branches.values())) for branches in group_pairs(items).values()]
    transforms = [t for t in TRANSFORMS if any(p.transform == t for p in pairs)]
    parameters = manifest.get("parameters") or {}
    sections = [
        _contents(pairs, items, categories, transforms, manifest),
        _construction(transforms, parameters, manifest.get("counts") or {}),
        _sources(pairs, parameters, license),
        _files(),
        _loading(categories),
        _evaluation(),
    ]
    return "\n\n".join(sections) + "\n"


def _contents(
    pairs: list[Item], items: list[Item], categories: Sequence[str], transforms: Sequence[str], manifest: dict
) -> str:
    by_transform: Counter[tuple[str, str]] = Counter((p.category, p.transform) for p in pairs)
    by_relation: Counter[tuple[str, str]] = Counter((p.category, p.relation) for p in pairs)
    item_counts: Counter[str] = Counter(item.category for item in items)
    rows: list[list[Any]] = [
        [f"`{c}`", sum(by_transform[c, t] for t in transforms), item_counts[c]]
        + [by_transform[c, t] for t in transforms]
        + [by_relation[c, "change"], by_relation[c, "keep"]]
        for c in categories
    ]
    total = [sum(row[i] for row in rows) for i in range(1, len(transforms) + 5)]
    rows.append(["**all**", *total])
    header = ["category (config)", "pairs", "items", *(f"`{t}`" for t in transforms), "`change`", "`keep`"]
    return (
        "## Contents\n\n"
        f"{len(pairs)} counterfactual pairs ({len(items)} items: one video and one question each, two per pair), "
        f"made from {(manifest.get('counts') or {}).get('videos', '?')} source videos by dybench "
        f"{(manifest.get('tool') or {}).get('dybench', '?')} (format `{manifest.get('format', FORMAT)}`). "
        "A pair asks one question of an original video and of its counterfactual: a model that watches the "
        "video must change its answer when the change matters to the question (`change`) and keep it when it "
        "does not (`keep`).\n\n" + _table(header, rows)
    )


def _construction(transforms: Sequence[str], parameters: dict, counts: dict) -> str:
    lines = [f"- `{t}`: {_TRANSFORM_TEXT[t]}." for t in transforms]
    encoder = parameters.get("encoder") or {}
    if any(t != "given" for t in transforms) and encoder:
        quality = "lossless" if encoder.get("lossless") else f"CRF {encoder.get('crf')}"
        lines.append(
            f"- Renders: {encoder.get('codec')} ({quality}, {encoder.get('pix_fmt')}, preset {encoder.get('preset')}), "
            "with the source's frame rate, displayed size and frames (a swap's: both segments'), upright, no audio. "
            "Original videos are the sources as they were given."
        )
    lexicon = "dybench's lexicon" if parameters.get("lexicon", "builtin") == "builtin" else "a custom lexicon"
    lines.append(
        "- Answers: the counterfactual item's answer is the annotation's explicit `cf_answer`, else a rule of its "
        f"category, else the answer's words mapped by {lexicon} (left and right, clockwise and counterclockwise, "
        "first and last, ...), else the order of the annotation's events. A question none of these resolves was "
        "left out, never guessed."
    )
    rejected, errors = counts.get("rejected", 0), counts.get("errors", 0)
    if rejected:
        lines.append(f"- Review: {rejected} pair(s) were rejected by eye and left out (`manifest.json`: `rejected`).")
    if errors:
        lines.append(
            f"- {errors} question(s) or video(s) could not be used and were left out (`manifest.json`: `errors`)."
        )
    return "## How the counterfactuals were made\n\n" + "\n".join(lines)


def _sources(pairs: list[Item], parameters: dict, license: object) -> str:
    """Where the pairs come from, by the ``source.dataset`` of their annotations, with each one's terms."""
    terms = "does not lift the sources' terms, which bind the videos in `videos/` and the renders made from them."
    if license in (None, "unknown"):
        own = f"This dataset's own licence is not chosen yet (front matter `license`, or `--license ID`); it {terms}"
    else:
        own = f"This dataset's own licence (`{license}` in the front matter) is its publisher's choice; it {terms}"
    origins = _origins(parameters.get("annotations"))
    head = "## Sources and licences\n\n"
    if origins is None:
        return head + "The annotations file was not at hand, so the sources of the videos are not listed. " + own
    rows = []
    by_source = Counter(origins.get(p.source_id) for p in pairs)
    for dataset, n in sorted(by_source.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        known = SOURCE_DATASETS.get(dataset) if dataset is not None else None
        if known is not None:
            rows.append([known.name, n, known.licence, known.cite])
        elif dataset is not None:
            rows.append([f"`{dataset}`", n, "not known to dybench: state it above the marker", "-"])
        else:
            rows.append(["annotations without a `source`", n, "not recorded: state it above the marker", "-"])
    return (
        head
        + _table(["source", "pairs", "licence of its videos", "cite"], rows)
        + "\n\nThe source of a pair is its annotation's `source.dataset` (which `dybench import` writes). "
        + own
    )


def _origins(annotations: object) -> dict[str, str | None] | None:
    """Annotation id -> the ``source.dataset`` of its row (None when it has none); None when the file
    cannot be read. A CSV cell holds the source as JSON."""
    try:
        records = _read_rows(Path(str(annotations))) if annotations else None
    except ValueError:
        return None
    if records is None:
        return None
    origins: dict[str, str | None] = {}
    for _, record in records:
        if not isinstance(record, dict):
            continue
        try:
            ann_id = _text(record.get("id"), "id")
            source = record.get("source")
            source = parse_json(source) if isinstance(source, str) else source
        except (ValueError, JSONInputError):
            continue
        dataset = source.get("dataset") if isinstance(source, dict) else None
        origins[ann_id] = dataset if isinstance(dataset, str) else None
    return origins


def _files() -> str:
    rows = [
        ["`item_id`", "`<source_id>:<transform>:<branch>`, unique"],
        ["`pair_id`", "`<source_id>:<transform>`, shared by the two items of a pair"],
        ["`branch`", "`original` or `counterfactual`"],
        ["`transform`", "`hflip`, `reverse`, `swap` or `given` (the same on both items of a pair)"],
        ["`relation`", "`change`: the two answers differ; `keep`: they are the same"],
        ["`category`", "`moving_direction`, `reversible_dynamics`, `event_sequence`, `spatial` or `static`"],
        ["`video`", "the item's video: a path inside this folder"],
        ["`question`, `options`", "the question without its options, and the option texts (none for yes/no)"],
        ["`answer`", "the gold option letter (`A`, `B`, ...) or `yes`/`no`, for this item's video"],
        ["`source_id`", "the annotation the pair was made from"],
    ]
    return (
        "## Files\n\n"
        f"- `{PAIRS_PARQUET}` (config `{ALL}`) and `{PAIRS_JSONL}`: every item, the two items of a pair "
        "adjacent; `data/<category>.parquet`: one category's items (its config).\n"
        f"- `{VIDEOS}/`: `original/` (the sources), `hflip/`, `reverse/`, `swap/<id>/`, `given/`.\n"
        f"- `{MANIFEST}`: the dybench and PyAV versions, build parameters, counts and the sha256 of every file; "
        "dybench's readers refuse a video that no longer matches it.\n\n" + _table(["column", "meaning"], rows)
    )


def _loading(categories: Sequence[str]) -> str:
    example = categories[0] if categories else "moving_direction"
    return (
        "## Load\n\n"
        "```python\n"
        "import os\n"
        "from datasets import load_dataset\n\n"
        f'items = load_dataset("<user>/<dataset>", split="{SPLIT}")  # every category: config "{ALL}"\n'
        f'{example} = load_dataset("<user>/<dataset>", "{example}", split="{SPLIT}")\n'
        "```\n\n"
        "`video` is a path inside the repository; fetch the files with "
        "`hf download <user>/<dataset> --repo-type dataset --local-dir pairs` and open "
        '`os.path.join("pairs", item["video"])`. `load_dataset("pairs")` reads the local copy the same way.'
    )


def _evaluation() -> str:
    return (
        "## Evaluate\n\n"
        "With dybench and lmms-eval, on a local copy (`hf download` above):\n\n"
        "```bash\n"
        "export DYBENCH_PAIRS=$PWD/pairs\n"
        "lmms-eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\\n"
        '    --tasks dybench_pair --include_path "$(dybench tasks-path)" --output_path results/ --log_samples\n'
        "# or: dybench eval --model qwen2_5_vl --model-args pretrained=... --tasks dybench_pair --data pairs/\n"
        "```\n\n"
        "`dybench_pair` is the group of `dybench_pair_<category>`; `dybench_pair_r1` asks for "
        "`<think>...</think><answer>...</answer>`. `dybench score --task dybench_pair --predictions preds.jsonl "
        "--data pairs/` scores a file of `{item_id, response}` lines offline.\n\n"
        "- **P-Acc** (the headline): a pair scores 1 only when both of its items are answered correctly; the "
        "mean over pairs. An answer that cannot be parsed is wrong, and so is a pair with a missing item.\n"
        "- **Acc**: the fraction of items answered correctly.\n"
        "- **change / keep consistency**: of the `change` pairs, the fraction whose two answers differ; of the "
        "`keep` pairs, the fraction whose two answers are the same (right or wrong).\n\n"
        "Each is reported overall and per category (`p_acc_<category>`, ...), with a confidence interval over pairs."
    )


__all__ = ["CARD", "MARKER", "CardError", "category_file", "check_license", "write_card"]
