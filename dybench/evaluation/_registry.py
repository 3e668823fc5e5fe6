"""The ``lmms_eval.models`` entry point (pyproject.toml): dybench's floor models, by class path.

Kept apart from ``baselines`` so that lmms-eval can read the manifests while it builds its model
registry without importing the model classes.
"""

from __future__ import annotations

BASELINES = {
    "dybench_constant": "dybench.evaluation.baselines.ConstantModel",
    "dybench_random": "dybench.evaluation.baselines.RandomModel",
}


def lmms_eval_models() -> list:
    """One ``ModelManifest`` per floor model."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(name, simple_class_path=path) for name, path in BASELINES.items()]
