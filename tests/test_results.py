"""dybench.results: reading lmms-eval results files, validating uploads, the indexed results folder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from evaldata import interval_section

from dybench.records import CATEGORIES
from dybench.results import (
    CATEGORY_COLUMNS,
    COLUMNS,
    COLUMNS_BY_KEY,
    INTERVALS_KEY,
    MAX_RESULTS_BYTES,
    REPORTED_PATH,
    UPLOADS_DIR,
    ResultsError,
    ResultsStore,
    _store,
    content_hash,
    default_results_dir,
    is_known_task,
    load_reported,
    parse_results_json,
    run_from_results,
    scored_tasks,
    select_runs,
    shortcut_gap,
    task_metrics,
    validate_results,
)

# A genuine lmms-eval 0.7.3 results file: `--model dummy --model_args response=A` on stand-in tasks
# named like dybench's (dybench_pair group with five category subtasks, timeblind). Layout fixture only.
FIXTURE = Path(__file__).parent / "data" / "leaderboard" / "lmms_eval_dummy_results.json"
# lmms-eval 0.7.3 running dybench's own dybench_pair tasks with the dybench_constant floor model on a
# tiny test pairs set (not a leaderboard number).
DYBENCH_FIXTURE = FIXTURE.with_name("dybench_constant_results.json")
P_ACC = COLUMNS_BY_KEY["p_acc"]
ACC = COLUMNS_BY_KEY["acc"]


def results_obj(model_name: str = "", p_acc: float = 0.425, acc: float = 0.425, date: str = "20261121_125813") -> dict:
    obj = json.loads(FIXTURE.read_text())
    obj["model_name"], obj["date"] = model_name, date
    obj["results"]["dybench_pair"]["p_acc,none"] = p_acc
    obj["results"]["dybench_pair"]["acc,none"] = acc
    return obj


def write(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2))
    return path


def refused(data: bytes | dict, **kw) -> str:
    """The error message for a file, checked end to end (parse + validate)."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with pytest.raises(ResultsError) as e:
        validate_results(parse_results_json(raw, name="up.json"), name="up.json", **kw)
    return str(e.value)


@pytest.fixture
def store(tmp_path: Path) -> ResultsStore:
    (tmp_path / "results").mkdir()
    return ResultsStore(tmp_path / "results", index_path=tmp_path / "index.sqlite")


# --- reading the real layout -------------------------------------------------------------------------


def test_reads_a_real_lmms_eval_results_file():
    obj = json.loads(FIXTURE.read_text())
    validate_results(obj, name="fixture")
    run = run_from_results(obj, path="x/20261121_125813_results.json", origin="local")
    assert run.model == "dummy (response=A)"  # lmms-eval's model_name is "" for model_args without pretrained=
    assert run.model_class == "dummy" and run.model_args == "response=A"
    assert run.display_date == "2026-11-21 04:58 UTC"  # lmms-eval wrote Singapore time (UTC+8)
    assert run.value(P_ACC) == pytest.approx(0.425)  # the group's own value
    assert run.value(COLUMNS_BY_KEY["p_acc_moving_direction"]) == pytest.approx(0.425)  # from the subtask
    assert run.value(COLUMNS_BY_KEY["timeblind_i_acc"]) == pytest.approx(0.625)
    assert run.value(COLUMNS_BY_KEY["videomme_acc"]) is None
    assert run.task_versions["dybench_pair"] == "1.0"
    assert run.n_samples["timeblind"] == 8
    assert run.config["random_seed"] == "0" and "limit" not in run.config
    low, high = run.score(P_ACC).interval()  # no CI in the file: ±1.96 stderr
    assert low == pytest.approx(0.425 - 1.96 * 0.0354, abs=1e-3) and high == pytest.approx(
        0.425 + 1.96 * 0.0354, abs=1e-3
    )
    assert run.run_id == content_hash(obj)[:16]


