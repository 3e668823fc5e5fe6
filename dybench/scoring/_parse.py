"""The one answer parser: evaluation, offline scoring and the RL rewards all read answers here.

It reads a response the way a careful human grader would, and when such a reader could not say which
answer the model gave, it says so: ``None`` means "could not score", which metrics count apart from
"wrong". It never guesses. ``tests/data/parser_corpus.jsonl`` holds 775 messy responses with the answer
a careful reader takes (or "unreadable"); the tests read all of them without one misread, and
``benchmarks/parser_fidelity.py`` counts lmms-eval's own Video-MME, MVBench and TempCompass parsers on
the same corpus. ``data_cards/answer-parsing.md`` explains the rules for users and gives those numbers.

**Where the answer is.** The content of the last ``<answer>...</answer>`` block when the model wrote
one (an unclosed ``<answer>`` runs to the end), otherwise the free text with every ``<think>...</think>``
block removed (an unclosed ``<think>`` hides the rest: a truncated thought is no answer). When a tag is
present its content alone decides: reasoning outside it is never mined. The text is NFKC-normalised
(full-width ``Ｂ``, ``（C）`` and ``：`` become ASCII), CJK punctuation ``。、【】「」`` becomes ``. , ( ) "``,
curly apostrophes straight; markdown emphasis and chat special tokens (``<|...|>``) are dropped.
When the model takes back what it said (``wait, no``, ``no, wait``, ``hold on, no``, ``actually, no``,
``hmm, no``, ``on second thought``, ``scratch that``, ``I take that back``, ``correction:``), only what follows the
last take-back is read: ``The answer is C. Wait, no - ... It's B.`` is B, and a take-back with nothing
after it (``B. Hmm, no.``) leaves no answer. The ``no`` of ``wait, no`` stays in the text, since in a
yes/no answer it is the new answer (``Yes. Wait, no.``). A take-back at the very start withdraws nothing
(``Hmm, no.`` is a plain no), except ``No, wait``, which withdraws its own no. The ``no`` must stand
alone before punctuation: ``wait, no one ...`` is no take-back.

**Option letters** (``n_options`` >= 1). An echo of the whole option list (given the option texts:
every option in order, each letter followed by its own text, ``(A) 1998, (B) 2005, (C) 2012, or (D)
2020``, with a leading ``Options:``) is the question repeated, not an answer, and is removed first.
Then the first rule that fires decides:

1. *Only letters*: the whole text is option letters, optionally bracketed, separated by commas,
   semicolons, ``&``, ``+``, ``and`` or spaces, optionally ending in a full stop: ``B``, ``(b).``,
   ``A and C``. Why first: nothing else is there to read.
2. *Answer cue*: the last ``answer``, ``choose``, ``select``, ``pick``, ``go with``, ``I'd say``,
   ``correct option``, ``so``/``therefore``/``thus``/``hence`` (and ``答案``, ``选``, ``答え``, ``정답``,
   ``respuesta``...) or conclusion (``overall``, ``in conclusion``, ``in summary``, ``to sum up``, each
   with an optional comma) followed by ``is``/``:``/``option`` and a letter group: ``The answer is (B).``,
   ``Final answer: A, C``, ``答案是B``, ``..., so D.``, ``Overall: (B).``. The model's own statement of
   its answer outranks everything it said around it; the last one is its final word. A cue whose group
   is then negated (``So B is wrong``) is skipped; a group followed by ``or`` and another letter (``the
   answer is B or C``) is a hedge: unreadable. Two statements of different answers back to back, with
   nothing but punctuation and ``the``/``my``/``and``/``but``/``or``/``so`` between them (``The answer
   is D. The answer is A.``), contradict each other: unreadable. A change of answer is read only when
   something stands between them that makes it one (reasoning, ``final``, a take-back).
3. *Leading label*: the text starts with a letter and ``.``, ``)`` or ``:`` (``D. the woman picks up a
   cup. Option C is not correct.``). The prompt asks for the letter first; what follows explains it.
   If what follows names another letter, not negated (``B. Or maybe C.``), the answer is unreadable.
4. *Verdicts*: letters the text calls right (``A is correct; B is wrong``, ``Both A and C are
   correct``, ``选项B是正确的``) or says fit (``Both D and A apply.``, ``Caption A matches the video
   better. Caption B has the order reversed.``, ``B fits``); every such verdict must name the same
   letters. ``matches none``/``fits nothing`` is a negation, not a verdict.
5. *Option mentions*: ``option B``, ``caption A``, ``sentence B``, ``选项C``, ``the second caption``.
   Models also use these words to discuss options, so every mention must name the same letters, else
   the answer is unreadable.
6. *Letter-free evidence*: the letters that stand alone as capitals (``I think it's A because...``, ``So
   the ball moves left, B``) together with the options whose text the response states (needs
   ``options``: ``A man is dunking a basketball.``, ``It's not left; it's right.``) must name exactly
   one option. ``A`` and ``I`` followed by a lower-case word are the article and the pronoun (``A ball
   moves left``, ``I think``), unless the word is a verb or conjunction like ``is`` or ``because``.
   Texts are compared as lower-case words without articles (``The man is dunking...`` states ``A man is
   dunking...``); a hyphenated compound is one word (``Counter-clockwise`` says ``counterclockwise``,
   never ``clockwise``; so ``left-to-right`` does not state ``left to right``: unscorable, never another option);
   spellings of one word are one word (``anticlockwise`` = ``counterclockwise``, ``grey`` = ``gray``,
   ``toward`` = ``towards``), and so are a number word and its digits (``Four.`` states ``4``, ``3``
   states ``Three.``; not ``one``, which is mostly a pronoun); an option text inside a longer option's
   text counts as the longer one only; a stated text followed by ``or`` or ``then`` is a hedge or says
   more than the option: unreadable. When the response states no option's whole text, but is itself part
   of exactly one option's text (``walking away`` of ``The person is walking away from the camera``), it
   names that option; a leading subject pronoun stands for the options' subject there (``It flickers.``
   is part of ``The light flickers.``; not before ``is``, ``does``... : ``It is.`` is part of nothing).
   Why last: these are the readings a careful reader makes only when the model gave no letter.

Throughout rules 4 to 6, a negated mention never counts: ``not B``, ``neither A nor B``, ``rather than
option B``, ``B is wrong``/``incorrect``/``not correct``/``isn't``, ``not moving left``. A letter counts
only as a whole token: not inside a word (``Ball``), next to a hyphen, apostrophe or slash (``T-shirt``,
``A's``, ``A/B``: the slash is a hedge), or in an abbreviation (``U.S.``). Lower-case ``a`` and ``i``
after a cue count only when bracketed or followed by punctuation or the end (``the answer is a ball`` is
not option A). A letter outside ``A``..``letter(n_options - 1)`` in rules 1 to 5 makes the response
unreadable (the model named no valid option); rule 6 ignores it. Several letters are returned sorted and
comma-joined (``"A,C"``): for a single-answer question that is wrong, not unreadable, since the model
did commit to them.

**Yes/no** (``n_options == 0``). Echoes and hedges (``yes or no``, ``Yes/No``, ``yes and no``) are
dropped first; then the first rule that fires decides:

1. *Answer cue*: the last ``answer is yes``, ``Answer: no``, ``答案：是``; two different answers back
   to back (``The answer is yes. The answer is no.``) are unreadable, as for letters.
2. *Leading word*: the text starts with a yes or no word or phrase: ``Yes``, ``Yep``, ``Yeah``, ``Yup``,
   ``Nope``, ``Nah``, ``Absolutely not``, ``Of course not``, ``I don't think so``, ``Sí``,
   ``Oui``/``Non``, ``Ja``/``Nein``, ``是``/``是的``/``不是``/``否``, ``はい``/``いいえ``, followed by punctuation,
   a space or the end (``No idea``, ``No one``, ``No information`` and ``不确定`` are not answers). Words
   that are also adjectives or adverbs count only before punctuation or the end: ``Indeed,``,
   ``Exactly.``, ``Correct.``, ``True.``, ``Affirmative`` (yes); ``Negative.``, ``Incorrect.``,
   ``False.``, ``Not true.`` (no), unless their sentence concedes (``True, the car moves, but to the
   right``). ``Absolutely``, ``Certainly``, ``Definitely``, ``Of course`` and ``Sure`` count only as the
   whole response, since chat models open any reply with them (``Certainly! Let me look at the
   video.``). The leading word is the answer unless the rest contradicts it: a yes/no of the other
   polarity that is a clause of its own (``No. Yes.``, ``yes, no``; not ``Yes, it does. No, nothing else
   changes.``) or a statement verdict of rule 3 the other way: unreadable.
3. *Statement verdict*: the response judges the statement the question asks about: ``The statement is
   correct`` / ``That's true`` (yes), ``The statement is incorrect`` / ``This is not accurate`` (no),
   before punctuation, the end or ``because`` (``that is true for both clips`` is no verdict). Every
   verdict must agree.
4. *One polarity before punctuation*: exactly one of yes/no stands before punctuation or the end (``I'd
   say no.``, ``..., so yes.``; ``there is no ball`` does not count). Both, or neither: unreadable.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from dybench.records import letter

# --- where the answer is -------------------------------------------------------------------------

_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_ANSWER_OPEN = re.compile(r"<answer>", re.I)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.S | re.I)
_THINK_OPEN = re.compile(r"<think>", re.I)
_SPECIAL_TOKEN = re.compile(r"<\|[^|<>]*\|>")
_PUNCTUATION = str.maketrans({"。": ".", "、": ",", "【": "(", "】": ")", "「": '"', "」": '"', "’": "'", "‘": "'"})
#: A take-back withdraws what came before it: "wait, no", "no, wait", "on second thought", "scratch that".
#: The "no" of "wait, no" is kept: in a yes/no answer it is the new answer ("Yes. Wait, no.").
_TAKE_BACK = re.compile(
    r"\b(?:wait|hold\s+on|actually|hmm+)[\s,.!:;\-–—]+(?=no\s*(?:[,.!:;\-–—]|$))"
    r"|(?P<no_wait>\bno[\s,.!:;\-–—]+wait\b)[\s,.!:;\-–—]*"
    r"|\b(?:on\s+second\s+thoughts?|scratch\s+that|I\s+take\s+(?:that|it)\s+back|correction\s*:)[\s,.!:;\-–—]*",
    re.I,
)
_FORMAT = re.compile(
    r"\s*<think>(?:(?!</?think>|</?answer>).)*</think>\s*<answer>(?:(?!</?think>|</?answer>).)*</answer>\s*",
    re.S,
)

# --- option letters --------------------------------------------------------------------------------

# A letter token: optionally bracketed, not glued to a word, hyphen, apostrophe, slash or abbreviation.
_TOKEN = r"[(\[]?(?<![A-Za-z0-9'/\-])([A-Za-z])(?![A-Za-z0-9'/\-]|\.[A-Za-z])[)\]]?"
_SEP = r"\s*(?:[,;&+]|\band\b)\s*"
_ONLY_LETTERS = re.compile(rf"{_TOKEN}(?:(?:{_SEP}|\s+){_TOKEN})*\.?")
_GROUP_START = re.compile(_TOKEN)
_GROUP_NEXT = re.compile(rf"{_SEP}{_TOKEN}")
_HEDGE_NEXT = re.compile(rf"\s*(?:\bor\b|/)\s*(?:(?:option|choice)\s+)?{_TOKEN}", re.I)
_ANSWER_CUE = re.compile(
    r"\b(?:answers?|choose|chose|chosen|select(?:ed)?|pick(?:ed)?|go(?:ing)?\s+with|so"
    r"|i(?:'d|\s+would)\s+say|(?:correct|right|best)\s+(?:option|choice|one)"
    r"|respuesta|r[ée]ponse|antwort|risposta|resposta)\b"
    r"|\b(?:therefore|thus|hence|overall|in\s+(?:conclusion|summary|short|sum)|to\s+(?:conclude|sum\s+up))\b,?"
    r"|答案|回答|答え|정답|选择?(?!项)|選擇?(?!項)",
    re.I,
)
_CUE_FILLER = re.compile(
    r"\s*[:=\-–]?\s*(?:(?:(?:is|are|would\s+be|should\s+be|will\s+be|must\s+be)\b|[是为為は])\s*[:\-–]?\s*)?"
    r"(?:(?:the\s+)?(?:correct\s+|right\s+|best\s+|final\s+)?(?:option|choice|letter)\b\s*[:\-–]?\s*)?",
    re.I,
)
#: What may stand between two answer statements that are back to back ("The answer is D. The answer is A.").
_BACK_TO_BACK = re.compile(r"[\s.,;:!?)\]]*(?:(?:the|my|and|but|or|so)\b[\s,]*)*", re.I)
_LEADING_LABEL = re.compile(r"[(\[]?([A-Za-z])(?:[)\]]|\s*[.:)])(?:\s|$)")
_OPTION_CUE = re.compile(r"\b(?:options?|choices?|captions?|sentences?)\b|选项|選項", re.I)
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth)\s+(?:option|choice|caption|sentence|one)\b", re.I)
_ORDINALS = ("first", "second", "third", "fourth", "fifth")
_WORD_AFTER = re.compile(r"\s+([a-z]+)")
#: Words after which a capital ``A`` / ``I`` is still an option letter ("A is correct", "A because").
_LETTER_VERBS = frozenset(
    "is was seems appears looks matches fits describes best would should must could might and or apply applies "
    "because since but so".split()
)
# Negation and affirmation around a mention: "not B", "B is wrong", "B is correct", "选项B是正确的".
_NEGATED_BEFORE = re.compile(
    r"(?:\bnot|\bnever|\bneither|\bnor|\brather\s+than|\binstead\s+of)\s+"
    r"(?:(?:the\s+)?(?:option|choice|caption|sentence)\s+)?[(\[]?$",
    re.I,
)
_NEGATED_AFTER = re.compile(
    r"[)\]]?\s*(?:(?:is|are|can\s+be)\s+(?:not\b|wrong|incorrect|false|inaccurate|ruled\s+out|eliminated)"
    r"|(?:isn't|aren't)\b|(?:apply|applies|fit|fits|match|matches)\s+(?:none|nothing|neither|no)\b"
    r"|是?(?:错|錯|不))",
    re.I,
)
_AFFIRMED_AFTER = re.compile(
    r"[)\]]?\s*(?:(?:is|are)\s+(?:also\s+|both\s+)?(?:the\s+)?(?:correct|right|true|accurate|best|answer)\b"
    r"|(?:(?:both|all|also|best)\s+)?(?:apply|applies|fit|fits|match|matches)\b"
    r"|[是为]?(?:正确|正確|对的|對的))",
    re.I,
)

# --- option texts (on lower-cased words) -----------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
_COMPOUND_HYPHEN = re.compile(r"(?<=[^\W_])-(?=[^\W_])")
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
).split()
#: One word, several spellings, compared as the spelling it maps to; a number word is its digits, except
#: "one", which is far more often a pronoun ("the second one", "one of them").
_SAME_WORD = {
    "anticlockwise": "counterclockwise",
    "toward": "towards",
    "grey": "gray",
    "colour": "color",
    "centre": "center",
    **{word: str(n) for n, word in enumerate(_NUMBER_WORDS) if word != "one"},
}
_SUBJECT_PRONOUN = re.compile(r"^ (?:it|he|she|they) (?!(?:is|are|was|were|does|do|did|has|have|can|will|s)\b)")
_TEXT_NEGATED_BEFORE = re.compile(r"(?:\bnot|\bnever|\bnor|\brather than|\binstead of) $")
_TEXT_HEDGE_AFTER = re.compile(r" (?:or|then|and then)\b")
_TEXT_NEGATED_AFTER = re.compile(r" (?:is|are) (?:not|wrong|incorrect|false)\b")

# --- yes/no -----------------------------------------------------------------------------------------

_YES = ("yes", "yeah", "yep", "yup", "sí", "oui", "ja", "是的", "是", "对", "對", "はい", "네")
_NO = (
    "i don't think so", "i do not think so", "absolutely not", "definitely not", "certainly not",
    "of course not", "not at all", "not really", "nope", "nah", "no", "non", "nein",
    "不是", "否", "不", "いいえ", "아니요",
)  # fmt: skip
_YN_WORD = "|".join(re.escape(w) for w in sorted(_YES + _NO, key=len, reverse=True))
_YN_END = r"(?=$|[\s.,!?;:)\]\"'])"
_YN_BOTH = re.compile(r"\b(?:yes\s*(?:or|/|and)\s*no|no\s*(?:or|/|and)\s*yes)\b", re.I)
_YN_CUE = re.compile(
    r"(?:\banswer\b(?:\s+(?:is|would\s+be|should\s+be|will\s+be|must\s+be))?|答案|回答)"
    rf"\s*[:=\-–]?\s*[是为]?\s*[\"'(\[]?\s*({_YN_WORD}){_YN_END}",
    re.I,
)
_YN_LEADING = re.compile(
    rf"({_YN_WORD}){_YN_END}(?!\s+(?:idea|clue|one|way|answer|information|evidence|details?|visible)\b)", re.I
)
#: Words that answer yes or no only when punctuation or the end follows ("Negative." but "Negative
#: numbers...") and with no concession in their sentence ("True, ... but..."); and those that chat
#: models open any reply with ("Certainly! Here is..."), which answer only as the whole response.
_YES_PUNCT = ("indeed", "exactly", "affirmative", "correct", "true")
_NO_PUNCT = ("negative", "not true", "not correct", "incorrect", "false")
_YES_ALONE = ("absolutely", "certainly", "definitely", "of course", "sure")
_YN_LEADING_PUNCT = re.compile(
    "(" + "|".join(sorted(_YES_PUNCT + _NO_PUNCT, key=len, reverse=True)) + r")(?=\s*(?:[.,!?;:)\]\"']|$))"
    r"(?![^.!?]*\b(?:but|however|although|though)\b)"
    "|(" + "|".join(_YES_ALONE) + r")\s*[.!]?$",
    re.I,
)
_YN_BEFORE_PUNCT = re.compile(r"\b(yes|yep|yeah|no|nope)(?=\s*(?:[.,!?;:)\]\"']|$))", re.I)
#: A yes/no that is a whole clause of its own after the first ("No. Yes.", "yes, no"), not "Yes, I'm sure".
_YN_CLAUSE_WORD = re.compile(r"[.,!?;:]\s*(yes|yeah|yep|yup|no|nope)(?=\s*(?:[.!?;]|$))", re.I)
#: A verdict on the statement the question asks about: "The statement is incorrect", "That's true".
_STATEMENT_VERDICT = re.compile(
    r"\b(?:(?:the|this|that)\s+(?:statement|claim|description|caption|sentence|assertion)|this|that)(?:\s+is|'s)\s+"
    r"(not\s+)?(correct|true|accurate|incorrect|false|wrong|inaccurate|untrue)"
    r"(?=\s*(?:[.,!?;:)]|$|\b(?:because|since|as)\b))",
    re.I,
)


def parse_answer(response: str, n_options: int, options: Sequence[str] = ()) -> str | None:
    """The answer in ``response``: option letters (``"B"``, ``"A,C"``), ``"yes"``/``"no"``, or None.

    ``n_options`` is the number of options; 0 means a yes/no question. ``options``, the option texts,
    lets an answer given as an option's text be read (rule 6); without them only letters are read.
    The rules are in the module docstring; None means the response could not be scored (distinct
    from a wrong answer).
    """
    if not 0 <= n_options <= 26:
        raise ValueError(f"n_options must be 0 (yes/no) to 26, got {n_options}")
    if options and len(options) != n_options:
        raise ValueError(f"{len(options)} option texts for n_options={n_options}")
    text = _after_take_back(_answer_text(response))
    if not text:
        return None
    return _parse_yes_no(text) if n_options == 0 else _parse_letters(text, n_options, options)


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
    text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION)
    text = _SPECIAL_TOKEN.sub(" ", text).replace("*", "").replace("`", "")
    return re.sub(r"\s+", " ", text).strip().strip("\"'“”")


def _after_take_back(text: str) -> str:
    """What follows the last take-back ("Wait, no - ... It's B"); the whole text when there is none.

    A take-back at the very start withdraws nothing ("Hmm, no." is a plain no), except "No, wait",
    which withdraws its own "no"."""
    starts = [m.end() for m in _TAKE_BACK.finditer(text) if m.start() > 0 or m["no_wait"]]
    return text[starts[-1] :].strip() if starts else text


# --- option letters --------------------------------------------------------------------------------


def _parse_letters(text: str, n_options: int, options: Sequence[str]) -> str | None:
    """Rules 1-6 of the module docstring, in order."""
    text = _without_option_list(text, options)
    if _ONLY_LETTERS.fullmatch(text):
        return _letters(_GROUP_START.findall(text), n_options)
    if statements := _answer_statements(text):
        (group, start, end), previous = statements[-1], statements[:-1]
        if _HEDGE_NEXT.match(text, end):
            return None
        answer = _letters(group, n_options)
        if previous and _letters(previous[-1][0], n_options) != answer:
            if _BACK_TO_BACK.fullmatch(text, previous[-1][2], start):
                return None
        return answer
    if label := _LEADING_LABEL.match(text):
        later = _named(text[label.end() :]) & {letter(i) for i in range(n_options)}
        return _letters([label.group(1)], n_options) if later <= {label.group(1).upper()} else None
    if verdicts := {_letters(group, n_options) for group, start, end in _groups(text) if _affirmed(text, start, end)}:
        return _agreed(verdicts)
    if mentions := _option_mentions(text, n_options):
        return _agreed(mentions)
    named: set[str | None] = set(_named(text) & {letter(i) for i in range(n_options)})
    named |= {None if i is None else letter(i) for i in _stated_options(text, options)}
    return named.pop() if len(named) == 1 else None


def _without_option_list(text: str, options: Sequence[str]) -> str:
    """The text with any echo of the whole option list ("(A) 1998, (B) 2005, (C) 2012, or (D) 2020")
    removed: every option in order, each letter followed by its own text, is the question, not an answer."""
    if len(options) < 2:
        return text
    items = [
        rf"(?:(?:option|choice|caption)\s+)?(?<![A-Za-z])[(\[]?{letter(i)}(?:[)\]]|\s*[.:)])?\s*"
        + r"\s+".join(map(re.escape, option.rstrip(".").split()))
        + r"\.?"
        for i, option in enumerate(options)
    ]
    listing = r"\s*[,;]?\s*(?:(?:or|and)\s+)?".join(items)
    return re.sub(
        rf"(?:\b(?:the\s+)?(?:options|choices|captions)(?:\s+are)?\s*:?\s*)?{listing}", " ", text, flags=re.I
    ).strip()


def _past_filler(text: str, pos: int) -> int:
    """Where the answer after a cue starts: past its filler words (``is``, ``the option``...), if any."""
    filler = _CUE_FILLER.match(text, pos)  # every part is optional: it always matches, maybe nothing
    return filler.end() if filler else pos


def _answer_statements(text: str) -> list[tuple[list[str], int, int]]:
    """Every answer cue followed by a letter group it does not negate (rule 2): the group, where the cue
    starts and where the group ends, in order."""
    statements = []
    for cue in _ANSWER_CUE.finditer(text):
        group, end = _group_at(text, _past_filler(text, cue.end()))
        if group and not _NEGATED_AFTER.match(text, end):
            statements.append((group, cue.start(), end))
    return statements


def _letters(found: list[str], n_options: int) -> str | None:
    """Canonical letters, or None when any is not a valid option."""
    valid = {letter(i) for i in range(n_options)}
    upper = {f.upper() for f in found}
    return ",".join(sorted(upper)) if upper <= valid else None


def _agreed(readings: set[str | None]) -> str | None:
    """The one reading all the statements share, else None (they disagree, or name invalid letters)."""
    return readings.pop() if len(readings) == 1 else None


def _group_at(text: str, pos: int, after_option: bool = False) -> tuple[list[str] | None, int]:
    """The letter group (``B``, ``(A) and C``) starting at ``pos`` after a cue, and where it ends.

    After ``option``/``caption`` a capital is always a letter ("option A shows...")."""
    m = _GROUP_START.match(text, pos)
    if not m or not _letter_after_cue(text, m, after_option):
        return None, pos
    found = [m.group(1)]
    while (nxt := _GROUP_NEXT.match(text, m.end())) and _letter_after_cue(text, nxt, after_option):
        found.append(nxt.group(1))
        m = nxt
    return found, m.end()


def _groups(text: str) -> list[tuple[list[str], int, int]]:
    """Every group of capital (or bracketed) letters in the text, with where it starts and ends."""
    groups, pos = [], 0
    while m := _GROUP_START.search(text, pos):
        if m.group(1).islower() and not m.group(0).startswith(("(", "[")):
            pos = m.end()
            continue
        found, end = _group_at(text, m.start())
        if found:
            groups.append((found, m.start(), end))
        pos = max(end, m.end())
    return groups


def _named(text: str) -> set[str]:
    """The letters of every group the text does not negate, upper-cased."""
    return {x.upper() for group, start, end in _groups(text) if not _negated(text, start, end) for x in group}


def _letter_after_cue(text: str, m: re.Match[str], after_option: bool = False) -> bool:
    """After a cue, lower-case a/i must be bracketed or end a clause ("is a ball" is no letter); capital
    A/I must not start a phrase ("is A man") unless the cue names an option."""
    if m.group(1) in "AI":
        return after_option or not _is_word(text, m)
    if m.group(1) not in "ai":
        return True
    bracketed = m.group(0).startswith(("(", "["))
    rest = text[m.end() :]
    return bracketed or not rest or not rest[0].isspace() or not rest.lstrip()[:1].isalpha()


def _is_word(text: str, m: re.Match[str]) -> bool:
    """A capital A or I followed by a lower-case word is the article or pronoun, not an option."""
    if m.group(1) not in "AI" or m.group(0).endswith((")", "]")):
        return False
    after = _WORD_AFTER.match(text, m.end())
    return after is not None and after.group(1) not in _LETTER_VERBS


def _negated(text: str, start: int, end: int) -> bool:
    """The mention at ``text[start:end]`` is denied: "not B", "B is wrong", "B isn't"."""
    return bool(_NEGATED_BEFORE.search(text, 0, start) or _NEGATED_AFTER.match(text, end))


def _affirmed(text: str, start: int, end: int) -> bool:
    """The mention at ``text[start:end]`` is called right: "B is correct", "B is the answer"."""
    return bool(_AFFIRMED_AFTER.match(text, end)) and not _negated(text, start, end)


def _option_mentions(text: str, n_options: int) -> set[str | None]:
    """What each non-negated ``option B`` / ``the second caption`` names (rule 5)."""
    named = set()
    for cue in _OPTION_CUE.finditer(text):
        group, end = _group_at(text, _past_filler(text, cue.end()), after_option=True)
        if group and not _negated(text, cue.start(), end):
            named.add(_letters(group, n_options))
    for m in _ORDINAL.finditer(text):
        index = _ORDINALS.index(m.group(1).lower())
        if not _negated(text, m.start(), m.end()):
            named.add(letter(index) if index < n_options else None)
    return named


def _words(text: str) -> str:
    """`` word word ``: lower-cased, articles dropped, "isn't" -> "is not", a hyphenated compound one word,
    spelling variants and number words as in ``_SAME_WORD``; for matching option texts."""
    words = _WORD.findall(_COMPOUND_HYPHEN.sub("", text.lower().replace("n't", " not")))
    return " " + " ".join(_SAME_WORD.get(w, w) for w in words if w not in ("a", "an", "the")) + " "


def _stated_options(text: str, options: Sequence[str]) -> set[int | None]:
    """Indices of the options the response states (rule 6): each option whose whole text it says, not
    negated; failing that, the options whose text contains the whole response ("walking away").
    None stands for a statement that goes on with "or" or "then": a hedge, or more than the option."""
    words, said = _words(text), [_words(option) for option in options]
    spans = [(m.start(), m.end(), i) for i, o in enumerate(said) if o.strip() for m in re.finditer(re.escape(o), words)]
    stated = {
        None if _TEXT_HEDGE_AFTER.match(words, end - 1) else i
        for start, end, i in spans
        if not any(s <= start and end <= e and e - s > end - start for s, e, _ in spans)
        and not _TEXT_NEGATED_BEFORE.search(words, 0, start + 1)
        and not _TEXT_NEGATED_AFTER.match(words, end - 1)
    }
    part = _SUBJECT_PRONOUN.sub(" ", words)  # "It flickers." is part of "The light flickers."
    if stated or not part.strip():
        return stated
    return {i for i, o in enumerate(said) if part in o and not _TEXT_NEGATED_BEFORE.search(o, 0, o.find(part) + 1)}


# --- yes/no -----------------------------------------------------------------------------------------


def _parse_yes_no(text: str) -> str | None:
    """Yes/no rules 1-4 of the module docstring, in order."""
    text = _YN_BOTH.sub(" ", text).strip()
    if cues := list(_YN_CUE.finditer(text)):
        answer = _polarity(cues[-1].group(1))
        if len(cues) > 1 and _polarity(cues[-2].group(1)) != answer:
            if _BACK_TO_BACK.fullmatch(text, cues[-2].end(), cues[-1].start()):
                return None
        return answer
    verdicts: set[str | None] = {_statement_verdict(m) for m in _STATEMENT_VERDICT.finditer(text)}
    if m := _YN_LEADING.match(text) or _YN_LEADING_PUNCT.match(text):
        answer = _polarity(m.group(m.lastindex or 0))  # the one group that matched
        later = {_polarity(w.group(1)) for w in _YN_CLAUSE_WORD.finditer(text, m.end())}
        return answer if later | verdicts <= {answer} else None
    if verdicts:
        return _agreed(verdicts)
    found = {_polarity(m.group(1)) for m in _YN_BEFORE_PUNCT.finditer(text)}
    return found.pop() if len(found) == 1 else None


def _statement_verdict(m: re.Match[str]) -> str:
    """yes for "The statement is correct" / "... is not false", no for "... is incorrect" / "... is not true"."""
    positive = m.group(2).lower() in ("correct", "true", "accurate")
    return "yes" if positive == (m.group(1) is None) else "no"


def _polarity(word: str) -> str:
    return "yes" if word.lower() in _YES + _YES_PUNCT + _YES_ALONE else "no"
