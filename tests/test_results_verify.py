"""Verified results: samples re-scored against held data, honest labels, settings, UTC dates, paired tests.

The two run folders in ``data/leaderboard/runs/`` are unmodified lmms-eval output (``dybench eval`` of the
``dybench_random`` (seed=7) and ``dybench_constant`` (answer=A) floor models on ``evaldata.make_pairs``'s
six pairs, ``--log_samples``); the held pairs dataset is the same items, written here without videos.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from evaldata import interval_section, pair_items
from typer.testing import CliRunner

from dybench.cli import app
from dybench.pairs import FORMAT, write_items
from dybench.records import CATEGORIES
from dybench.results import (
    DATASETS_DIR,
    INTERVALS_KEY,
    MAX_SAMPLES_BYTES,
    CompareError,
    ResultsError,
    ResultsStore,
    SamplesError,
    compare_runs,
    generation_settings,
    read_samples,
    read_upload,
    utc_date,
)
from dybench.scoring import bootstrap_interval, exact_binomial_two_sided, mcnemar_exact, wilson_interval

RUNS = Path(__file__).parent / "data" / "leaderboard" / "runs"
STEM = "20261128_165130"


def hold_pairs(folder: Path, *, gold: dict[str, str] | None = None) -> Path:
    """The fixture runs' pairs dataset (items and a manifest, no videos); ``gold`` changes answers."""
    items = [dataclasses.replace(it, answer=(gold or {}).get(it.item_id, it.answer)) for it in pair_items()]
    write_items(folder, items, manifest=lambda hashes: {"format": FORMAT, "files": hashes})
    return folder


def place(results: Path, model: str, *, drop: tuple[str, ...] = (), claims: dict | None = None) -> Path:
    """Copy a fixture run folder into ``results``; drop samples of ``drop`` tasks, overwrite claimed numbers."""
    folder = results / model
    shutil.copytree(RUNS / model, folder)
    for task in drop:
        (folder / f"{STEM}_samples_{task}.jsonl").unlink()
    path = folder / f"{STEM}_results.json"
    if claims:
        obj = json.loads(path.read_text())
        for task, values in claims.items():
            obj["results"][task].update(values)
        path.write_text(json.dumps(obj))
    return path


@pytest.fixture
def results(tmp_path: Path) -> Path:
    (tmp_path / "results").mkdir()
    return tmp_path / "results"


def store_of(results: Path, **kw) -> ResultsStore:
    return ResultsStore(results, index_path=results.parent / "index.sqlite", **kw)


def only_run(store: ResultsStore):
    (run,) = store.listing().runs
    return run


# --- verification of folders dropped into the results directory --------------------------------------


def test_a_run_with_samples_on_held_data_is_verified_and_records_the_data(results: Path):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    place(results, "dybench_random")
    run = only_run(store_of(results))
    v = run.verification
    assert v.status == "verified" and v.label == "verified"
    manifest = (results / DATASETS_DIR / "tiny-pairs" / "manifest.json").read_bytes()
    import hashlib

    assert v.dataset == "tiny-pairs" and v.dataset_fingerprint == "manifest:" + hashlib.sha256(manifest).hexdigest()
    assert {c.task: c.outcome for c in v.checks} == dict.fromkeys(
        ["dybench_pair", "dybench_pair_moving_direction", "dybench_pair_reversible_dynamics",
         "dybench_pair_event_sequence", "dybench_pair_static"], "verified")  # fmt: skip
    group = next(c for c in v.checks if c.task == "dybench_pair")
    assert group.n_pairs == 6 and "36 claimed numbers" in group.detail and "tiny-pairs" in group.detail
    assert v.headline_task == "dybench_pair" and v.pairs_scored == v.pairs_in_dataset == 6
    low, high = v.p_acc_bootstrap
    assert low <= 2 / 6 <= high and (low, high) == bootstrap_interval([1, 1, 0, 0, 0, 0])  # 2 of 6 pairs right
    assert not list(results.glob("**/*.sqlite"))  # the index lives outside the folder


def as_interval_section(path: Path, *, change: tuple[str, str, list[float]] | None = None) -> None:
    """Rewrite a fixture results file as ``dybench eval`` writes it now (``evaldata.interval_section``);
    ``change``: (task, metric, [low, high]) to claim another interval."""
    obj = interval_section(json.loads(path.read_text()))
    if change:
        obj[INTERVALS_KEY][change[0]][change[1]] = change[2]
    path.write_text(json.dumps(obj))


def test_intervals_beside_the_metrics_are_verified_like_bounds_written_as_metrics(results: Path):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    as_interval_section(place(results, "dybench_random"))
    v = only_run(store_of(results)).verification
    assert v.status == "verified"
    group = next(c for c in v.checks if c.task == "dybench_pair")
    assert "36 claimed numbers" in group.detail  # the same numbers as the older file's: bounds included


