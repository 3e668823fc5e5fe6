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
"""VideoThinker-R1's training instruction (docs/research.md): think in <think>, answer letters in <answer>."""

VIDEO_R1_EVAL_INSTRUCTION = (
    "Please think about this question as if you were a human pondering deeply. Engage in an internal dialogue "
    "using expressions such as 'let me think', 'wait', 'Hmm', 'oh, I see', 'let's break it down', etc, or other "
    "natural language thought expressions It's encouraged to include self-reflection or verification in the "
    "reasoning process. Provide your detailed reasoning between the <think> and </think> tags, and then give "
    "your final answer between the <answer> and </answer> tags."
)
"""The evaluation prompt of Video-R1's and VideoThinker's ``eval_bench.py`` (docs/research.md), as released."""
VIDEO_R1_EVAL_SUFFIX = {
    "multiple choice": " Please provide only the single option letter (e.g., A, B, C, D, etc.) within the "
    "<answer> </answer> tags.",
    "yes/no": " Please provide only 'yes' or 'no' within the <answer> </answer> tags.",
}
"""The answer-type suffix of that prompt (its multiple-choice one as released; yes/no is dybench's wording)."""


def video_r1_eval_text(question: str, options: Sequence[str]) -> str:
    """The evaluation prompt of Video-R1 / VideoThinker, laid out as their ``eval_bench.py`` does: the problem,
    then ``Options:`` and one lettered option per line (no line break before ``Options:``, as released), then
    the instruction and the answer-type suffix."""
    if options:
        question = question + "Options:\n" + "".join(f"{letter(i)}. {o}\n" for i, o in enumerate(options))
    kind = "multiple choice" if options else "yes/no"
    return f"{question}\n{VIDEO_R1_EVAL_INSTRUCTION}{VIDEO_R1_EVAL_SUFFIX[kind]}"


def question_text(question: str, options: Sequence[str], instruction: str) -> str:
    """The user turn's text: question, ``Options:`` with lettered options (none for yes/no), instruction."""
    lines = [question.strip()]
    if options:
        lines.append("Options:")
        lines += [f"{letter(i)}. {option}" for i, option in enumerate(options)]
    lines.append(instruction)
    return "\n".join(lines)
