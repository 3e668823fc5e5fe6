"""lmms-eval hooks of the dyb_mvbench tasks: names for ``dybench.evaluation.hooks`` (documented there)."""

from dybench.evaluation import hooks

doc_to_visual = hooks.video
doc_to_text = hooks.choice_prompt
process_results = hooks.choice_results


def action_sequence_docs(dataset):
    return hooks.mvbench_dataset("action_sequence")


def action_prediction_docs(dataset):
    return hooks.mvbench_dataset("action_prediction")


def action_antonym_docs(dataset):
    return hooks.mvbench_dataset("action_antonym")


def fine_grained_action_docs(dataset):
    return hooks.mvbench_dataset("fine_grained_action")


def unexpected_action_docs(dataset):
    return hooks.mvbench_dataset("unexpected_action")


def object_existence_docs(dataset):
    return hooks.mvbench_dataset("object_existence")


def object_interaction_docs(dataset):
    return hooks.mvbench_dataset("object_interaction")


def object_shuffle_docs(dataset):
    return hooks.mvbench_dataset("object_shuffle")


def moving_direction_docs(dataset):
    return hooks.mvbench_dataset("moving_direction")


def action_localization_docs(dataset):
    return hooks.mvbench_dataset("action_localization")


def scene_transition_docs(dataset):
    return hooks.mvbench_dataset("scene_transition")


def action_count_docs(dataset):
    return hooks.mvbench_dataset("action_count")


def moving_count_docs(dataset):
    return hooks.mvbench_dataset("moving_count")


def moving_attribute_docs(dataset):
    return hooks.mvbench_dataset("moving_attribute")


def state_change_docs(dataset):
    return hooks.mvbench_dataset("state_change")


def fine_grained_pose_docs(dataset):
    return hooks.mvbench_dataset("fine_grained_pose")


def character_order_docs(dataset):
    return hooks.mvbench_dataset("character_order")


def egocentric_navigation_docs(dataset):
    return hooks.mvbench_dataset("egocentric_navigation")


def episodic_reasoning_docs(dataset):
    return hooks.mvbench_dataset("episodic_reasoning")


def counterfactual_inference_docs(dataset):
    return hooks.mvbench_dataset("counterfactual_inference")


# `acc_<subtask>` uses `acc` on its subtask's questions; the groups pool their subtasks.
acc = hooks.aggregation("choice", "acc")
pool = hooks.pool