def test_reads_dybench_own_pair_tasks_output():
    """A results file written by lmms-eval running dybench's own tasks (dybench_constant, answer=A)."""
    obj = json.loads(DYBENCH_FIXTURE.read_text())
    validate_results(obj, name="dybench fixture")
    run = run_from_results(obj, path="a.json", origin="local")
    assert run.model == "dybench_constant (answer=A)"
    assert run.value(P_ACC) == 0.0 and run.value(ACC) == pytest.approx(1 / 3)
    assert run.score(P_ACC).interval() == pytest.approx((0.0, 0.3903342879021653))  # the task's own interval
    assert run.value(COLUMNS_BY_KEY["p_acc_static"]) == 0.0  # the group's p_acc_<category>
    assert run.value(COLUMNS_BY_KEY["single_frame_p_acc"]) == 0.0
    # the sort direction of every column agrees with the tasks' own higher_is_better
    hib = obj["higher_is_better"]
    for col in COLUMNS:
        for task, metric in col.sources:
            if metric in hib.get(task, {}):
                assert hib[task][metric] is col.higher_is_better, (col.key, task)


def test_task_confidence_interval_wins_over_stderr_and_is_not_a_column_of_its_own():
    obj = results_obj()
    obj["results"]["dybench_pair"].update({"p_acc_ci_low,none": 0.40, "p_acc_ci_high,none": 0.45})
    run = run_from_results(obj, path="a.json", origin="local")
    assert run.score(P_ACC).interval() == (0.40, 0.45)
    assert not any(s.metric.endswith(("_ci_low", "_ci_high")) for s in run.scores)


def test_intervals_beside_the_metrics_read_as_bounds_written_as_metrics_did():
    """``dybench eval`` writes intervals in ``dybench_intervals``; files published before carry them as
    ``*_ci_*`` metrics. Both read as the same records, and neither makes a bound a metric (issue 17)."""
    old = json.loads(DYBENCH_FIXTURE.read_text())
    new = interval_section(old)
    assert new[INTERVALS_KEY] and task_metrics(new) == task_metrics(old)
    validate_results(new, name="new.json")
    run = run_from_results(new, path="a.json", origin="local")
    assert run.scores == run_from_results(old, path="a.json", origin="local").scores
    assert run.score(P_ACC).interval() == pytest.approx((0.0, 0.3903342879021653))
    assert not any(m.metric.endswith(("_ci_low", "_ci_high")) for ms in task_metrics(new).values() for m in ms)


@pytest.mark.parametrize("bounds", [[0.5, 0.4], [0.1, 1.5], [0.1], "0.1-0.2", [0.1, float("nan")]])
def test_an_unsound_interval_is_refused(bounds):
    obj = results_obj()
    obj[INTERVALS_KEY] = {"dybench_pair": {"p_acc": bounds}}
    assert f"`{INTERVALS_KEY}.dybench_pair.p_acc` must be [low, high]" in refused(obj)


def test_scored_tasks_are_those_reporting_a_metric():
    obj = {"results": {"a": {"alias": "a", "acc_stderr,none": "N/A"}, "b": {"acc,none": 0.5}, "c": "junk"}}
    assert scored_tasks(obj) == ("b",) and scored_tasks({"results": {}}) == () and scored_tasks({}) == ()


def test_model_name_is_preferred_and_dict_model_args_become_text():
    obj = results_obj(model_name="Qwen/Qwen2.5-VL-3B-Instruct")
    obj["config"]["model_args"] = {"pretrained": "Qwen/Qwen2.5-VL-3B-Instruct", "max_num_frames": 32}
    run = run_from_results(obj, path="a.json", origin="local")
    assert run.model == "Qwen/Qwen2.5-VL-3B-Instruct"
    assert run.model_args == "pretrained=Qwen/Qwen2.5-VL-3B-Instruct,max_num_frames=32"


def test_a_model_name_that_is_only_the_model_class_keeps_the_arguments():
    obj = results_obj(model_name="dybench_random")  # `dybench eval` names a run without checkpoint so
    obj["config"].update(model="dybench_random", model_args="seed=0")
    assert run_from_results(obj, path="a.json", origin="local").model == "dybench_random (seed=0)"


