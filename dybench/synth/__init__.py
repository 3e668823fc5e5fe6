"""DyBench-Synth: procedurally rendered clips whose answers are known, for every question family.

``synthesize(out_dir, ...)`` writes a source folder for ``dybench build`` (videos plus
``annotations.jsonl``). The pieces, for tests and for users who want their own scenes:
:mod:`~dybench.synth.scene` (what a clip shows, as data; mirror and reverse of a scene),
:mod:`~dybench.synth.render` (drawing), :mod:`~dybench.synth.questions` (families, phrasings and
answers read off a scene), :mod:`~dybench.synth.families` (generators), :mod:`~dybench.synth.bias`
(shortcut rules), :mod:`~dybench.synth.cues` (where a planted cue points, how often answers follow it).
"""

from dybench.synth.bias import BiasRule, BiasSpecError, parse_bias
from dybench.synth.cues import answer_diagnostics, planted_cues
from dybench.synth.dataset import SynthError, plan_clips, read_summary, synthesize
from dybench.synth.families import Clip, make_clip
from dybench.synth.questions import Query, Question, ask
from dybench.synth.render import render_scene
from dybench.synth.scene import Scene, mirror_scene, reverse_scene, transform_scene

__all__ = [
    "BiasRule",
    "BiasSpecError",
    "Clip",
    "Query",
    "Question",
    "Scene",
    "SynthError",
    "answer_diagnostics",
    "ask",
    "make_clip",
    "mirror_scene",
    "parse_bias",
    "planted_cues",
    "plan_clips",
    "read_summary",
    "render_scene",
    "reverse_scene",
    "synthesize",
    "transform_scene",
]