def test_a_claimed_interval_that_differs_is_a_mismatch(results: Path):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    as_interval_section(place(results, "dybench_random"), change=("dybench_pair", "p_acc", [0.3, 0.4]))
    v = only_run(store_of(results)).verification
    (check,) = [c for c in v.checks if c.outcome == "mismatch"]
    assert check.task == "dybench_pair" and {d.metric for d in check.differences} == {"p_acc_ci_low", "p_acc_ci_high"}


def test_without_held_data_only_the_arithmetic_is_verified_and_the_label_says_so(results: Path):
    place(results, "dybench_random")
    v = only_run(store_of(results)).verification
    assert v.status == "arithmetic" and v.label == "arithmetic verified, data not held"
    assert v.dataset is None and not v.verified
    assert all("the run's own logged records (data not held)" in c.detail for c in v.checks)


def test_a_claimed_number_that_differs_is_a_mismatch_showing_both_values(results: Path):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    place(results, "dybench_random", claims={"dybench_pair": {"p_acc,none": 0.5}})
    v = only_run(store_of(results)).verification
    assert v.status == "mismatch"
    (check,) = [c for c in v.checks if c.outcome == "mismatch"]
    assert check.task == "dybench_pair"
    (diff,) = check.differences
    assert (diff.metric, diff.claimed, diff.rescored) == ("p_acc", 0.5, pytest.approx(2 / 6))
    assert "p_acc claimed 0.5000, re-scored 0.3333" in check.detail


def test_samples_scored_on_other_data_are_a_mismatch(results: Path):
    """The same item ids, a different gold answer: the held data is not what the run was scored on."""
    hold_pairs(results / DATASETS_DIR / "tiny-pairs-v2", gold={"md0:hflip:orig": "A", "md0:hflip:coun": "B"})
    place(results, "dybench_random")
    v = only_run(store_of(results)).verification
    assert v.status == "mismatch" and v.dataset == "tiny-pairs-v2"
    group = next(c for c in v.checks if c.task == "dybench_pair")
    assert "gold answers differ from tiny-pairs-v2 (manifest" in group.detail and "scored on other data" in group.detail


def test_the_held_dataset_whose_gold_agrees_is_chosen(results: Path, tmp_path: Path):
    hold_pairs(results / DATASETS_DIR / "a-other", gold={"st0:hflip:orig": "A", "st0:hflip:coun": "A"})
    right = hold_pairs(tmp_path / "right-pairs")
    place(results, "dybench_random")
    v = only_run(store_of(results, data=[right])).verification
    assert v.status == "verified" and v.dataset == "right-pairs"


def test_missing_samples_of_a_subtask_leave_a_partly_verified_row(results: Path):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    place(results, "dybench_random", drop=("dybench_pair_static",))
    v = only_run(store_of(results)).verification
    outcomes = {c.task: c.outcome for c in v.checks}
    assert v.status == "partly verified" and outcomes["dybench_pair_moving_direction"] == "verified"
    assert outcomes["dybench_pair"] == outcomes["dybench_pair_static"] == "unchecked"
    assert next(c for c in v.checks if c.task == "dybench_pair").detail == "no samples file for dybench_pair_static"


def test_a_run_without_samples_is_self_reported(results: Path):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    folder = results / "r"
    folder.mkdir()
    shutil.copy(RUNS / "dybench_random" / f"{STEM}_results.json", folder)
    v = only_run(store_of(results)).verification
    assert v.status == "self-reported" and v.checks == () and v.p_acc_bootstrap is None


@pytest.mark.parametrize("edit", ["drop a pair", "change a response"])
def test_edited_samples_are_caught(results: Path, edit: str):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    place(results, "dybench_random")
    samples = results / "dybench_random" / f"{STEM}_samples_dybench_pair_moving_direction.jsonl"
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    if edit == "drop a pair":  # the wrong pair left out: P-Acc would rise if only the samples were trusted
        rows = rows[2:]
    else:
        rows[0]["filtered_resps"] = "B" if rows[0]["filtered_resps"] != "B" else "A"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    v = only_run(store_of(results)).verification
    assert v.status == "mismatch"
    check = next(c for c in v.checks if c.task == "dybench_pair_moving_direction")
    if edit == "drop a pair":
        assert "the samples hold 2 documents, the results say 4" in check.detail
    else:
        assert check.differences