def test_run_row_survives_the_index_round_trip():
    run = run_from_results(results_obj(), path="a.json", origin="uploaded")
    assert type(run).from_json(run.to_json()) == run


# --- validation ----------------------------------------------------------------------------------------


def _set(path: str, value):
    def edit(obj):
        *parents, last = path.split("/")
        node = obj
        for p in parents:
            node = node[p]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
        return obj

    return edit


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            _set("results/dybench_pair/p_acc,none", "0.5"),
            "`results.dybench_pair.p_acc,none` must be a number",
        ),
        (_set("results/dybench_pair/p_acc,none", True), "is true/false"),
        (
            _set("results/dybench_pair/p_acc,none", 61.2),
            "outside [0, 1]; dybench metrics are fractions (write 0.612",
        ),
        (_set("results/dybench_pair/p_acc,none", -0.1), "outside [0, 1]"),
        (_set("results/dybench_pair/p_acc_stderr,none", -0.01), "is negative"),
        (_set("results/dybench_pair", [0.5]), "`results.dybench_pair` must be an object"),
        (_set("results", KeyError), "`results` is missing"),
        (_set("results", {}), "`results` is empty"),
        (_set("results", {"dybench_pair": {"alias": "dybench_pair"}}), "no dybench task in `results` has a score"),
        (_set("results", {"mmmu_val": {"acc,none": 0.5}}), "no dybench task"),
        (_set("results/videomme", {"acc,none": 0.5}), "unknown task(s) 'videomme'"),
        (_set("config", KeyError), "`config` is missing"),
        (_set("config/model", 7), "`config.model` is missing or not text"),
        (_set("date", KeyError), "`date` is missing"),
        (_set("model_name", ["x"]), "`model_name` must be text"),
        (_set("versions", "1.0"), "`versions` must be an object"),
    ],
)
def test_wrong_types_and_values_are_refused_with_the_field_named(edit, expected):
    assert expected in refused(edit(results_obj()))


def test_nan_and_infinity_are_refused():
    text = FIXTURE.read_text().replace('"p_acc,none": 0.425', '"p_acc,none": NaN', 1)
    assert "`results.dybench_pair.p_acc,none` is nan; every score must be a finite number" in refused(text.encode())
    text = FIXTURE.read_text().replace('"acc,none": 0.625', '"acc,none": Infinity', 1)
    assert "is inf; every score must be a finite number" in refused(text.encode())


@pytest.mark.parametrize(
    "data, expected",
    [
        (b'{"results": {"dybench_pair": ', "not valid JSON (Expecting"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "the top level is a JSON array"),
        (b'"results"', "the top level is a JSON string"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", "nested deeper than 32"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested deeper than 32"),
    ],
)
def test_malformed_files_are_refused(data, expected):
    assert expected in refused(data)


def test_oversize_file_is_refused_before_parsing():
    data = b" " * MAX_RESULTS_BYTES + b"{}"
    assert f"the limit is {MAX_RESULTS_BYTES:,}" in refused(data)


def test_every_problem_is_listed():
    obj = results_obj()
    obj["results"]["dybench_pair"]["p_acc,none"] = 2.0
    obj["results"]["timeblind"]["i_acc,none"] = None
    del obj["date"]
    message = refused(obj)
    assert "p_acc,none" in message and "i_acc,none" in message and "`date`" in message


def test_unknown_tasks_are_allowed_for_files_an_owner_put_in_the_folder():
    obj = results_obj()
    obj["results"]["videomme"] = {"acc,none": 55.0, "alias": "videomme"}  # lmms-eval's own task, in percent
    validate_results(obj, name="local", allow_unknown_tasks=True)
    assert "videomme" not in run_from_results(obj, path="a.json", origin="local").tasks


def test_known_tasks_are_dybench_families_and_their_subtasks():
    assert is_known_task("dybench_pair") and is_known_task("dybench_pair_static") and is_known_task("dyb_mvbench_x")
    assert not is_known_task("videomme") and not is_known_task("dybench") and not is_known_task("mvbench")


