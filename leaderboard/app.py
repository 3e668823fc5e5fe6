"""The dybench leaderboard: a Gradio page over a folder of lmms-eval results files.

Start it with ``dybench leaderboard [--results DIR] [--port P]`` or ``python leaderboard/app.py
[--results DIR] [--port P]``; it listens on 127.0.0.1 only. Without ``--results`` it shows the
folder that ships with dybench (``leaderboard/results``: the project's own baseline runs).

The page is a thin view over `dybench.results`, which reads, validates, indexes and stores results:

- Leaderboard: one row per run (one results file): the model, then the metric it is ranked by (so it is
  on the first screen), the other columns from `dybench.results.COLUMNS`, then size, weights, status,
  settings (only what differs between the shown runs; all of them on hover over the model and under the
  table on a row click), date. Search, filters (weights: open, closed API, baseline; model size, read from
  the checkpoint's or model's name; origin; generation settings) and a sort whose direction follows each
  metric's ``higher_is_better``; the table is filled when the page is built, so it shows at once. Below
  it, numbers reported in papers, labelled with their source and never mixed with the runs.
- Shortcut gap: DyBench Acc against P-Acc. A model far above P-Acc on Acc answers from shortcuts.
- Per category: one tab per DyBench category, its runs ranked by their P-Acc on it.
- Run details: config, versions, date (UTC), the verification (what was re-scored, against which data),
  and every score with its confidence interval, P-Acc's bootstrap interval over pairs for re-scored runs;
  a download of the run's per-sample records (JSONL: item, gold, parsed answer, correct, response).
- Compare: two verified runs on the same pairs: P-Acc difference, McNemar's exact test, the pairs they
  disagree on with both runs' responses (also ``dybench compare RUN_A RUN_B``).
- Submit: upload a results JSON, with lmms-eval's samples files (``*_samples_<task>.jsonl``) beside it or
  as one .zip/.tar.gz of the run folder; it is validated and stored, byte for byte, under a content-hash
  name. "Added" means the run is on the board; the same run sent again (even at the same moment) is
  reported as already there.

Every row carries a status (``dybench.results._verify``): **verified** (its samples re-scored by dybench
against a pairs dataset the leaderboard holds, every claimed number matched), **arithmetic verified,
data not held** (re-scored from the run's own logged gold answers: only the arithmetic is proven),
**mismatch** (claimed and re-scored numbers both shown), **partly verified** or **self-reported** (no
samples). Held data: ``<results>/datasets/<name>/`` and ``--data DIR``. Rows whose generation settings
differ (frames, fps, max pixels, prompt, lmms-eval version) are flagged, never silently ranked as equals.

The results folder is the source of truth: drop ``lmms-eval --output_path`` folders in it, in any layout.
Uploads land in ``<folder>/uploads/``. A SQLite index of the folder lives in ``~/.cache/dybench/``
(``DYBENCH_CACHE_DIR`` moves it) and is rebuilt from the folder whenever it is missing or stale.
``DYBENCH_RESULTS`` sets the folder for ``dybench leaderboard`` too.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dybench.pairs import PairsDataset
from dybench.results import (
    CATEGORY_COLUMNS,
    COLUMNS,
    COLUMNS_BY_KEY,
    DEFAULT_SECTIONS,
    MAX_RESULTS_BYTES,
    MAX_UPLOAD_BYTES,
    SECTIONS,
    Column,
    CompareError,
    Comparison,
    ReportedRow,
    ResultsError,
    ResultsStore,
    RunRow,
    compare_runs,
    default_results_dir,
    load_reported,
    read_upload,
    select_runs,
    shortcut_gap,
)

if TYPE_CHECKING:
    import gradio as gr
    import pandas as pd

HOST = "127.0.0.1"
DEFAULT_PORT = 7860
BY_DATE = "Date (newest first)"
GAP = "Gap Acc−P-Acc"
ORIGINS = {"local runs": "local", "uploaded runs": "uploaded"}
ALL_SETTINGS = "All settings"
_P_ACC, _ACC = COLUMNS_BY_KEY["p_acc"], COLUMNS_BY_KEY["acc"]
#: Model sizes the size filter offers (billions of parameters: up to, inclusive), then unknown.
SIZES = {"≤ 4B": 4.0, "4–13B": 13.0, "> 13B": float("inf")}
UNKNOWN_SIZE = "unknown"
WEIGHTS = ("open", "closed (API)", "baseline")
#: lmms-eval model classes that call a hosted API: closed weights, unless ``model_version`` names a Hugging
#: Face repository (``org/name``: an open model behind an OpenAI-compatible server such as vLLM's).
API_MODELS = {"openai", "async_openai", "litellm", "gemini", "gemini_api", "reka", "claude", "gpt4v", "qwen_vl_api"}
BASELINES = {"dybench_constant", "dybench_random"}
#: The table's fixed columns (the metric columns come between Model and these).
TAIL = ["Size", "Weights", "Status", "Settings", "Date (UTC)", "Notes", "Run"]
#: Headers on one line (Gradio's narrow columns otherwise break them mid-word: "DyBen ch P-Acc").
CSS = "#runs-table th span.header { white-space: nowrap !important; word-break: keep-all !important; }"

INTRO = """\
# dybench leaderboard
Does the model watch the video? **P-Acc** counts a counterfactual pair (the video mirrored or played
backwards) only when both answers are right. A model with high **Acc** and low **P-Acc** answers from
shortcuts, not from what it sees. All numbers are percentages; click a row for its details.
"""


# --- data -> frames (pure, testable without a browser) -----------------------------------------------


def pct(v: float | None) -> float | None:
    """A fraction as a percentage with one decimal, None stays None."""
    return None if v is None else round(100 * v, 1)


def table_columns(runs: list[RunRow], sections: list[str]) -> tuple[list[Column], list[Column]]:
    """(shown, empty): the chosen sections' columns that some run fills, and those no run has."""
    cols = [c for c in COLUMNS if c.section in sections]
    if not runs:
        return cols, []
    filled = [c for c in cols if any(r.value(c) is not None for r in runs)]
    return filled, [c for c in cols if c not in filled]