def test_the_index_rereads_a_run_when_its_samples_change(results: Path):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    place(results, "dybench_random")
    store = store_of(results)
    assert only_run(store).verification.status == "verified"
    (results / "dybench_random" / f"{STEM}_samples_dybench_pair_static.jsonl").write_text('{"doc_id": 0,\n')
    v = only_run(store).verification
    assert v.status == "partly verified"
    static = next(c for c in v.checks if c.task == "dybench_pair_static")
    assert static.detail.startswith("samples not readable: dybench_random/") and ":1: not valid JSON" in static.detail
    shutil.rmtree(results / DATASETS_DIR)  # held data gone: verification falls back to arithmetic
    assert store.listing().runs[0].verification.dataset is None


def test_samples_reader_refuses_what_is_not_a_pair_sample():
    ok = (RUNS / "dybench_random" / f"{STEM}_samples_dybench_pair_static.jsonl").read_bytes()
    parsed = read_samples(ok, task="dybench_pair_static", name="s.jsonl")
    assert parsed.documents == 4 and [s.item_id for s in parsed.items][:2] == ["st0:hflip:orig", "st0:hflip:coun"]
    bad = {
        b'{"doc_id": 0, "acc": 1}\n': "not a dybench_pair sample",
        b"[1]\n": "a sample is a JSON object",
        b'{"p_acc": {"item_id": "x"}, "filtered_resps": "A"}\n': "`p_acc.pair_id` must be text",
        b'{"p_acc": 1, "filtered_resps": "A"}\n': "`p_acc.item_id` must be text",
        b"\xff\n": "not UTF-8",
        ok.splitlines()[0] + b"\n" + ok.splitlines()[0]: "logged twice",
    }
    for data, message in bad.items():
        with pytest.raises(SamplesError, match=message):
            read_samples(data, task="dybench_pair_static", name="s.jsonl")


# --- settings and dates ---------------------------------------------------------------------------


def test_generation_settings_come_from_model_args_prompt_config_and_version():
    obj = json.loads((RUNS / "dybench_random" / f"{STEM}_results.json").read_text())
    assert generation_settings(obj) == {
        "frames": "model default",
        "fps": "model default",
        "max_pixels": "model default",
        "prompt": "default",
        "lmms_eval": obj["lmms_eval_version"],
    }
    obj["config"]["model_args"] = "pretrained=Qwen/Qwen2.5-VL-7B-Instruct,max_num_frames=32,fps=1.0,max_pixels=401408"
    obj["configs"]["dybench_pair_static"]["lmms_eval_specific_kwargs"] = {"default": {"prompt": "r1"}}
    settings = generation_settings(obj)
    assert (settings["frames"], settings["fps"], settings["max_pixels"]) == ("32", "1.0", "401408")
    assert settings["prompt"] == "default, r1"  # tasks that differ are shown as such, never merged


def test_dates_are_shown_in_utc():
    """lmms-eval writes Asia/Singapore time (UTC+8) unless its command line got --timezone."""
    assert utc_date({"date": "20261128_165130", "config": {}}) == "2026-11-28 08:51"
    cli = {"resolved_cli_args": {"timezone": "America/New_York"}}
    assert utc_date({"date": "20261128_035130", "config": cli}) == "2026-11-28 08:51"
    assert utc_date({"date": "yesterday", "config": {}}) is None


# --- uploads ----------------------------------------------------------------------------------------------


def run_files(model: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((RUNS / model).iterdir())}


def test_an_upload_of_several_files_is_verified_and_stored_under_content_names(results: Path, tmp_path: Path):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    sent = tmp_path / "sent"
    sent.mkdir()
    for name, data in run_files("dybench_random").items():
        (sent / name).write_bytes(data)
    upload = read_upload(sorted(sent.iterdir()))
    assert set(upload.samples) == {f"dybench_pair_{c}" for c in CATEGORIES}
    sub = store_of(results).submit(upload.results, upload.samples)
    assert sub.added and sub.run.verification.status == "verified" and "Status: verified." in sub.message
    stored = sorted(p.name for p in (results / "uploads").iterdir())
    assert (
        f"{sub.run.run_id}_results.json" in stored and f"{sub.run.run_id}_samples_dybench_pair_static.jsonl" in stored
    )
    again = store_of(results).submit(upload.results, upload.samples)
    assert not again.added and "The samples sent with it were not stored." in again.message


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_an_archive_is_read_in_memory_by_name_only(results: Path, tmp_path: Path):
    members = {f"../../outside/{name}": data for name, data in run_files("dybench_constant").items()}
    members["/etc/evil.sh"] = b"#!/bin/sh\nrm -rf /\n"
    archive = _zip(tmp_path / "run.zip", members)
    upload = read_upload([archive])
    assert upload.ignored == ("evil.sh",) and len(upload.samples) == 5
    assert not (tmp_path.parent / "outside").exists() and not list(tmp_path.glob("**/*.jsonl"))
    tgz = tmp_path / "run.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, data in run_files("dybench_constant").items():
            info = tarfile.TarInfo(f"dybench_constant/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("dybench_constant/passwd_samples_dybench_pair_x.jsonl")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)  # a link is never read
    from_tar = read_upload([tgz])
    assert from_tar.results == upload.results and from_tar.samples == upload.samples
    sub = store_of(results).submit(from_tar.results, from_tar.samples)
    assert sub.run.verification.status == "arithmetic"  # no data held in this folder


def test_upload_limits_are_checked_before_reading(tmp_path: Path):
    zeros = b"\0" * (MAX_SAMPLES_BYTES + 1)
    big = _zip(tmp_path / "big.zip", {"a_results.json": b"{}", "a_samples_dybench_pair.jsonl": zeros})
    with pytest.raises(ResultsError, match=f"is {MAX_SAMPLES_BYTES + 1:,} bytes; the limit is {MAX_SAMPLES_BYTES:,}"):
        read_upload([big])
    two = _zip(tmp_path / "two.zip", {"a_results.json": b"{}", "b_results.json": b"{}"})
    with pytest.raises(ResultsError, match="one results JSON per upload"):
        read_upload([two])
    many = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"" for i in range(300)})
    with pytest.raises(ResultsError, match="lists 300 files"):
        read_upload([many])
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ResultsError, match="not a readable archive"):
        read_upload([tmp_path / "broken.zip"])


