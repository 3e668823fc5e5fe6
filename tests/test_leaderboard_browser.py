"""The leaderboard in a real browser: `dybench leaderboard` on 127.0.0.1, driven by headless Chromium.

Uses Debian's chromium (`.ci/install-system-deps.sh` installs it) through Playwright; browsers are never
downloaded. The page screenshot is kept in the test's tmp folder and, when ``DYBENCH_ARTIFACTS`` is set,
copied there.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dybench.results import COLUMNS_BY_KEY, load_reported, run_from_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the source checkout, for leaderboard.app
from leaderboard.app import (  # noqa: E402
    category_frame,
    model_size,
    model_weights,
    reported_markdown,
    row_markdown,
    runs_frame,
    size_label,
    submission_message,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_results import results_obj  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
P_ACC_COLUMN = 1  # Model, then the ranking metric (DyBench P-Acc by default)
UPLOADED = "uploaded <b>model</b>"  # markup in a model name must show as text
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# seeded runs: the newest has the lowest P-Acc, so sorting by P-Acc and by date give different orders; an
# open 7B model, an API model and one of unknown size
SEEDS = [("seed-alpha", 0.62, 0.80, "20261101_100000", "qwen2_5_vl", "pretrained=/models/Qwen2.5-VL-7B-Instruct"),
         ("seed-beta", 0.35, 0.85, "20261102_100000", "openai", "model_version=gpt-5.1"),
         ("seed-gamma", 0.18, 0.78, "20261103_100000", "dummy", "response=A")]  # fmt: skip


# --- the view functions, without a browser ------------------------------------------------------------


def _run(name: str = "m", model: str | None = None, model_args: str | None = None, **scores):
    obj = results_obj(name, **scores)
    if model is not None:
        obj["config"]["model"] = model
    if model_args is not None:
        obj["config"]["model_args"] = model_args
    return run_from_results(obj, path=name, origin="local")


def test_table_puts_the_ranking_metric_next_to_the_model_and_keeps_the_run_id():
    runs = [_run("m <b>", p_acc=0.5, acc=0.75)]
    df = runs_frame(runs, ["DyBench", "Video benchmarks"])
    assert list(df.columns) == [
        "Model", "DyBench P-Acc", "DyBench Acc", "Gap Acc−P-Acc", "Size", "Weights", "Status", "Settings",
        "Date (UTC)", "Notes", "Run",
    ]  # fmt: skip
    assert df.loc[0, "DyBench P-Acc"] == 50.0 and df.loc[0, "Gap Acc−P-Acc"] == 25.0
    assert df.loc[0, "Run"] == runs[0].run_id
    assert df.loc[0, "Status"] == "self-reported" and df.loc[0, "Date (UTC)"] == "2026-11-21 04:58"
    full = (
        "frames model default · fps model default · max_pixels model default · prompt not recorded · "
        "lmms-eval main@unknown"
    )
    assert df.loc[0, "Model"] == f'<span title="{full} · self-reported">m &lt;b&gt;</span>', "settings on hover"
    assert df.loc[0, "Settings"] == "same", "only what differs between the shown runs"
    assert list(runs_frame(runs, ["DyBench"], rank_by=COLUMNS_BY_KEY["acc"]).columns[:3]) == [
        "Model", "DyBench Acc", "DyBench P-Acc",
    ]  # fmt: skip
    other = _run("n", model_args="max_num_frames=8")
    assert list(runs_frame([*runs, other], ["DyBench"])["Settings"]) == ["frames default", "frames 8"]
    assert "Settings: frames model default · fps model default · max\\_pixels" in row_markdown(runs[0])


@pytest.mark.parametrize(
    ("model", "model_args", "weights", "size"),
    [
        ("qwen2_5_vl", "pretrained=/m/Qwen2.5-VL-7B-Instruct,max_pixels=3136", "open", 7.0),
        ("vllm", "pretrained=OpenGVLab/InternVL3-78B", "open", 78.0),
        ("openai", "model_version=gpt-5.1,base_url=https://api.openai.com/v1", "closed (API)", None),
        ("openai", "model_version=Qwen/Qwen2.5-VL-3B-Instruct,base_url=http://127.0.0.1:8000/v1", "open", 3.0),
        ("gemini", "model_version=gemini-2.5-pro", "closed (API)", None),
        ("qwen2_5_vl", "pretrained=HuggingFaceTB/SmolVLM2-256M-Video-Instruct", "open", 0.256),
        ("dybench_constant", "answer=A", "baseline", None),
    ],
)
def test_weights_and_size_come_from_the_model_class_and_arguments(model, model_args, weights, size):
    run = _run(model=model, model_args=model_args)
    assert (model_weights(run), model_size(run)) == (weights, size)


def test_size_buckets():
    assert [size_label(s) for s in (None, 0.256, 4, 7, 13, 72)] == [
        "unknown",
        "≤ 4B",
        "≤ 4B",
        "4–13B",
        "4–13B",
        "> 13B",
    ]


def test_a_category_table_ranks_the_runs_that_have_it():
    def run(name: str, static: float | None):
        obj = results_obj(name)
        if static is None:
            del obj["results"]["dybench_pair_static"]
        else:
            obj["results"]["dybench_pair_static"]["p_acc,none"] = static
        return run_from_results(obj, path=name, origin="local")

    frame = category_frame([run("a", 0.2), run("b", 0.9), run("c", None)], "static")
    assert list(frame["Model"]) == ["b", "a"] and list(frame["P-Acc"]) == [90.0, 20.0]


def test_reported_rows_cite_their_source_and_show_crpo_absolute_numbers():
    text = reported_markdown(load_reported())
    assert "arXiv 2605.01324" in text and "https://arxiv.org/abs/2605.21988" in text
    assert "Gain over base" not in text and "no public absolute numbers" not in text
    header = [c.strip() for c in text.splitlines()[0].strip("|").split("|")]
    crpo_line = next(line for line in text.splitlines() if "Qwen3-VL-8B + CRPO" in line)
    cells = dict(zip(header, (c.strip() for c in crpo_line.strip("|").split("|")), strict=True))
    assert cells["DyBench P-Acc"] == "58.1" and cells["TimeBlind I-Acc"] == "36.0" and cells["MVBench"] == "69.7"
    assert "project page main table" in cells["Source"]


def test_bad_upload_message_lists_the_reasons_as_text(tmp_path: Path):
    from dybench.results import ResultsStore

    (tmp_path / "r").mkdir()
    store = ResultsStore(tmp_path / "r", index_path=tmp_path / "i.sqlite")
    evil = {
        "results": {"dybench_pair": {"p_acc,none": 0.5}, "x```<b>": {}},
        "config": {"model": "m"},
        "date": "d",
    }
    added, message = submission_message(store, json.dumps(evil).encode())
    assert not added and message.startswith("❌ **Rejected**")
    assert "unknown task(s) 'x'''<b>'" in message  # shown as text: the upload cannot close the code block
    assert message.count("```") == 2 and message.endswith("```")


# --- the browser -----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serving(tmp_path: Path, results: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`dybench leaderboard --results RESULTS` on a free port, until the block ends."""
    pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing: run .ci/install-system-deps.sh")
    port = _free_port()
    env = {**os.environ, "DYBENCH_CACHE_DIR": str(tmp_path / "cache"), "GRADIO_ANALYTICS_ENABLED": "False",
           "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}  # fmt: skip
    dybench = Path(sys.executable).with_name("dybench")
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [str(dybench), "leaderboard", "--results", str(results), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the leaderboard did not start:\n{(tmp_path / 'server.log').read_text()}")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    results = tmp_path / "results"
    for i, (name, p_acc, acc, date, model, model_args) in enumerate(SEEDS):
        path = results / f"model{i}" / f"{date}_results.json"
        path.parent.mkdir(parents=True)
        obj = results_obj(name, p_acc=p_acc, acc=acc, date=date)
        obj["config"] |= {"model": model, "model_args": model_args}
        path.write_text(json.dumps(obj, indent=2))
    with _serving(tmp_path, results) as served:
        yield served


def _model_column(page) -> list[str]:
    """The Model column top to bottom, read in one go (the table re-renders while we look)."""
    cells = page.locator("#runs-table [data-testid^='cell-'][data-testid$='-0']")
    return [t.strip() for t in cells.all_inner_texts()]


def _wait_models(page, expected: list[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while (got := _model_column(page)) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"table shows {got}, expected {expected}")
        page.wait_for_timeout(200)


def _choose(page, dropdown_id: str, option: str) -> None:
    page.locator(f"#{dropdown_id} input").click()
    page.locator(f"#{dropdown_id}").get_by_role("option", name=option, exact=True).click()


def _toggle(page, group_id: str, label: str) -> None:
    page.locator(f"#{group_id}").get_by_label(label, exact=True).click()


def _check_first_screen(page, path: Path) -> None:
    """At 1400 x 900 the ranking metric is on screen and every header is one line; a screenshot for a look."""
    header = page.locator("#runs-table thead th").nth(P_ACC_COLUMN)
    assert header.inner_text().strip() == COLUMNS_BY_KEY["p_acc"].label
    box = header.bounding_box()
    assert box["x"] + box["width"] <= 1400 and box["y"] + box["height"] <= 900, box
    cell = page.locator("#runs-table").get_by_test_id(f"cell-0-{P_ACC_COLUMN}").bounding_box()
    assert cell["x"] + cell["width"] <= 1400 and cell["y"] + cell["height"] <= 900, cell
    spans = page.locator("#runs-table thead th span.header")
    heights = {round(b["height"]) for b in (spans.nth(i).bounding_box() for i in range(spans.count())) if b}
    assert len(heights) == 1, f"a header wraps: heights {heights}"  # one line each, none broken mid-word
    page.screenshot(path=str(path))


def _upload(page, path: Path) -> str:
    page.get_by_role("tab", name="Submit").click()
    page.locator("#submit-file input[type=file]").set_input_files(str(path))
    page.locator("#submit-file").get_by_text(path.name).wait_for()  # uploaded to the server
    page.locator("#submit-btn").click()
    status = page.locator("#submit-status")
    status.get_by_text("✅").or_(status.get_by_text("❌")).first.wait_for()
    return status.inner_text()


def test_leaderboard_in_a_real_browser(server, tmp_path: Path):
    import psutil
    from playwright.sync_api import sync_playwright

    url, proc = server
    server_process = psutil.Process(proc.pid)
    sockets = getattr(server_process, "net_connections", server_process.connections)()  # psutil < 6: connections
    assert {c.laddr.ip for c in sockets if c.status == psutil.CONN_LISTEN} == {"127.0.0.1"}  # never 0.0.0.0

    good = tmp_path / "upload" / "good_results.json"
    good.parent.mkdir()
    good.write_text(json.dumps(results_obj(UPLOADED, p_acc=0.47, acc=0.66, date="20261104_100000")))
    bad = tmp_path / "upload" / "bad_results.json"
    bad_obj = results_obj("bad-model")
    bad_obj["results"]["dybench_pair"]["p_acc,none"] = 61.2  # percent instead of a fraction
    bad.write_text(json.dumps(bad_obj))

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)  # generous: a loaded 2-core CI machine is slow, a real hang still fails
            page.goto(url)

            by_p_acc = [name for name, *_ in sorted(SEEDS, key=lambda s: -s[1])]
            by_date = [name for name, *_ in sorted(SEEDS, key=lambda s: s[3], reverse=True)]
            _wait_models(page, by_p_acc)  # the seeded rows, best P-Acc first by default
            first_screen = tmp_path / "leaderboard-first-screen.png"
            _check_first_screen(page, first_screen)
            _toggle(page, "weights", "closed (API)")
            _wait_models(page, [n for n in by_p_acc if n != "seed-beta"])
            _toggle(page, "weights", "closed (API)")
            _toggle(page, "sizes", "unknown")  # right after the previous click: refreshes run in click order
            _wait_models(page, ["seed-alpha"])  # the only one whose name states its size (7B)
            _toggle(page, "sizes", "unknown")
            _wait_models(page, by_p_acc)
            page.locator("#runs-table").get_by_test_id("cell-2-0").click()  # a row shows its settings in full
            page.locator("#row-detail").get_by_text("seed-gamma").wait_for()
            assert "Settings: frames model default" in page.locator("#row-detail").inner_text()
            _choose(page, "sort-by", "Date (newest first)")
            _wait_models(page, by_date)
            _choose(page, "sort-by", COLUMNS_BY_KEY["p_acc"].label)
            _wait_models(page, by_p_acc)
            assert page.locator("#runs-table").get_by_test_id(f"cell-0-{P_ACC_COLUMN}").inner_text().strip() == "62.0"

            page.locator("#search textarea, #search input").first.fill("gamma")
            _wait_models(page, ["seed-gamma"])
            page.locator("#search textarea, #search input").first.fill("")
            _wait_models(page, by_p_acc)

            assert "Added run" in _upload(page, good)
            page.get_by_role("tab", name="Leaderboard").click()
            _wait_models(page, ["seed-alpha", UPLOADED, "seed-beta", "seed-gamma"])

            page.reload()
            message = _upload(page, bad)
            assert "Rejected" in message and "outside [0, 1]" in message and "write 0.612" in message
            page.get_by_role("tab", name="Leaderboard").click()
            _wait_models(page, ["seed-alpha", UPLOADED, "seed-beta", "seed-gamma"])

            page.locator("#runs-table").get_by_test_id("cell-1-0").click()  # a row opens its details
            page.get_by_role("tab", name="Run details").click()
            page.locator("#run-detail").get_by_text(UPLOADED).wait_for()

            page.get_by_role("tab", name="Leaderboard").click()
            page.wait_for_timeout(500)
            shot = tmp_path / "leaderboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    assert shot.stat().st_size > 10_000 and first_screen.stat().st_size > 10_000
    if artifacts := os.environ.get("DYBENCH_ARTIFACTS"):
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "leaderboard.png")
        shutil.copy(first_screen, Path(artifacts) / first_screen.name)
    log = (tmp_path / "server.log").read_text()
    assert "share=True" not in log and "dybench leaderboard on http://127.0.0.1:" in log
    stored = list((tmp_path / "results" / "uploads").iterdir())
    assert [p.name for p in stored] == [
        f"{run_from_results(json.loads(good.read_text()), path='', origin='uploaded').run_id}_results.json"
    ]


# --- verification, settings and the paired view in the browser --------------------------------------------


def _cell_texts(page, column: int) -> list[str]:
    cells = page.locator(f"#runs-table [data-testid^='cell-'][data-testid$='-{column}']")
    return [t.strip() for t in cells.all_inner_texts()]


def _wait_rows(page, expected: list[tuple[str, str]], timeout_s: float = 60) -> None:
    """Wait until the table's (Model, Status) rows are ``expected``, top to bottom."""
    deadline = time.monotonic() + timeout_s
    while (
        got := list(zip(_cell_texts(page, 0), _cell_texts(page, _column(page, "Status")), strict=False))
    ) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"table shows {got}, expected {expected}")
        page.wait_for_timeout(200)