def test_markup_and_control_characters_in_names_are_only_text():
    obj = results_obj(model_name="<img src=x onerror=alert(1)>\x1b[31m" + "x" * 1000)
    run = run_from_results(obj, path="a.json", origin="local")
    assert "\x1b" not in run.model and len(run.model) <= 300  # stored as plain, clipped text


# --- the results folder and its index ------------------------------------------------------------------


def test_listing_reads_any_layout_and_ignores_what_is_not_a_results_file(store: ResultsStore):
    root = store.root
    write(
        root / "Qwen__Qwen2.5-VL-3B" / "20261101_100000_results.json",
        results_obj("qwen", date="20261101_100000"),
    )
    write(root / "20261102_100000_results.json", results_obj("crpo", date="20261102_100000"))
    write(root / "submissions" / "mmbench_results.json", {"predictions": [1, 2]})  # lmms-eval task output
    write(root / ".hidden" / "x_results.json", results_obj("hidden"))
    write(root / ".tmp_results.json", results_obj("temporary"))
    (root / "20261103_samples_dybench_pair.jsonl").write_text("{}\n")
    (root / "broken_results.json").write_text('{"results": ')
    listing = store.listing()
    assert [r.model for r in listing.runs] == ["crpo", "qwen"]  # newest first
    assert {r.origin for r in listing.runs} == {"local"}
    assert [p.path for p in listing.problems] == ["broken_results.json"]
    assert "not valid JSON" in listing.problems[0].message


def test_identical_runs_are_shown_once(store: ResultsStore):
    write(store.root / "a" / "r_results.json", results_obj("qwen"))
    (store.root / "b").mkdir()
    (store.root / "b" / "copy.json").write_text(json.dumps(results_obj("qwen")))  # same content, other layout
    listing = store.listing()
    assert len(listing.runs) == 1 and listing.duplicates == 1


def test_index_follows_the_folder_and_rereads_only_changed_files(store: ResultsStore, monkeypatch):
    a = write(store.root / "a_results.json", results_obj("a", p_acc=0.30))
    write(store.root / "b_results.json", results_obj("b", p_acc=0.40))
    reads: list[str] = []
    real = _store._read_file
    monkeypatch.setattr(_store, "_read_file", lambda root, rel, *refs: reads.append(rel) or real(root, rel, *refs))
    assert len(store.listing().runs) == 2 and sorted(reads) == ["a_results.json", "b_results.json"]
    reads.clear()
    assert len(store.listing().runs) == 2 and reads == []  # served from the index
    write(a, results_obj("a", p_acc=0.35123))  # changed: different size and mtime
    (store.root / "b_results.json").unlink()
    runs = store.listing().runs
    assert reads == ["a_results.json"]
    assert [(r.model, r.value(P_ACC)) for r in runs] == [("a", 0.35123)]


def test_missing_corrupt_or_foreign_index_is_rebuilt(store: ResultsStore):
    write(store.root / "a_results.json", results_obj("a"))
    assert len(store.listing().runs) == 1
    store.index_path.write_bytes(b"this is not a database" * 10)
    assert len(store.listing().runs) == 1
    import sqlite3

    with sqlite3.connect(store.index_path) as db:
        db.execute("UPDATE meta SET value = 'old-format' WHERE key = 'format'")
        db.execute("UPDATE files SET run = '{}'")  # would crash if the old index were trusted
    assert [r.model for r in store.listing().runs] == ["a"]
    store.index_path.unlink()
    assert len(store.listing().runs) == 1


def test_unwritable_cache_falls_back_to_an_index_in_memory(tmp_path: Path):
    (tmp_path / "results").mkdir()
    write(tmp_path / "results" / "a_results.json", results_obj("a"))
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    store = ResultsStore(tmp_path / "results", index_path=tmp_path / "cache" / "index.sqlite")
    assert len(store.listing().runs) == 1


def test_default_index_lives_in_the_cache_not_in_the_results_folder(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "results").mkdir()
    store = ResultsStore(tmp_path / "results")
    store.listing()
    assert store.index_path.parent == tmp_path / "cache" and store.index_path.exists()
    assert list((tmp_path / "results").iterdir()) == []


