"""lmms-eval hooks of the timeblind task: names for ``dybench.evaluation.hooks`` (documented there)."""

from dybench.evaluation import hooks

doc_to_visual = hooks.video
doc_to_text = hooks.timeblind_text
process_results = hooks.timeblind_results


def docs(dataset):
    return hooks.timeblind_dataset()


i_acc = hooks.aggregation("timeblind", "i_acc")
i_acc_ci_low = hooks.aggregation("timeblind", "i_acc_ci_low")
i_acc_ci_high = hooks.aggregation("timeblind", "i_acc_ci_high")
acc = hooks.aggregation("timeblind", "acc")
acc_ci_low = hooks.aggregation("timeblind", "acc_ci_low")
acc_ci_high = hooks.aggregation("timeblind", "acc_ci_high")
q_acc = hooks.aggregation("timeblind", "q_acc")
q_acc_ci_low = hooks.aggregation("timeblind", "q_acc_ci_low")
q_acc_ci_high = hooks.aggregation("timeblind", "q_acc_ci_high")
v_acc = hooks.aggregation("timeblind", "v_acc")
v_acc_ci_low = hooks.aggregation("timeblind", "v_acc_ci_low")
v_acc_ci_high = hooks.aggregation("timeblind", "v_acc_ci_high")
