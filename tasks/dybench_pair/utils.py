"""lmms-eval hooks of the dybench_pair tasks: names for ``dybench.evaluation.hooks`` (documented there)."""

from dybench.evaluation import hooks

doc_to_visual = hooks.video
middle_frame = hooks.middle_frame
doc_to_text = hooks.pair_prompt
process_results = hooks.pair_results


def all_docs(dataset):
    return hooks.pair_dataset()


def moving_direction_docs(dataset):
    return hooks.pair_dataset("moving_direction")


def reversible_dynamics_docs(dataset):
    return hooks.pair_dataset("reversible_dynamics")


def event_sequence_docs(dataset):
    return hooks.pair_dataset("event_sequence")


def spatial_docs(dataset):
    return hooks.pair_dataset("spatial")


def static_docs(dataset):
    return hooks.pair_dataset("static")


# Aggregations: a `<metric>_<category>` metric uses its overall metric's aggregation on its category's items.
p_acc = hooks.aggregation("pair", "p_acc")
acc = hooks.aggregation("pair", "acc")
change_consistency = hooks.aggregation("pair", "change_consistency")
keep_consistency = hooks.aggregation("pair", "keep_consistency")
pool = hooks.pool
