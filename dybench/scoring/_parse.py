"""The one answer parser: evaluation, offline scoring and the RL rewards all read answers here.

A model's answer is read from the content of its last ``<answer>...</answer>`` block when it wrote one
(an unclosed ``<answer>`` runs to the end of the response), otherwise from the free text with every
``<think>...</think>`` block removed (an unclosed ``<think>`` hides the rest). When a tag is present its
content alone decides: reasoning outside it is never mined for an answer. The text is NFKC-normalised
(full-width letters become ASCII), markdown emphasis and chat special tokens (``<|...|>``) are dropped.

Option letters (``n_options`` >= 1), first rule that fires decides:

1. **Only letters**: the whole text is option letters, optionally in brackets, separated by commas,
   semicolons, ``&``, ``+``, ``and`` or spaces, optionally ending in a full stop:
   ``B``, ``(b).``, ``A and C``, ``A, C``.
2. **Answer cue**: the last ``answer``/``choose``/``chose``/``select``/``pick`` followed by optional
   ``is``/``would be``/``:``/``option`` and a letter group: ``The answer is (B).``,
   ``Final answer: A, C``, ``I choose option C``.
3. **Option cue**: ``option B``/``choice B``. Models also use these words to describe options, so
   every such mention must name the same letter(s), else the answer is ambiguous (unparsable).
4. **Leading label**: the text starts with a letter and ``.``, ``)`` or ``:``: ``B. left``, ``(B) left``.
5. **A lone capital**: exactly one distinct valid capital letter stands alone in the text
   (``So the ball moves left, B``). ``A`` and ``I`` followed by a lower-case word are read as the English
   words they usually are (``A ball moves left``, ``I think``), unless the word is a verb like ``is``.

Everywhere, a letter counts only as a whole token: not inside a word (``Ball``), not next to a hyphen,
apostrophe or slash (``T-shirt``, ``A's``, ``A/B``), not in an abbreviation (``U.S.``). Lower-case ``a``
and ``i`` after a cue count only when bracketed or followed by punctuation or the end (``the answer is a
ball`` is not option A). A letter outside ``A``..``letter(n_options - 1)`` in rules 1 to 4 makes the
response unparsable (the model named no valid option); rule 5 simply ignores it. Several letters are
returned sorted and comma-joined (``"A,C"``).

Yes/no (``n_options == 0``), after dropping echoes of ``yes or no`` / ``Yes/No``, first rule that fires
decides: the whole text is ``yes``/``no``; the last ``answer is yes``/``answer: no``; the text starts
with ``yes``/``no`` (not ``no idea``, ``no one``); exactly one of the two words stands before
punctuation or the end (``I'd say yes.``; ``there is no ball`` does not count). Both, or neither:
unparsable.

``None`` means "could not score", which metrics count apart from "wrong".
"""

from __future__ import annotations

import re
import unicodedata

from dybench.records import letter

_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_ANSWER_OPEN = re.compile(r"<answer>", re.I)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.S | re.I)
_THINK_OPEN = re.compile(r"<think>", re.I)
_SPECIAL_TOKEN = re.compile(r"<\|[^|<>]*\|>")
_FORMAT = re.compile(
    r"\s*<think>(?:(?!</?think>|</?answer>).)*</think>\s*<answer>(?:(?!</?think>|</?answer>).)*</answer>\s*",
    re.S,
)

