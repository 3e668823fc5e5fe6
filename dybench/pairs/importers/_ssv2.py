"""Something-Something-v2 labels -> moving-direction and reversible-dynamics questions.

SSv2's label files (``something-something-v2-{train,validation}.json``) are JSON lists of
``{"id", "label", "template", "placeholders"}``; the clip of record ``id`` is ``<id>.webm``. A template
with a direction or a reversible process becomes a question whose options come from its family in
``dybench/data/ssv2_templates.yaml``; every other template is counted and skipped.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from dybench.errors import UserError
from dybench.fileio import load_yaml_data
from dybench.pairs.importers._common import (
    VIDEO_EXTENSIONS,
    ImportReport,
    find_video,
    link_video,
    ordered_options,
    read_json,
    safe_name,
    too_long,
    write_outputs,
)
from dybench.records import CATEGORIES, TRANSFORMS


@dataclass(frozen=True)
class TemplateRule:
    """How one SSv2 template becomes a question."""

    family: str
    category: str
    question: str
    options: tuple[str, ...]
    answer: str
    transforms: tuple[str, ...]

    def filled(self, names: list[str]) -> tuple[str, list[str], str]:
        """(question, options, answer text) with the clip's placeholders filled in."""
        return self.question.format(*names), [o.format(*names) for o in self.options], self.answer.format(*names)

    @property
    def placeholders_needed(self) -> int:
        fields = [f for text in (self.question, *self.options) for _, f, _, _ in string.Formatter().parse(text) if f]
        return 1 + max((int(f) for f in fields), default=-1)


def _key(template: str) -> str:
    """A template as a lookup key: brackets dropped, spaces folded, lower case."""
    return " ".join(template.replace("[", "").replace("]", "").split()).lower()


def load_templates(path: str | Path | None = None) -> dict[str, TemplateRule]:
    """The template table (``dybench/data/ssv2_templates.yaml`` or ``path``), keyed by normalised template."""
    fix = "see dybench/data/ssv2_templates.yaml"
    return load_yaml_data("ssv2_templates.yaml", path, _parse_table, what="template table", fix=fix)


def _parse_table(spec: dict) -> dict[str, TemplateRule]:
    rules: dict[str, TemplateRule] = {}
    for family, body in spec["families"].items():
        category = body["category"]
        if category not in CATEGORIES:
            raise ValueError(f"family {family}: unknown category {category!r}")
        options = tuple(str(o) for o in body["options"])
        for template, target in body["templates"].items():
            answer, transforms = (target, body["transforms"]) if isinstance(target, str) else (
                target["answer"], target.get("transforms", body["transforms"]))  # fmt: skip
            if answer not in options:
                raise ValueError(f"family {family}: template {template!r} answers {answer!r}, not one of its options")
            if not transforms or any(t not in TRANSFORMS for t in transforms):
                raise ValueError(f"family {family}: transforms {transforms!r} must be a subset of {list(TRANSFORMS)}")
            key = _key(template)
            if key in rules:
                raise ValueError(f"template {template!r} is listed twice")
            rules[key] = TemplateRule(family, category, body["question"], options, answer, tuple(transforms))
    return rules


_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def import_ssv2(labels: Path, videos: Path, out: Path, *, templates: Path | None = None, seed: int = 0) -> ImportReport:
    """Write ``out/annotations.jsonl`` (+ ``videos/`` links) from an SSv2 label file; see the module doc."""
    labels, videos, out = Path(labels), Path(videos), Path(out)
    table = load_templates(templates)
    records = read_json(labels, "SSv2 label file")
    if not isinstance(records, list):
        raise UserError(f"{labels}: expected a JSON list of {{id, label, template, placeholders}} records")
    if not videos.is_dir():
        raise UserError(f"{videos}: no such folder; pass the folder that holds SSv2's <id>.webm clips")
    out.mkdir(parents=True, exist_ok=True)
    report = ImportReport("ssv2", out)
    rows: list[dict] = []
    seen: set[str] = set()
    for n, record in enumerate(records):
        where = f"record {n}"
        if not isinstance(record, dict) or not _ID.match(str(record.get("id", ""))):
            report.skip("not a record with a plain id", where)
            continue
        clip_id = str(record["id"])
        if clip_id in seen:
            report.skip("id repeated in the label file", clip_id)
            continue
        seen.add(clip_id)
        template = record.get("template")
        if not isinstance(template, str):
            report.skip("no template (an unlabelled split)", clip_id)
            continue
        rule = table.get(_key(template))
        if rule is None:
            report.skip("template not in the table", clip_id)
            continue
        names = record.get("placeholders") or []
        if not isinstance(names, list) or len(names) < rule.placeholders_needed:
            report.skip(f"needs {rule.placeholders_needed} placeholder(s)", clip_id)
            continue
        question, texts, answer = rule.filled([" ".join(str(p).split()) for p in names])
        problem = too_long(question, texts)
        if problem:
            report.skip(problem, clip_id)
            continue
        clip = find_video(videos, [clip_id], VIDEO_EXTENSIONS)
        if clip is None:
            report.skip("video missing", clip_id)
            continue
        options, gold = ordered_options(texts, answer, seed=seed, key=clip_id)
        rows.append({
            "id": f"ssv2-{clip_id}",
            "video": link_video(clip, out, safe_name(clip_id + clip.suffix, clip_id)),
            "question": question,
            "options": options,
            "answer": gold,
            "category": rule.category,
            "transforms": list(rule.transforms),
            "source": {"dataset": "something-something-v2", "id": clip_id, "template": template,
                       "label": record.get("label"), "family": rule.family},
        })  # fmt: skip
    write_outputs(out, rows, report)
    return report
