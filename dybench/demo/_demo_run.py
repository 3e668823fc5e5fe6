"""``dybench demo``: does correctness-only RL teach a shortcut that accuracy hides and P-Acc exposes?

Offline, in about a minute on a CPU. Fresh DyBench-Synth test clips are rendered in the tiny
reproduction's setting (``recipes/reproduce_tiny.yaml``: moving direction, one object per clip; the
planted cue, a red target, points to "right" on every training clip but carries no information
here: the test split is balanced), from a seed the shipped models never saw; their counterfactual pairs
(mirrored, reversed) are built; and lmms-eval evaluates the two floor models and the three models that
ship with dybench (``dybench.demo.models``: that reproduction's start model, GRPO and CRPO).

One table: Acc against P-Acc, P-Acc from the middle frame alone, and how often each model's answer
follows the planted cue (``dybench.synth._cues``); then two sentences read off those numbers.
lmms-eval's progress bars and warnings go to ``<out>/lmms-eval.log`` (``verbose=True`` shows them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dybench.evaluation import OFFLINE, EvalRun, evaluate, output_console, score_text
from dybench.pairs import PairsDataset, group_pairs
from dybench.results import read_samples

#: The pair task (the R1 prompt the shipped models were trained with) and its one-frame variant.
DEMO_TASKS = ("dybench_pair_r1", "dybench_pair_single_frame_r1")
#: Test clips rendered; about a third ask a question the tiny preset keeps (fixed option order), each
#: giving a mirror pair and a reverse pair.
DEMO_CLIPS = 96
#: The clips' seed: the shipped models were trained on seed 0's train split and tested on its test split.
HELD_OUT_SEED = 1
LOG = "lmms-eval.log"


@dataclass(frozen=True)
class DemoRow:
    """One model's line of the demo table."""

    label: str
    run: EvalRun
    cue_agreement: float | None
    """Share of the cued items answered with the answer the planted cue points to (None: no cued item)."""
    trained: bool = False
    """One of the shipped models (not a floor model)."""

    def value(self, metric: str, single_frame: bool = False) -> float | None:
        return self.run.metric(DEMO_TASKS[1] if single_frame else DEMO_TASKS[0], metric)

    def number(self, metric: str) -> float:
        """``value`` on the whole clips, NaN when the run lacks it (dybench's tasks always report it)."""
        value = self.value(metric)
        return math.nan if value is None else value


@dataclass(frozen=True)
class DemoReport:
    """Where the demo wrote everything, and what it found."""

    folder: Path
    pairs: Path
    """The pairs dataset (use it as DYBENCH_PAIRS)."""
    results: Path
    """The results folder (the leaderboard reads it: ``dybench leaderboard --results ...``)."""
    rows: tuple[DemoRow, ...]
    sentences: tuple[str, ...]

    @property
    def runs(self) -> tuple[EvalRun, ...]:
        return tuple(r.run for r in self.rows)


