"""fairseq-train --patience across a restart: the count of validations without a better one is saved with every
checkpoint and put back on resume, so that a resumed run stops where the uninterrupted one does."""

import re
import sys
import types

import pytest
import torch

from conftest import PLUGIN_DIR, TINY_MODEL_FLAGS, fairseq_command, last_checkpoint, run
from macaron_fairseq.checkpoint import patience

VALIDATE_EVERY = 5
PATIENCE = 3


def train(data_bin, save_dir, max_update):
    """A tiny Macaron model that cannot learn (learning rate 0), so that every validation loss equals the first,
    validated every 5 updates and at no epoch's end: the patience counter goes up by one per validation."""
    return run(fairseq_command(
        "train", data_bin, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", *TINY_MODEL_FLAGS,
        "--encoder-ffn-embed-dim", 32, "--decoder-ffn-embed-dim", 32, "--optimizer", "adam", "--lr", 0,
        "--criterion", "cross_entropy", "--max-tokens", 1000, "--max-update", max_update,
        "--validate-interval-updates", VALIDATE_EVERY, "--validate-interval", 1000, "--patience", PATIENCE,
        "--save-dir", save_dir, "--cpu", "--seed", 1, "--no-progress-bar", "--num-workers", 0,
    ))


def saved_counter(save_dir):
    extra_state = torch.load(save_dir / "checkpoint_last.pt", weights_only=True)["extra_state"]
    return extra_state["TranslationTask"][patience.PATIENCE_KEY]


def test_a_resumed_run_stops_where_the_uninterrupted_one_does(toy_data_bin, tmp_path):
    # Uninterrupted: best at update 5, then 10, 15 and 20 are no better, and the third of those stops it at 20.
    first = train(toy_data_bin, tmp_path, max_update=2 * VALIDATE_EVERY)
    assert "done training" in first.stdout + first.stderr
    assert saved_counter(tmp_path)["num_runs"] == 1  # update 10 was no better than update 5

    resumed = train(toy_data_bin, tmp_path, max_update=100)
    output = resumed.stdout + resumed.stderr
    assert re.search(r"Loaded checkpoint \S+ \(epoch \d+ @ 10 updates\)", output)
    assert f"early stop since valid performance hasn't improved for last {PATIENCE} runs" in output
    # Counting afresh after the restart, fairseq alone would stop at update 30.
    assert last_checkpoint(tmp_path)[0] == (1 + PATIENCE) * VALIDATE_EVERY
    assert saved_counter(tmp_path)["num_runs"] == PATIENCE


@pytest.fixture
def counter(monkeypatch):
    """fairseq_cli.train's should_stop_early, its state undone after the test."""
    from fairseq_cli import train as fairseq_train

    def should_stop_early(cfg, valid_loss):
        raise AssertionError("not called")

    monkeypatch.setattr(fairseq_train, "should_stop_early", should_stop_early)
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    return should_stop_early


class TranslationTask:
    pass


def test_nothing_is_saved_before_patience_has_counted(counter):
    assert patience.get_checkpoint_dict(TranslationTask()) == {}


def test_the_counter_is_saved_under_the_task_and_put_back(counter):
    counter.best, counter.num_runs = 4.25, 2
    saved = patience.get_checkpoint_dict(TranslationTask())
    assert saved == {"TranslationTask": {patience.PATIENCE_KEY: {"best": 4.25, "num_runs": 2}}}

    del counter.best, counter.num_runs
    patience.set_checkpoint_dict(TranslationTask(), saved["TranslationTask"])
    assert (counter.best, counter.num_runs) == (4.25, 2)


def test_a_checkpoint_without_a_counter_leaves_it_alone(counter):
    patience.set_checkpoint_dict(TranslationTask(), {"other": 1})
    assert not hasattr(counter, "best")
