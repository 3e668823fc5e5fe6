"""TimeBlind (arXiv 2602.00288) scoring, agreeing with the official scorer on every prediction set.

Reference: ``utils.py`` (``extract_answer``, ``build_answers``, ``get_scores``) of
github.com/Baiqi-Li/TimeBlind at commit 644fdf4 (2026-01-30). This is an independent implementation of
the behaviour documented there:

- **Items and roles.** Item ``index = 4*k + role``; roles 0..3 are q0_i0, q0_i1, q1_i0, q1_i1 (question,
  video). The gold is fixed by role, 1, 0, 0, 1; the dataset's ``answer`` field is never read.
- **Extraction** gives 1 (Yes / A), 0 (No / B) or -1 (nothing found, which is wrong). The response is
  NFKC-normalised with whitespace collapsed. Yes/no: ``answer: yes`` (also ``final``, ``final answer``,
  ``prediction``, ASCII or full-width colon), else the first ``yes``/``no`` word followed by
  whitespace, ``.,!?)`` or the end. A/B, first that fires: ``answer: A``; ``option A`` / ``choice: B``;
  a bracketed ``(A)``; ``A.`` or ``B)`` directly followed by a word character; else a standalone ``a``/``b``
  in either case (not next to a letter, digit or slash), looked for before the first answer keyword,
  then after it, then anywhere. All case-insensitive, so the article "a" reads as A: that is the official
  behaviour and is kept.
- **Instances.** An instance is scored when any of its items has a prediction. If any of its four roles
  is missing, an index is outside the dataset, or extraction fails (an unknown question type), all four
  count as -1. Acc = correct items / 4N, Q-Acc = questions right on both videos / 2N, V-Acc = videos with
  both questions right / 2N, I-Acc = instances with all four right / N, N = instances scored.

dybench adds ``n_instances``: give the dataset's instance count and instances with no prediction at all
count as wrong too (the official scorer leaves them out of N). Without it the numbers are the official
ones. Intervals are Wilson over instances (``_ci``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from dybench.scoring._ci import Proportion
from dybench.scoring._messages import compact
from dybench.scoring._pair_metrics import grouped

TaskType = Literal["yes_no", "multiple_choice"]
ROLES = ("q0_i0", "q0_i1", "q1_i0", "q1_i1")
"""Role names by ``index % 4``."""
GOLD = (1, 0, 0, 1)
"""Official ground truth by role: 1 = Yes / A, 0 = No / B."""

_KEYWORD = r"(?:final(?: answer)?|answer|prediction)"
_STATED_YN = re.compile(rf"{_KEYWORD}\s*[:：]\s*(yes|no)\b", re.I)
_WORD_YN = re.compile(r"\b(yes|no)\b(?=[\s.,!?)]|$)", re.I)
_STATED_AB = re.compile(rf"{_KEYWORD}\s*[:：]\s*([AB])\b", re.I)
_OPTION_AB = re.compile(r"(?:option|choice)\s*[:：]?\s*([AB])\b", re.I)
_BRACKETED_AB = re.compile(r"[(\[{]\s*([AB])\s*[)\]}]", re.I)
_LABEL_AB = re.compile(r"\b([AB])\s*[.)]\b", re.I)
_ALONE_AB = re.compile(r"(?<![A-Za-z0-9/])([AB])(?![A-Za-z0-9/])", re.I)
_KEYWORD_WORD = re.compile(rf"\b{_KEYWORD}\b", re.I)


def timeblind_extract(response: str | None, task_type: TaskType = "yes_no") -> int:
    """The official extraction: 1 (Yes / A), 0 (No / B) or -1 (no answer found).

    ``task_type`` is the item's ``type`` in TimeBlind's ``data.jsonl``; the default is the official
    function's. An empty response gives -1 whatever the type; otherwise an unknown type is a ValueError.
    """
    if not response or not str(response).strip():
        return -1
    if task_type not in ("yes_no", "multiple_choice"):
        raise ValueError(f"TimeBlind task type must be 'yes_no' or 'multiple_choice', got {task_type!r}")
    if not isinstance(response, str):
        raise TypeError(f"a TimeBlind response must be a string, got {type(response).__name__}")
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", response)).strip()
    if task_type == "yes_no":
        for pattern in (_STATED_YN, _WORD_YN):
            if m := pattern.search(text):
                return int(m.group(1).lower() == "yes")
        return -1
    for pattern in (_STATED_AB, _OPTION_AB, _BRACKETED_AB, _LABEL_AB):
        if m := pattern.search(text):
            return int(m.group(1).upper() == "A")
    keyword = _KEYWORD_WORD.search(text)
    places = [text[: keyword.start()], text[keyword.end() :]] if keyword else []
    for place in [*places, text]:
        if m := _ALONE_AB.search(place):
            return int(m.group(1).upper() == "A")
    return -1


Status = Literal["scored", "incomplete", "missing"]


@dataclass(frozen=True)
class TimeBlindInstance:
    """One TimeBlind instance (2 questions x 2 videos) as the official scorer sees it."""

    instance: int
    """``index // 4``."""
    extracted: tuple[int, int, int, int]
    """Extraction per role (q0_i0, q0_i1, q1_i0, q1_i1); all -1 unless ``status`` is 'scored'."""
    status: Status = "scored"
    """'incomplete': a role is missing, out of bounds or of unknown type; 'missing': no prediction."""
    tags: tuple[str, ...] = ()
    """Categories from TimeBlind's ``tags.json`` (may be several, may be none)."""

    @property
    def correct(self) -> tuple[bool, ...]:
        """Per role: the extraction equals the role's gold."""
        return tuple(v == g for v, g in zip(self.extracted, GOLD, strict=True))

    @property
    def questions_right(self) -> int:
        """Questions answered right on both videos (0..2)."""
        c = self.correct
        return int(c[0] and c[1]) + int(c[2] and c[3])

    @property
    def videos_right(self) -> int:
        """Videos with both questions answered right (0..2)."""
        c = self.correct
        return int(c[0] and c[2]) + int(c[1] and c[3])