def _upload_files(page, paths: list[Path]) -> str:
    """Send files through the Submit tab (after a reload, so no earlier message is mistaken for this one)."""
    page.reload()
    page.get_by_role("tab", name="Submit").click()
    page.locator("#submit-file input[type=file]").set_input_files([str(p) for p in paths])
    names = page.locator("#submit-file td.filename")  # one row per file uploaded to the server
    names.nth(len(paths) - 1).wait_for()
    assert sorted(t.replace("\n", "").strip() for t in names.all_inner_texts()) == sorted(p.name for p in paths)
    page.locator("#submit-btn").click()
    status = page.locator("#submit-status")
    status.get_by_text("✅").or_(status.get_by_text("❌")).first.wait_for()
    return status.inner_text()


def test_verified_mismatching_and_self_reported_uploads_in_a_real_browser(tmp_path: Path):
    """Upload a verified run (an archive of its folder), a mismatching one (several files) and a self-reported
    one; a verified run also lies in the folder. Labels, the settings filter and the paired view."""
    from playwright.sync_api import sync_playwright
    from test_results_verify import RUNS, STEM, hold_pairs, place

    from dybench.results import generation_settings, settings_label

    results = tmp_path / "results"
    hold_pairs(results / "datasets" / "tiny-pairs")
    local = json.loads(place(results, "dybench_constant").read_text())
    sent = tmp_path / "sent"
    sent.mkdir()
    verified = sent / "random-run.zip"
    with zipfile.ZipFile(verified, "w") as z:
        for f in sorted((RUNS / "dybench_random").iterdir()):
            z.write(f, f"dybench_random/{f.name}")
    random_obj = json.loads((RUNS / "dybench_random" / f"{STEM}_results.json").read_text())
    tampered = json.loads(json.dumps(random_obj))
    tampered["model_name"] = "tampered-run"
    tampered["results"]["dybench_pair"]["p_acc,none"] = 0.5  # re-scoring gives 2/6
    (sent / "tampered").mkdir()
    mismatch = [sent / "tampered" / f"{STEM}_results.json"]
    mismatch[0].write_text(json.dumps(tampered))
    for f in sorted((RUNS / "dybench_random").glob("*_samples_*.jsonl")):
        mismatch.append(sent / "tampered" / f.name)
        shutil.copy(f, mismatch[-1])
    self_reported = sent / "self_results.json"
    self_reported.write_text(json.dumps(results_obj("self-reported-model", p_acc=0.47, date="20261104_100000")))

    def choice(obj: dict) -> str:
        run = run_from_results(obj, path="", origin="local")
        return f"{run.model} · {run.display_date} · {run.run_id}"

    real_settings = settings_label(generation_settings(random_obj))
    assert real_settings != settings_label(generation_settings(results_obj()))
    with _serving(tmp_path, results) as (url, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            page.set_default_timeout(60_000)  # generous: a loaded 2-core CI machine is slow, a real hang still fails
            page.goto(url)
            _wait_rows(page, [("dybench_constant (answer=A)", "verified")])  # a folder dropped into results/

            assert "Status: verified." in _upload_files(page, [verified])
            assert "Status: mismatch." in _upload_files(page, mismatch)
            assert "Status: self-reported." in _upload_files(page, [self_reported])
            page.get_by_role("tab", name="Leaderboard").click()
            random_row, local_row = ("dybench_random (seed=7)", "verified"), ("dybench_constant (answer=A)", "verified")
            _wait_rows(
                page, [("tampered-run", "mismatch"), ("self-reported-model", "self-reported"), random_row, local_row]
            )
            notes = page.locator("#runs-table").get_by_test_id("cell-0-" + str(len(_header(page)) - 2)).inner_text()
            assert "dybench_pair p_acc: claimed 50.0, re-scored 33.3" in notes  # both values
            assert "different generation settings" in page.locator("#runs-summary").inner_text()

            _choose(page, "settings-filter", real_settings)  # like for like only
            _wait_rows(page, [("tampered-run", "mismatch"), random_row, local_row])
            assert "different generation settings" not in page.locator("#runs-summary").inner_text()

            page.locator("#runs-table").get_by_test_id("cell-1-0").click()  # the verified upload's details
            page.get_by_role("tab", name="Run details").click()
            detail = page.locator("#run-detail")
            detail.get_by_text("Scored on held data").wait_for()
            assert (
                "tiny-pairs" in detail.inner_text()
                and "95% bootstrap interval over 6 of 6 pairs" in detail.inner_text()
            )
            with page.expect_download() as download:  # the run's per-sample records
                page.locator("#samples-download").click()
            rows = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
            assert len(rows) == 12 and {r["item_id"] for r in rows} == {r["item_id"] for r in rows if r["task"]}
            assert {"task", "pair_id", "gold", "pred", "correct", "response"} <= rows[0].keys()
            assert sum(r["correct"] for r in rows) == sum(r["pred"] == r["gold"] for r in rows) > 0

            page.get_by_role("tab", name="Compare").click()
            _choose(page, "compare-a", choice(random_obj))
            _choose(page, "compare-b", choice(local))
            page.locator("#compare-btn").click()
            result = page.locator("#compare-result")
            result.get_by_text("+33.3 points").wait_for()
            assert "McNemar exact test" in result.inner_text() and "p = 0.5" in result.inner_text()
            pairs = page.locator("#compare-pairs")
            pairs.get_by_test_id("cell-1-0").wait_for()
            cell = lambda r, c: pairs.get_by_test_id(f"cell-{r}-{c}").inner_text().strip()  # noqa: E731
            assert [cell(0, 0), cell(1, 0)] == ["md1:reverse", "rd0:reverse"] and cell(0, 1) == "A"
            assert cell(0, 2) == "md1:reverse:coun: B | md1:reverse:orig: A"  # both runs' responses
            assert cell(0, 3) == "md1:reverse:coun: A | md1:reverse:orig: A"
            shot = tmp_path / "leaderboard-compare.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    if artifacts := os.environ.get("DYBENCH_ARTIFACTS"):
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
    stored = sorted(p.name for p in (results / "uploads").iterdir())
    assert sum(name.endswith("_results.json") for name in stored) == 3
    assert sum("_samples_" in name for name in stored) == 10  # the verified and the mismatching run's


def _column(page, name: str) -> int:
    """The index of the column headed ``name`` (the metric columns before it vary with the data); -1 while
    the table has no such header yet."""
    headers = [h.split("\n")[0].strip() for h in _header(page)]
    return headers.index(name) if name in headers else -1


def _header(page) -> list[str]:
    """The table's column headers."""
    return [t.strip() for t in page.locator("#runs-table thead th").all_inner_texts()]