def demo(
    out: str | os.PathLike = "runs/demo",
    *,
    n: int = DEMO_CLIPS,
    seed: int = HELD_OUT_SEED,
    trained: bool = True,
    models: Path | None = None,
    verbose: bool = False,
    console: Console | None = None,
) -> DemoReport:
    """Render ``n`` clips, build their pairs, evaluate the models, print the table and what it means.

    ``trained=False`` evaluates the two floor models only. ``models``: the folder of the shipped models
    (default ``demo_models.MODELS_DIR``; checked against their provenance first). Re-running reuses the
    rendered clips and built pairs.
    """
    from dybench.demo.models import DEMO_MODELS, MODELS_DIR, DemoModelsError, check_shipped
    from dybench.reproduce import build_split, get_preset, synthesize_split

    models = MODELS_DIR if models is None else Path(models)
    for key, value in OFFLINE.items():  # nothing in the demo may reach a hub
        os.environ.setdefault(key, value)
    console = console or output_console()
    folder = Path(out)
    synth, pairs, results, log = folder / "synth", folder / "pairs", folder / "results", folder / LOG
    tiny = get_preset("tiny", "crpo")
    assert tiny.data is not None
    spec = dataclasses.replace(tiny.data, n_test=n, seed=seed)
    if trained and (problems := check_shipped(models)):
        raise DemoModelsError(
            "the demo models do not match their provenance: " + "; ".join(problems[:3]) + ". Reinstall dybench, "
            "regenerate them (python -m dybench.demo.models --from REPRODUCTION) or use --floor-only"
        )
    ev = tiny.evaluation
    # (lmms-eval model, model args, row label, device, one of the shipped models)
    evaluations: list[tuple[str, str, str, str | None, bool]] = [
        ("dybench_constant", "answer=A", "constant (always A)", None, False),
        ("dybench_random", f"seed={seed}", "random", None, False),
    ]
    if trained:
        evaluations += [
            (ev.model_class, f"pretrained={m.path(models)},{ev.model_args}", m.label, ev.device, True)
            for m in DEMO_MODELS
        ]

    console.print(
        f"Held-out DyBench-Synth test clips (seed {seed}) in the tiny reproduction's setting, planted cue "
        f"{spec.bias}; lmms-eval's log: {log}"
    )
    rows = []
    with _steps(console) as step, _quiet(log, console, enabled=not verbose), _one_thread():
        with step(f"rendering {n} clips into {synth}"):
            synthesize_split(spec, synth, "test")
        with step(f"building counterfactual pairs into {pairs}"):
            build_split(synth, pairs, lossless=True, selection=spec.selection)
        from dybench.synth import answer_diagnostics, planted_cues

        cues = planted_cues(pairs, synth)
        with step(f"lmms-eval on {', '.join(DEMO_TASKS)}", total=len(evaluations)) as now:
            for model, args, label, device, is_trained in evaluations:
                now(label)
                run = evaluate(
                    model, DEMO_TASKS, model_args=args, device=device, data=pairs, output=results,
                    batch_size=ev.batch_size, verbosity="INFO" if verbose else "WARNING",
                )  # fmt: skip
                agreement = answer_diagnostics(_answers(run, DEMO_TASKS[0]), cues)["cue_agreement"]
                rows.append(DemoRow(label, run, agreement, is_trained))

    n_pairs = len(group_pairs(PairsDataset(pairs).items()))
    console.print(demo_table(rows, title=f"DyBench-Synth, {n_pairs} held-out pairs (95% intervals in brackets)"))
    sentences = interpret(rows)
    for sentence in sentences:
        console.print(sentence)
    console.print(f"results: {results} (dybench leaderboard --results {results})")
    return DemoReport(folder, pairs, results, tuple(rows), sentences)


def demo_table(rows: Sequence[DemoRow], *, title: str) -> Table:
    """The demo's table: Acc, P-Acc, one-frame P-Acc (with 95 % intervals) and cue agreement per model."""
    table = Table(title=title, title_justify="left")
    for header in ("model", "Acc", "P-Acc", "P-Acc, 1 frame", "follows cue"):
        table.add_column(header, justify="left" if header == "model" else "right", no_wrap=True)
    for row in rows:
        table.add_row(
            row.label,
            score_text(row.run, DEMO_TASKS[0], "acc"),
            score_text(row.run, DEMO_TASKS[0], "p_acc"),
            score_text(row.run, DEMO_TASKS[1], "p_acc"),
            "-" if row.cue_agreement is None else f"{row.cue_agreement:.2f}",
        )
    return table


def interpret(rows: Sequence[DemoRow]) -> tuple[str, ...]:
    """Sentences that say what the table's numbers mean, each claim chosen by comparing them.

    With the shipped models: GRPO against the start model (did correctness-only RL raise Acc or P-Acc,
    and its cue-following), then CRPO against GRPO and the one-frame column, then T-GRPO and ArrowRL
    against GRPO. Floor models only: their P-Acc against their Acc.
    """
    trained = [r for r in rows if r.trained]
    floor = [r for r in rows if not r.trained]
    if len(trained) < 3:
        accs = [v for r in floor if (v := r.value("acc")) is not None]
        paccs = [v for r in floor if (v := r.value("p_acc")) is not None]
        return (
            f"The floor models never look at the video: Acc {min(accs):.3f}-{max(accs):.3f}, P-Acc at most "
            f"{max(paccs):.3f}, since a pair counts only when the original and its counterfactual are both right.",
        )
    start, grpo, crpo = trained[:3]
    s_acc, s_pacc, g_acc, g_pacc, c_pacc = (
        start.number("acc"), start.number("p_acc"), grpo.number("acc"), grpo.number("p_acc"), crpo.number("p_acc")
    )  # fmt: skip
    s_cue, g_cue, c_cue = start.cue_agreement or 0.0, grpo.cue_agreement or 0.0, crpo.cue_agreement or 0.0
    shortcut = g_cue > s_cue + 0.05 and (g_acc - g_pacc) > (s_acc - s_pacc)
    first = (
        f"GRPO, rewarded for correct answers only, moves Acc from {s_acc:.3f} to {g_acc:.3f} and P-Acc from "
        f"{s_pacc:.3f} to {g_pacc:.3f}, and its answers follow the planted cue on {g_cue:.0%} of the items against "
        f"the start model's {s_cue:.0%} (the cue is right on half of them here): "
        + (
            "it leans on the shortcut, and the pairs show it more than the items do (Acc - P-Acc widens from "
            f"{s_acc - s_pacc:.3f} to {g_acc - g_pacc:.3f})."
            if shortcut
            else "no learned shortcut shows in these numbers."
        )
    )
    frame = max(v for r in trained if (v := r.value("p_acc", single_frame=True)) is not None)
    video = min(v for r in trained if (v := r.value("p_acc")) is not None)
    second = (
        f"CRPO, rewarded on both branches of each pair, reaches P-Acc {c_pacc:.3f} against GRPO's {g_pacc:.3f} "
        f"({c_pacc - g_pacc:+.3f}) and follows the cue on {c_cue:.0%} of the items"
        + (", less than GRPO" if c_cue < g_cue - 0.05 else ", no less than GRPO" if c_cue >= g_cue else "")
        + f"; from the middle frame alone no trained model exceeds P-Acc {frame:.3f}, "
        + (
            "so the pairs they get right need the motion."
            if frame < video
            else "so part of what they get right is visible in one frame."
        )
    )
    others = [r for r in trained[3:] if r.value("p_acc") is not None]
    if not others:
        return first, second
    third = (
        "The other baselines of CRPO's table, from the same start: "
        + "; ".join(
            f"{r.label} P-Acc {r.number('p_acc'):.3f} ({r.number('p_acc') - g_pacc:+.3f} against GRPO), "
            f"follows the cue on {(r.cue_agreement or 0.0):.0%}"
            for r in others
        )
        + "."
    )
    return first, second, third


