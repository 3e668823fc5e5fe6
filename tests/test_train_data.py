"""Training data: pairs datasets and Video-R1 json as prompts, frame sampling, the resumable cursor."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_train_fixtures import make_pairs_dataset, make_video_r1_json

from dybench.train._config import TrainConfig
from dybench.train._counterfactuals import load_training_examples
from dybench.train._data import ClipLoader, DataCursor, load_examples


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return make_pairs_dataset(tmp_path_factory.mktemp("data"), n_videos=2)


def test_pairs_as_crpo_examples(pairs):
    examples = load_examples(pairs, paired=True)
    assert len(examples) == 4  # 2 questions x (hflip, reverse)
    for ex in examples:
        orig, cf = ex.prompts
        assert (orig.branch, cf.branch) == ("original", "counterfactual")
        assert ex.relation == "change" and orig.answer != cf.answer
        assert orig.video.is_file() and cf.video.is_file() and orig.video != cf.video
    assert "Options:\nA. left\nB. right\nOutput" in examples[0].prompts[0].text("Output X.")


def test_pairs_as_single_prompts_and_filters(pairs):
    assert len(load_examples(pairs, paired=False)) == 8
    with pytest.raises(ValueError, match="no usable training examples"):
        load_examples(pairs, paired=False, categories=["static"])


def test_incomplete_pairs_are_skipped(pairs, tmp_path):
    rows = [json.loads(line) for line in (pairs / "pairs.jsonl").read_text().splitlines()]
    kept = [r for r in rows if r["item_id"] != "q0:hflip:counterfactual"]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    (tmp_path / "videos").symlink_to(pairs / "videos")
    assert len(load_examples(tmp_path, paired=True)) == 3


def test_video_r1_json(tmp_path, caplog):
    path = make_video_r1_json(tmp_path)
    with caplog.at_level("WARNING"):
        examples = load_examples(path, paired=False)
    prompts = [ex.prompts[0] for ex in examples]
    assert [p.answer for p in prompts] == ["B", "yes", "A,C"]  # the numerical row is skipped
    assert "skipped 1 row" in caplog.text
    assert prompts[0].options == ("left", "right")  # "A. " prefixes removed
    assert prompts[1].n_options == 0
    assert prompts[0].video == (path.parent / "clip0.mp4").resolve()
    with pytest.raises(ValueError, match="routes and renders the counterfactuals"):
        load_examples(path, paired=True)


def test_training_questions_get_the_null_option_when_the_config_asks(pairs, tmp_path):
    def options(**settings) -> set[tuple[str, ...]]:
        cfg = TrainConfig(model="m", data=str(pairs), output_dir=str(tmp_path), **settings)
        return {p.options for ex in load_training_examples(cfg) for p in ex.prompts}

    assert options(method="crpo") == {("left", "right", "None of the above")}  # published: on by default
    assert options(method="crpo", crr_mode="differ") == {("left", "right")}
    assert options(method="crpo", null_option=False) == {("left", "right")}
    assert options(method="grpo") == {("left", "right")}
    assert options(method="grpo", null_option=True) == {("left", "right", "None of the above")}
    golds = [ex.prompts[0].answer for ex in load_examples(pairs, paired=True)]
    cfg = TrainConfig(method="crpo", model="m", data=str(pairs), output_dir=str(tmp_path))
    assert [ex.prompts[0].answer for ex in load_training_examples(cfg)] == golds  # letters unchanged


def test_video_r1_bad_rows_name_the_row(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"problem": "Q", "options": ["A. x", "B. y"], "solution": "<answer>E</answer>",
                                "path": "v.mp4", "problem_type": "multiple choice"}]))  # fmt: skip
    with pytest.raises(ValueError, match=r"bad.json\[0\].*not option letters"):
        load_examples(bad, paired=False)
    bad.write_text(json.dumps([{"problem": "Q", "options": []}]))
    with pytest.raises(ValueError, match=r"bad.json\[0\]: missing \['solution', 'path'\]"):
        load_examples(bad, paired=False)
    with pytest.raises(ValueError, match="not a pairs dataset folder"):
        load_examples(tmp_path / "nothing.txt", paired=False)


def test_clip_loader_samples_even_frame_counts(pairs):
    video = load_examples(pairs, paired=False)[0].prompts[0].video  # 8 frames at 4 fps
    clip = ClipLoader(num_frames=4, fps=None)(video)
    assert clip.frames.shape == (4, 56, 56, 3) and clip.frames.dtype == np.uint8
    assert clip.indices == (0, 2, 5, 7) and clip.fps == pytest.approx(4.0) and clip.total_frames == 8
    assert len(ClipLoader(num_frames=5, fps=None)(video).indices) == 4  # odd counts round down
    by_fps = ClipLoader(num_frames=None, fps=2.0)(video)
    assert by_fps.indices == (0, 2, 4, 6)
    capped = ClipLoader(num_frames=2, fps=2.0)(video)
    assert capped.indices == (0, 6)
    still = ClipLoader(num_frames=1, fps=None)(video)  # a bias model's view: the middle frame, shown twice
    assert still.indices == (3, 3) and np.array_equal(still.frames[0], still.frames[1])
    assert not np.array_equal(still.frames[0], clip.frames[0])
    TrainConfig(model="m", data="d", output_dir="o", num_frames=1).validate()  # allowed
    with pytest.raises(ValueError, match="num_frames=0: must be >= 1"):
        TrainConfig(model="m", data="d", output_dir="o", num_frames=0).validate()
    loader = ClipLoader(num_frames=4, fps=None)
    assert loader(video) is loader(video), "decoded clips are cached"
    with pytest.raises(ValueError, match="video not found"):
        loader(video.with_name("missing.mp4"))


def test_data_cursor_is_seeded_and_resumable():
    a = DataCursor(5, seed=3)
    first_epoch = a.take(5)
    assert sorted(first_epoch) == list(range(5))
    a2 = DataCursor(5, seed=3)
    assert a2.take(3) + a2.take(2) == first_epoch
    state = a2.state_dict()
    later = a2.take(7)
    resumed = DataCursor(5, seed=3)
    resumed.load_state_dict(state)
    assert resumed.take(7) == later
    assert DataCursor(5, seed=4).take(5) != first_epoch
    with pytest.raises(ValueError, match="5 examples"):
        DataCursor(6, seed=3).load_state_dict(state)