def model_weights(run: RunRow) -> str:
    """``open`` (weights), ``closed (API)`` or ``baseline`` (dybench's floor models), from the model class and
    its arguments (see `API_MODELS`)."""
    if run.model_class in BASELINES:
        return WEIGHTS[2]
    if run.model_class in API_MODELS:
        version = _model_arg(run.model_args, "model_version") or ""
        return WEIGHTS[0] if re.fullmatch(r"[\w.-]+/[\w.-]+", version) else WEIGHTS[1]
    return WEIGHTS[0]


def model_size(run: RunRow) -> float | None:
    """Billions of parameters, read from the checkpoint's or model's name (``Qwen2.5-VL-7B-Instruct``: 7,
    ``SmolVLM-256M``: 0.256); None when no name states it."""
    names = [_model_arg(run.model_args, key) for key in ("pretrained", "model", "model_version")]
    for text in (*names, run.model):
        found = re.findall(r"(?<![\w.])(\d+(?:\.\d+)?)([BM])(?![a-zA-Z])", Path(text or "").name, flags=re.I)
        if found:
            number, unit = found[-1]
            return float(number) / (1000 if unit.upper() == "M" else 1)
    return None


def size_label(size: float | None) -> str:
    """The size filter's bucket of a model size (billions of parameters)."""
    if size is None:
        return UNKNOWN_SIZE
    return next(label for label, bound in SIZES.items() if size <= bound)


def _model_arg(model_args: str, key: str) -> str | None:
    found = re.search(rf"(?:^|,)\s*{key}=([^,]+)", model_args or "")
    return found.group(1).strip() if found else None


def short_settings(run: RunRow, runs: list[RunRow]) -> str:
    """The run's generation settings in few words: only those that differ among ``runs`` (``same`` when
    none does); the whole label is in the row's details and the Run details tab."""
    varying = [k for k in run.settings if len({r.settings.get(k) for r in runs}) > 1]
    if not varying:
        return "same"
    return " · ".join(f"{k.replace('lmms_eval', 'lmms-eval')} {run.settings[k]}" for k in varying).replace(
        "model default", "default"
    )


def runs_frame(runs: list[RunRow], sections: list[str], rank_by: Column | None = _P_ACC) -> pd.DataFrame:
    """The leaderboard table: one row per run; the model, then the ranking metric (so it is on the first
    screen), the chosen sections' other filled columns, the shortcut gap, then what describes the run."""
    import pandas as pd

    cols, _ = table_columns(runs, sections)
    if rank_by in cols:
        cols = [rank_by, *(c for c in cols if c is not rank_by)]
    records = []
    for r in runs:
        rec: dict[str, object] = {"Model": model_cell(r)}
        rec.update({c.label: pct(r.value(c)) for c in cols})
        rec[GAP] = pct(shortcut_gap(r))
        size = model_size(r)
        rec.update({"Size": "" if size is None else f"{size:g}B", "Weights": model_weights(r).removesuffix(" (API)"),
                    "Status": r.verification.label, "Settings": short_settings(r, runs),
                    "Date (UTC)": r.date_utc or r.date, "Notes": row_notes(r), "Run": r.run_id})  # fmt: skip
        records.append(rec)
    headers = ["Model", *(c.label for c in cols), GAP, *TAIL]
    return pd.DataFrame.from_records(records, columns=headers)