def test_missing_results_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="does not exist; pass --results DIR"):
        ResultsStore(tmp_path / "nope", index_path=tmp_path / "i.sqlite").listing()


# --- uploads -----------------------------------------------------------------------------------------------


def test_upload_is_stored_atomically_under_its_content_hash(store: ResultsStore):
    obj = results_obj("uploaded-model")
    sub = store.submit(json.dumps(obj).encode())
    assert sub.added and sub.run.origin == "uploaded" and "Added run" in sub.message
    stored = store.root / UPLOADS_DIR / f"{content_hash(obj)[:16]}_results.json"
    assert stored.is_file() and json.loads(stored.read_text()) == obj
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]  # no temporary left behind
    (run,) = store.listing().runs
    assert run.model == "uploaded-model" and run.origin == "uploaded" and run.path == f"{UPLOADS_DIR}/{stored.name}"


def test_duplicate_upload_is_reported_not_stored_twice(store: ResultsStore):
    obj = results_obj("m")
    write(store.root / "local_results.json", obj)
    sub = store.submit(json.dumps(obj, indent=None, separators=(",", ":")).encode())  # same run, other spacing
    assert not sub.added and "Already on the leaderboard" in sub.message
    assert not (store.root / UPLOADS_DIR).exists()


def test_bad_upload_writes_nothing(store: ResultsStore):
    obj = results_obj()
    obj["results"]["dybench_pair"]["p_acc,none"] = float("nan")
    with pytest.raises(ResultsError, match="the uploaded file: not a valid lmms-eval results file"):
        store.submit(json.dumps(obj).encode())
    with pytest.raises(ResultsError, match="unknown task"):
        store.submit(json.dumps(_set("results/videomme", {"acc,none": 0.5})(results_obj())).encode())
    assert list(store.root.iterdir()) == []


def test_path_like_names_in_an_upload_never_become_paths(store: ResultsStore, tmp_path: Path):
    obj = results_obj(model_name="../../../escaped")
    obj["config"]["model"] = "/etc/passwd"
    obj["model_name_sanitized"] = "../../escaped"
    obj["results"]["dybench_pair"]["alias"] = "../../escaped"
    store.listing()  # creates the index beside the folder
    before = sorted(p for p in tmp_path.rglob("*") if "results" not in p.parts)
    sub = store.submit(json.dumps(obj).encode())
    stored = (store.root / sub.run.path).resolve()
    assert stored.parent == (store.root / UPLOADS_DIR).resolve()
    assert stored.name == f"{sub.run.run_id}_results.json"
    assert sorted(p for p in tmp_path.rglob("*") if "results" not in p.parts) == before  # nothing outside
    assert sub.run.model == "../../../escaped"  # shown as text


def test_unwritable_results_folder_gives_a_clear_message(store: ResultsStore):
    (store.root / UPLOADS_DIR).write_text("a file where the uploads folder should be")
    with pytest.raises(ResultsError, match="could not store it in .*writable --results DIR"):
        store.submit(json.dumps(results_obj()).encode())


# --- columns, selection, reported numbers -----------------------------------------------------------------


def test_one_column_list_drives_everything():
    assert len({c.key for c in COLUMNS}) == len(COLUMNS) and len({c.label for c in COLUMNS}) == len(COLUMNS)
    assert all(is_known_task(task) for c in COLUMNS for task, _ in c.sources)
    assert [cat for cat, _ in CATEGORY_COLUMNS] == list(CATEGORIES)
    assert {
        "p_acc",
        "acc",
        "change_consistency",
        "keep_consistency",
        "timeblind_i_acc",
    } <= COLUMNS_BY_KEY.keys()
    assert {"videomme_acc", "mvbench_acc", "tempcompass_acc"} <= COLUMNS_BY_KEY.keys()


