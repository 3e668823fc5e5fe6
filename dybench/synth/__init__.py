"""DyBench-Synth: procedurally rendered clips whose answers are known, for every question family.

``synthesize(out_dir, ...)`` writes a source folder for ``dybench build`` (videos plus
``annotations.jsonl``). The pieces, for tests and for users who want their own scenes:
:mod:`~dybench.synth._scene` (what a clip shows, as data; mirror and reverse of a scene),
:mod:`~dybench.synth._render` (drawing), :mod:`~dybench.synth._questions` (families, phrasings and
answers read off a scene), :mod:`~dybench.synth._families` (generators), :mod:`~dybench.synth._bias`
(shortcut rules), :mod:`~dybench.synth._cues` (where a planted cue points, how often answers follow it).
"""

from dybench.synth._bias import BiasRule, BiasSpecError, parse_bias
from dybench.synth._cues import answer_diagnostics, cue_halves, planted_cues
from dybench.synth._families import Clip, make_clip
from dybench.synth._questions import VALUES, Query, Question, ask
from dybench.synth._render import render_scene
from dybench.synth._scene import Scene, mirror_scene, reverse_scene, transform_scene
from dybench.synth._synth_table import print_summary
from dybench.synth._synthesize import SUBTLE_TRAVEL, SynthError, plan_clips, read_summary, synth_command, synthesize

__all__ = [
    "SUBTLE_TRAVEL",
    "BiasRule",
    "BiasSpecError",
    "Clip",
    "Query",
    "Question",
    "Scene",
    "VALUES",
    "SynthError",
    "answer_diagnostics",
    "ask",
    "cue_halves",
    "make_clip",
    "mirror_scene",
    "parse_bias",
    "planted_cues",
    "plan_clips",
    "print_summary",
    "read_summary",
    "render_scene",
    "reverse_scene",
    "synth_command",
    "synthesize",
    "transform_scene",
]
