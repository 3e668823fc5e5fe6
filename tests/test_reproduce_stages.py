"""Resumable stages: skip what is done, rerun what changed, resume what a kill interrupted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dybench.reproduce._stages import MARKERS, Stage, StageError, run_stages, stage_keys


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing on the way catches it."""


def _stages(root: Path, calls: list[str], *, value: int = 1, kill: str | None = None) -> list[Stage]:
    def make(name: str, deps: tuple[str, ...], settings: dict) -> Stage:
        out = root / f"{name}.txt"

        def run() -> None:
            calls.append(name)
            if name == kill:
                out.write_text("half")  # a partial output, then the process dies
                raise Killed
            out.write_text(f"{name} done")

        return Stage(
            name=name,
            kind="data",
            description=name,
            run=run,
            outputs=(out,),
            command=f"make {name}",
            settings=settings,
            deps=deps,
            check=lambda: None if out.is_file() and out.read_text().endswith("done") else f"{out} incomplete",
        )

    return [make("a", (), {"v": 1}), make("b", ("a",), {"v": value}), make("c", ("b",), {"v": 1})]


def test_a_second_run_skips_every_done_stage(tmp_path):
    calls: list[str] = []
    records = run_stages(_stages(tmp_path, calls), tmp_path, log=lambda s: None)
    assert [r.status for r in records] == ["done"] * 3
    again = run_stages(_stages(tmp_path, calls), tmp_path, log=lambda s: None)
    assert [r.status for r in again] == ["skipped"] * 3
    assert calls == ["a", "b", "c"]
    done = json.loads((tmp_path / MARKERS / "b.done.json").read_text())
    assert done["settings"] == {"v": 1} and done["wall_s"] >= 0


@pytest.mark.parametrize("killed_at", ["a", "b", "c"])
def test_a_kill_resumes_at_the_stage_it_hit(tmp_path, killed_at):
    calls: list[str] = []
    with pytest.raises(Killed):
        run_stages(_stages(tmp_path, calls, kill=killed_at), tmp_path, log=lambda s: None)
    assert not (tmp_path / MARKERS / f"{killed_at}.done.json").exists()
    assert (tmp_path / MARKERS / f"{killed_at}.started.json").exists()
    lines: list[str] = []
    calls.clear()
    records = run_stages(_stages(tmp_path, calls), tmp_path, log=lines.append)
    order = ["a", "b", "c"]
    before = order[: order.index(killed_at)]
    assert calls == order[order.index(killed_at) :]
    assert [r.status for r in records] == ["skipped" if n in before else "done" for n in order]
    assert any(f"{killed_at}: resuming" in line for line in lines)
    assert (tmp_path / f"{killed_at}.txt").read_text() == f"{killed_at} done"


def test_a_changed_setting_reruns_that_stage_and_what_follows(tmp_path):
    calls: list[str] = []
    run_stages(_stages(tmp_path, calls), tmp_path, log=lambda s: None)
    calls.clear()
    lines: list[str] = []
    records = run_stages(_stages(tmp_path, calls, value=2), tmp_path, log=lines.append)
    assert calls == ["b", "c"]
    assert [r.status for r in records] == ["skipped", "done", "done"]
    assert any("b: settings changed" in line for line in lines)


def test_outputs_that_no_longer_pass_their_check_are_rebuilt(tmp_path):
    calls: list[str] = []
    run_stages(_stages(tmp_path, calls), tmp_path, log=lambda s: None)
    (tmp_path / "b.txt").write_text("corrupted")
    calls.clear()
    run_stages(_stages(tmp_path, calls), tmp_path, log=lambda s: None)
    assert calls == ["b"]


def test_a_failing_stage_names_itself_and_leaves_no_done_marker(tmp_path):
    def boom() -> None:
        raise ValueError("disk full")

    stage = Stage("x", "data", "x", boom, (tmp_path / "x",), "make x")
    with pytest.raises(StageError, match="stage x failed: ValueError: disk full"):
        run_stages([stage], tmp_path, log=lambda s: None)
    assert not (tmp_path / MARKERS / "x.done.json").exists()


def test_outputs_that_fail_their_check_are_an_error(tmp_path):
    stage = Stage("x", "data", "x", lambda: None, (), "make x", check=lambda: "nothing was written")
    with pytest.raises(StageError, match="not valid: nothing was written"):
        run_stages([stage], tmp_path, log=lambda s: None)


def test_keys_chain_through_dependencies_and_need_them_first(tmp_path):
    calls: list[str] = []
    one, two = stage_keys(_stages(tmp_path, calls)), stage_keys(_stages(tmp_path, calls, value=2))
    assert one["a"] == two["a"] and one["b"] != two["b"] and one["c"] != two["c"]
    a, b, c = _stages(tmp_path, calls)
    with pytest.raises(ValueError, match="depends on"):
        stage_keys([b, a, c])


def test_keys_follow_the_contents_of_external_inputs_and_the_dybench_version(tmp_path, monkeypatch):
    """Rebuilt data, an edited json or a new dybench must rerun the stages that read them, nothing else."""
    import dybench

    pairs = tmp_path / "pairs"
    pairs.mkdir()
    (pairs / "manifest.json").write_text('{"files": {"videos/a.mp4": "aa"}}')
    qa = tmp_path / "qa.json"
    qa.write_text("[]")

    def plan() -> dict[str, str]:
        reads = {"eval": (pairs,), "train": (qa,), "report": ()}
        return stage_keys([Stage(n, "data", n, lambda: None, (), n, inputs=r) for n, r in reads.items()])

    before = plan()
    (pairs / "manifest.json").write_text('{"files": {"videos/a.mp4": "bb"}}')  # the data was rebuilt
    rebuilt = plan()
    assert rebuilt["eval"] != before["eval"] and rebuilt["train"] == before["train"]
    assert rebuilt["report"] == before["report"]
    qa.write_text('[{"problem": "?"}]')
    assert plan()["train"] != rebuilt["train"]
    monkeypatch.setattr(dybench, "__version__", "99.0")
    assert all(new != old for new, old in zip(plan().values(), rebuilt.values(), strict=True))


def test_a_plan_fingerprints_the_data_and_model_it_is_given(tmp_path):
    from dybench.reproduce import make_plan

    pairs = tmp_path / "test-pairs"
    pairs.mkdir()
    (pairs / "manifest.json").write_text("{}")
    plan = make_plan("crpo", eval_data=pairs, output_dir=tmp_path / "o", seeds=[0])
    reads = {s.name: s.inputs for s in plan.stages}
    assert reads["eval-base"] == (pairs.resolve(),)
    assert reads["eval-crpo-s0"] == (pairs.resolve(),)
    assert reads["build-train"] == () and reads["train-crpo-s0"] == ()  # built by the plan: its key covers them
