"""CRPO's task router: which counterfactual a training question gets, without counterfactual labels.

The CRPO project page routes every training question offline with a text-only reasoning model into
Spatial, Temporal, Spatiotemporal or Static, which selects horizontal flip or temporal reversal
(docs/research.md). Which kind gets which transform is not published; dybench's mapping (``kind_transform``):
Spatial -> hflip; Temporal -> reverse; Spatiotemporal (a direction of motion) -> hflip when the text names
a left/right-handed direction (a mirror changes it), else reverse (playing backwards changes every
motion); Static -> ``static_transform`` (hflip by default), whose answer must stay.

Two routers:

- ``rule_route`` (default): the question's category when the data gives one (``CATEGORY_KINDS``); else
  its wording, in this order: a question that asks about appearance, colour or count is Static whatever
  else it mentions; a left/right word of the hflip lexicon (``dybench/data/lexicon.yaml``) -> Spatial (or
  Spatiotemporal with a word of motion); a word that reversal swaps (before/after, first/last, open/close,
  fill/empty, grow/shrink, ...) or wording about order or change -> Temporal (Spatiotemporal with a word of
  motion). A question with none of these is not routed, and is counted.
- ``ModelRouter`` (``router_model=PATH``): any local text model through transformers, asked the page's
  question (``ROUTER_PROMPT``); an answer naming none of the four kinds falls back to the rules.

Decisions go to a routes file (one JSON line per question) that a user can review and edit: a question
whose line is already in the file is routed as the line says (delete a line to route it again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from dybench.fileio import read_jsonl, write_jsonl_atomic
from dybench.pairs import Lexicon, load_lexicon
from dybench.records import Transform
from dybench.train._config import TrainConfigError

log = logging.getLogger(__name__)

RouteKind = Literal["spatial", "temporal", "spatiotemporal", "static"]
ROUTE_KINDS: tuple[RouteKind, ...] = get_args(RouteKind)

#: A dataset's own category -> the router's kind (DyBench's three configs and dybench's two extensions).
CATEGORY_KINDS: dict[str, RouteKind] = {
    "moving_direction": "spatiotemporal",
    "reversible_dynamics": "temporal",
    "event_sequence": "temporal",
    "spatial": "spatial",
    "static": "static",
}

#: A question that asks about these is Static: a mirror or playing backwards does not change the answer.
_STATIC_ASK = re.compile(
    r"\b(colou?rs?|how many|count|number of|shape|appearance|look like|wearing|made of|material|texture|"
    r"pattern|size)\b",
    re.I,
)
_MOTION = re.compile(
    r"\b(mov(?:e|es|ed|ing)|go(?:es|ing)?|head(?:s|ed|ing)|direction|travel\w*|slid(?:e|es|ing)|roll\w*|"
    r"turn\w*|rotat\w*|spin\w*|way)\b",
    re.I,
)
_ORDER = re.compile(
    r"\b(order|sequence|happens? next|then|initially|finally|eventually|in reverse|earliest|latest)\b", re.I
)
#: "How does its size change?" asks about a change over time, not about an appearance.
_CHANGE = re.compile(r"\bchang(?:e|es|ed|ing)\b", re.I)

ROUTER_PROMPT = """You route video questions for counterfactual training. A counterfactual video is either \
the video mirrored left-right, or the video played backwards. Classify the question by what must be \
perceived to answer it:
Spatial: left/right positions or directions, which a left-right mirror changes.
Temporal: the order of events, or a process that runs one way in time (opening or closing, filling or \
emptying, before or after, first or last), which playing the video backwards changes.
Spatiotemporal: the direction in which something moves.
Static: appearance, colour, count, or anything that neither a mirror nor playing backwards changes.

Question: {question}
Options: {options}