def test_uploaded_samples_must_be_readable_and_of_the_runs_tasks(results: Path):
    files = run_files("dybench_random")
    data = files[f"{STEM}_results.json"]
    store = store_of(results)
    with pytest.raises(ResultsError, match="the samples of dybench_pair_static:2: not valid JSON"):
        store.submit(data, {"dybench_pair_static": b'{"doc_id": 0}\n{"p_acc": '})
    with pytest.raises(ResultsError, match="samples of 'dybench_pair_single_frame', but the results file has no such"):
        store.submit(data, {"dybench_pair_single_frame": files[f"{STEM}_samples_dybench_pair_static.jsonl"]})
    assert not (results / "uploads").exists()


# --- the paired comparison --------------------------------------------------------------------------------


def test_mcnemar_exact_matches_scipy_and_does_not_depend_on_it(monkeypatch):
    binomtest = pytest.importorskip("scipy.stats").binomtest  # the reference (lmms-eval installs SciPy)
    test = mcnemar_exact(2, 0)
    assert test.p_value == 0.5 and test.method == "McNemar exact test (two-sided binomial, exact integer arithmetic)"
    assert mcnemar_exact(0, 0).p_value == 1.0 and mcnemar_exact(3, 3).p_value == 1.0
    assert exact_binomial_two_sided(3, 13) == pytest.approx(2 * sum(math.comb(13, i) for i in range(4)) / 2**13)
    for b in range(0, 25, 3):
        for c in range(0, 40, 7):
            reference = min(1.0, binomtest(min(b, c), b + c, 0.5).pvalue) if b + c else 1.0
            assert mcnemar_exact(b, c).p_value == pytest.approx(reference, rel=1e-12), (b, c)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)  # as if SciPy were not installed: the same test
    assert mcnemar_exact(2, 0) == test


def test_bootstrap_interval_over_pairs_is_deterministic_and_near_wilson():
    values = [1.0] * 120 + [0.0] * 280
    low, high = bootstrap_interval(values)
    assert (low, high) == bootstrap_interval(values) != bootstrap_interval(values, seed=1)
    w_low, w_high = wilson_interval(0.3, 400)
    assert abs(low - w_low) < 0.01 and abs(high - w_high) < 0.01
    assert bootstrap_interval([1.0] * 5) == (1.0, 1.0)