def model_cell(run: RunRow) -> str:
    """The Model cell (HTML): the name, with the run's full generation settings and status on hover."""
    hover = f"{run.settings_label or 'settings not recorded'} · {run.verification.label}"
    return f'<span title="{html.escape(hover)}">{html.escape(run.model)}</span>'


def row_markdown(run: RunRow | None) -> str:
    """What a clicked row stands for, under the table: settings in full, status, notes (more: Run details)."""
    if run is None:
        return "Click a row for its settings and status; *Run details* has everything, with a download."
    size = model_size(run)
    parts = [
        f"**{_esc(run.model)}** · `{run.run_id}` · {_esc(model_weights(run))} weights · "
        f"{'size unknown' if size is None else f'{size:g}B parameters'} · {_esc(run.verification.label)} · "
        f"{_esc(run.display_date)}",
        f"Settings: {_esc(run.settings_label) or 'not recorded'}",
    ]
    if notes := row_notes(run):
        parts.append(f"Notes: {_esc(notes)}")
    return "  \n".join(parts)


def row_notes(run: RunRow) -> str:
    """What a row's numbers need beside them: ``--limit``, and for a mismatch the claimed and re-scored values."""
    notes = [f"limit={run.config['limit']}"] if "limit" in run.config else []
    for check in run.verification.checks:
        notes += [
            f"{check.task} {d.metric}: claimed {100 * d.claimed:.1f}, re-scored {100 * d.rescored:.1f}"
            for d in check.differences[:2]
        ]
        if check.outcome == "mismatch" and not check.differences:
            notes.append(f"{check.task}: {check.detail}")
    return "; ".join(notes)


def settings_choices(runs: tuple[RunRow, ...] | list[RunRow]) -> list[str]:
    """The settings filter: every run, or the runs of one generation setting (most runs first)."""
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.settings_label] = counts.get(r.settings_label, 0) + 1
    return [ALL_SETTINGS, *sorted(counts, key=lambda label: (-counts[label], label))]


