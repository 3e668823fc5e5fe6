"""How a question is laid out for a model, shared by evaluation (lmms-eval tasks) and training.

One layout serves both, so evaluation asks exactly what training taught: the question, ``Options:``
with lettered options (none for yes/no), then one answer instruction.
"""

from __future__ import annotations

from collections.abc import Sequence

from dybench.records import letter

R1_INSTRUCTION = (
    "Output the thinking process in <think> </think> and the final answer (the option letter, or several "
    "letters separated by commas if more than one is correct; yes or no for a yes/no question) "
    "in <answer> </answer> tags."
)
"""VideoThinker-R1's training instruction (RESEARCH.md): think in <think>, answer letters in <answer>."""


def question_text(question: str, options: Sequence[str], instruction: str) -> str:
    """The user turn's text: question, ``Options:`` with lettered options (none for yes/no), instruction."""
    lines = [question.strip()]
    if options:
        lines.append("Options:")
        lines += [f"{letter(i)}. {option}" for i, option in enumerate(options)]
    lines.append(instruction)
    return "\n".join(lines)