def _runs():
    a = run_from_results(results_obj("alpha", p_acc=0.50, acc=0.70, date="20260101_000000"), path="a", origin="local")
    b = run_from_results(results_obj("beta", p_acc=0.20, acc=0.90, date="20260102_000000"), path="b", origin="uploaded")
    c_obj = results_obj("gamma-7b", date="20260103_000000")
    del c_obj["results"]["dybench_pair"]
    c = run_from_results(c_obj, path="c", origin="local")
    return [c, b, a]  # newest first, as a listing gives them


def test_sort_follows_higher_is_better_and_puts_missing_values_last():
    runs = _runs()
    assert [r.model for r in select_runs(runs, sort_by=P_ACC)] == ["alpha", "beta", "gamma-7b"]
    lower_is_better = dataclasses.replace(P_ACC, higher_is_better=False)
    assert [r.model for r in select_runs(runs, sort_by=lower_is_better)] == ["beta", "alpha", "gamma-7b"]
    assert [r.model for r in select_runs(runs)] == ["gamma-7b", "beta", "alpha"]


def test_search_and_origin_filter():
    runs = _runs()
    assert [r.model for r in select_runs(runs, query="GAMMA 7b")] == ["gamma-7b"]
    assert [r.model for r in select_runs(runs, query="response=A beta")] == ["beta"]
    assert select_runs(runs, query="alpha beta") == []
    assert [r.model for r in select_runs(runs, origins=["uploaded"])] == ["beta"]


def test_runs_with_the_r1_prompt_fill_the_dybench_columns():
    """`dybench demo` and `dybench reproduce` evaluate with the R1 prompt (dybench_pair_r1...): the prompt is a
    setting of the row, the columns, the shortcut gap and the per-category view are the same."""
    obj = results_obj(p_acc=0.3, acc=0.7)
    obj["results"] = {t.replace("dybench_pair", "dybench_pair_r1"): v for t, v in obj["results"].items()}
    obj["results"]["dybench_pair_single_frame_r1"] = {"p_acc,none": 0.1}
    obj["results"]["dybench_pair_r1"]["p_acc_moving_direction,none"] = 0.25
    run = run_from_results(obj, path="a.json", origin="local")
    assert run.value(P_ACC) == 0.3 and run.value(ACC) == 0.7 and shortcut_gap(run) == pytest.approx(0.4)
    assert run.value(COLUMNS_BY_KEY["single_frame_p_acc"]) == 0.1
    assert run.value(COLUMNS_BY_KEY["p_acc_moving_direction"]) == 0.25


def test_shortcut_gap_is_acc_minus_p_acc():
    gamma, beta, _ = _runs()
    assert shortcut_gap(beta) == pytest.approx(0.70)
    assert shortcut_gap(gamma) is None


def test_reported_numbers_keep_their_source_and_never_invent_absolute_numbers():
    rows = {r.model: r for r in load_reported()}
    vt = rows["VideoThinker-R1-3B"]
    assert vt.scores == pytest.approx({"mvbench_acc": 0.609, "tempcompass_acc": 0.635, "videomme_acc": 0.524})
    assert vt.extra["CLEVRER_cf"] == pytest.approx(0.791) and vt.source.arxiv == "2605.01324"
    assert rows["Qwen2.5-VL-3B-Instruct (CoT)"].scores["tempcompass_acc"] == pytest.approx(0.30)
    assert rows["Qwen2.5-VL-3B + GRPO"].scores["mvbench_acc"] == pytest.approx(0.549)
    crpo = rows["Qwen3-VL-8B + CRPO"]  # the CRPO project page's main table: absolute numbers
    assert crpo.scores == pytest.approx({"acc": 0.725, "p_acc": 0.581, "timeblind_acc": 0.717,
                                         "timeblind_i_acc": 0.36, "tempcompass_acc": 0.774, "videomme_acc": 0.656,
                                         "mvbench_acc": 0.697})  # fmt: skip
    assert crpo.deltas == {} and crpo.source.arxiv == "2605.21988" and "arXiv 2605.21988" in crpo.source.cite()
    base = rows["Qwen3-VL-8B-Instruct"]
    assert round(100 * (crpo.scores["p_acc"] - base.scores["p_acc"]), 1) == 7.7  # the gain reported before
    assert rows["Qwen3-VL-4B + T-GRPO"].scores["timeblind_i_acc"] == pytest.approx(0.29)