def _fraction(
    instances: Sequence[TimeBlindInstance], per_instance: Callable[[TimeBlindInstance], int], per: int
) -> Proportion:
    n = len(instances)
    return Proportion.of(sum(per_instance(x) for x in instances) / (per * n) if n else math.nan, n)


def timeblind_acc(instances: Sequence[TimeBlindInstance]) -> Proportion:
    """Acc: correct items / 4N."""
    return _fraction(instances, lambda x: sum(x.correct), 4)


def timeblind_q_acc(instances: Sequence[TimeBlindInstance]) -> Proportion:
    """Q-Acc: questions right on both videos / 2N."""
    return _fraction(instances, lambda x: x.questions_right, 2)


def timeblind_v_acc(instances: Sequence[TimeBlindInstance]) -> Proportion:
    """V-Acc: videos with both questions right / 2N."""
    return _fraction(instances, lambda x: x.videos_right, 2)


def timeblind_i_acc(instances: Sequence[TimeBlindInstance]) -> Proportion:
    """I-Acc, the primary metric: instances with all four items right / N."""
    return _fraction(instances, lambda x: int(all(x.correct)), 1)


Types = Mapping[int, str] | Sequence[str]


def _in_bounds(types: Types, index: int) -> bool:
    """The official range check: the index names a row of the dataset."""
    return 0 <= index < len(types) if isinstance(types, Sequence) else index in types


def _extract_instance(k: int, got: Mapping[int, str | None], types: Types) -> tuple[tuple[int, ...], Status]:
    indices = range(4 * k, 4 * k + 4)
    if len(got) < 4 or not all(_in_bounds(types, i) for i in indices):
        return (-1, -1, -1, -1), "incomplete"
    try:
        return tuple(timeblind_extract(got[i % 4], types[i]) for i in indices), "scored"  # type: ignore[arg-type]
    except (TypeError, ValueError):  # an unknown question type or a non-text response voids the instance
        return (-1, -1, -1, -1), "incomplete"