# A letter token: optionally bracketed, not glued to a word, hyphen, apostrophe, slash or abbreviation.
_TOKEN = r"[(\[]?(?<![A-Za-z0-9'’/\-])([A-Za-z])(?![A-Za-z0-9'’/\-]|\.[A-Za-z])[)\]]?"
_SEP = r"\s*(?:[,;&+]|\band\b)\s*"
_ONLY_LETTERS = re.compile(rf"{_TOKEN}(?:(?:{_SEP}|\s+){_TOKEN})*\.?")
_GROUP_START = re.compile(_TOKEN)
_GROUP_NEXT = re.compile(rf"{_SEP}{_TOKEN}")
_ANSWER_CUE = re.compile(r"\b(?:answers?|choose|chose|chosen|select(?:ed)?|pick(?:ed)?)\b", re.I)
_OPTION_CUE = re.compile(r"\b(?:options?|choices?)\b", re.I)
_CUE_FILLER = re.compile(
    r"\s*[:：=\-–]?\s*(?:(?:is|are|would\s+be|should\s+be|will\s+be|must\s+be)\b\s*[:：\-–]?\s*)?"
    r"(?:(?:the\s+)?(?:correct\s+|right\s+|best\s+|final\s+)?(?:option|choice|letter)\b\s*[:：\-–]?\s*)?",
    re.I,
)
_LEADING_LABEL = re.compile(r"[(\[]?([A-Za-z])(?:[)\]]|\s*[.:)])(?:\s|$)")
_LONE_CAPITAL = re.compile(r"(?<![A-Za-z0-9'’/\-])([A-Z])(?![A-Za-z0-9'’/\-]|\.[A-Za-z])")
_WORD_AFTER = re.compile(r"\s+([a-z]+)")
#: Words after which a capital ``A`` / ``I`` is still an option letter ("A is correct").
_LETTER_VERBS = frozenset(
    "is was seems appears looks matches fits describes best would should must could might and or".split()
)

_YN_BOTH = re.compile(r"\b(?:yes\s*(?:or|/)\s*no|no\s*(?:or|/)\s*yes)\b", re.I)
_YN_ONLY = re.compile(r"(yes|no)[.!]?", re.I)
_YN_CUE = re.compile(
    r"\banswer\b(?:\s+(?:is|would\s+be|should\s+be|will\s+be|must\s+be))?\s*[:：=\-–]?\s*[\"'(\[]?\s*(yes|no)\b",
    re.I,
)
_YN_LEADING = re.compile(r"(yes|no)\b(?!-|\s+(?:idea|clue|one|way|answer|information|evidence)\b)", re.I)
_YN_BEFORE_PUNCT = re.compile(r"\b(yes|no)(?=\s*(?:[.,!?;:)\]\"']|$))", re.I)


def parse_answer(response: str, n_options: int) -> str | None:
    """The answer in ``response``: option letters (``"B"``, ``"A,C"``), ``"yes"``/``"no"``, or None.

    ``n_options`` is the number of options; 0 means a yes/no question. The rules are in the module
    docstring; None means the response could not be scored (distinct from a wrong answer).
    """
    if not 0 <= n_options <= 26:
        raise ValueError(f"n_options must be 0 (yes/no) to 26, got {n_options}")
    text = _answer_text(response)
    if not text:
        return None
    return _parse_yes_no(text) if n_options == 0 else _parse_letters(text, n_options)


def answer_reward(pred: str | None, gold: str) -> float:
    """Accuracy reward: 1 for the gold answer; |pred|/|gold| when the predicted letters are a non-empty
    proper subset of a multi-letter gold (CDPO's partial credit); 0 otherwise, and for None."""
    if pred is None:
        return 0.0
    pred_n, gold_n = normalize_answer(pred), normalize_answer(gold)
    if pred_n == gold_n:
        return 1.0
    pred_set, gold_set = set(pred_n.split(",")), set(gold_n.split(","))
    if len(gold_set) > 1 and pred_set < gold_set and all(len(x) == 1 for x in gold_set):
        return len(pred_set) / len(gold_set)
    return 0.0


def format_ok(response: str) -> bool:
    """True when the response is exactly ``<think>...</think><answer>...</answer>``.

    Whitespace is allowed before, between and after the two blocks; nothing else is, and neither block
    may contain another think/answer tag (no second answer hidden inside).
    """
    return _FORMAT.fullmatch(response) is not None


def normalize_answer(answer: str) -> str:
    """A gold or parsed answer in canonical form: ``"yes"``/``"no"``, or sorted comma-joined capitals.

    Accepts ``"Yes"``, ``"b"``, ``"C, A"``, ``"A;C"``; anything else is returned stripped, unchanged.
    """
    s = answer.strip()
    if s.lower() in ("yes", "no"):
        return s.lower()
    parts = [p for p in re.split(r"[\s,;]+", s) if p]
    if parts and all(len(p) == 1 and p.isascii() and p.isalpha() for p in parts):
        return ",".join(sorted({p.upper() for p in parts}))
    return s


