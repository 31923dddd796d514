"""The length and ratio filter of Moses' ``clean-corpus-n.perl``, for training pairs only.

A pair is dropped when either side has fewer than ``min_tokens`` or more than ``max_tokens`` tokens (white-space
separated, so count after Moses tokenization), or when one side is more than ``ratio`` times as long as the
other -- the usual sign of a misaligned pair. Evaluation sets are never filtered: their references must stay
complete.
"""

from collections import Counter

KEPT = "kept"
EMPTY = "empty side"
TOO_SHORT = "too short"
TOO_LONG = "too long"
RATIO = "length ratio"


class LengthFilter:
    """Decides pair by pair and counts the decisions (``counts[KEPT]``, ``counts[TOO_LONG]`` ...)."""

    def __init__(self, min_tokens=1, max_tokens=None, ratio=None):
        if min_tokens < 1:
            raise ValueError("min_tokens must be at least 1: an empty sentence is no training pair")
        self.min_tokens, self.max_tokens, self.ratio = min_tokens, max_tokens, ratio
        self.counts = Counter()

    def drop_reason(self, source, target):
        """Why the pair of tokenized sentences is dropped, or None to keep it."""
        shorter, longer = sorted((len(source.split()), len(target.split())))
        if shorter == 0:
            return EMPTY
        if shorter < self.min_tokens:
            return TOO_SHORT
        if self.max_tokens is not None and longer > self.max_tokens:
            return TOO_LONG
        if self.ratio is not None and longer > self.ratio * shorter:
            return RATIO
        return None

    def keep(self, source, target):
        reason = self.drop_reason(source, target)
        self.counts[reason or KEPT] += 1
        return reason is None

    def summary(self):
        """``kept 9,500 of 10,000 pairs (dropped: 300 too long, 200 length ratio)``."""
        total = sum(self.counts.values())
        dropped = [f"{count:,} {reason}" for reason, count in self.counts.most_common() if reason != KEPT]
        kept = f"kept {self.counts[KEPT]:,} of {total:,} pairs"
        return f"{kept} (dropped: {', '.join(dropped)})" if dropped else kept
