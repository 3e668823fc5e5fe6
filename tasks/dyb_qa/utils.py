"""lmms-eval hooks of the dyb_qa tasks: names for ``dybench.evaluation.hooks`` (documented there)."""

from dybench.evaluation import hooks

doc_to_visual = hooks.video
doc_to_text = hooks.choice_prompt
process_results = hooks.choice_results


def docs(dataset):
    return hooks.qa_dataset()


acc = hooks.aggregation("choice", "acc")
