"""The functions dybench's task YAMLs call (through each task folder's thin ``utils.py``).

They translate between lmms-eval's shapes (a ``datasets.Dataset`` of documents, ``doc_to_visual``,
``doc_to_text(doc, lmms_eval_specific_kwargs)``, ``process_results(doc, [response])``) and dybench's
loaders, prompts and scorer. Nothing here imports lmms-eval.

How a task gets its documents: lmms-eval needs ``dataset_path`` in the YAML, but the data's folder
differs per machine. Each YAML therefore loads a one-row ``_source.jsonl`` shipped beside it and names
a ``process_docs`` hook here, which replaces that row with the documents read from the task family's
environment variable (``dybench.evaluation.LOCATIONS``). A data problem ends the run with one message
(:class:`~dybench.evaluation.StopEvaluation`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dybench.evaluation import _benchmarks, _docs, _lmms_metrics
from dybench.evaluation._lmms_metrics import aggregation, pool
from dybench.evaluation._locations import DataLocationError, StopEvaluation
from dybench.evaluation._task_prompts import PromptStyle, question_prompt, timeblind_prompt

__all__ = [
    "aggregation",
    "choice_prompt",
    "choice_results",
    "middle_frame",
    "mvbench_dataset",
    "pair_dataset",
    "pair_prompt",
    "pair_results",
    "pool",
    "qa_dataset",
    "tempcompass_dataset",
    "timeblind_dataset",
    "timeblind_results",
    "timeblind_text",
    "video",
    "videomme_dataset",
]

MAX_FOLDER_FRAMES = 32
"""A video stored as a folder of frames is shown as at most this many of them, uniformly spaced."""


# --- documents --------------------------------------------------------------------------------------


def _dataset(load: Callable[[], list[dict]]) -> Any:
    import datasets

    try:
        return datasets.Dataset.from_list(load())
    except DataLocationError as e:
        raise StopEvaluation(e) from e


def pair_dataset(category: str | None = None) -> Any:
    """``process_docs`` of dybench_pair (``category=None``: every item) and dybench_pair_<category>."""
    return _dataset(lambda: _docs.pair_docs(category))


def timeblind_dataset() -> Any:
    """``process_docs`` of timeblind."""
    return _dataset(_docs.timeblind_docs)


def videomme_dataset() -> Any:
    """``process_docs`` of dyb_videomme."""
    return _dataset(_benchmarks.videomme_docs)


def mvbench_dataset(subtask: str) -> Any:
    """``process_docs`` of dyb_mvbench_<subtask>."""
    return _dataset(lambda: _benchmarks.mvbench_docs(subtask))


def qa_dataset() -> Any:
    """``process_docs`` of dyb_qa (a Video-R1-style QA json, ``$DYBENCH_QA``)."""
    return _dataset(_benchmarks.qa_docs)


def tempcompass_dataset() -> Any:
    """``process_docs`` of dyb_tempcompass."""
    return _dataset(_benchmarks.tempcompass_docs)


# --- what the model sees ----------------------------------------------------------------------------


def video(doc: Mapping, lmms_eval_specific_kwargs: Mapping | None = None) -> list[Any]:
    """``doc_to_visual``: the video's path (lmms-eval's video models decode it themselves), or the frame
    images of a video stored as a folder of frames.

    With ``video_frames: N`` in the task's model-specific kwargs (the YAMLs set it for lmms-eval's
    ``openai``, ``vllm`` and ``sglang`` chat models), the video's frames as images instead, see
    :func:`frames_of`: those models decode a video path on the client with a fixed frame count, which
    fails on a clip that has fewer frames.
    """
    path = Path(doc["video_path"])
    count = (lmms_eval_specific_kwargs or {}).get("video_frames")
    if count and not path.is_dir():
        return frames_of(path, int(count))
    if not path.is_dir():
        return [str(path)]
    from dybench.video import sample_indices

    frames = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(frames) <= MAX_FOLDER_FRAMES:
        return frames
    return [frames[i] for i in sample_indices(len(frames), num_frames=MAX_FOLDER_FRAMES)]


MAX_FRAME_PIXELS = 602112
"""A frame given as an image is scaled down to at most this many pixels (qwen_vl_utils' per-frame
limit for video, which lmms-eval's chat models apply when they decode a video themselves)."""


def frames_of(path: str | Path, count: int) -> list[Any]:
    """``count`` frames of a video spread uniformly (first and last included), or every frame of a
    shorter clip, as PIL images of at most :data:`MAX_FRAME_PIXELS` pixels."""
    from PIL import Image

    from dybench.video import probe, read_frames, sample_indices

    indices = sample_indices(probe(path).frame_count, num_frames=count)
    images = [Image.fromarray(frame) for frame in read_frames(path, indices=sorted(set(indices)))]
    return [_fit(image, MAX_FRAME_PIXELS) for image in images]


def _fit(image: Any, max_pixels: int) -> Any:
    scale = (max_pixels / (image.width * image.height)) ** 0.5
    if scale >= 1:
        return image
    return image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))


def middle_frame(doc: Mapping) -> list[Any]:
    """``doc_to_visual`` of the single-frame diagnostic: the video's middle frame as one PIL image."""
    from PIL import Image

    from dybench.video import read_frames

    return [Image.fromarray(read_frames(doc["video_path"], num_frames=1)[0])]


def _style(kwargs: Mapping | None) -> PromptStyle:
    return (kwargs or {}).get("prompt", "default")


def pair_prompt(doc: Mapping, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    """``doc_to_text`` of the dybench_pair tasks (``lmms_eval_specific_kwargs: {prompt: default|r1}``)."""
    return question_prompt(doc["question"], doc["options"], _style(lmms_eval_specific_kwargs))


choice_prompt = pair_prompt
"""``doc_to_text`` of the Video-MME / MVBench / TempCompass tasks (the same layout)."""


def timeblind_text(doc: Mapping, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    """``doc_to_text`` of timeblind: TimeBlind's official prompt."""
    return timeblind_prompt(doc["question"], doc["type"])


# --- scoring ------------------------------------------------------------------------------------------


def pair_results(doc: Mapping, results: Sequence[str]) -> dict[str, dict]:
    """``process_results`` of the dybench_pair tasks."""
    return _lmms_metrics.pair_results(doc, results[0])


def timeblind_results(doc: Mapping, results: Sequence[str]) -> dict[str, dict]:
    """``process_results`` of timeblind."""
    return _lmms_metrics.timeblind_results(doc, results[0])


def choice_results(doc: Mapping, results: Sequence[str]) -> dict[str, dict]:
    """``process_results`` of the Video-MME / MVBench / TempCompass tasks."""
    return _lmms_metrics.choice_results(doc, results[0])
