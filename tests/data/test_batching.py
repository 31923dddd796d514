"""fairseq's batch_by_size, with the plugin loaded, keeps every index (the batch_by_size entry of
fairseq_fixes.FIXES)."""

import numpy as np
import pytest
from fairseq.data import data_utils


@pytest.mark.parametrize("dataset_size", [13, 16, 1, 1071])
def test_every_index_is_batched_once(dataset_size):
    lengths = np.arange(dataset_size) % 17 + 1
    indices = np.argsort(lengths, kind="stable")  # fairseq orders by length: the last batch is the longest
    batches = data_utils.batch_by_size(
        indices, lengths.__getitem__, num_tokens_vec=lengths[indices], max_tokens=60,
        required_batch_size_multiple=8,
    )
    batched = np.concatenate(batches)
    assert sorted(batched.tolist()) == list(range(dataset_size))
    assert batched.tolist() == indices.tolist()  # order kept
    assert all(max(lengths[batch]) * len(batch) <= 60 for batch in batches)


def test_the_unpatched_function_would_drop_the_longest_sentences():
    """The fix is needed: fairseq's own function leaves the last partial batch out."""
    unpatched = data_utils.batch_by_size.__wrapped__
    lengths = np.arange(13) + 1
    batches = unpatched(np.arange(13), lengths.__getitem__, num_tokens_vec=lengths, max_tokens=1000,
                        required_batch_size_multiple=8)
    assert sum(len(b) for b in batches) == 8


def test_nothing_to_batch_is_one_error_naming_max_tokens():
    from macaron_fairseq.errors import MacaronFairseqError

    with pytest.raises(MacaronFairseqError, match=r"^no sentence is left to batch: .*\(--max-tokens 5\): raise "
                                                  r"--max-tokens"):
        data_utils.batch_by_size(np.arange(0), len, num_tokens_vec=np.zeros(0, dtype=np.int64), max_tokens=5,
                                 required_batch_size_multiple=8)


def test_fairseq_train_with_max_tokens_below_every_sentence_is_one_line(toy_data_bin, tmp_path):
    from conftest import PLUGIN_DIR, TINY_MODEL_FLAGS, fairseq_command, run

    result = run(fairseq_command(
        "train", toy_data_bin, "--user-dir", PLUGIN_DIR, "--arch", "macaron_transformer", *TINY_MODEL_FLAGS,
        "--optimizer", "adam", "--lr", "1e-3", "--max-tokens", 2, "--max-update", 2, "--cpu",
        "--save-dir", tmp_path / "save", "--num-workers", 0, "--no-progress-bar"), check=False,
        env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.splitlines()[-1].startswith("error: no sentence is left to batch")


def test_a_sentence_longer_than_max_tokens_is_one_error_naming_both():
    from macaron_fairseq.errors import MacaronFairseqError

    lengths = np.array([2, 3, 9])
    with pytest.raises(MacaronFairseqError, match=r"^a sentence of 9 tokens does not fit in a batch of --max-tokens 5: "
                                                  r"raise --max-tokens to 9 or more$"):
        data_utils.batch_by_size(np.arange(3), lengths.__getitem__, num_tokens_vec=lengths, max_tokens=5)