def test_two_verified_runs_are_compared_pair_by_pair(results: Path):
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    place(results, "dybench_random")
    place(results, "dybench_constant")
    store = store_of(results)
    runs = {r.model_class: r for r in store.listing().runs}
    c = compare_runs(store, runs["dybench_random"], store, runs["dybench_constant"])
    assert c.n_pairs == 6 and c.p_acc_a == pytest.approx(2 / 6) and c.p_acc_b == 0.0
    assert (c.test.a_only, c.test.b_only, c.test.p_value) == (2, 0, 0.5)
    assert [d.pair_id for d in c.disagreements] == ["md1:reverse", "rd0:reverse"]
    d = c.disagreements[0]
    assert d.right == "A" and d.responses_a == (("md1:reverse:coun", "B"), ("md1:reverse:orig", "A"))
    assert d.responses_b == (("md1:reverse:coun", "A"), ("md1:reverse:orig", "A"))
    result = CliRunner().invoke(app, ["compare", runs["dybench_random"].run_id[:8], runs["dybench_constant"].run_id,
                                      "--results", str(results)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "P-Acc 0.333" in result.output and "P-Acc 0.000" in result.output  # fractions, as eval and score print
    assert "difference A - B: +0.333" in result.output and "p = 0.5" in result.output
    assert result.output.startswith("dybench_pair on tiny-pairs"), "the task both runs have, found by itself"
    assert "md1:reverse (A)" in result.output


def test_compare_takes_the_first_dybench_pair_task_both_runs_have():
    from test_results import results_obj

    from dybench.results import compared_task, run_from_results

    def run(*tasks: str):
        obj = results_obj()
        obj["results"] = {t: dict(obj["results"]["dybench_pair"]) for t in tasks}
        return run_from_results(obj, path="", origin="local")

    both = run("dybench_pair", "dybench_pair_r1", "dybench_pair_r1_static")
    assert compared_task(both, run("dybench_pair_r1", "dybench_pair_r1_static")) == "dybench_pair_r1"
    assert compared_task(both, both) == "dybench_pair"
    assert compared_task(run("dybench_pair_r1_static"), both) == "dybench_pair_r1_static"
    with pytest.raises(CompareError, match=r"\(dybench_pair\) and .* \(dybench_pair_r1\) have no dybench_pair task"):
        compared_task(run("dybench_pair"), run("dybench_pair_r1"))


def test_runs_that_are_not_verified_on_the_same_data_are_not_compared(results: Path, tmp_path: Path):
    place(results, "dybench_random")
    place(results, "dybench_constant")
    store = store_of(results)
    a, b = store.listing().runs
    with pytest.raises(CompareError, match="is arithmetic verified, data not held: only runs whose samples"):
        compare_runs(store, a, store, b)
    other = store_of(results, data=[hold_pairs(tmp_path / "x")])
    a, b = other.listing().runs
    assert a.verification.verified and b.verification.verified
    result = CliRunner().invoke(app, ["compare", "nosuchrun", a.run_id, "--results", str(results)])
    assert result.exit_code == 1 and "nosuchrun is not a run in" in result.output


# --- forged runs: samples that are not what lmms-eval evaluates (issue 28) ----------------------------------


def forge(folder: Path, edit_samples=None, edit_results=None) -> Path:
    """A forger's run: the samples of ``folder`` edited (``edit_samples(task, rows) -> rows``), the results file
    edited (``edit_results(obj)``), then every dybench_pair number claimed made to agree with the samples as a
    scorer that trusts the run's own ``group_subtasks`` and gold answers computes them."""
    import warnings

    from dybench.scoring import pair_metrics, score_item, whole_pairs

    results_path = folder / f"{STEM}_results.json"
    obj = json.loads(results_path.read_text())
    if edit_results:
        edit_results(obj)
    samples = {}
    for path in sorted(folder.glob(f"{STEM}_samples_*.jsonl")):
        task = path.name.removeprefix(f"{STEM}_samples_").removesuffix(".jsonl")
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        if edit_samples:
            rows = edit_samples(task, rows)
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        samples[task] = [(r["p_acc"]["item_id"], r["filtered_resps"]) for r in rows if "p_acc" in r]
        obj["n-samples"][task] = {"original": len(rows), "effective": len(rows)}
    items = {it.item_id: it for it in pair_items()}
    for task, values in obj["results"].items():
        leaves = obj["group_subtasks"].get(task) or [task]
        records = [score_item(items[i], response) for leaf in leaves for i, response in samples.get(leaf, [])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metrics = pair_metrics(whole_pairs(records)[0])
        for key in list(values):
            metric = key.split(",")[0]
            if metric in metrics:
                if math.isnan(metrics[metric]):
                    del values[key]
                else:
                    values[key] = metrics[metric]
    results_path.write_text(json.dumps(obj))
    return results_path


def right_pairs(rows: list[dict]) -> list[dict]:
    """The sample lines of the pairs a run answered right (both items), stand-ins dropped."""
    wrong = {r["p_acc"]["pair_id"] for r in rows if "p_acc" in r and r["filtered_resps"] != r["p_acc"]["gold"]}
    return [r for r in rows if "p_acc" in r and r["p_acc"]["pair_id"] not in wrong]


def set_limit(limit: float):
    def edit(obj: dict) -> None:
        obj["config"]["limit"] = limit

    return edit


@pytest.mark.parametrize("limit", [1000, 2])
def test_samples_of_only_the_right_pairs_are_not_verified_under_any_limit(results: Path, limit: int):
    """--limit 1000 evaluates every document of these tasks; --limit 2 the first pair of each, which is not
    the pair the forger kept in moving_direction (md0 wrong, md1 right)."""
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    forge(place(results, "dybench_random").parent, lambda task, rows: right_pairs(rows), set_limit(limit))
    v = only_run(store_of(results)).verification
    group = next(c for c in v.checks if c.task == "dybench_pair")
    assert not group.differences  # the claims agree with the samples: only the documents give the forgery away
    assert v.status == "mismatch" and group.outcome == "mismatch"
    if limit == 1000:
        assert "dybench_pair_static: no sample for 4 of the items lmms-eval evaluates (--limit 1000: 4 of its 4" in (
            group.detail
        )
    else:
        assert (
            "dybench_pair_moving_direction: 2 sample(s) of items lmms-eval does not evaluate (--limit 2: 2 of its 4"
            in (group.detail)
        )


@pytest.mark.parametrize("limit", [2, 0.5])
def test_a_run_with_a_limit_that_logged_the_first_documents_is_verified(results: Path, limit: float):
    """What ``--limit`` really evaluates: the first N (or the share, rounded up) of each task's documents."""
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")

    def first(task: str, rows: list[dict]) -> list[dict]:
        return rows[: math.ceil(len(rows) * limit) if limit < 1 else int(limit)]

    forge(place(results, "dybench_random").parent, first, set_limit(limit))
    v = only_run(store_of(results)).verification
    assert v.status == "verified", [c.detail for c in v.checks]
    # 2: md0, rd0, ev0, st0; 0.5: md0 and st0 (rd0 and ev0 cut in half by ceil(2 x 0.5) = 1, left out)
    assert (v.pairs_scored, v.pairs_in_dataset) == ((4, 6) if limit == 2 else (2, 6))


@pytest.mark.parametrize("own_results", [False, True], ids=["group-only", "with-its-own-results"])
def test_a_subtask_of_its_own_in_the_group_is_not_verified(results: Path, own_results: bool):
    """A forged dybench_pair_zzz in the group re-logs the items the run got right: Acc 0.733 (true 0.667). Before,
    the group was verified (and the run too when the file left out zzz's own numbers)."""
    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    folder = place(results, "dybench_random").parent
    md = (folder / f"{STEM}_samples_dybench_pair_moving_direction.jsonl").read_text().splitlines()
    zzz = [line for line in md if json.loads(line)["filtered_resps"] == json.loads(line)["p_acc"]["gold"]]
    (folder / f"{STEM}_samples_dybench_pair_zzz.jsonl").write_text("\n".join(zzz) + "\n")

    def add_subtask(obj: dict) -> None:
        obj["group_subtasks"]["dybench_pair"].append("dybench_pair_zzz")
        if own_results:
            obj["results"]["dybench_pair_zzz"] = dict(obj["results"]["dybench_pair_moving_direction"])

    forge(folder, edit_results=add_subtask)
    claimed = json.loads((folder / f"{STEM}_results.json").read_text())["results"]["dybench_pair"]
    assert claimed["acc,none"] == pytest.approx(11 / 15)  # 8 of 12 items right, and 3 right ones again
    v = only_run(store_of(results)).verification
    checks = {c.task: c for c in v.checks}
    assert v.status == "mismatch" and checks["dybench_pair"].outcome == "mismatch"
    assert "the results file says dybench_pair pools dybench_pair_moving_direction" in checks["dybench_pair"].detail
    assert {d.metric: d.rescored for d in checks["dybench_pair"].differences}["acc"] == pytest.approx(8 / 12)
    if own_results:
        zzz_check = checks["dybench_pair_zzz"]
        assert zzz_check.outcome == "unchecked" and zzz_check.detail.startswith("not verifiable: dybench_pair_zzz is")


def test_an_item_counts_once_per_task(results: Path):
    """Without held data only the arithmetic is checked, but an item logged by two subtasks is still refused."""
    folder = place(results, "dybench_random").parent

    def duplicate(task: str, rows: list[dict]) -> list[dict]:
        if task != "dybench_pair_static":
            return rows
        md = (folder / f"{STEM}_samples_dybench_pair_moving_direction.jsonl").read_text().splitlines()
        return rows + [json.loads(line) | {"p_acc": json.loads(line)["p_acc"] | {"category": "static"}} for line in md]

    forge(folder, duplicate)
    v = only_run(store_of(results)).verification
    group = next(c for c in v.checks if c.task == "dybench_pair")
    assert v.status == "mismatch" and "4 item(s) logged by two of its subtasks (e.g. md0:hflip:coun)" in group.detail


def test_the_subtasks_of_dybench_pair_are_its_task_files():
    """``GROUPS`` and ``LEAVES`` say what tasks/dybench_pair/*.yaml define: a group's subtasks, each task's category."""
    from dybench.evaluation import tasks_path
    from dybench.results._verify import GROUPS, LEAVES

    groups, leaves = {}, {}
    for path in sorted(Path(tasks_path(), "dybench_pair").glob("*.yaml")):
        text = path.read_text()
        name = re.search(r"^(?:task|group): (\w+)$", text, re.M).group(1)
        if text.startswith("#") and "group:" in text:
            groups[name] = tuple(re.findall(r"^  - (\w+)$", text, re.M))
        else:
            docs = re.search(r"process_docs: !function utils\.(\w+)_docs", text)
            leaves[name] = None if docs is None or docs.group(1) == "all" else docs.group(1)
    assert groups == GROUPS and leaves == LEAVES


def test_compare_shows_the_compared_tasks_responses(results: Path):
    """Both runs also ran dybench_pair_single_frame, answering every item the other way: a disagreeing pair of
    dybench_pair shows dybench_pair's responses, not the single-frame task's (the same item ids)."""
    from dybench.pairs import in_pair_order

    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    order = [it.item_id for it in in_pair_order(pair_items())]
    flip = {"A": "B", "B": "A", "C": "A", "yes": "no", "no": "yes"}
    for model in ("dybench_random", "dybench_constant"):
        folder = place(results, model).parent
        rows = [json.loads(line) for path in sorted(folder.glob("*_samples_dybench_pair_*.jsonl"))
                for line in path.read_text().splitlines()]  # fmt: skip
        rows = sorted((r for r in rows if "p_acc" in r), key=lambda r: order.index(r["p_acc"]["item_id"]))
        single = [r | {"doc_id": n, "filtered_resps": flip[r["filtered_resps"]]} for n, r in enumerate(rows)]
        (folder / f"{STEM}_samples_dybench_pair_single_frame.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in single)
        )

        def add_task(obj: dict) -> None:
            obj["results"]["dybench_pair_single_frame"] = dict(obj["results"]["dybench_pair_static"])
            obj["group_subtasks"]["dybench_pair_single_frame"] = []

        forge(folder, edit_results=add_task)
    store = store_of(results)
    runs = {r.model_class: r for r in store.listing().runs}
    assert all(r.verification.status == "verified" for r in runs.values()), [
        c.detail for r in runs.values() for c in r.verification.checks
    ]
    c = compare_runs(store, runs["dybench_random"], store, runs["dybench_constant"])
    d = next(d for d in c.disagreements if d.pair_id == "md1:reverse")
    assert d.responses_a == (("md1:reverse:coun", "B"), ("md1:reverse:orig", "A"))
    assert d.responses_b == (("md1:reverse:coun", "A"), ("md1:reverse:orig", "A"))


def test_a_forged_run_uploaded_through_the_leaderboard_is_labelled_mismatch(results: Path, tmp_path: Path):
    """The upload path (files as sent, read by ``read_upload``, stored by the app's ``submission_message``)."""
    from leaderboard.app import submission_message

    hold_pairs(results / DATASETS_DIR / "tiny-pairs")
    sent = tmp_path / "sent"
    forge(shutil.copytree(RUNS / "dybench_random", sent), lambda task, rows: right_pairs(rows), set_limit(1000))
    upload = read_upload(sorted(sent.iterdir()))
    added, message = submission_message(store_of(results), upload.results, upload.samples)
    assert added and "Status: mismatch." in message
    (run,) = store_of(results).listing().runs
    assert run.origin == "uploaded" and run.verification.status == "mismatch"


def test_dybench_verify_prints_each_runs_label_and_why_and_passes_only_verified_runs(results: Path, tmp_path: Path):
    held = hold_pairs(tmp_path / "tiny-pairs")
    place(results, "dybench_random")
    place(results, "dybench_constant")
    ok = CliRunner().invoke(app, ["verify", str(results), "--data", str(held)])
    assert ok.exit_code == 0, ok.output
    assert "dybench_random (seed=7) (dybench_random/20261128_165130_results.json): verified on tiny-pairs" in ok.output
    assert "  dybench_pair: verified: 36 claimed numbers re-scored from 6 pairs" in ok.output
    assert ok.output.rstrip().endswith("2 of 2 run(s) verified")

    forged = forge(results / "dybench_random", lambda task, rows: right_pairs(rows), set_limit(1000))
    one = CliRunner().invoke(app, ["verify", str(forged), "--data", str(held)])
    assert one.exit_code == 1 and "(20261128_165130_results.json): mismatch on tiny-pairs" in one.output
    assert "dybench_pair_static: no sample for 4 of the items lmms-eval evaluates" in one.output
    arithmetic = CliRunner().invoke(app, ["verify", str(results / "dybench_constant" / f"{STEM}_results.json")])
    assert arithmetic.exit_code == 1 and ": arithmetic verified, data not held" in arithmetic.output
    (results / "bare").mkdir()
    shutil.copy(RUNS / "dybench_random" / f"{STEM}_results.json", results / "bare")
    bare = CliRunner().invoke(app, ["verify", str(results / "bare" / f"{STEM}_results.json")])
    assert bare.exit_code == 1 and ": self-reported" in bare.output and "no samples came with it" in bare.output
    missing = CliRunner().invoke(app, ["verify", str(results), "--data", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "nowhere: not read: reference data not used: no pairs.jsonl" in missing.output
    gone = CliRunner().invoke(app, ["verify", str(tmp_path / "nothing.json")])
    assert gone.exit_code == 1 and "nothing.json: no such file or folder" in gone.output


def _tar_gz(path: Path, entries: list[tuple[bytes, bytes, int]]) -> Path:
    """A .tar.gz written block by block: each entry is (type, data, declared size), under a short name."""
    import gzip

    with gzip.open(path, "wb", compresslevel=1) as gz:
        for n, (kind, data, size) in enumerate(entries):
            info = tarfile.TarInfo(f"member{n}")
            info.type, info.size = kind, size
            gz.write(info.tobuf(format=tarfile.GNU_FORMAT))
            gz.write(data + tarfile.NUL * (-len(data) % tarfile.BLOCKSIZE))
        gz.write(tarfile.NUL * 2 * tarfile.BLOCKSIZE)
    return path


def test_tar_headers_and_decompressed_bytes_are_bounded_before_tarfile_reads_them(tmp_path: Path, monkeypatch):
    """A GNU long name or pax header is refused past 64 KiB (tarfile would read a 1 GiB one whole), and an archive
    that unpacks past the upload limit, even through a member of a type tarfile skips, is refused by its size."""
    from dybench.results import _upload

    for kind in (tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE):
        size = 64 * 1024 + 1
        archive = _tar_gz(tmp_path / "long.tar.gz", [(kind, b"a" * size, size), (tarfile.REGTYPE, b"{}", 2)])
        with pytest.raises(ResultsError, match=f"header of {size:,} bytes \\(at most 65,536\\)"):
            read_upload([archive])
    monkeypatch.setattr(_upload, "MAX_UPLOAD_BYTES", 1024 * 1024)
    monkeypatch.setattr(_upload, "_TAR_OVERHEAD", 64 * 1024, raising=False)
    big = 2 * 1024 * 1024
    archive = _tar_gz(tmp_path / "skipped.tar.gz", [(b"Z", b"\0" * big, big), (tarfile.REGTYPE, b"{}", 2)])
    with pytest.raises(ResultsError, match="skipped.tar.gz unpacks to over 1,114,112 bytes"):
        read_upload([archive])
    small = _tar_gz(tmp_path / "ok.tar.gz", [(b"Z", b"\0" * 1000, 1000), (tarfile.REGTYPE, b"{}", 2)])
    with pytest.raises(ResultsError, match="one results JSON per upload"):  # read to the end: no .json member
        read_upload([small])


def test_a_dybench_eval_run_without_the_categories_its_data_lacks_is_verified(results: Path, tmp_path: Path):
    """``dybench eval`` leaves out a group's subtask of a category the data has no item of (no stand-in
    document, no samples file): held data without that category verifies it; held data with items of it does
    not, and the results file's own list of subtasks does not count there."""
    from evaldata import make_pairs

    from dybench.evaluation import evaluate

    pairs = make_pairs(tmp_path / "pairs")  # no spatial item
    run = evaluate("dybench_random", "dybench_pair", model_args="seed=3", data=pairs, output=results)
    assert "dybench_pair_spatial" not in run.samples_paths
    (only,) = store_of(results, data=(pairs,)).listing().runs
    assert only.verification.status == "verified", only.verification.checks
    assert only.verification.checks[0].task == "dybench_pair" and only.verification.pairs_scored == 6
    (arithmetic,) = ResultsStore(results, index_path=tmp_path / "other.sqlite").listing().runs
    assert arithmetic.verification.status == "arithmetic", arithmetic.verification.checks
    spatial = dataclasses.replace(pair_items()[0], item_id="sp:hflip:orig", pair_id="sp:hflip", category="spatial")
    write_items(tmp_path / "with-spatial", [*pair_items(), spatial], manifest=lambda h: {"format": FORMAT, "files": h})
    other_data = ResultsStore(results, index_path=tmp_path / "third.sqlite", data=(tmp_path / "with-spatial",))
    (held,) = other_data.listing().runs
    assert held.verification.dataset == "with-spatial" and held.verification.status == "partly verified"
    assert "no samples file for dybench_pair_spatial" in held.verification.checks[0].detail
