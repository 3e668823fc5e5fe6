"""Find the answer a question has on a counterfactual video — never by guessing (Contract 1).

Per transform, in order: the annotation's explicit ``cf_answer`` -> a category rule -> the lexicon
mapping of the answer option's text (or, for yes/no questions, of the question) -> the ``events`` order.
Under ``swap`` the ``events`` come before the lexicon: they name exactly the two segments that trade
places. A ``given`` counterfactual has only its explicit answer. If nothing resolves,
:class:`CounterfactualError` says why and how to fix the annotation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dybench.errors import UserError
from dybench.fileio import load_yaml_data
from dybench.records import TRANSFORMS, Annotation, Relation, Transform, letter

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


class CounterfactualError(UserError, ValueError):
    """The counterfactual answer of an annotation cannot be determined."""


class _NoMatch(Exception):
    """One resolution step applied but its result matches no single option."""


@dataclass(frozen=True)
class Lexicon:
    """Word groups that swap or stay under one transform; see ``dybench/data/lexicon.yaml``."""

    phrases: dict[tuple[str, ...], tuple[str, bool]]
    """Phrase (as words) -> (canonical token it maps to under the transform, whether it swapped)."""
    canon: dict[tuple[str, ...], str]
    """Phrase -> its own canonical token (synonyms share one), used to compare option texts."""
    max_len: int

    @classmethod
    def from_spec(cls, spec: dict) -> Lexicon:
        phrases: dict[tuple[str, ...], tuple[str, bool]] = {}
        canon: dict[tuple[str, ...], str] = {}
        for k, (group_a, group_b) in enumerate(spec.get("swap") or []):
            tok_a, tok_b = f"<swap{k}a>", f"<swap{k}b>"
            for forms, own, other in ((group_a, tok_a, tok_b), (group_b, tok_b, tok_a)):
                for form in forms:
                    words = tuple(_WORD.findall(str(form).lower()))
                    phrases[words] = (other, True)
                    canon[words] = own
        for form in spec.get("keep") or []:
            words = tuple(_WORD.findall(str(form).lower()))
            phrases.setdefault(words, (f"<keep:{' '.join(words)}>", False))
            canon.setdefault(words, f"<keep:{' '.join(words)}>")
        return cls(phrases, canon, max((len(p) for p in phrases), default=1))

    def _scan(self, text: str, table: dict) -> list[tuple[str, Any]]:
        """Longest-match scan: a list of (kind, value); kind 'word' for plain words, 'hit' for lexicon phrases."""
        words = _WORD.findall(text.lower())
        out: list[tuple[str, Any]] = []
        i = 0
        while i < len(words):
            for n in range(min(self.max_len, len(words) - i), 0, -1):
                phrase = tuple(words[i : i + n])
                if phrase in table:
                    out.append(("hit", table[phrase]))
                    i += n
                    break
            else:
                out.append(("word", words[i]))
                i += 1
        return out

    def canonical(self, text: str) -> tuple[str, ...]:
        """The text as comparable tokens: lower-case words, synonyms folded together."""
        return tuple(str(v) for _, v in self._scan(text, self.canon))

    def map(self, text: str) -> tuple[tuple[str, ...], int, int]:
        """(canonical mapped text, number of swapped phrases, number of kept phrases)."""
        tokens, swaps, keeps = [], 0, 0
        for kind, value in self._scan(text, self.phrases):
            if kind == "word":
                tokens.append(str(value))
                continue
            token, swapped = value
            tokens.append(token)
            swaps += swapped
            keeps += not swapped
        return tuple(tokens), swaps, keeps


def load_lexicon(path: str | Path | None = None) -> dict[Transform, Lexicon]:
    """The lexicon per transform, from ``path`` or the one shipped with dybench."""
    fix = "each transform needs `swap: [[forms], [forms]]` pairs"
    return load_yaml_data("lexicon.yaml", path, _lexicon_table, what="lexicon", fix=fix)


def _lexicon_table(spec: dict | None) -> dict[Transform, Lexicon]:
    spec = spec or {}
    return {t: Lexicon.from_spec(spec.get(t) or {}) for t in TRANSFORMS}


def resolve_counterfactual(
    annotation: Annotation, transform: Transform, lexicon: dict[Transform, Lexicon] | None = None
) -> str:
    """The gold answer (letter or yes/no) of ``annotation`` on its ``transform`` counterfactual."""
    lexicon = lexicon or load_lexicon()
    if transform in annotation.cf_answer:
        return annotation.cf_answer[transform]
    if transform == "given":
        raise CounterfactualError(
            'a given counterfactual video has no rule to find its answer; add cf_answer {"given": "<letter>"}'
        )
    rule = _category_rule(annotation, transform)
    if rule is not None:
        return rule
    tried = []
    steps: list[Callable[[Annotation, Lexicon, Transform], str | None]] = [_by_lexicon]
    if annotation.events and transform == "reverse":
        steps = [_by_lexicon, _by_events]
    elif annotation.events and transform == "swap":
        steps = [_by_events, _by_lexicon]
    for step in steps:
        try:
            answer = step(annotation, lexicon[transform], transform)
        except _NoMatch as e:
            tried.append(str(e))
            continue
        if answer is not None:
            return answer
    reason = "; ".join(tried) if tried else f"no word of {_subject(annotation)!r} is in the {transform} lexicon"
    raise CounterfactualError(
        f"cannot tell the answer under {transform}: {reason}. Fix: add cf_answer "
        f'{{"{transform}": "<letter>"}} to the annotation, give `events` for an event_sequence question, '
        "or extend the lexicon (dybench/data/lexicon.yaml)"
    )


def relation(annotation: Annotation, cf_answer: str) -> Relation:
    """'change' when the counterfactual's answer differs from the original's, else 'keep'."""
    return "keep" if cf_answer == annotation.answer else "change"


def _category_rule(annotation: Annotation, transform: Transform) -> str | None:
    category = annotation.category
    if category == "static":
        return annotation.answer
    if category == "spatial" and transform == "reverse":
        return annotation.answer
    if category in ("reversible_dynamics", "event_sequence") and transform == "hflip":
        return annotation.answer  # a mirror changes no order in time (dybench's rule, after CRPO's routing)
    return None  # spatial under hflip is mirrored by the lexicon; the rest are decided by the text


def _subject(annotation: Annotation) -> str:
    return annotation.question if annotation.is_yes_no else annotation.answer_text()


def _by_lexicon(annotation: Annotation, lex: Lexicon, transform: Transform) -> str | None:
    """The mapped answer, or None when the lexicon has nothing to say about this text."""
    if annotation.is_yes_no:
        _, swaps, keeps = lex.map(annotation.question)
        if swaps == 1:
            return "no" if annotation.answer == "yes" else "yes"
        if swaps > 1:
            raise _NoMatch(
                f"the question {annotation.question!r} has {swaps} words that change, so a yes/no flip is ambiguous"
            )
        return annotation.answer if keeps else None
    mapped, swaps, keeps = lex.map(annotation.answer_text())
    if not swaps:
        if keeps and transform == "swap" and lex.map(annotation.question)[1]:
            raise _NoMatch(
                f"the question {annotation.question!r} asks about order, so its answer "
                f"{annotation.answer_text()!r} may differ once the segments trade places"
            )
        return annotation.answer if keeps else None
    hits = [i for i, o in enumerate(annotation.options) if lex.canonical(o) == mapped]
    if len(hits) == 1:
        return letter(hits[0])
    raise _NoMatch(f"the answer {annotation.answer_text()!r} maps to a text that matches {len(hits)} options")


def _by_events(annotation: Annotation, _lex: Lexicon, transform: Transform) -> str:
    """Reversed, the order of events flips: events[i] <-> events[n-1-i] in the answer's text; swapped,
    the two events trade places."""
    events = annotation.events
    if transform == "swap" and len(events) != 2:
        raise _NoMatch(f"swap exchanges two segments, so `events` must name two, not {len(events)}")
    names = sorted(events, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(e) for e in names), re.IGNORECASE)
    index = {e.lower(): i for i, e in enumerate(events)}
    answer = annotation.answer_text()
    if not pattern.search(answer):
        raise _NoMatch(f"the answer {answer!r} names none of the events {list(events)!r}")
    swapped = pattern.sub(lambda m: events[len(events) - 1 - index[m.group(0).lower()]], answer)
    norm = " ".join(_WORD.findall(swapped.lower()))
    hits = [i for i, o in enumerate(annotation.options) if " ".join(_WORD.findall(o.lower())) == norm]
    if len(hits) == 1:
        return letter(hits[0])
    raise _NoMatch(f"with the events swapped the answer reads {swapped!r}, which matches {len(hits)} options")
