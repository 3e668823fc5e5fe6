"""Back from lmms-eval's logged samples to dybench's prediction files, so any run can be rescored offline."""

from __future__ import annotations

import os
from pathlib import Path

from dybench.results import SamplesError, sample_rows, scored_response


def predictions_from_samples(samples: str | os.PathLike) -> list[dict]:
    """The responses in an lmms-eval samples file (``--log_samples``) of a dybench task, as the rows of
    ``dybench score``'s prediction files: ``{item_id, response}`` for dybench_pair tasks,
    ``{index, model_output}`` (TimeBlind's own format) for timeblind. The response of each line is the
    one lmms-eval scored (``dybench.results.scored_response``), as the leaderboard reads it.

    Stand-in documents of a missing category carry no record and are left out.
    """
    path = Path(samples)
    out = []
    for where, row in sample_rows(path.read_bytes(), name=str(path)):
        if isinstance(record := row.get("p_acc"), dict):
            out.append({"item_id": record["item_id"], "response": scored_response(row, where)})
        elif isinstance(record := row.get("i_acc"), dict):
            out.append({"index": record["index"], "model_output": scored_response(row, where)})
        elif any(k in row for k in ("acc", "acc,none")):
            raise SamplesError(f"{where}: not a dybench_pair or timeblind sample; only those can be rescored")
    return out