@pytest.mark.parametrize(
    "row, expected",
    [
        ({"scores": {"mvbench": 50}}, "unknown column 'mvbench'"),
        ({"scores": {"mvbench_acc": 160}}, "not a percentage"),
        ({"deltas": {"p_acc": "lots"}}, "not a change in points"),
    ],
)
def test_bad_reported_file_names_the_row(tmp_path: Path, row: dict, expected: str):
    entry = {
        "model": "m",
        "method": "x",
        "base_model": "b",
        "source": {"arxiv": "1", "paper": "p", "table": None},
    }
    path = tmp_path / "reported.yaml"
    path.write_text(json.dumps([{**entry, **row}]))  # JSON is YAML
    with pytest.raises(ValueError, match=f"row 1 \\(m\\).*{expected}"):
        load_reported(path)


def test_reported_file_ships_in_the_package():
    assert REPORTED_PATH.is_file() and REPORTED_PATH.parent.name == "data"


def test_bundled_results_folder_holds_valid_computed_runs(tmp_path: Path):
    folder = default_results_dir()
    files = sorted(folder.rglob("*.json"))
    if not files:
        pytest.skip(f"no baseline runs in {folder} yet: generate them with `dybench eval` (see its README)")
    listing = ResultsStore(folder, index_path=tmp_path / "i.sqlite").listing()
    assert listing.problems == () and len(listing.runs) == len(files)
    assert all(r.value(P_ACC) is not None for r in listing.runs)  # every baseline has DyBench numbers
    # with their samples, every bundled run's numbers re-score (a one-task run, like the single-frame task,
    # sits in lmms-eval's group_subtasks with no subtasks: its own samples are its leaves)
    assert all(r.verification.status == "arithmetic" for r in listing.runs if r.verification.checks)


def test_fixture_is_unmodified_lmms_eval_output():
    obj = json.loads(FIXTURE.read_text())
    assert {
        "results",
        "configs",
        "versions",
        "n-samples",
        "config",
        "git_hash",
        "date",
        "model_name",
    } <= obj.keys()
    assert obj["config"]["model"] == "dummy" and obj["lmms_eval_version"] == "main@unknown"


# --- issue 12: hostile files, a damaged index, uploads at the size limit and at the same time ------------


def _huge_number(digits: int) -> bytes:
    text = json.dumps(results_obj("huge"))
    return text.replace('"p_acc,none": 0.425', f'"p_acc,none": {"9" * digits}', 1).encode()


@pytest.mark.parametrize("digits", [401, 5000])
def test_a_file_with_a_huge_integer_is_skipped_and_never_stops_listings_or_uploads(store: ResultsStore, digits):
    (store.root / "huge_results.json").write_bytes(_huge_number(digits))
    write(store.root / "good_results.json", results_obj("good"))
    listing = store.listing()
    assert [r.model for r in listing.runs] == ["good"]
    assert [p.path for p in listing.problems] == ["huge_results.json"]
    assert f"an integer of {digits:,} digits" in listing.problems[0].message
    sub = store.submit(json.dumps(results_obj("uploaded")).encode())
    assert sub.added and {r.model for r in store.listing().runs} == {"good", "uploaded"}
    with pytest.raises(ResultsError, match=f"an integer of {digits:,} digits"):
        store.submit(_huge_number(digits))


def test_a_check_that_raises_makes_a_skipped_file_not_a_failed_listing(store: ResultsStore, monkeypatch):
    write(store.root / "a_results.json", results_obj("a"))
    write(store.root / "b_results.json", results_obj("b"))

    def overflow(obj, **kw):
        if obj["model_name"] == "a":
            raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(_store, "validate_results", overflow)
    listing = store.listing()
    assert [r.model for r in listing.runs] == ["b"]
    assert listing.problems[0].message == "could not be read (OverflowError: int too large to convert to float)"


