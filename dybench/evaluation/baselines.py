"""Floor models for lmms-eval: they never look at the video, which is the point.

- ``dybench_constant`` (``--model_args answer=A``) gives the same answer to every question. On a
  ``change`` pair at most one of the two answers can be right, so its P-Acc comes only from ``keep``
  pairs: Acc can look respectable while P-Acc shows the model saw nothing.
- ``dybench_random`` (``--model_args seed=0``) picks uniformly among the question's own answers (option
  letters, yes/no, TimeBlind's Yes/No or A/B). The draw depends on the seed, the task and the
  document only, so reruns, batch sizes and document order do not change it.

They are registered with lmms-eval through the ``lmms_eval.models`` entry point (pyproject.toml), so
``lmms-eval --model dybench_random`` works wherever dybench is installed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from lmms_eval.api.model import lmms

from dybench.records import letter

FALLBACK_CHOICES = ("A", "B", "C", "D")
"""What the random model picks from when a document does not say its answers (another suite's task)."""


def answer_choices(doc: Mapping) -> tuple[str, ...]:
    """The answers a document's question accepts, read from dybench's document fields."""
    if doc.get("type") == "yes_no":  # TimeBlind
        return ("Yes", "No")
    if doc.get("type") == "multiple_choice":
        return ("A", "B")
    if isinstance(doc.get("options"), list):
        options = doc["options"]
        return tuple(letter(i) for i in range(len(options))) if options else ("yes", "no")
    return FALLBACK_CHOICES


class _Floor(lmms):
    """Shared plumbing: lmms-eval's request shapes, and the batch/device arguments it always passes."""

    def __init__(self, batch_size: int | str | None = 1, max_batch_size: int | None = None, device: str | None = None):
        super().__init__()

    def answer(self, task: str, doc_id: int, doc: Mapping) -> str:
        raise NotImplementedError

    def generate_until(self, requests) -> list[str]:
        out = []
        for request in requests:
            *_, doc_id, task, split = request.args
            out.append(self.answer(task, doc_id, self.task_dict[task][split][doc_id]))
        return out

    def generate_until_multi_round(self, requests) -> list[str]:
        return self.generate_until(requests)

    def loglikelihood(self, requests):
        raise NotImplementedError(f"{type(self).__name__} only answers generation tasks")


class ConstantModel(_Floor):
    """``dybench_constant``: always ``answer``."""

    def __init__(self, answer: str = "A", **kwargs) -> None:
        super().__init__(**kwargs)
        self._answer = str(answer)

    def answer(self, task: str, doc_id: int, doc: Mapping) -> str:
        return self._answer


class RandomModel(_Floor):
    """``dybench_random``: a seeded uniform pick among the question's answers."""

    def __init__(self, seed: int | str = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed = int(seed)

    def answer(self, task: str, doc_id: int, doc: Mapping) -> str:
        return random.Random(f"{self.seed}/{task}/{doc_id}").choice(answer_choices(doc))