def _answers(run: EvalRun, task: str) -> dict[str, str | None]:
    """item_id -> the parsed answer, from the samples lmms-eval logged for ``task`` and its subtasks."""
    answers = {}
    for name, path in run.samples_paths.items():
        if name == task or name.startswith(f"{task}_"):
            for sample in read_samples(path.read_bytes(), task=name, name=str(path)).items:
                answers[sample.item_id] = sample.logged.pred
    return answers


@contextlib.contextmanager
def _steps(console: Console) -> Iterator[Callable[..., contextlib.AbstractContextManager[Callable[[str], None]]]]:
    """One progress line per step: ``with step(text, total=k) as now:``, then ``now(label)`` as each of
    the k units starts (the line names it; the count moves on)."""
    columns = (SpinnerColumn(finished_text="[green]done"), TextColumn("{task.description}"), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, redirect_stdout=False, redirect_stderr=False) as progress:

        @contextlib.contextmanager
        def step(text: str, total: int = 1) -> Iterator[Callable[[str], None]]:
            task = progress.add_task(text, total=total)
            started = 0

            def now(label: str) -> None:
                nonlocal started
                progress.update(task, completed=started, description=f"{text}: {label}")
                started += 1

            yield now
            progress.update(task, completed=total, description=text)

        yield step


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one thread meanwhile. The models are tiny (128 wide): a second thread adds nothing, and
    on cores that are busy OpenMP's waiting threads made generation ~15x slower (measured: 3.2 s against
    0.2 s per batch of 8 while another process used both cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _quiet(log: Path, console: Console, *, enabled: bool) -> Iterator[None]:
    """Send everything written to stdout and stderr meanwhile to ``log``: lmms-eval's per-request progress
    bars and loguru warnings, transformers' and deepspeed's messages, C libraries' prints (file
    descriptors 1 and 2 as well as ``sys.stdout``/``sys.stderr``). ``console`` keeps writing where it did."""
    if not enabled:
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    shown = console.file
    terminal: dict[int, int] = {}  # fd -> a duplicate of what fd 1 / 2 were, for the console and for restoring them
    with open(log, "w", encoding="utf-8", buffering=1) as sink:
        try:
            for fd in (1, 2):
                terminal[fd] = os.dup(fd)
                os.dup2(sink.fileno(), fd)
            # the console keeps its stream: a copy of the terminal's descriptor when it wrote to fd 1 or 2
            kept = _fd(shown)
            own = terminal.get(kept) if kept is not None else None
            console.file = open(os.dup(own), "w", buffering=1) if own is not None else shown  # noqa: SIM115
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            for fd, saved in terminal.items():
                os.dup2(saved, fd)
                os.close(saved)
            if console.file is not shown:
                console.file.close()
            console.file = shown


def _fd(stream: object) -> int | None:
    """The file descriptor behind ``stream``, or None (a StringIO, pytest's capture, a notebook)."""
    try:
        return stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