Answer with one word: Spatial, Temporal, Spatiotemporal or Static."""

_KIND_WORD = re.compile(r"\b(spatiotemporal|spatio-temporal|spatial|temporal|static)\b", re.I)


@dataclass(frozen=True)
class Route:
    """Where one question goes."""

    kind: RouteKind | None
    """None: the question could not be routed (it is left out of CRPO training)."""
    transform: Transform | None
    reason: str
    by: str = "rules"
    """rules, model (the router model's answer) or file (a line of the routes file, possibly edited)."""

    @property
    def dynamic(self) -> bool:
        """The counterfactual's answer must change (every kind but Static)."""
        return self.kind != "static"


def kind_transform(kind: RouteKind, text: str, *, static_transform: Transform = "hflip", lexicon=None) -> Transform:
    """The counterfactual for a kind of question (the mapping in the module docstring)."""
    if kind == "spatial":
        return "hflip"
    if kind == "temporal":
        return "reverse"
    if kind == "static":
        return static_transform
    return "hflip" if _swaps(text, (lexicon or load_lexicon())["hflip"]) else "reverse"


def rule_route(
    question: str,
    options: Sequence[str] = (),
    category: str | None = None,
    *,
    static_transform: Transform = "hflip",
    lexicon: dict[Transform, Lexicon] | None = None,
) -> Route:
    """Route one question by its category, else by its words (the rules of the module docstring)."""
    lexicon = lexicon or load_lexicon()
    text = " ".join([question, *options])

    def to(kind: RouteKind, reason: str) -> Route:
        return Route(kind, kind_transform(kind, text, static_transform=static_transform, lexicon=lexicon), reason)

    if category is not None:
        if category not in CATEGORY_KINDS:
            raise TrainConfigError(f"category {category!r}: the router knows {', '.join(CATEGORY_KINDS)}")
        return to(CATEGORY_KINDS[category], f"category {category}")
    ask = _STATIC_ASK.search(question)
    change = _CHANGE.search(question)
    if ask and not change:
        return to("static", f"asks about {ask.group(0).lower()!r}")
    motion = _MOTION.search(text)
    if _swaps(text, lexicon["hflip"]):
        return to("spatiotemporal" if motion else "spatial", "a left/right word (hflip lexicon)")
    if _swaps(text, lexicon["reverse"]):
        return to("spatiotemporal" if motion else "temporal", "a word that reversal swaps (reverse lexicon)")
    order = _ORDER.search(text) or change
    if order:
        return to("temporal", f"asks about order or change ({order.group(0).lower()!r})")
    return Route(None, None, "no spatial, temporal or static cue in its words")


def arrow_of_time(question: str, options: Sequence[str] = (), category: str | None = None) -> bool | None:
    """Does playing the video backwards change this question's answer? (ArrowRL's reverse reward.)

    The rule router's kind: Temporal and Spatiotemporal (order, a process that runs one way, a direction of
    motion) -> True; Spatial and Static (left/right positions, appearance) -> False; not routed -> None.
    """
    kind = rule_route(question, options, category).kind
    return None if kind is None else kind in ("temporal", "spatiotemporal")


def _swaps(text: str, lexicon: Lexicon) -> bool:
    return lexicon.map(text)[1] > 0


class ModelRouter:
    """The CRPO page's router: a local text model (any ``AutoModelForCausalLM``) asked ``ROUTER_PROMPT``."""

    def __init__(self, path: str | Path, *, max_new_tokens: int = 1024, ask: Callable[[str], str] | None = None):
        self.path, self.max_new_tokens = str(path), max_new_tokens
        self._ask = ask
        self._model: Any = None  # transformers' model and tokenizer, loaded on the first question
        self._tokenizer: Any = None

    def ask(self, prompt: str) -> str:
        """The model's greedy answer to ``prompt`` (its chat template when it has one)."""
        if self._ask is not None:
            return self._ask(prompt)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self._model is None:
            self._tokenizer = AutoTokenizer.from_pretrained(self.path)
            self._model = AutoModelForCausalLM.from_pretrained(self.path).eval()
        tok, model = self._tokenizer, self._model
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        else:
            text = prompt
        ids = tok(text, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=self.max_new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)  # fmt: skip
        return tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)

    def route(self, question: str, options: Sequence[str], *, static_transform: Transform = "hflip") -> Route:
        letters = "; ".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(options)) or "yes / no"
        answer = self.ask(ROUTER_PROMPT.format(question=question, options=letters))
        kind = parse_kind(answer)
        if kind is None:
            fallback = rule_route(question, options, static_transform=static_transform)
            reason = f"model answer names no kind ({answer[-80:]!r}); rules: {fallback.reason}"
            return Route(fallback.kind, fallback.transform, reason, "rules")
        text = " ".join([question, *options])
        return Route(kind, kind_transform(kind, text, static_transform=static_transform), f"model {self.path}", "model")


def parse_kind(answer: str) -> RouteKind | None:
    """The kind a router model's answer names: the last one named after any ``</think>``."""
    found = _KIND_WORD.findall(answer.rsplit("</think>", 1)[-1])
    if not found:
        return None
    return cast(RouteKind, found[-1].lower().replace("-", ""))  # _KIND_WORD matches the kinds' names only


# --- the routes file ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutedQuestion:
    """One line of the routes file."""

    key: str
    """Hash of the question, its options and category: the line's identity across runs."""
    question: str
    options: list[str]
    category: str | None
    kind: RouteKind | None
    transform: Transform | None
    reason: str
    by: str


