"""The leaderboard in a real browser: `dybench leaderboard` on 127.0.0.1, driven by headless Chromium.

Uses Debian's chromium (`.ci/install-system-deps.sh` installs it) through Playwright; browsers are never
downloaded. The page screenshot is kept in the test's tmp folder and, when ``DYBENCH_ARTIFACTS`` is set,
copied there.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dybench.results import COLUMNS_BY_KEY, load_reported, run_from_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the source checkout, for leaderboard.app
from leaderboard.app import (  # noqa: E402
    reported_markdown,
    runs_frame,
    submission_message,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_results import results_obj  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
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
# seeded runs: the newest has the lowest P-Acc, so sorting by P-Acc and by date give different orders
SEEDS = [("seed-alpha", 0.62, 0.80, "20261101_100000"), ("seed-beta", 0.35, 0.85, "20261102_100000"),
         ("seed-gamma", 0.18, 0.78, "20261103_100000")]  # fmt: skip


# --- the view functions, without a browser ------------------------------------------------------------


def test_table_shows_percentages_hides_empty_columns_and_keeps_the_run_id():
    runs = [run_from_results(results_obj("m", p_acc=0.5, acc=0.75), path="a", origin="local")]
    df = runs_frame(runs, ["DyBench", "Video benchmarks"])
    assert list(df.columns) == [
        "Model",
        "Origin",
        "Date",
        "DyBench P-Acc",
        "DyBench Acc",
        "Gap Acc−P-Acc",
        "Notes",
        "Run",
    ]
    assert df.loc[0, "DyBench P-Acc"] == 50.0 and df.loc[0, "Gap Acc−P-Acc"] == 25.0
    assert df.loc[0, "Run"] == runs[0].run_id


def test_reported_rows_cite_their_source_and_show_crpo_as_gains_only():
    text = reported_markdown(load_reported())
    assert "arXiv 2605.01324" in text and "https://arxiv.org/abs/2605.21988" in text
    crpo_line = next(line for line in text.splitlines() if "Qwen3-VL-8B + CRPO" in line)
    assert "DyBench P-Acc +7.7 vs Qwen3-VL-8B" in crpo_line
    cells = [c.strip() for c in crpo_line.strip("|").split("|")]
    assert cells[2:5] == ["", "", ""]  # no absolute VideoMME / MVBench / TempCompass numbers


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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing: run .ci/install-system-deps.sh")
    results = tmp_path / "results"
    for i, (name, p_acc, acc, date) in enumerate(SEEDS):
        path = results / f"model{i}" / f"{date}_results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(results_obj(name, p_acc=p_acc, acc=acc, date=date), indent=2))
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
    page.get_by_role("option", name=option, exact=True).click()


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
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)  # generous: a loaded 2-core CI machine is slow, a real hang still fails
            page.goto(url)

            by_p_acc = [name for name, *_ in sorted(SEEDS, key=lambda s: -s[1])]
            by_date = [name for name, *_ in sorted(SEEDS, key=lambda s: s[3], reverse=True)]
            _wait_models(page, by_p_acc)  # the seeded rows, best P-Acc first by default
            _choose(page, "sort-by", "Date (newest first)")
            _wait_models(page, by_date)
            _choose(page, "sort-by", COLUMNS_BY_KEY["p_acc"].label)
            _wait_models(page, by_p_acc)
            assert page.locator("#runs-table").get_by_test_id("cell-0-3").inner_text().strip() == "62.0"

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

    assert shot.stat().st_size > 10_000
    if artifacts := os.environ.get("DYBENCH_ARTIFACTS"):
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "leaderboard.png")
    stored = list((tmp_path / "results" / "uploads").iterdir())
    assert [p.name for p in stored] == [
        f"{run_from_results(json.loads(good.read_text()), path='', origin='uploaded').run_id}_results.json"
    ]
