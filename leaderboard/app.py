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
- Run details: config, versions, date and every score with its confidence interval.
- Submit: upload a results JSON; it is validated and stored, byte for byte, under a content-hash name.
  "Added" means the run is on the board; the same run sent again (even at the same moment) is reported
  as already there.

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

from dybench.results import (
    CATEGORY_COLUMNS,
    COLUMNS,
    COLUMNS_BY_KEY,
    DEFAULT_SECTIONS,
    MAX_RESULTS_BYTES,
    SECTIONS,
    Column,
    ReportedRow,
    ResultsError,
    ResultsStore,
    RunRow,
    default_results_dir,
    load_reported,
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
        rec: dict[str, object] = {"Model": r.model, "Origin": r.origin, "Date": r.display_date}
        rec.update({c.label: pct(r.value(c)) for c in cols})
        rec[GAP] = pct(shortcut_gap(r))
        rec["Notes"] = f"limit={r.config['limit']}" if "limit" in r.config else ""
        rec["Run"] = r.run_id
        records.append(rec)
    headers = ["Model", "Origin", "Date", *(c.label for c in cols), GAP, "Notes", "Run"]
    return pd.DataFrame.from_records(records, columns=headers)


def reported_markdown(rows: tuple[ReportedRow, ...]) -> str:
    """Paper numbers as a Markdown table: the columns any paper reports, gains, other benchmarks, source."""
    cols = [c for c in COLUMNS if any(c.key in r.scores for r in rows)]
    head = [
        "Model",
        "Method",
        *(c.label for c in cols),
        "Gain over base (points)",
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
            "<br>".join(
                f"{_esc(COLUMNS_BY_KEY[k].label)} {v:+.1f} vs {_esc(r.base_model)}" for k, v in r.deltas.items()
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
        source = "task" if s.ci_low is not None and s.ci_high is not None else "±1.96 stderr" if ci else ""
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


def run_choices(runs: tuple[RunRow, ...]) -> list[tuple[str, str]]:
    return [(f"{r.model} · {r.display_date} · {r.run_id}", r.run_id) for r in runs]


def submission_message(store: ResultsStore, data: bytes) -> tuple[bool, str]:
    """Store an upload; ``(added, markdown message)``. A refusal lists every reason, verbatim."""
    try:
        sub = store.submit(data)
    except ResultsError as e:
        text = str(e).replace("```", "'''")
        return False, f"❌ **Rejected**: the file was not stored.\n\n```text\n{text}\n```"
    icon = "✅" if sub.added else "ℹ️"
    return sub.added, f"{icon} {_esc(sub.message)}"


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


def build_app(results_dir: str | os.PathLike, *, index_path: str | os.PathLike | None = None) -> gr.Blocks:
    """The Gradio Blocks of the leaderboard over ``results_dir`` (not launched)."""
    import gradio as gr

    store = ResultsStore(results_dir, index_path=index_path)
    reported = load_reported()
    sort_choices = [BY_DATE, *(c.label for c in COLUMNS)]
    category_labels = [c.label for _, c in CATEGORY_COLUMNS]

    def current(query: str, origins: list[str], sections: list[str], sort_label: str) -> tuple[list[RunRow], str]:
        listing = store.listing()
        sort_by = next((c for c in COLUMNS if c.label == sort_label), None)
        runs = select_runs(listing.runs, query=query or "", origins=[ORIGINS[o] for o in origins], sort_by=sort_by)
        summary = f"{len(runs)} of {len(listing.runs)} runs shown"
        if not listing.runs:
            summary = (
                f"No runs in `{_code(str(store.root))}` yet: put lmms-eval results JSON files there "
                "(`dybench eval --output DIR`, `lmms-eval --output_path DIR`) or use the Submit tab."
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

    def refresh(query, origins, sections, sort_label, category_label):
        runs, summary = current(query, origins, sections, sort_label)
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

    def reload_runs():
        return gr.update(choices=run_choices(store.listing().runs))

    def submit(path: str | None, *view):
        if not path:
            return ("Choose a results JSON file first.", gr.update(), *refresh(*view))
        # gradio's own temporary copy (at most `max_file_size`, see `serve`); the uploaded name is never used
        data = Path(path).read_bytes()
        _, message = submission_message(store, data)
        return (message, reload_runs(), *refresh(*view))

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
                    "### Reported in papers\nNumbers as the papers printed them, **not re-run by dybench**; "
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
            with gr.Tab("Submit", id="submit"):
                gr.Markdown(
                    "Upload the `*_results.json` that `dybench eval` or `lmms-eval --output_path` wrote "
                    f"(at most {MAX_RESULTS_BYTES // (1024 * 1024)} MiB). It is checked (required fields, "
                    "known tasks, scores in [0, 1]) and stored under a name made from its content; identical "
                    "runs are kept once. Uploaded runs are marked `uploaded`: nobody re-ran them here."
                )
                upload = gr.File(label="Results JSON", file_types=[".json"], type="filepath", elem_id="submit-file")
                submit_btn = gr.Button("Submit", variant="primary", elem_id="submit-btn")
                status = gr.Markdown(elem_id="submit-status")

        view_inputs = [search, origins, sections, sort_by, category]
        view_outputs = [table, summary, scatter, bars]
        demo.load(refresh, view_inputs, view_outputs).then(reload_runs, None, run_pick)
        for control in (origins, sections, sort_by, category):
            control.change(refresh, view_inputs, view_outputs)
        search.change(refresh, view_inputs, view_outputs)
        run_pick.change(show_run, run_pick, [detail_md, detail_table, detail_bar])
        table.select(pick_row, None, run_pick)
        submit_btn.click(submit, [upload, *view_inputs], [status, run_pick, *view_outputs])
    return demo


def serve(
    results_dir: str | os.PathLike | None = None,
    *,
    port: int = DEFAULT_PORT,
    index_path: str | os.PathLike | None = None,
    block: bool = True,
) -> gr.Blocks:
    """Launch the leaderboard on 127.0.0.1:``port`` over ``results_dir`` (default: the bundled folder)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    folder = Path(results_dir) if results_dir is not None else default_results_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"results folder {folder} does not exist; pass --results DIR (a folder)")
    demo = build_app(folder, index_path=index_path)
    demo.queue(default_concurrency_limit=4)
    demo.launch(
        server_name=HOST,
        server_port=port,
        share=False,
        ssr_mode=False,
        show_error=True,
        max_file_size=4 * MAX_RESULTS_BYTES,  # bigger files never reach disk; smaller oversize ones get our message
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The dybench leaderboard (Gradio, 127.0.0.1 only).")
    parser.add_argument("--results", type=Path, default=None, help="Folder of lmms-eval results JSON files.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Port on 127.0.0.1.")
    args = parser.parse_args(argv)
    serve(args.results, port=args.port)


if __name__ == "__main__":
    main()
