"""The reproduction report: numbers read from lmms-eval results files, seeds compared in pairs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dybench.reproduce._summary import build_report, compare, scores_from_results
from dybench.scoring import Proportion


def _results(p_acc: float, acc: float, *, md: float, static: float) -> dict:
    group = {
        "p_acc,none": p_acc, "p_acc_ci_low,none": p_acc - 0.1, "p_acc_ci_high,none": p_acc + 0.1,
        "p_acc_stderr,none": "N/A", "acc,none": acc, "change_consistency,none": 0.3, "keep_consistency,none": 0.9,
        "p_acc_moving_direction,none": md, "p_acc_moving_direction_stderr,none": "N/A",
        "acc_moving_direction,none": 0.5, "p_acc_static,none": static, "acc_static,none": 0.7,
    }  # fmt: skip
    return {"results": {"dybench_pair": group}, "n-samples": {"dybench_pair_static": {"effective": 8}}}


def test_scores_keep_the_tasks_intervals_and_only_real_categories(tmp_path):
    scores = scores_from_results(_results(0.4, 0.6, md=0.2, static=0.6), "crpo-s1", "crpo", 1, tmp_path / "r.json")
    assert scores.metrics["p_acc"] == Proportion(0.4, pytest.approx(0.3), pytest.approx(0.5))
    assert scores.metrics["keep_consistency"].value == 0.9
    assert set(scores.by_category) == {"moving_direction", "static"}  # not "moving_direction_stderr"
    assert scores.by_category["static"]["acc"].value == 0.7
    assert scores.n_items == 8


def test_per_category_numbers_fall_back_to_the_subtasks():
    results = {"results": {"dybench_pair_static": {"p_acc,none": 0.5, "acc,none": 0.75},
                           "dybench_pair_single_frame": {"p_acc,none": 0.1}}}  # fmt: skip
    scores = scores_from_results(results, "grpo-s0", "grpo", 0, Path("r.json"))
    assert scores.metrics["p_acc"].value == 0.5
    assert list(scores.by_category) == ["static"]


def _run(label: str, p_acc: float):
    method, seed = label.split("-s")
    return scores_from_results(_results(p_acc, 0.5, md=0, static=0), label, method, int(seed), Path("r"))


def test_the_comparison_is_paired_by_seed_and_says_when_the_method_loses():
    runs = [_run("grpo-s0", 0.30), _run("grpo-s1", 0.40), _run("crpo-s0", 0.20), _run("crpo-s1", 0.28)]
    worse = compare("crpo", "grpo", runs, "p_acc")
    assert worse.diffs == [pytest.approx(-0.10), pytest.approx(-0.12)]
    assert worse.wins == 0 and "does NOT beat grpo" in worse.verdict
    noisy = compare("crpo", "grpo", [*runs[:2], _run("crpo-s0", 0.5), _run("crpo-s1", 0.2)], "p_acc")
    assert "no clear difference" in noisy.verdict
    better = compare("crpo", "grpo", [*runs[:2], _run("crpo-s0", 0.5), _run("crpo-s1", 0.61)], "p_acc")
    assert better.wins == 2 and better.verdict.startswith("crpo above grpo by +0.205")


def test_r1_task_names_give_the_same_scores_and_categories():
    group = _results(0.4, 0.6, md=0.2, static=0.6)["results"]["dybench_pair"]
    r1 = {"results": {"dybench_pair_r1": group, "dybench_pair_r1_static": {"p_acc,none": 0.6}},
          "n-samples": {"dybench_pair_r1_static": {"effective": 8}}}  # fmt: skip
    scores = scores_from_results(r1, "crpo-s0", "crpo", 0, Path("r.json"))
    assert scores.metrics["p_acc"].value == 0.4 and set(scores.by_category) == {"moving_direction", "static"}
    alone = scores_from_results({"results": {"dybench_pair_r1_static": {"p_acc,none": 0.6, "acc,none": 0.8}}},
                                "crpo-s0", "crpo", 0, Path("r.json"))  # fmt: skip
    assert list(alone.by_category) == ["static"] and alone.metrics["acc"].value == 0.8


def test_cue_agreement_is_compared_lower_is_better():
    runs = [_run("grpo-s0", 0.0), _run("grpo-s1", 0.0), _run("crpo-s0", 0.0), _run("crpo-s1", 0.0)]
    for run, cue in zip(runs, (1.0, 0.98, 0.52, 0.49), strict=True):
        run.diagnostics["cue_agreement"] = cue
    less = compare("crpo", "grpo", runs, "cue_agreement")
    assert less.wins == 2 and less.diffs == [pytest.approx(-0.48), pytest.approx(-0.49)]
    assert less.verdict.startswith("crpo follows the planted cue less than grpo")
    runs[2].diagnostics["cue_agreement"] = None
    assert compare("crpo", "grpo", runs, "cue_agreement").diffs == [pytest.approx(-0.49)]


def test_the_report_reads_each_evaluated_model_and_the_training_metrics(tmp_path):
    from dybench.reproduce import make_plan

    plan = make_plan("crpo", output_dir=tmp_path, seeds=[0])
    for label, p in {"base": 0.0, "grpo-s0": 0.2, "crpo-s0": 0.35}.items():
        path = plan.layout.results(label)
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_results(p, 0.5, md=p, static=0.5)))
    run = plan.layout.run("crpo-s0")
    run.mkdir(parents=True)
    rows = [{"step": s, "reward": s / 20, "reward_correct": s / 40, "reward_behave": 0.25, "reward_crr_orig": 0.5,
             "reward_crr_aug": 0.125, "kl_bias": 0.0, "step_s": 1.0} for s in range(1, 21)]  # fmt: skip
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = build_report(plan.report_input())
    assert [r.label for r in report.runs] == ["base", "grpo-s0", "crpo-s0"]
    assert [m.method for m in report.methods] == ["base", "grpo", "crpo", "crpo_no_crr", "crpo_branch"]
    assert [m.n_seeds for m in report.methods] == [1, 1, 1, 0, 0]  # the ablations were not evaluated here
    assert report.comparisons[0].diffs == [pytest.approx(0.15)]
    crpo = report.training["crpo-s0"]
    assert crpo["steps"] == 20 and crpo["reward_first10"] == pytest.approx(0.275)
    assert crpo["accuracy_first10"] == pytest.approx(0.1375) and crpo["behave_last10"] == 0.25
    assert (crpo["crr_last10"], crpo["crr_aug_last10"]) == (0.5, 0.125)
    assert report.training["grpo-s0"] == {}  # not trained yet


def test_report_scores_carry_intervals_from_new_and_old_results_files():
    """The report reads results through dybench.results: intervals from `dybench_intervals` or old `_ci_` metrics."""
    import json
    from pathlib import Path

    from dybench.reproduce._summary import scores_from_results

    root = Path(__file__).parent.parent
    for folder in (root / "leaderboard" / "results", root / "tests" / "data" / "leaderboard" / "runs"):
        path = next(folder.rglob("*_results.json"))
        p_acc = scores_from_results(json.loads(path.read_text()), "x", "grpo", 0, path).metrics["p_acc"]
        assert p_acc.ci_low is not None and p_acc.ci_low <= p_acc.value <= p_acc.ci_high, path


def test_the_report_is_gathered_from_data_alone(tmp_path):
    """No plan: the runs, the caller's cue diagnostics and the stages' wall times are handed in."""
    from dybench.reproduce._summary import ReportInput, RunInfo, StageInfo

    runs = []
    for label, p in {"base": 0.1, "grpo-s0": 0.2, "crpo-s0": 0.4, "crpo-s1": 0.5}.items():
        results = tmp_path / f"{label}.json"
        if label != "crpo-s1":  # not evaluated yet: left out
            results.write_text(json.dumps(_results(p, 0.5, md=p, static=0.5)))
        method, _, seed = label.partition("-s")
        runs.append(RunInfo(label, method, int(seed) if seed else None, results, diagnostics={"cue_agreement": p},
                            metrics=tmp_path / f"{label}.jsonl" if seed else None))  # fmt: skip
    stages = (StageInfo("synth", "synth", "c", 60.0, 1.0), StageInfo("t0", "train", "c", 30.0, 3.0),
              StageInfo("t1", "train", "c", 90.0), StageInfo("report", "report", "c"))  # fmt: skip
    report = build_report(ReportInput(
        target="crpo", preset="tiny", seeds=(0, 1), runs=tuple(runs), compared=("crpo",), ablations={},
        tasks=("dybench_pair",), test_data="-", stages=stages, published=tmp_path / "none.json",
        results_dir=tmp_path, warmup=None, report_md=tmp_path / "r.md", report_json=tmp_path / "r.json",
        plots=tmp_path / "plots",
    ))  # fmt: skip
    assert [r.label for r in report.runs] == ["base", "grpo-s0", "crpo-s0"]
    assert [(m.method, m.n_seeds) for m in report.methods] == [("base", 1), ("grpo", 1), ("crpo", 1)]
    assert report.runs[2].diagnostics == {"cue_agreement": 0.4}
    # GRPO follows the cue on 0.2 of the items: the premise fails on seed 0, so nothing is compared there
    (premise,) = report.premise
    assert premise.seed == 0 and premise.holds is False and "0.20 of the cue questions (< 0.75)" in premise.why
    cue = next(c for c in report.comparisons if c.metric == "cue_agreement")
    assert cue.diffs == [] and cue.verdict == "crpo - grpo not compared: the premise holds on no seed"
    from dybench.reproduce._report_markdown import _verdict

    assert "- **cue_agreement**: crpo - grpo not compared: the premise holds on no seed" in _verdict(
        report.comparisons, []
    )  # the line says which comparison, and lists no seed
    assert list(report.training) == ["grpo-s0", "crpo-s0", "crpo-s1"] and report.training["crpo-s1"] == {}
    assert report.wall_time["by_kind_s"] == {"synth": 60.0, "train": 120.0} and report.wall_time["total_s"] == 180.0
    assert report.wall_time["load_average_mean"] == 2.0 and report.leaderboard == [] and report.warmup is None


def test_methods_are_compared_on_the_seeds_where_grpo_took_the_shortcut(tmp_path):
    from dybench.reproduce._report_markdown import render_markdown
    from dybench.reproduce._summary import ReportInput, RunInfo

    runs = []  # (P-Acc, cue agreement): GRPO takes the cue on seed 0 only
    values = {"base": (0.5, 0.5), "grpo-s0": (0.2, 0.9), "crpo-s0": (0.6, 0.5), "grpo-s1": (0.6, 0.55),
              "crpo-s1": (0.3, 0.7)}  # fmt: skip
    for label, (p, cue) in values.items():
        results = tmp_path / f"{label}.json"
        results.write_text(json.dumps(_results(p, 0.5, md=p, static=0.5)))
        method, _, seed = label.partition("-s")
        runs.append(RunInfo(label, method, int(seed) if seed else None, results, diagnostics={"cue_agreement": cue}))
    inputs = ReportInput(
        target="crpo", preset="tiny", seeds=(0, 1), runs=tuple(runs), compared=("crpo",), ablations={},
        tasks=("dybench_pair",), test_data="-", stages=(), published=tmp_path / "none.json", results_dir=tmp_path,
        warmup=None, report_md=tmp_path / "r.md", report_json=tmp_path / "r.json", plots=tmp_path / "plots",
    )  # fmt: skip
    report = build_report(inputs)
    assert [p.holds for p in report.premise] == [True, False]
    p_acc = next(c for c in report.comparisons if c.metric == "p_acc")
    assert p_acc.diffs == [pytest.approx(0.4)]  # seed 1 (premise fails) is left out, though CRPO lost there
    assert p_acc.seeds == [0]
    text = render_markdown(inputs, report, {})
    assert "crpo above grpo by +0.400 (1/1 seeds); per seed: seed 0 +0.400" in text
    assert text.index("## Premise") < text.index("## Verdict")
    assert "| 1 | 0.550 | - | 0.600 | 0.500 | **FAILS** |" in text and "seed(s) 1" in text

    # the cue's halves: a lean toward B (high where the cue points to B only) is told from a shortcut
    halves = {"cue_agreement": 0.75, "cue_agreement_A": 0.5, "cue_agreement_B": 1.0}
    leaning = RunInfo("grpo-s0", "grpo", 0, runs[1].results, diagnostics=halves)
    inputs = dataclasses.replace(inputs, runs=(runs[0], leaning, *runs[2:]))
    report = build_report(inputs)
    assert report.premise[0].cue_by_answer == {"A": 0.5, "B": 1.0}
    text = render_markdown(inputs, report, {})
    assert "| 0 | 0.750 | A 0.500, B 1.000 | 0.200 | 0.500 | holds |" in text
    assert "| 0.750 | A 0.500, B 1.000 |" in text.split("## Every model")[1]  # and in every model's row

    # a GRPO run that gives one answer to everything has collapsed: the premise says so
    collapsed = RunInfo("grpo-s1", "grpo", 1, runs[3].results, diagnostics={"cue_agreement": 0.5,
                        "top_answer_share": 1.0})  # fmt: skip
    report = build_report(dataclasses.replace(inputs, runs=(*runs[:3], collapsed, runs[4])))
    assert report.premise[1].holds is False and "collapsed, not a shortcut" in report.premise[1].why
    assert "**FAILS** (collapsed to one answer) |" in render_markdown(inputs, report, {})
    # ... and so does the verdict, for any collapsed model (a method that froze on one letter included)
    frozen = RunInfo("crpo-s0", "crpo", 0, runs[2].results, diagnostics={"cue_agreement": 0.5,
                     "top_answer_share": 0.96})  # fmt: skip
    report = build_report(dataclasses.replace(inputs, runs=(runs[0], runs[1], frozen, collapsed, runs[4])))
    assert report.collapsed == ["crpo-s0", "grpo-s1"]
    verdict = render_markdown(inputs, report, {}).split("## Verdict")[1].split("##")[0]
    assert (
        "Collapsed to one answer (on at least 95% of the test questions; top answer share below): crpo-s0, grpo-s1"
        in verdict
    )


def test_kl_to_the_bias_model_is_followed_over_training_and_rendered(tmp_path):
    from dybench.reproduce import make_plan
    from dybench.reproduce._report_markdown import render_markdown
    from dybench.reproduce._summary import kl_over_training

    # 50 steps whose KL falls from 0.5 to 0.01: five windows of 10, each the mean of its steps
    rows = [{"step": s, "kl_bias": 0.5 if s <= 10 else 0.01} for s in range(1, 51)]
    assert kl_over_training(rows) == [[10, 0.5], [20, 0.01], [30, 0.01], [40, 0.01], [50, 0.01]]
    assert kl_over_training([{"step": s, "kl_bias": 0.0} for s in range(1, 51)]) == []  # no bias model: no series
    assert kl_over_training(rows[:7]) == [[7, 0.5]]  # shorter than a window: one point

    plan = make_plan("cdpo", output_dir=tmp_path, seeds=[0])
    for label, kl in (("cdpo-s0", 0.2), ("grpo-s0", 0.0)):
        run = plan.layout.run(label)
        run.mkdir(parents=True)
        metrics = [{"step": s, "reward": 1.0, "kl_bias": kl, "step_s": 1.0} for s in range(1, 21)]
        if label == "cdpo-s0":  # groups go flat over the run (grpo-s0 is an older run that did not log it)
            for r in metrics:
                r["frac_reward_zero_std"] = 0.25 if r["step"] <= 10 else 1.0
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in metrics))
    inputs = plan.report_input()
    report = build_report(inputs)
    assert report.training["cdpo-s0"]["kl_bias_over_training"][-1] == [20, 0.2]
    assert report.training["grpo-s0"]["kl_bias_over_training"] == []
    assert (report.training["cdpo-s0"]["flat_first10"], report.training["cdpo-s0"]["flat_last10"]) == (0.25, 1.0)
    assert report.training["grpo-s0"]["flat_first10"] is None
    text = render_markdown(inputs, report, {})
    training = text.split("## Training")[1]
    assert "| 0.25 -> 1.00 |" in training.split("| cdpo-s0 |")[1].split("\n")[0]
    assert "| - |" in training.split("| grpo-s0 |")[1].split("\n")[0]
    section = text.split("### KL to the bias model over training")[1]
    assert "| cdpo-s0 | 0.2000 (10) | 0.2000 (20) |" in section and "grpo-s0" not in section.split("Each cell")[0]


def test_the_confirmation_split_checks_the_premise_and_compares_again_by_the_same_rules(tmp_path):
    from dybench.reproduce._report_markdown import render_markdown
    from dybench.reproduce._summary import ReportInput, RunInfo

    def infos(split: str, values: dict[str, tuple[float, float]]) -> tuple[RunInfo, ...]:
        runs = []
        for label, (p, cue) in values.items():
            results = tmp_path / f"{split}-{label}.json"
            results.write_text(json.dumps(_results(p, 0.5, md=p, static=0.5)))
            method, _, seed = label.partition("-s")
            runs.append(RunInfo(label, method, int(seed) if seed else None, results,
                                diagnostics={"cue_agreement": cue}))  # fmt: skip
        return tuple(runs)

    # (P-Acc, cue agreement): on the test split GRPO takes the cue on both seeds; on the confirmation split
    # only on seed 1, where CRPO loses to it
    test = infos("test", {"base": (0.5, 0.5), "grpo-s0": (0.2, 0.9), "crpo-s0": (0.6, 0.5), "grpo-s1": (0.2, 0.8),
                          "crpo-s1": (0.5, 0.6)})  # fmt: skip
    confirm = infos("confirm", {"base": (0.5, 0.5), "grpo-s0": (0.4, 0.6), "crpo-s0": (0.6, 0.5),
                                "grpo-s1": (0.3, 0.8), "crpo-s1": (0.2, 0.9)})  # fmt: skip
    inputs = ReportInput(
        target="crpo", preset="tiny", seeds=(0, 1), runs=test, compared=("crpo",), ablations={},
        tasks=("dybench_pair",), test_data="-", stages=(), published=tmp_path / "none.json", results_dir=tmp_path,
        warmup=None, report_md=tmp_path / "r.md", report_json=tmp_path / "r.json", plots=tmp_path / "plots",
        confirmation=confirm, confirm_data="3 pairs, 6 items in data/confirm/pairs",
    )  # fmt: skip
    report = build_report(inputs)
    p_acc = next(c for c in report.comparisons if c.metric == "p_acc")
    assert p_acc.seeds == [0, 1] and p_acc.wins == 2
    c = report.confirmation
    assert c is not None and [p.holds for p in c.premise] == [False, True]
    confirmed = next(x for x in c.comparisons if x.metric == "p_acc")
    assert confirmed.seeds == [1] and confirmed.diffs == [pytest.approx(-0.1)] and confirmed.wins == 0
    assert json.loads(json.dumps(dataclasses.asdict(report)))["confirmation"]["premise"][0]["holds"] is False
    text = render_markdown(inputs, report, {})
    section = text.split("## Confirmation: a second test split")[1].split("\n## ")[0]
    assert "3 pairs, 6 items in data/confirm/pairs" in section
    assert "| 0 | 0.600 | - | 0.400 | 0.500 | **FAILS** |" in section and "seed(s) 0" in section
    assert "per seed: seed 1 -0.100" in section.split("### Verdict on the confirmation split")[1]
    assert "| crpo-s1 | 0.500 | 0.200 [0.10, 0.30] | 0.900 | - | - |" in section
    assert build_report(dataclasses.replace(inputs, confirmation=())).confirmation is None
    assert "## Confirmation" not in render_markdown(
        inputs, build_report(dataclasses.replace(inputs, confirmation=())), {}
    )


def test_the_report_names_the_machines_and_warns_when_training_ran_on_several(tmp_path):
    from dybench.reproduce._report_markdown import _machines
    from dybench.reproduce._stages import machine
    from dybench.reproduce._summary import StageInfo, wall_time

    here = machine()
    assert "torch " in here and "CPU kernels " in here and " threads" in here
    one = (
        StageInfo("synth-test", "synth", "c", 1.0, 1.0, here),
        StageInfo("train-grpo-s0", "train", "c", 2.0, 1.0, here),
    )
    assert wall_time(one)["machines"] == {here: ["synth-test", "train-grpo-s0"]}
    assert _machines(wall_time(one)["machines"], {"train-grpo-s0"}) == ["", f"Machine: {here}."]
    # a folder resumed on another CPU: its training runs are not comparable to the last float
    two = (*one, StageInfo("train-crpo-s0", "train", "c", 2.0, 1.0, "Other CPU (CPU kernels AVX512)"),
           StageInfo("eval-base", "eval", "c", 1.0))  # fmt: skip
    machines = wall_time(two)["machines"]
    assert machines["not recorded"] == ["eval-base"]
    text = "\n".join(_machines(machines, {"train-grpo-s0", "train-crpo-s0"}))
    assert "- Other CPU (CPU kernels AVX512): train-crpo-s0" in text
    assert "**The training stages ran on more than one machine.**" in text
    # ... and no warning when only an evaluation ran elsewhere
    assert "more than one machine" not in "\n".join(_machines(machines, {"train-grpo-s0"}))
