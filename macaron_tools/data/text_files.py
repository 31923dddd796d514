"""Corpus text files: one sentence per line, both sides of a parallel corpus aligned.

They are read and written through :mod:`macaron_tools.files` (lines split at ``\\n`` only, files replaced whole);
what a user can fix in a corpus itself (an empty file or split, two sides of different lengths, a NUL byte in a
line) raises :class:`CorpusError` naming the file.
"""

import os

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools.files import read_lines


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


def read_corpus_lines(path):
    """:func:`~macaron_tools.files.read_lines` of raw corpus text, refusing a line with a NUL byte.

    A NUL is valid UTF-8, but no text: the Moses tokenizer deletes it and glues the words on either side
    (``Der\\0Mann`` becomes ``DerMann``), while the references keep it, so such a line would be trained and
    scored as something the corpus does not say. A UTF-16 file read as UTF-8 is full of them.
    """
    for number, line in enumerate(read_lines(path), start=1):
        if "\0" in line:
            raise CorpusError(
                f"{path} line {number} holds a NUL byte (character {line.index(chr(0)) + 1}), which tokenization "
                f"would drop, gluing the words around it: remove the NUL bytes, e.g. tr -d '\\000', or convert a "
                f"UTF-16 file with iconv -f UTF-16 -t UTF-8"
            )
        yield line


def count_corpus_lines(path):
    """Number of lines of ``path``, checked as :func:`read_corpus_lines` reads them."""
    return sum(1 for _ in read_corpus_lines(path))