def _answer_text(response: str) -> str:
    """The part of the response that holds the answer, cleaned (see the module docstring)."""
    blocks = _ANSWER_BLOCK.findall(response)
    if blocks:
        text = blocks[-1]
    elif opened := list(_ANSWER_OPEN.finditer(response)):
        text = response[opened[-1].end() :]
    else:
        text = _THINK_BLOCK.sub(" ", response)
        if unclosed := _THINK_OPEN.search(text):
            text = text[: unclosed.start()]
    text = unicodedata.normalize("NFKC", text)
    text = _SPECIAL_TOKEN.sub(" ", text).replace("*", "").replace("`", "")
    return re.sub(r"\s+", " ", text).strip().strip("\"'“”‘’")


def _letters(found: list[str], n_options: int) -> str | None:
    """Canonical letters, or None when any is not a valid option."""
    valid = {letter(i) for i in range(n_options)}
    upper = {f.upper() for f in found}
    return ",".join(sorted(upper)) if upper <= valid else None


def _group_at(text: str, pos: int) -> list[str] | None:
    """The letter group (``B``, ``(A) and C``) starting at ``pos`` after a cue, or None."""
    m = _GROUP_START.match(text, pos)
    if not m or not _letter_after_cue(text, m):
        return None
    found = [m.group(1)]
    while (nxt := _GROUP_NEXT.match(text, m.end())) and _letter_after_cue(text, nxt):
        found.append(nxt.group(1))
        m = nxt
    return found


def _letter_after_cue(text: str, m: re.Match[str]) -> bool:
    """Lower-case a/i after a cue are usually words ("is a ball"): only bracketed or before punctuation."""
    if m.group(1) not in "ai":
        return True
    bracketed = m.group(0).startswith(("(", "["))
    rest = text[m.end() :]
    return bracketed or not rest or not rest[0].isspace() or not rest.lstrip()[:1].isalpha()


def _parse_letters(text: str, n_options: int) -> str | None:
    if _ONLY_LETTERS.fullmatch(text):
        return _letters(_GROUP_START.findall(text), n_options)
    for cue in reversed(list(_ANSWER_CUE.finditer(text))):
        group = _group_at(text, _CUE_FILLER.match(text, cue.end()).end())
        if group:
            return _letters(group, n_options)
    mentions = set()
    for cue in _OPTION_CUE.finditer(text):
        group = _group_at(text, _CUE_FILLER.match(text, cue.end()).end())
        if group:
            mentions.add(_letters(group, n_options))
    if mentions:
        return mentions.pop() if len(mentions) == 1 else None
    if label := _LEADING_LABEL.match(text):
        return _letters([label.group(1)], n_options)
    valid = {letter(i) for i in range(n_options)}
    lone = {m.group(1) for m in _LONE_CAPITAL.finditer(text) if m.group(1) in valid and not _is_word(text, m)}
    return lone.pop() if len(lone) == 1 else None


def _is_word(text: str, m: re.Match[str]) -> bool:
    """A capital A or I followed by a lower-case word is the article or pronoun, not an option."""
    if m.group(1) not in "AI":
        return False
    after = _WORD_AFTER.match(text, m.end())
    return after is not None and after.group(1) not in _LETTER_VERBS


def _parse_yes_no(text: str) -> str | None:
    text = _YN_BOTH.sub(" ", text).strip()
    if m := _YN_ONLY.fullmatch(text):
        return m.group(1).lower()
    if cues := list(_YN_CUE.finditer(text)):
        return cues[-1].group(1).lower()
    if m := _YN_LEADING.match(text):
        return m.group(1).lower()
    found = {m.group(1).lower() for m in _YN_BEFORE_PUNCT.finditer(text)}
    return found.pop() if len(found) == 1 else None
