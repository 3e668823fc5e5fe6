"""The dybench leaderboard: a Gradio page over a folder of lmms-eval results files.

Start it with ``dybench leaderboard [--results DIR] [--port P]`` or ``python leaderboard/app.py
[--results DIR] [--port P]``; it listens on 127.0.0.1 only. Without ``--results`` it shows the
folder that ships with dybench (``leaderboard/results``: the project's own baseline runs).

The page is a thin view over `dybench.results`, which reads, validates, indexes and stores results:

- Leaderboard: one row per run (one results file), columns from `dybench.results.COLUMNS`, search,
  filters and a sort whose direction follows each metric's ``higher_is_better``; below it, numbers
  reported in papers, labelled with their source and never mixed with the runs.
- Shortcut gap: DyBench Acc against P-Acc. A model far above P-Acc on Acc answers from shortcuts.
- Per category: P-Acc of every run on one DyBench category.
- Run details: config, versions, date (UTC), the verification (what was re-scored, against which data),
  and every score with its confidence interval, P-Acc's bootstrap interval over pairs for re-scored runs.
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


def runs_frame(runs: list[RunRow], sections: list[str]) -> pd.DataFrame:
    """The leaderboard table: one row per run, the chosen sections' filled columns, the shortcut gap."""
    import pandas as pd

    cols, _ = table_columns(runs, sections)
    records = []
    for r in runs:
        rec: dict[str, object] = {"Model": r.model, "Status": r.verification.label, "Origin": r.origin,
                                  "Date (UTC)": r.date_utc or r.date, "Settings": r.settings_label}  # fmt: skip
        rec.update({c.label: pct(r.value(c)) for c in cols})
        rec[GAP] = pct(shortcut_gap(r))
        rec["Notes"] = row_notes(r)
        rec["Run"] = r.run_id
        records.append(rec)
    headers = ["Model", "Status", "Origin", "Date (UTC)", "Settings", *(c.label for c in cols), GAP, "Notes", "Run"]
    return pd.DataFrame.from_records(records, columns=headers)


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


def category_frame(runs: list[RunRow], category_label: str) -> pd.DataFrame:
    """P-Acc on one DyBench category for every run that has it."""
    import pandas as pd

    col = next(c for _, c in CATEGORY_COLUMNS if c.label == category_label)
    bars = [
        {"Run": f"{r.model} · {r.run_id[:6]}", "P-Acc": pct(r.value(col))} for r in runs if r.value(col) is not None
    ]
    return pd.DataFrame.from_records(bars, columns=["Run", "P-Acc"])


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
    category_labels = [c.label for _, c in CATEGORY_COLUMNS]

    def current(
        query: str, origins: list[str], sections: list[str], sort_label: str, setting: str
    ) -> tuple[list[RunRow], str]:
        listing = store.listing()
        sort_by = next((c for c in COLUMNS if c.label == sort_label), None)
        runs = select_runs(listing.runs, query=query or "", origins=[ORIGINS[o] for o in origins], sort_by=sort_by)
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

    def refresh(query, origins, sections, sort_label, setting, category_label):
        runs, summary = current(query, origins, sections, sort_label, setting)
        return (
            styled(runs_frame(runs, sections)),
            summary,
            gap_frame(runs),
            category_frame(runs, category_label),
        )

    def show_run(run_id: str | None):
        run = next((r for r in store.listing().runs if r.run_id == run_id), None)
        return detail_markdown(run), styled(detail_frame(run)), detail_bars(run)

    def pick_row(evt: gr.SelectData):
        row = evt.row_value or []
        return gr.update(value=row[-1]) if row else gr.update()

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
            return ("Choose a results JSON file first.", *reload_runs(setting), *refresh(*view[:4], setting, view[4]))
        # gradio's own temporary copies (at most `max_file_size`, see `serve`); names only tell files apart
        try:
            upload = read_upload([Path(p) for p in paths])
        except ResultsError as e:
            message = rejection(e)
        else:
            _, message = submission_message(store, upload.results, upload.samples)
            if upload.ignored:
                message += f"\n\nNot used: {_esc(', '.join(upload.ignored))}."
        return (message, *reload_runs(setting), *refresh(*view[:4], setting, view[4]))

    with gr.Blocks(title="dybench leaderboard", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Leaderboard", id="board"):
                with gr.Row():
                    search = gr.Textbox(label="Search models", placeholder="e.g. qwen crpo", elem_id="search", scale=2)
                    origins = gr.CheckboxGroup(list(ORIGINS), value=list(ORIGINS), label="Show", elem_id="origins")
                    sort_by = gr.Dropdown(
                        sort_choices, value=_P_ACC.label, label="Sort by (best first)", elem_id="sort-by"
                    )
                    setting = gr.Dropdown(
                        [ALL_SETTINGS], value=ALL_SETTINGS, label="Settings", elem_id="settings-filter", scale=2
                    )
                sections = gr.CheckboxGroup(
                    list(SECTIONS), value=list(DEFAULT_SECTIONS), label="Columns", elem_id="sections"
                )
                table = gr.Dataframe(
                    label="Runs (lmms-eval results files; local: in the folder, uploaded: submitted here)",
                    elem_id="runs-table",
                    interactive=False,
                    wrap=True,
                    max_height=600,
                )
                summary = gr.Markdown(elem_id="runs-summary")
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
                category = gr.Dropdown(category_labels, value=category_labels[0], label="Category")
                bars = gr.BarPlot(
                    x="Run",
                    y="P-Acc",
                    y_lim=[0, 100],
                    y_title="P-Acc (%)",
                    sort="-y",
                    x_label_angle=-20,
                    height=420,
                    elem_id="category-plot",
                )
            with gr.Tab("Run details", id="details"):
                run_pick = gr.Dropdown(label="Run", elem_id="run-pick")
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

        view_inputs = [search, origins, sections, sort_by, setting, category]
        view_outputs = [table, summary, scatter, bars]
        choice_outputs = [run_pick, setting, compare_a, compare_b]
        demo.load(refresh, view_inputs, view_outputs).then(reload_runs, setting, choice_outputs)
        for control in (origins, sections, sort_by, setting, category):
            control.change(refresh, view_inputs, view_outputs)
        search.change(refresh, view_inputs, view_outputs)
        run_pick.change(show_run, run_pick, [detail_md, detail_table, detail_bar])
        table.select(pick_row, None, run_pick)
        compare_btn.click(compare, [compare_a, compare_b], [compare_md, compare_table])
        submit_btn.click(
            submit,
            [upload, setting, search, origins, sections, sort_by, category],
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
        prevent_thread_lock=not block,
        quiet=not block,
    )
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