def timeblind_instances(
    preds: Mapping[int, str | None],
    *,
    types: Types,
    n_instances: int | None = None,
    tags: Mapping[str, Iterable[int]] | None = None,
) -> list[TimeBlindInstance]:
    """Group item predictions (``index -> response``) into scored instances, as the official scorer does.

    ``types`` gives each index's question type: the dataset's ``type`` column in file order (a list,
    indexed by position as the official scorer does) or a mapping ``index -> type``; an index it does not
    cover is out of bounds. With ``n_instances``, instances 0..n-1 are all scored (absent ones as all
    wrong) and a prediction outside them is a ValueError.
    """
    roles: dict[int, dict[int, str | None]] = {}
    for index, response in preds.items():
        roles.setdefault(index // 4, {})[index % 4] = response
    if n_instances is not None:
        outside = sorted(i for i in preds if not 0 <= i // 4 < n_instances)
        if outside:
            raise ValueError(f"predictions for indices outside the {n_instances} instances: {compact(outside)}")
    tag_of: dict[int, set[str]] = {}
    for tag, indices in (tags or {}).items():
        for i in indices:
            tag_of.setdefault(i // 4, set()).add(tag)
    ids = sorted(roles) if n_instances is None else range(n_instances)
    instances = []
    for k in ids:
        extracted, status = _extract_instance(k, roles[k], types) if k in roles else ((-1, -1, -1, -1), "missing")
        instances.append(TimeBlindInstance(k, extracted, status, tuple(sorted(tag_of.get(k, ())))))  # type: ignore[arg-type]
    return instances


def timeblind_metrics(
    preds: Mapping[int, str | None],
    n_instances: int | None = None,
    *,
    types: Types,
    tags: Mapping[str, Iterable[int]] | None = None,
) -> dict[str, float]:
    """TimeBlind's four scores with the lmms-eval names: ``acc``, ``q_acc``, ``v_acc``, ``i_acc``.

    Each has ``_ci_low``/``_ci_high``; counts ``n_instances`` (scored), ``n_items`` (predictions),
    ``n_unparsable`` (predictions extracted as -1), ``n_incomplete_instances`` (a role missing, out of
    bounds or of unknown type: all four wrong) and ``n_missing_instances`` (no prediction at all; only
    with ``n_instances``). With ``tags`` (TimeBlind's ``tags.json``: tag -> item indices), also
    ``i_acc_<tag>`` and ``acc_<tag>`` per tag, lower-cased. ``types``: see ``timeblind_instances``.
    """
    instances = timeblind_instances(preds, types=types, n_instances=n_instances, tags=tags)
    metrics = {
        "acc": timeblind_acc,
        "q_acc": timeblind_q_acc,
        "v_acc": timeblind_v_acc,
        "i_acc": timeblind_i_acc,
    }
    out: dict[str, float] = {}
    for name, metric in metrics.items():
        out |= metric(instances).as_metrics(name)
    out |= {
        "n_instances": len(instances),
        "n_items": len(preds),
        "n_unparsable": sum(_unparsable(response, types, i) for i, response in preds.items()),
        "n_incomplete_instances": sum(x.status == "incomplete" for x in instances),
        "n_missing_instances": sum(x.status == "missing" for x in instances),
    }
    if tags:
        for name in ("i_acc", "acc"):
            for tag, score in grouped(metrics[name], "tags")(instances).items():
                out |= score.as_metrics(f"{name}_{tag.lower()}")
    return out


def _unparsable(response: str | None, types: Types, index: int) -> bool:
    """The prediction itself held no readable answer (-1); out-of-bounds items are not counted here."""
    if not _in_bounds(types, index):
        return False
    try:
        return timeblind_extract(response, types[index]) == -1  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
