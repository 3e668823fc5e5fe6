"""The prompts dybench's tasks show a model. Frozen by snapshot tests (tests/snapshots/): change one
deliberately and bump the task's ``metadata: version``.

Every multiple-choice or yes/no question is laid out the same way, the layout the trainer uses
(``dybench.train``): the question, ``Options:`` with lettered options, then one answer instruction.
Two instruction styles:

- ``default``: answer with the letter (or yes/no) directly;
- ``r1``: think in ``<think>...</think>`` and answer in ``<answer>...</answer>``, the R1-style prompt of
  CRPO and VideoThinker-R1 (the trainer's own instruction, so evaluation asks what training taught).
  The parser reads the answer from the ``<answer>`` tag.

- ``videor1``: the evaluation prompt Video-R1 and VideoThinker release (``dybench.prompts.video_r1_eval_text``:
  their own layout and wording), for the paper presets' benchmarks.

TimeBlind keeps its official prompt: the question, then " Please output Yes or No." or
" Please output A or B.".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

from dybench.prompts import R1_INSTRUCTION, question_text, video_r1_eval_text

PromptStyle = Literal["default", "r1", "videor1"]
PROMPT_STYLES: tuple[PromptStyle, ...] = get_args(PromptStyle)

CHOICE_INSTRUCTION = "Answer with the option's letter from the given choices directly."
YES_NO_INSTRUCTION = "Answer with yes or no directly."

TIMEBLIND_SUFFIX = {"yes_no": " Please output Yes or No.", "multiple_choice": " Please output A or B."}
"""TimeBlind's official ``add_question_suffix``, by question type."""


def instruction(style: PromptStyle, *, yes_no: bool) -> str:
    """The answer instruction that ends a prompt."""
    if style == "r1":
        return R1_INSTRUCTION
    if style == "default":
        return YES_NO_INSTRUCTION if yes_no else CHOICE_INSTRUCTION
    raise ValueError(f"prompt style must be one of {', '.join(PROMPT_STYLES)}, got {style!r}")


def question_prompt(question: str, options: Sequence[str], style: PromptStyle = "default") -> str:
    """The user turn's text in dybench's one layout (``dybench.prompts.question_text``) and ``style``; the
    ``videor1`` style is Video-R1's own layout and wording."""
    if style == "videor1":
        return video_r1_eval_text(question, options)
    return question_text(question, options, instruction(style, yes_no=not options))


def timeblind_prompt(question: str, question_type: str) -> str:
    """TimeBlind's official prompt: the question and the suffix for its type."""
    try:
        return question + TIMEBLIND_SUFFIX[question_type]
    except KeyError:
        raise ValueError(
            f"TimeBlind question type must be one of {', '.join(TIMEBLIND_SUFFIX)}, got {question_type!r}"
        ) from None
