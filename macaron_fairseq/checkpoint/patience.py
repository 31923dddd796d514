"""fairseq-train --patience that survives a restart.

fairseq_cli.train.should_stop_early keeps its state, the best validation score so far and the number of
validations since it, as attributes of the function itself, and no checkpoint saves them. A run resumed from
checkpoint_last.pt starts counting again from its first validation, so a run interrupted k validations after
its best trains up to k validations longer than the same run uninterrupted, and stops somewhere else.

fairseq saves whatever a task's ``get_checkpoint_dict`` returns with every checkpoint and hands it back to the
task's ``set_checkpoint_dict`` on resume (unless --reset-dataloader); no fairseq task defines them. These two
functions are that pair, given to every task (:mod:`macaron_fairseq.fairseq_fixes`), and hold the counter.
"""

import sys

PATIENCE_KEY = "macaron_patience"
"""The key of the counter in the task's part of a checkpoint's extra state."""


def _counters():
    """should_stop_early as fairseq-train loaded it: from fairseq_cli.train, or from __main__ under
    ``python -m fairseq_cli.train``. Nothing outside fairseq-train."""
    for module_name in ("fairseq_cli.train", "__main__"):
        counter = getattr(sys.modules.get(module_name), "should_stop_early", None)
        if callable(counter):
            yield counter


def get_checkpoint_dict(task):
    """The task's part of the checkpoint: the patience counter, once --patience has counted a validation."""
    for counter in _counters():
        if hasattr(counter, "best"):
            return {type(task).__name__: {PATIENCE_KEY: {"best": counter.best, "num_runs": counter.num_runs}}}
    return {}


def set_checkpoint_dict(task, state):
    """Puts the saved counter back, so that the resumed run stops where the uninterrupted one would."""
    saved = state.get(PATIENCE_KEY)
    if saved is None:
        return
    for counter in _counters():
        counter.best = saved["best"]
        counter.num_runs = saved["num_runs"]