def reported_markdown(rows: tuple[ReportedRow, ...]) -> str:
    """Paper numbers as a Markdown table: the columns any paper reports, gains, other benchmarks, source."""
    cols = [c for c in COLUMNS if any(c.key in r.scores for r in rows)]
    gains = any(r.deltas for r in rows)  # only rows with no public absolute number carry gains
    head = [
        "Model",
        "Method",
        *(c.label for c in cols),
        *(["Gain over base (points)"] if gains else []),
        "Other benchmarks",
        "Source",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        source = f"[{_esc(r.source.cite())}]({r.source.url})"
        source += "".join(f"<br>{_esc(x)}" for x in (r.settings, r.note) if x)
        cells = [
            _esc(r.model),
            _esc(r.method),
            *(_num(r.scores.get(c.key)) for c in cols),
            *(
                [
                    "<br>".join(
                        f"{_esc(COLUMNS_BY_KEY[k].label)} {v:+.1f} vs {_esc(r.base_model)}" for k, v in r.deltas.items()
                    )
                ]
                if gains
                else []
            ),
            ", ".join(f"{_esc(k)} {100 * v:.1f}" for k, v in r.extra.items()),
            source,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def legend_markdown() -> str:
    """What the columns mean, from the column list itself."""
    lines = [f"- **{c.label}** ({c.task}): {c.description}" for c in COLUMNS if c.description]
    lines.append(
        f"- **{GAP}**: DyBench Acc minus P-Acc; large means right answers that do not survive the counterfactual."
    )
    lines.append("- **Origin**: `local` = a file in the results folder, `uploaded` = sent through the Submit tab.")
    lines.append(
        "- **Status**: `verified` = dybench re-scored the run's samples against a pairs dataset this "
        "leaderboard holds (name and manifest hash in Run details) and every claimed number matched; "
        "`arithmetic verified, data not held` = re-scored from the gold answers logged in the samples themselves, "
        "which proves the arithmetic only; `mismatch` = a claimed number differs (both in Notes and Run details) "
        "or the samples were scored on other data, or are not the documents lmms-eval evaluates (all of a task's, "
        "or the first N under --limit; each item once); `partly verified` = some tasks were not re-scored (other "
        "benchmarks, tasks without samples, tasks dybench does not ship); `self-reported` = no samples came with "
        "the run."
    )
    lines.append(
        "- **Settings**: frames, fps, max pixels (from the model arguments; `model default` when left to the "
        "model), prompt variant and lmms-eval version. Rows with different settings are not like for like."
    )
    lines.append("- **Date (UTC)**: lmms-eval writes Singapore time (UTC+8) unless told `--timezone`; shown in UTC.")
    return "\n".join(lines)


def _num(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}"


def gap_frame(runs: list[RunRow]) -> pd.DataFrame:
    """Acc against P-Acc, one point per run that has both."""
    import pandas as pd

    points = [
        {"Acc": pct(r.value(_ACC)), "P-Acc": pct(r.value(_P_ACC)), "Model": f"{r.model} · {r.run_id[:6]}"}
        for r in runs
        if r.value(_ACC) is not None and r.value(_P_ACC) is not None
    ]
    return pd.DataFrame.from_records(points, columns=["Acc", "P-Acc", "Model"])


def category_frame(runs: list[RunRow], category: str) -> pd.DataFrame:
    """The runs that have one DyBench category, best P-Acc on it first."""
    import pandas as pd

    col = dict(CATEGORY_COLUMNS)[category]
    ranked = sorted((r for r in runs if r.value(col) is not None), key=lambda r: -(r.value(col) or 0))
    rows = [
        {
            "Model": r.model,
            "P-Acc": pct(r.value(col)),
            "DyBench P-Acc": pct(r.value(_P_ACC)),
            "Settings": short_settings(r, runs),
            "Run": r.run_id,
        }  # fmt: skip
        for r in ranked
    ]
    return pd.DataFrame.from_records(rows, columns=["Model", "P-Acc", "DyBench P-Acc", "Settings", "Run"])


def samples_file(store: ResultsStore, run: RunRow, folder: Path) -> Path | None:
    """The run's per-sample records as JSONL in ``folder`` (one line per evaluated item of each dybench_pair
    task: task, item, pair, category, branch, gold, parsed answer, correct, response); None without samples."""
    from dybench.fileio import write_jsonl_atomic

    rows = [
        {"task": task, **sample.logged.to_row(), "correct": sample.logged.correct, "response": sample.response}
        for task, samples in sorted(store.samples(run).items())
        for sample in samples.items
    ]
    if not rows:
        return None
    path = folder / f"{run.run_id}_samples.jsonl"
    write_jsonl_atomic(path, rows, within=folder)
    return path


def styled(df: pd.DataFrame):
    """Numbers with one decimal and an empty cell for a missing score, values kept numeric for sorting."""
    numeric = [c for c in df.columns if df[c].dtype.kind == "f"]
    return df.style.format("{:.1f}", subset=numeric, na_rep="")


def detail_markdown(run: RunRow | None) -> str:
    if run is None:
        return "Pick a run (or click a row of the table)."
    lines = [
        f"### {_esc(run.model)}",
        f"**Run** `{run.run_id}` · **origin** {run.origin} · **date** {_esc(run.display_date)} · "
        f"**file** `{_code(run.path)}`",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {k} | `{_code(v)}` |" for k, v in run.config.items()),
        f"| lmms-eval | `{_code(run.lmms_eval_version or 'unknown')}` |",
        f"| git hash | `{_code(run.git_hash or 'not recorded')}` |",
        f"| dybench | `{_code(run.dybench_version or 'not recorded')}` |",
        f"| task versions | {_esc(_pairs(run.task_versions))} |",
        f"| documents evaluated | {_esc(_pairs(run.n_samples))} |",
        *(f"| {k.replace('_', ' ')} | `{_code(v)}` |" for k, v in run.settings.items()),
        "",
        verification_markdown(run),
    ]
    return "\n".join(lines)


def verification_markdown(run: RunRow) -> str:
    """The run's verification: status, the data it was scored on, the bootstrap interval, each task's finding."""
    v = run.verification
    lines = [f"#### Verification: **{_esc(v.label)}**"]
    if v.dataset is not None:
        lines.append(f"Scored on held data **{_esc(v.dataset)}**, fingerprint `{_code(v.dataset_fingerprint or '')}`.")
    elif v.checks:
        lines.append("No held pairs dataset has these items: only the arithmetic was checked, not the data.")
    else:
        lines.append("No samples came with this run: its numbers are as submitted, not re-scored.")
    if v.p_acc_bootstrap is not None and v.headline_task is not None:
        low, high = v.p_acc_bootstrap
        scope = f" of {v.pairs_in_dataset}" if v.pairs_in_dataset is not None else ""
        lines.append(
            f"P-Acc ({_esc(v.headline_task)}) 95% bootstrap interval over {v.pairs_scored}{scope} pairs: "
            f"**{100 * low:.1f} – {100 * high:.1f}** (percentile, 2,000 resamples of pairs, seed 0)."
        )
    if v.checks:
        lines += ["", "| task | outcome | what was checked |", "|---|---|---|"]
        lines += [f"| {_esc(c.task)} | {c.outcome} | {_esc(c.detail)} |" for c in v.checks]
    diffs = [(c.task, d) for c in v.checks for d in c.differences]
    if diffs:
        lines += ["", "| task | metric | claimed | re-scored |", "|---|---|---|---|"]
        lines += [
            f"| {_esc(t)} | {_esc(d.metric)} | {100 * d.claimed:.2f} | {100 * d.rescored:.2f} |" for t, d in diffs
        ]
    return "\n".join(lines)


def detail_frame(run: RunRow | None) -> pd.DataFrame:
    """Every score of a run with its 95% interval (the task's own, else ±1.96 stderr)."""
    import pandas as pd

    headers = ["Task", "Metric", "Value", "CI low", "CI high", "CI from"]
    if run is None:
        return pd.DataFrame(columns=headers)
    records = []
    for s in run.scores:
        ci = s.interval()
        source = "task" if s.score.interval is not None else "±1.96 stderr" if ci else ""
        records.append([s.task, s.metric, pct(s.value), pct(ci[0]) if ci else None, pct(ci[1]) if ci else None, source])
    return pd.DataFrame(records, columns=headers)


def detail_bars(run: RunRow | None) -> pd.DataFrame:
    import pandas as pd

    rows = (
        []
        if run is None
        else [
            {"Category": cat.replace("_", " "), "P-Acc": pct(run.value(col))}
            for cat, col in CATEGORY_COLUMNS
            if run.value(col) is not None
        ]
    )
    return pd.DataFrame.from_records(rows, columns=["Category", "P-Acc"])


def run_choices(runs: tuple[RunRow, ...] | list[RunRow]) -> list[tuple[str, str]]:
    return [(f"{r.model} · {r.display_date} · {r.run_id}", r.run_id) for r in runs]


def comparable_choices(runs: tuple[RunRow, ...]) -> list[tuple[str, str]]:
    """The runs the paired comparison can take: verified against held data."""
    return run_choices([r for r in runs if r.verification.verified])


def comparison_view(c: Comparison) -> tuple[str, pd.DataFrame]:
    """The comparison as Markdown, and its disagreeing pairs as a table."""
    import pandas as pd

    lines = [
        f"**{_esc(c.task)}** on held data **{_esc(c.dataset)}** (`{_code(c.dataset_fingerprint)}`), "
        f"{c.n_pairs} pairs both runs evaluated.",
        "",
        f"- A: {_esc(c.run_a.model)} (`{c.run_a.run_id}`): P-Acc **{100 * c.p_acc_a:.1f}**",
        f"- B: {_esc(c.run_b.model)} (`{c.run_b.run_id}`): P-Acc **{100 * c.p_acc_b:.1f}**",
        f"- Difference A − B: **{100 * c.difference:+.1f} points**; {_esc(c.test.method)}: "
        f"**p = {c.test.p_value:.4g}** ({c.test.a_only} pairs right only in A, {c.test.b_only} only in B).",
    ]
    if c.settings_differ:
        lines.append(f"- ⚠️ Their generation settings differ: A {_esc(c.run_a.settings_label)}; "
                     f"B {_esc(c.run_b.settings_label)}.")  # fmt: skip
    if c.note:
        lines.append(f"- Note: {_esc(c.note)}")
    rows = [
        {
            "Pair": d.pair_id,
            "Right in": d.right,
            "A responses": " | ".join(f"{i}: {r}" for i, r in d.responses_a),
            "B responses": " | ".join(f"{i}: {r}" for i, r in d.responses_b),
        }
        for d in c.disagreements
    ]
    return "\n".join(lines), pd.DataFrame.from_records(rows, columns=["Pair", "Right in", "A responses", "B responses"])


def submission_message(store: ResultsStore, data: bytes, samples: dict[str, bytes] | None = None) -> tuple[bool, str]:
    """Store an upload; ``(added, markdown message)``. A refusal lists every reason, verbatim."""
    try:
        sub = store.submit(data, samples)
    except ResultsError as e:
        return False, rejection(e)
    icon = "✅" if sub.added else "ℹ️"
    return sub.added, f"{icon} {_esc(sub.message)}"


def rejection(e: ResultsError) -> str:
    text = str(e).replace("```", "'''")
    return f"❌ **Rejected**: the file was not stored.\n\n```text\n{text}\n```"


def _esc(s: str) -> str:
    """Escape text from a results file for Markdown (it may hold HTML or Markdown syntax)."""
    s = html.escape(s, quote=False)
    return "".join("\\" + ch if ch in "\\`*_[]|~" else ch for ch in s)


def _pairs(d: dict[str, object]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items()) or "not recorded"


def _code(s: str) -> str:
    """Text for a Markdown code span inside a table cell."""
    return s.replace("`", "'").replace("|", "\\|")


# --- the page -------------------------------------------------------------------------------------------


def build_app(
    results_dir: str | os.PathLike,
    *,
    index_path: str | os.PathLike | None = None,
    data: tuple[str | os.PathLike, ...] = (),
) -> gr.Blocks:
    """The Gradio Blocks of the leaderboard over ``results_dir`` (not launched); ``data``: pairs datasets
    held as reference data for verification, beside ``<results_dir>/datasets/*/``."""
    import gradio as gr

    store = ResultsStore(results_dir, index_path=index_path, data=data)
    reported = load_reported()
    sort_choices = [BY_DATE, *(c.label for c in COLUMNS)]
    downloads = Path(tempfile.mkdtemp(prefix="dybench-leaderboard-"))

    def current(
        query: str, origins: list[str], weights: list[str], sizes: list[str], sections: list[str], sort_label: str,
        setting: str,
    ) -> tuple[list[RunRow], str]:  # fmt: skip
        listing = store.listing()
        sort_by = next((c for c in COLUMNS if c.label == sort_label), None)
        runs = select_runs(listing.runs, query=query or "", origins=[ORIGINS[o] for o in origins], sort_by=sort_by)
        runs = [r for r in runs if model_weights(r) in weights and size_label(model_size(r)) in sizes]
        if setting and setting != ALL_SETTINGS:
            runs = [r for r in runs if r.settings_label == setting]
        summary = f"{len(runs)} of {len(listing.runs)} runs shown"
        if not listing.runs:
            summary = (
                f"No runs in `{_code(str(store.root))}` yet: put lmms-eval results JSON files there "
                "(`dybench eval --output DIR`, `lmms-eval --output_path DIR`) or use the Submit tab."
            )
        shown_settings = {r.settings_label for r in runs}
        if len(shown_settings) > 1:
            summary += (
                f" · ⚠️ **{len(shown_settings)} different generation settings** among these rows: they are not "
                "like for like; pick one under *Settings* to rank equals"
            )
        elif shown_settings and runs:
            summary += f" · settings of all: {_esc(runs[0].settings_label)}"
        _, empty = table_columns(runs, sections)
        if empty:
            summary += f" · no shown run has {', '.join(c.label for c in empty)}"
        if listing.duplicates:
            summary += f" · {listing.duplicates} duplicate file(s) shown once"
        if listing.problems:
            summary += f" · {len(listing.problems)} file(s) skipped:\n" + "\n".join(
                f"- `{_code(p.path)}`: {_esc(p.message)}" for p in listing.problems
            )
        return runs, summary

    def refresh(query, origins, weights, sizes, sections, sort_label, setting):
        runs, summary = current(query, origins, weights, sizes, sections, sort_label, setting)
        rank_by = next((c for c in COLUMNS if c.label == sort_label), _P_ACC)
        return (
            styled(runs_frame(runs, sections, rank_by)),
            summary,
            gap_frame(runs),
            *(styled(category_frame(runs, category)) for category, _ in CATEGORY_COLUMNS),
        )

    def show_run(run_id: str | None):
        run = next((r for r in store.listing().runs if r.run_id == run_id), None)
        path = samples_file(store, run, downloads) if run is not None else None
        download = gr.update(value=str(path) if path else None, visible=path is not None)
        return detail_markdown(run), styled(detail_frame(run)), detail_bars(run), download

    def pick_row(evt: gr.SelectData):
        row = evt.row_value or []
        if not row:
            return gr.update(), gr.update()
        run = next((r for r in store.listing().runs if r.run_id == row[-1]), None)
        return gr.update(value=row[-1]), row_markdown(run)

    pick_row.__annotations__["evt"] = gr.SelectData  # gradio reads the real class, not the postponed string

    def reload_runs(setting: str | None = None):
        runs = store.listing().runs
        choices = settings_choices(runs)
        comparable = comparable_choices(runs)
        return (
            gr.update(choices=run_choices(runs)),
            gr.update(choices=choices, value=setting if setting in choices else ALL_SETTINGS),
            gr.update(choices=comparable),
            gr.update(choices=comparable),
        )

    def compare(a: str | None, b: str | None):
        import pandas as pd

        empty = pd.DataFrame(columns=["Pair", "Right in", "A responses", "B responses"])
        if not a or not b:
            return "Pick two verified runs.", empty
        runs = {r.run_id: r for r in store.listing().runs}
        if a not in runs or b not in runs:
            return "One of these runs is no longer in the results folder; reload the page.", empty
        try:
            text, frame = comparison_view(compare_runs(store, runs[a], store, runs[b]))
        except CompareError as e:
            return f"❌ {_esc(str(e))}", empty
        return text, frame

    def submit(paths: list[str] | None, setting, *view):
        if not paths:
            return ("Choose a results JSON file first.", *reload_runs(setting), *refresh(*view, setting))
        # gradio's own temporary copies (at most `max_file_size`, see `serve`); names only tell files apart
        try:
            upload = read_upload([Path(p) for p in paths])
        except ResultsError as e:
            message = rejection(e)
        else:
            _, message = submission_message(store, upload.results, upload.samples)
            if upload.ignored:
                message += f"\n\nNot used: {_esc(', '.join(upload.ignored))}."
        return (message, *reload_runs(setting), *refresh(*view, setting))

    # the first view is computed here, so the page shows the table at once (the load event refreshes it)
    first_view = ("", list(ORIGINS), list(WEIGHTS), [*SIZES, UNKNOWN_SIZE], list(DEFAULT_SECTIONS), _P_ACC.label)
    first = refresh(*first_view, ALL_SETTINGS)
    with gr.Blocks(title="dybench leaderboard", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Leaderboard", id="board"):
                with gr.Row():
                    search = gr.Textbox(label="Search models", placeholder="e.g. qwen crpo", elem_id="search", scale=2)
                    sort_by = gr.Dropdown(
                        sort_choices, value=_P_ACC.label, label="Rank by (best first)", elem_id="sort-by"
                    )
                    setting = gr.Dropdown(
                        [ALL_SETTINGS], value=ALL_SETTINGS, label="Settings", elem_id="settings-filter", scale=2
                    )
                with gr.Row():
                    weights = gr.CheckboxGroup(
                        list(WEIGHTS), value=list(WEIGHTS), label="Weights", elem_id="weights", scale=3
                    )
                    sizes = gr.CheckboxGroup(
                        [*SIZES, UNKNOWN_SIZE], value=[*SIZES, UNKNOWN_SIZE], label="Model size", elem_id="sizes",
                        scale=3,
                    )  # fmt: skip
                    origins = gr.CheckboxGroup(
                        list(ORIGINS), value=list(ORIGINS), label="Show", elem_id="origins", scale=2
                    )
                table = gr.Dataframe(
                    value=first[0],
                    label="Runs (click a row for its settings; lmms-eval results files)",
                    elem_id="runs-table",
                    interactive=False,
                    wrap=True,
                    max_height=600,
                    pinned_columns=2,
                    datatype=["html"],  # the Model cell; the other columns keep their values
                )
                row_detail = gr.Markdown(row_markdown(None), elem_id="row-detail")
                summary = gr.Markdown(first[1], elem_id="runs-summary")
                sections = gr.CheckboxGroup(
                    list(SECTIONS), value=list(DEFAULT_SECTIONS), label="Columns", elem_id="sections"
                )
                with gr.Accordion("What the columns mean", open=False):
                    gr.Markdown(legend_markdown())
                gr.Markdown(
                    "### Reported in papers\nNumbers as the papers (and the CRPO project page) printed them, "
                    "**not re-run by dybench**; "
                    "evaluation settings differ from the runs above."
                )
                gr.Markdown(reported_markdown(reported), elem_id="reported-table")
            with gr.Tab("Shortcut gap", id="gap"):
                gr.Markdown(
                    "Each point is a run. On the diagonal every right answer survives its counterfactual; "
                    "the further a run sits right of it (Acc ≫ P-Acc), the more it answers from shortcuts."
                )
                scatter = gr.ScatterPlot(
                    first[2],
                    x="Acc",
                    y="P-Acc",
                    color="Model",
                    x_lim=[0, 100],
                    y_lim=[0, 100],
                    x_title="DyBench Acc (%)",
                    y_title="DyBench P-Acc (%)",
                    tooltip="all",
                    height=420,
                    elem_id="gap-plot",
                )
            with gr.Tab("Per category", id="categories"):
                gr.Markdown("P-Acc on one DyBench category, best first (the filters of the Leaderboard tab apply).")
                category_tables = []
                with gr.Tabs():
                    for (category, _), frame in zip(CATEGORY_COLUMNS, first[3:], strict=True):
                        with gr.Tab(category.replace("_", " "), id=f"category-{category}"):
                            category_tables.append(
                                gr.Dataframe(frame, interactive=False, elem_id=f"category-{category}", max_height=500)
                            )
            with gr.Tab("Run details", id="details"):
                run_pick = gr.Dropdown(label="Run", elem_id="run-pick")
                download = gr.DownloadButton(
                    "Download its per-sample records (JSONL)", visible=False, elem_id="samples-download"
                )
                detail_md = gr.Markdown(elem_id="run-detail")
                detail_bar = gr.BarPlot(
                    x="Category",
                    y="P-Acc",
                    y_lim=[0, 100],
                    y_title="P-Acc (%)",
                    height=300,
                    label="P-Acc per category",
                )
                detail_table = gr.Dataframe(label="Scores with 95% confidence intervals (%)", interactive=False)
            with gr.Tab("Compare", id="compare"):
                gr.Markdown(
                    "Two **verified** runs on the same held pairs dataset, pair by pair: the P-Acc difference, "
                    "McNemar's exact test over the pairs (the two-sided binomial test on the pairs exactly one "
                    "run got right) and those pairs with both runs' responses. Also `dybench compare RUN_A RUN_B`."
                )
                with gr.Row():
                    compare_a = gr.Dropdown(label="Run A", elem_id="compare-a")
                    compare_b = gr.Dropdown(label="Run B", elem_id="compare-b")
                compare_btn = gr.Button("Compare", elem_id="compare-btn")
                compare_md = gr.Markdown(elem_id="compare-result")
                compare_table = gr.Dataframe(
                    label="Pairs where they disagree", interactive=False, wrap=True, elem_id="compare-pairs"
                )
            with gr.Tab("Submit", id="submit"):
                gr.Markdown(
                    "Upload the `*_results.json` that `dybench eval` or `lmms-eval --output_path` wrote, with "
                    "the run's samples files (`*_samples_<task>.jsonl`, from `--log_samples`) as further files, "
                    "or one `.zip`/`.tar.gz` of the run folder (at most "
                    f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MiB in all; a results JSON at most "
                    f"{MAX_RESULTS_BYTES // (1024 * 1024)} MiB). It is checked (required fields, known tasks, "
                    "scores in [0, 1]) and stored under a name made from its content; identical runs are kept "
                    "once. With samples, dybench re-scores the dybench_pair tasks and labels the row "
                    "verified, mismatch or arithmetic-only (see the legend); without, it is self-reported. "
                    "Nothing uploaded is executed or unpacked to disk."
                )
                upload = gr.File(
                    label="Results JSON, samples JSONL, or an archive of the run folder",
                    file_count="multiple",
                    file_types=[".json", ".jsonl", ".zip", ".tar", ".gz", ".tgz"],
                    type="filepath",
                    elem_id="submit-file",
                )
                submit_btn = gr.Button("Submit", variant="primary", elem_id="submit-btn")
                status = gr.Markdown(elem_id="submit-status")

        view_inputs = [search, origins, weights, sizes, sections, sort_by, setting]
        view_outputs = [table, summary, scatter, *category_tables]
        choice_outputs = [run_pick, setting, compare_a, compare_b]
        demo.load(refresh, view_inputs, view_outputs, show_progress="hidden", concurrency_id="view").then(
            reload_runs, setting, choice_outputs, show_progress="hidden"
        )
        # one view refresh at a time, in the order they were asked for: two filter clicks in a row must not
        # end with the first one's table
        for control in (origins, weights, sizes, sections, sort_by, setting, search):
            control.change(refresh, view_inputs, view_outputs, concurrency_id="view", concurrency_limit=1)
        run_pick.change(show_run, run_pick, [detail_md, detail_table, detail_bar, download])
        table.select(pick_row, None, [run_pick, row_detail])
        compare_btn.click(compare, [compare_a, compare_b], [compare_md, compare_table])
        submit_btn.click(
            submit,
            [upload, setting, search, origins, weights, sizes, sections, sort_by],
            [status, *choice_outputs, *view_outputs],
        )
    return demo


def serve(
    results_dir: str | os.PathLike | None = None,
    *,
    port: int = DEFAULT_PORT,
    index_path: str | os.PathLike | None = None,
    data: tuple[str | os.PathLike, ...] = (),
    block: bool = True,
) -> gr.Blocks:
    """Launch the leaderboard on 127.0.0.1:``port`` over ``results_dir`` (default: the bundled folder);
    ``data``: pairs datasets held as reference data for verification."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    folder = Path(results_dir) if results_dir is not None else default_results_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"results folder {folder} does not exist; pass --results DIR (a folder)")
    for d in data:
        if not Path(d).is_dir():
            raise FileNotFoundError(f"--data {d}: no such folder; pass a pairs dataset folder ({PairsDataset.LAYOUT})")
    demo = build_app(folder, index_path=index_path, data=tuple(data))
    demo.queue(default_concurrency_limit=4)
    demo.launch(
        server_name=HOST,
        server_port=port,
        share=False,
        ssr_mode=False,
        show_error=True,
        max_file_size=MAX_UPLOAD_BYTES,  # bigger files never reach disk; our own checks follow
        css=CSS,
        prevent_thread_lock=True,
        quiet=True,  # Gradio's own lines end with a hint to share the page publicly; this app never does
    )
    if block:
        print(f"dybench leaderboard on http://{HOST}:{demo.server_port}/ (Ctrl+C stops it)", flush=True)
        demo.block_thread()
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The dybench leaderboard (Gradio, 127.0.0.1 only).")
    parser.add_argument("--results", type=Path, default=None, help="Folder of lmms-eval results JSON files.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Port on 127.0.0.1.")
    parser.add_argument(
        "--data", type=Path, action="append", default=[], help="A pairs dataset held for verification (repeatable)."
    )
    args = parser.parse_args(argv)
    serve(args.results, port=args.port, data=tuple(args.data))


if __name__ == "__main__":
    main()
