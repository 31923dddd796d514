"""Corpus text files: one sentence per line, both sides of a parallel corpus aligned.

They are read and written through :mod:`macaron_tools.files` (lines split at ``\\n`` only, files replaced whole);
what a user can fix in a corpus itself (an empty file or split, two sides of different lengths) raises
:class:`CorpusError` naming the file.
"""

import os

from macaron_fairseq.errors import MacaronFairseqError


class CorpusError(MacaronFairseqError):
    """A corpus file that cannot be used as it is; the message names the file and the fix."""


def split_path(directory, split, lang):
    """fairseq's naming of one side of a split: ``DIR/train.de``."""
    return os.path.join(directory, f"{split}.{lang}")


def require_same_length(counts, unit="lines"):
    """``counts`` maps each side's path to its count of ``unit``; raises :class:`CorpusError` unless they agree
    or when they are 0. Returns the count."""
    (first_path, first_count), *others = counts.items()
    for path, count in others:
        if count != first_count:
            raise CorpusError(
                f"{first_path} has {first_count} {unit} but {path} has {count}: the two sides of a parallel corpus "
                f"must hold the same sentences in the same order; use the matching pair of files"
            )
    if first_count == 0:
        raise CorpusError(f"{first_path} and its other side are empty: this split needs at least one sentence pair")
    return first_count


def empty_line_numbers(lines):
    """1-based numbers of the lines that hold no text."""
    return [number for number, line in enumerate(lines, start=1) if not line.strip()]
