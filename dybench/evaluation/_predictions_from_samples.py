"""Back from lmms-eval's logged samples to dybench's prediction files, so any run can be rescored offline."""

from __future__ import annotations

import os
from pathlib import Path

from dybench.fileio import read_jsonl


def predictions_from_samples(samples: str | os.PathLike) -> list[dict]:
    """The responses in an lmms-eval samples file (``--log_samples``) of a dybench task, as the rows of
    ``dybench score``'s prediction files: ``{item_id, response}`` for dybench_pair tasks,
    ``{index, model_output}`` (TimeBlind's own format) for timeblind.

    Stand-in documents of a missing category carry no record and are left out.
    """
    path = Path(samples)
    out = []
    for n, row in enumerate(read_jsonl(path), 1):
        response = row.get("resps", row.get("filtered_resps"))
        response = response[0] if isinstance(response, list) else response
        if isinstance(record := row.get("p_acc"), dict):
            out.append({"item_id": record["item_id"], "response": response})
        elif isinstance(record := row.get("i_acc"), dict):
            out.append({"index": record["index"], "model_output": response})
        elif any(k in row for k in ("acc", "acc,none")):
            raise ValueError(f"{path}:{n}: not a dybench_pair or timeblind sample; only those can be rescored")
    return out
