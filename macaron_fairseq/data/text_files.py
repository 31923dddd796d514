"""Reading and writing corpus text files strictly: one sentence per line, UTF-8, both sides aligned.

Files are read as bytes and split on ``\\n`` only, as ``wc -l`` and the Moses scripts count lines: Python's text
mode would also break lines at ``\\r``, ``\\x1c`` or U+2028, which occur inside sentences of web-crawled corpora,
and shift one side of a parallel corpus against the other. Every problem a user can fix (a missing file, bytes
that are not UTF-8, an empty file, two sides of different lengths) raises :class:`CorpusError` naming the file.
"""

import gzip
import os
import zlib
from contextlib import contextmanager

from macaron_fairseq.errors import MacaronFairseqError


class CorpusError(MacaronFairseqError):
    """A corpus file that cannot be used as it is; the message names the file and the fix."""


def read_lines(path):
    """Yields the lines of ``path`` (plain or ``.gz``) as str, without the line end; raises :class:`CorpusError`."""
    if not os.path.isfile(path):
        raise CorpusError(f"{path} does not exist: check the path, or rerun the step that writes it")
    opener = gzip.open if path.endswith(".gz") else open
    number = 0
    try:
        with opener(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                line = raw.rstrip(b"\n")
                if line.endswith(b"\r"):  # files written on Windows
                    line = line[:-1]
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise CorpusError(
                        f"{path} line {number} is not valid UTF-8 (byte {error.start}): convert the file to UTF-8, "
                        f"e.g. iconv -f ISO-8859-1 -t UTF-8"
                    ) from None
                if number == 1 and text.startswith("\ufeff"):
                    text = text[1:]  # a byte order mark is not part of the first sentence
                yield text
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise CorpusError(
            f"{path} is not a complete gzip file ({error}) after line {number}: download or copy it again"
        ) from None


def count_lines(path):
    """Number of lines of ``path``, counted as :func:`read_lines` counts them (and checked the same way)."""
    return sum(1 for _ in read_lines(path))


@contextmanager
def atomic_output(path):
    """Opens ``path`` for writing text; the file appears under its name only if the block finishes.

    A run that fails or is interrupted leaves no half-written file that a later run could take for a finished one.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = path + ".partial"
    try:
        with open(partial, "w", encoding="utf-8", newline="\n") as f:
            yield f
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


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
