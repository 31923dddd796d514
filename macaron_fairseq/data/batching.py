"""Keep the last batch that fairseq's ``batch_by_size`` drops.

Since December 2022 fairseq (and the fairseq-fixed release) ends ``data_utils.batch_by_size`` with
``if bsz_mult > 1 and len(b[-1]) % bsz_mult != 0: b = b[:-1]``. With the default
``--required-batch-size-multiple 8`` every pass over a dataset whose size is not a multiple of 8 then skips its
last batch, which holds the longest sentences: ``fairseq-generate`` scores a subset of the test set, validation
loss leaves those sentences out, and training never sees them. Every fairseq task batches through this function,
so the wrapper here (installed by :mod:`macaron_fairseq.fairseq_fixes`) restores fairseq v0.12.2's behaviour:
the last batch is kept even when it is not a full multiple.

The same line fails with an ``IndexError`` when there is nothing to batch, as when ``--max-tokens`` is below every
sentence's length and training skips them all; and a sentence longer than ``--max-tokens`` that generation does not
skip fails on an assertion of fairseq's: both are refused in one line naming ``--max-tokens``.
"""

import functools

import numpy as np

from macaron_fairseq.errors import MacaronFairseqError


def keep_last_batch(batch_by_size):
    @functools.wraps(batch_by_size)
    def batch_by_size_keeping_every_index(
        indices,
        num_tokens_fn,
        num_tokens_vec=None,
        max_tokens=None,
        max_sentences=None,
        required_batch_size_multiple=1,
        fixed_shapes=None,
    ):
        if fixed_shapes is None and len(indices) == 0:
            raise MacaronFairseqError(
                f"no sentence is left to batch: the split is empty, or every sentence is longer than fits in a batch "
                f"(--max-tokens {max_tokens}): raise --max-tokens, or check the data")
        try:
            batches = batch_by_size(
                indices, num_tokens_fn, num_tokens_vec, max_tokens, max_sentences,
                required_batch_size_multiple, fixed_shapes,
            )
        except AssertionError as error:
            if "should not exceed max_tokens" not in str(error):
                raise
            longest = max(num_tokens_vec) if num_tokens_vec is not None else max(map(num_tokens_fn, indices))
            raise MacaronFairseqError(
                f"a sentence of {int(longest)} tokens does not fit in a batch of --max-tokens {max_tokens}: raise "
                f"--max-tokens to {int(longest)} or more") from error
        if fixed_shapes is not None:
            return batches  # fixed shapes choose their batches on purpose
        indices = np.asarray(indices, dtype=np.int64)
        batched = sum(len(batch) for batch in batches)
        # The dropped batch is always the last run of indices, since batches are cut from them in order.
        if batched < len(indices):
            batches = list(batches) + [indices[batched:]]
        return batches

    return batch_by_size_keeping_every_index