@dataclass(frozen=True)
class RoutingReport:
    """What the router did with a dataset's questions."""

    questions: int
    by_transform: dict[str, int]
    """hflip / reverse / 'not routed' -> questions."""
    by_kind: dict[str, int]
    by_router: dict[str, int]
    """rules / model / file -> questions."""
    unrouted: list[str] = field(default_factory=list)
    """The questions that could not be routed (up to 20)."""

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_transform.items()))
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.by_kind.items()))
        return f"routed {self.questions} questions: {parts} (kinds: {kinds}; decided by {dict(self.by_router)})"


def question_key(question: str, options: Sequence[str], category: str | None) -> str:
    blob = json.dumps([question, list(options), category], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def route_questions(
    questions: Iterable[tuple[str, Sequence[str], str | None]],
    routes_file: str | Path,
    *,
    router_model: str | None = None,
    static_transform: Transform = "hflip",
    model_router: ModelRouter | None = None,
) -> tuple[list[Route], RoutingReport]:
    """Route every (question, options, category); lines already in ``routes_file`` are used as written.

    The file is rewritten with one line per distinct question, in order; a line a user edited keeps its
    edit (its ``transform`` decides; ``kind: static`` makes the answer one that must stay).
    """
    questions = list(questions)
    path = Path(routes_file)
    known = {row["key"]: row for row in _read_routes(path)}
    router = model_router or (ModelRouter(router_model) if router_model else None)
    routes, lines, seen = [], [], set()
    for question, options, category in questions:
        key = question_key(question, options, category)
        if key in known:
            row = known[key]
            route = Route(row["kind"], row["transform"], row.get("reason", ""), "file")
        elif router is not None and category is None:
            route = router.route(question, options, static_transform=static_transform)
        else:
            route = rule_route(question, options, category, static_transform=static_transform)
        routes.append(route)
        if key not in seen:
            seen.add(key)
            by = known[key].get("by", "file") if key in known else route.by
            lines.append(asdict(RoutedQuestion(key, question, list(options), category, route.kind, route.transform,
                                               route.reason, by)))  # fmt: skip
    write_jsonl_atomic(path, lines)
    report = RoutingReport(
        questions=len(routes),
        by_transform=dict(Counter(r.transform or "not routed" for r in routes)),
        by_kind=dict(Counter(r.kind or "not routed" for r in routes)),
        by_router=dict(Counter(r.by for r in routes)),
        unrouted=[q for (q, _, _), r in zip(questions, routes, strict=True) if r.kind is None][:20],
    )
    return routes, report


def _read_routes(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = read_jsonl(path)
    for i, row in enumerate(rows, 1):
        where = f"{path}:{i}"
        if not isinstance(row, dict) or "key" not in row:
            raise TrainConfigError(f"{where}: a routes line is a JSON object with a key; delete the line to reroute")
        if row.get("kind") not in (*ROUTE_KINDS, None):
            raise TrainConfigError(f"{where}: kind {row.get('kind')!r}: use one of {', '.join(ROUTE_KINDS)} or null")
        if row.get("transform") not in ("hflip", "reverse", None):
            raise TrainConfigError(f"{where}: transform {row.get('transform')!r}: use hflip, reverse or null")
        if (row.get("kind") is None) != (row.get("transform") is None):
            raise TrainConfigError(f"{where}: give both kind and transform, or null for both (not routed)")
    return rows


# --- how well the rules route --------------------------------------------------------------------------


@dataclass(frozen=True)
class RouterScore:
    """The rule router on questions whose category is known, routed as if it were not."""

    questions: int
    transform_accuracy: float
    """Share routed to the category's own transform and relation (unrouted counts as wrong)."""
    kind_accuracy: float
    unrouted: int
    confusion: dict[str, dict[str, int]]
    """category -> routed kind -> questions."""


def score_rule_router(rows: Iterable[dict], *, static_transform: Transform = "hflip") -> RouterScore:
    """Route ``question``/``options`` rows without their ``category`` and compare with routing by it."""
    lexicon = load_lexicon()
    n = right_transform = right_kind = unrouted = 0
    confusion: dict[str, Counter] = {}
    for row in rows:
        options = row.get("options") or []
        truth = rule_route(row["question"], options, row["category"], static_transform=static_transform,
                           lexicon=lexicon)  # fmt: skip
        guess = rule_route(row["question"], options, static_transform=static_transform, lexicon=lexicon)
        n += 1
        unrouted += guess.kind is None
        right_kind += guess.kind == truth.kind
        right_transform += guess.kind is not None and (guess.transform, guess.dynamic) == (
            truth.transform,
            truth.dynamic,
        )
        confusion.setdefault(row["category"], Counter())[guess.kind or "not routed"] += 1
    return RouterScore(n, right_transform / max(n, 1), right_kind / max(n, 1), unrouted,
                       {c: dict(v) for c, v in confusion.items()})  # fmt: skip
