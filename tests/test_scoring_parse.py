"""The one answer parser (dybench.scoring._parse): letters, yes/no, tags, rewards, format."""

from __future__ import annotations

import pytest

from dybench.scoring import answer_reward, format_ok, normalize_answer, parse_answer


@pytest.mark.parametrize(
    "response, expected",
    [
        # the whole answer is letters
        ("B", "B"),
        ("b", "B"),
        ("(B).", "B"),
        ("**C**", "C"),
        ("Ｂ", "B"),  # full-width, NFKC
        ("A and C", "A,C"),
        ("C, A", "A,C"),
        # answer cues: the last decides
        ("The answer is (B).", "B"),
        ("Final answer: A, C", "A,C"),
        ("I choose option C", "C"),
        ("A ball moves left, so the answer is B", "B"),
        ("The correct answer is A because the ball moves left.", "A"),
        ("The answer is B, not A.", "B"),
        ("answer: b because it turns", "B"),
        ("answer: a", "A"),
        ("Option B is correct.", "B"),
        # leading label, lone capital
        ("B. left", "B"),
        ("(B) the ball moves left", "B"),
        ("So the ball moves left, B", "B"),
        ("I think B", "B"),
        ("A is correct", "A"),
        ("\\boxed{D}", "D"),
        ("T-shirt is red so B", "B"),
        # tags: the <answer> block alone decides; <think> is never mined
        ("<think>maybe A</think><answer>C</answer>", "C"),
        ("<think>maybe A</think> <answer> A, C </answer>", "A,C"),
        ("<answer>A</answer> wait <answer>D</answer>", "D"),
        ("<think>A or B?</think>\nB", "B"),
        ("<answer>B", "B"),  # unclosed answer tag: runs to the end
        ("Thus, the answer is <|begin_of_box|>C<|end_of_box|>.", "C"),
    ],
)
def test_letters(response, expected):
    assert parse_answer(response, 4) == expected


@pytest.mark.parametrize(
    "response",
    [
        "",
        "I cannot tell",
        "A ball moves left",  # "A" is the article
        "I think the ball moves left",  # "I" is the pronoun
        "the answer is a ball",  # lower-case "a" after a cue followed by a word
        "Answer: yes",  # no letter in a letters question
        "The ball moves left",  # "left" is an option's text, not a letter
        "Both A and C are correct.",  # two lone capitals: ambiguous
        "Option A shows left, option B shows right.",  # option mentions disagree
        "A/B",
        "<think>the answer is A</think>",  # only thinking, no answer outside it
        "<think>long thinking about A",  # truncated inside <think>
        "<think>A</think><answer>not sure</answer>",  # the tag decides, even when empty of letters
        "E",  # outside A..D: not a valid option
        "The answer is E",
        "Tab. 3 and Fig. B2",  # letters inside words and tokens never count
    ],
)
def test_letters_unparsable(response):
    assert parse_answer(response, 4) is None


def test_letters_respect_n_options():
    assert parse_answer("C", 3) == "C"
    assert parse_answer("C", 2) is None
    assert parse_answer("A, C", 2) is None
    with pytest.raises(ValueError, match="n_options"):
        parse_answer("A", 27)


@pytest.mark.parametrize(
    "response, expected",
    [
        ("Yes", "yes"),
        ("no.", "no"),
        ("Answer: yes", "yes"),
        ("YES!", "yes"),
        ("Yes, it moves left.", "yes"),
        ("No it does not", "no"),
        ("I'd say yes.", "yes"),
        ("No wait. The answer is yes", "yes"),
        ("<think>yes? no?</think><answer>No</answer>", "no"),
        ("Please output Yes or No. Yes.", "yes"),
        ("ｙｅｓ", "yes"),
    ],
)
def test_yes_no(response, expected):
    assert parse_answer(response, 0) == expected


@pytest.mark.parametrize(
    "response",
    [
        "I cannot tell",
        "No idea",
        "There is no ball in the video",
        "yes or no?",
        "Maybe yes, maybe no.",
        "B",
        "eyes",
    ],
)
def test_yes_no_unparsable(response):
    assert parse_answer(response, 0) is None


@pytest.mark.parametrize(
    "pred, gold, reward",
    [
        ("B", "B", 1.0),
        ("A", "B", 0.0),
        (None, "B", 0.0),
        ("A,C", "C, A", 1.0),  # gold in any spelling
        ("A", "A,B,C", 1 / 3),  # partial credit for a subset of a multi-letter gold
        ("A,C", "A,B,C", 2 / 3),
        ("A,D", "A,B,C", 0.0),  # not a subset
        ("A,B", "A", 0.0),  # a superset is wrong
        ("yes", "Yes", 1.0),
        ("no", "yes", 0.0),
    ],
)
def test_answer_reward(pred, gold, reward):
    assert answer_reward(pred, gold) == pytest.approx(reward)


def test_reward_and_evaluation_share_the_parser():
    gold = "A,C"
    response = "<think>both</think><answer>A</answer>"
    assert answer_reward(parse_answer(response, 4), gold) == 0.5


def test_normalize_answer():
    assert normalize_answer(" c; a ") == "A,C"
    assert normalize_answer("No") == "no"
    assert normalize_answer("left") == "left"


@pytest.mark.parametrize(
    "response, ok",
    [
        ("<think>x</think><answer>B</answer>", True),
        ("  <think>\nlong\n</think>\n\n<answer> B </answer>\n", True),
        ("<think></think><answer>B</answer>", True),
        ("<answer>B</answer>", False),
        ("<think>x</think>B", False),
        ("Sure! <think>x</think><answer>B</answer>", False),
        ("<think>x</think><answer>B</answer> because", False),
        ("<think>x</think><answer>B</answer><answer>C</answer>", False),
        ("<think>x<answer>A</answer></think><answer>B</answer>", False),
        ("<answer>B</answer><think>x</think>", False),
    ],
)
def test_format_ok(response, ok):
    assert format_ok(response) is ok
