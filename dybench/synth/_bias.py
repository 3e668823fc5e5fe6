"""Shortcut bias on purpose: a static attribute that predicts a dynamic answer, at a chosen strength.

A rule reads ``FAMILY:ATTRIBUTE=VALUE->ANSWER:STRENGTH``, several joined by ``;``::

    moving_direction:colour=red->right:0.95
    moving_direction:colour=red->right:train=0.95,test=0.5;event_sequence:shape=square->first:0.9

- moving_direction / reversible_dynamics: every question of the family is about ANSWER's axis
  (``right`` -> left/right motion). Half the targets carry the cue (``colour=red``), half do not;
  P(answer = ANSWER | cue) = STRENGTH and P(answer = ANSWER | no cue) = 1 - STRENGTH, so answers stay
  balanced and the cue is the only thing that predicts them. STRENGTH 0.5 means no shortcut at all.
- event_sequence (ANSWER ``first`` or ``last``): every clip has two events, one by an object with the
  cue; that object acts first (or last) with probability STRENGTH.

STRENGTH is one number for any split, or per split: ``train=0.95,test=0.5``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dybench.errors import UserError
from dybench.records import Category
from dybench.synth._questions import VALUES
from dybench.synth._scene import COLOURS, SHAPES, TEXTURES

#: The attributes a cue can be, with their values.
ATTRIBUTES: dict[str, tuple[str, ...]] = {"colour": tuple(COLOURS), "shape": SHAPES, "texture": TEXTURES}
_ALIASES = {"color": "colour"}
#: Per biased family: answer -> the question kind whose axis it lies on.
BIAS_KINDS: dict[str, dict[str, str]] = {
    "moving_direction": {v: kind for kind in ("horizontal", "vertical", "rotation", "depth") for v in VALUES[kind]},
    "reversible_dynamics": {v: kind for kind in ("size", "fill", "presence", "door", "light") for v in VALUES[kind]},
    "event_sequence": {"first": "first", "last": "last"},
}
#: Kinds whose target has a fixed look, so some attributes cannot carry a cue.
_FIXED = {"fill": ("shape", "texture"), "door": ("shape", "texture"), "light": ("texture",)}
_RULE = re.compile(r"^\s*([\w]+)\s*:\s*(\w+)\s*=\s*(\w+)\s*->\s*(\w+)\s*:\s*(.+?)\s*$")
SPLITS = ("train", "test")


class BiasSpecError(UserError, ValueError):
    """A ``--bias`` rule that cannot be used; the message names the rule and the fix."""


@dataclass(frozen=True)
class BiasRule:
    """One shortcut: in ``family``, a target with ``attribute == value`` predicts ``answer``."""

    family: Category
    attribute: str
    """'colour', 'shape' or 'texture'."""
    value: str
    answer: str
    """An answer value on the family's axis ('right', 'growing', ...), or 'first'/'last' for events."""
    strengths: tuple[tuple[str, float], ...]
    """(split, strength) pairs; split '*' means every split."""

    def strength(self, split: str) -> float:
        """P(answer | cue) in ``split``."""
        table = dict(self.strengths)
        if split in table:
            return table[split]
        if "*" in table:
            return table["*"]
        raise BiasSpecError(f"bias rule {self.describe()!r} gives no strength for split {split!r}; add {split}=P to it")

    def describe(self, split: str | None = None) -> str:
        """The rule as text; with ``split``, only that split's strength."""
        head = f"{self.family}:{self.attribute}={self.value}->{self.answer}"
        if split is not None:
            return f"{head}:{self.strength(split):g}"
        if len(self.strengths) == 1 and self.strengths[0][0] == "*":
            return f"{head}:{self.strengths[0][1]:g}"
        return f"{head}:" + ",".join(f"{s}={p:g}" for s, p in self.strengths)

    @property
    def kind(self) -> str:
        """The question kind the rule restricts its family to."""
        return BIAS_KINDS[self.family][self.answer]


def parse_bias(spec: str | None) -> tuple[BiasRule, ...]:
    """Parse ``FAMILY:ATTRIBUTE=VALUE->ANSWER:STRENGTH[;...]``; raises :class:`BiasSpecError`."""
    if spec is None or not spec.strip():
        return ()
    rules = tuple(_parse_rule(part) for part in spec.split(";") if part.strip())
    seen: set[str] = set()
    for rule in rules:
        if rule.family in seen:
            raise BiasSpecError(f"two bias rules for {rule.family}; give at most one rule per family")
        seen.add(rule.family)
    return rules


def _parse_rule(text: str) -> BiasRule:
    match = _RULE.match(text)
    if not match:
        raise BiasSpecError(
            f"bias rule {text.strip()!r} is not FAMILY:ATTRIBUTE=VALUE->ANSWER:STRENGTH, "
            "e.g. moving_direction:colour=red->right:0.95"
        )
    family, attribute, value, answer, strength = match.groups()
    attribute = _ALIASES.get(attribute, attribute)
    if family not in BIAS_KINDS:
        raise BiasSpecError(
            f"bias rule {text.strip()!r}: family {family!r} cannot be biased; use one of {', '.join(BIAS_KINDS)}"
        )
    if attribute not in ATTRIBUTES:
        raise BiasSpecError(f"bias rule {text.strip()!r}: attribute {attribute!r}; use one of {', '.join(ATTRIBUTES)}")
    if value not in ATTRIBUTES[attribute]:
        raise BiasSpecError(
            f"bias rule {text.strip()!r}: {attribute} {value!r} does not exist; use one of "
            f"{', '.join(ATTRIBUTES[attribute])}"
        )
    answers = BIAS_KINDS[family]
    if answer not in answers:
        raise BiasSpecError(
            f"bias rule {text.strip()!r}: {answer!r} is not a {family} answer; use one of {', '.join(answers)}"
        )
    kind = answers[answer]
    if attribute in _FIXED.get(kind, ()):
        raise BiasSpecError(
            f"bias rule {text.strip()!r}: {answer!r} objects always have the same {attribute}, so it cannot "
            "be a cue; use colour"
        )
    return BiasRule(family, attribute, value, answer, _parse_strength(text.strip(), strength))  # type: ignore[arg-type]


def _parse_strength(rule: str, text: str) -> tuple[tuple[str, float], ...]:
    parts = [p.strip() for p in text.split(",")]
    pairs: list[tuple[str, str]] = []
    for part in parts:
        if "=" in part:
            split, _, number = part.partition("=")
            split = split.strip()
            if split not in SPLITS:
                raise BiasSpecError(f"bias rule {rule!r}: unknown split {split!r}; use {' or '.join(SPLITS)}")
            pairs.append((split, number.strip()))
        elif len(parts) == 1:
            pairs.append(("*", part))
        else:
            raise BiasSpecError(f"bias rule {rule!r}: per-split strengths read train=P,test=Q")
    out = []
    for split, number in pairs:
        try:
            p = float(number)
        except ValueError:
            p = -1.0
        if not 0.0 <= p <= 1.0:
            raise BiasSpecError(f"bias rule {rule!r}: strength {number!r} must be a number from 0 to 1")
        out.append((split, p))
    if len({s for s, _ in out}) != len(out):
        raise BiasSpecError(f"bias rule {rule!r}: a split is given twice")
    return tuple(out)