def test_partly_corrupted_index_is_rebuilt_from_the_folder(store: ResultsStore):
    import sqlite3

    for i in range(40):
        write(store.root / f"r{i:02d}_results.json", results_obj(f"m{i:02d}", date=f"202611{i % 28 + 1:02d}_100000"))
    assert len(store.listing().runs) == 40
    data = bytearray(store.index_path.read_bytes())
    page = 4096  # SQLite's default page size: tear the table's leaf pages (type 0x0D; not page 1, the schema)
    leaves = [offset for offset in range(page, len(data), page) if data[offset] == 0x0D]
    assert len(leaves) >= 2
    for offset in leaves[-4:]:
        data[offset + 8 : offset + 200] = b"\xa5" * 192
    store.index_path.write_bytes(bytes(data))
    with pytest.raises(sqlite3.DatabaseError, match="malformed"), sqlite3.connect(store.index_path) as db:
        db.execute("SELECT sum(length(run)) FROM files").fetchall()
    assert len(store.listing().runs) == 40
    with sqlite3.connect(store.index_path) as db:  # rebuilt, whole again
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_an_index_row_that_no_longer_decodes_is_rebuilt(store: ResultsStore):
    import sqlite3

    write(store.root / "a_results.json", results_obj("a"))
    assert len(store.listing().runs) == 1
    with sqlite3.connect(store.index_path) as db:
        db.execute("UPDATE files SET run = '{\"scores\": '")
    assert [r.model for r in store.listing().runs] == ["a"]


def _compact_upload(n_bytes: int) -> bytes:
    """A valid results file of about ``n_bytes`` compact bytes that grows by a third when re-indented."""
    obj = results_obj("big-compact")
    base = len(json.dumps(obj, separators=(",", ":")))
    obj["configs"]["padding"] = {f"k{i:07d}": [0, 0] for i in range((n_bytes - base) // 17)}  # 17 bytes each
    return json.dumps(obj, separators=(",", ":")).encode()


def test_a_compact_upload_under_the_limit_is_stored_as_uploaded_and_shown(store: ResultsStore):
    data = _compact_upload(3_900_000)
    assert 3_800_000 < len(data) <= MAX_RESULTS_BYTES < len(json.dumps(json.loads(data), indent=2))
    sub = store.submit(data)
    assert sub.added and "Added run" in sub.message
    assert (store.root / sub.run.path).read_bytes() == data  # the bytes as uploaded, never re-indented
    listing = store.listing()
    assert [r.run_id for r in listing.runs] == [sub.run.run_id] and listing.problems == ()


def test_twenty_identical_uploads_at_once_add_one_run(store: ResultsStore, monkeypatch):
    """The worst interleaving, made certain: every upload has checked that the run is not there yet
    before any of them stores it."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    data = json.dumps(results_obj("at-once")).encode()
    checked = threading.Barrier(20, timeout=60)
    listing = ResultsStore.listing

    def listing_then_wait(self):
        before = listing(self)
        checked.wait()
        return before

    monkeypatch.setattr(ResultsStore, "listing", listing_then_wait)
    with ThreadPoolExecutor(20) as pool:
        subs = list(pool.map(lambda _: ResultsStore(store.root, index_path=store.index_path).submit(data), range(20)))
    assert sum(s.added for s in subs) == 1
    assert all("Already on the leaderboard" in s.message for s in subs if not s.added)
    assert len({s.run.run_id for s in subs}) == 1
    assert [p.name for p in (store.root / UPLOADS_DIR).iterdir()] == [f"{subs[0].run.run_id}_results.json"]


def test_a_planted_file_under_the_upload_name_is_never_reported_as_the_upload(store: ResultsStore):
    obj = results_obj("mine")
    planted = write(store.root / UPLOADS_DIR / f"{content_hash(obj)[:16]}_results.json", results_obj("planted"))
    with pytest.raises(ResultsError, match=r"is not this upload \(it holds run .*remove it, then retry"):
        store.submit(json.dumps(obj).encode())
    planted.write_text('{"results": ')
    with pytest.raises(ResultsError, match=r"is not this upload \(not valid JSON"):
        store.submit(json.dumps(obj).encode())
