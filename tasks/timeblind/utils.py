"""lmms-eval hooks of the timeblind task: names for ``dybench.evaluation.hooks`` (documented there)."""

from dybench.evaluation import hooks

doc_to_visual = hooks.video
doc_to_text = hooks.timeblind_text
process_results = hooks.timeblind_results


def docs(dataset):
    return hooks.timeblind_dataset()


i_acc = hooks.aggregation("timeblind", "i_acc")
acc = hooks.aggregation("timeblind", "acc")
q_acc = hooks.aggregation("timeblind", "q_acc")
v_acc = hooks.aggregation("timeblind", "v_acc")
