"""How the tools read and write files: text read line by line, split at "\\n" only, and every file written so that
no reader ever sees it half done.

:func:`read_lines` reads files as bytes split on ``\\n``, as ``wc -l`` and the Moses scripts count lines: Python's
text mode would also break lines at ``\\r``, ``\\x1c`` or U+2028, which occur inside sentences of web-crawled corpora
and of hypotheses, and shift one file against the other it is aligned with. A file that cannot be read (missing,
bytes that are not UTF-8, a cut gzip file) raises :class:`TextFileError` naming the file and the fix.

:func:`atomic_path` is the one way a tool writes a file: the file is written under a temporary name beside its own,
which replaces it by a rename once complete. A run that fails or is interrupted leaves the previous file or none,
never a part of one that a later run (or a reader) could take for finished. The other writers here are built on it.
"""

import contextlib
import gzip
import json
import os
import zlib

from macaron_fairseq.errors import MacaronFairseqError


class TextFileError(MacaronFairseqError):
    """A text file that cannot be read as lines of UTF-8; the message names the file and the fix."""


def read_lines(path):
    """Yields the lines of ``path`` (plain or ``.gz``) as str, without the line end; raises :class:`TextFileError`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TextFileError(f"{path} does not exist: check the path, or rerun the step that writes it")
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
                    raise TextFileError(
                        f"{path} line {number} is not valid UTF-8 (byte {error.start}): convert the file to UTF-8, "
                        f"e.g. iconv -f ISO-8859-1 -t UTF-8"
                    ) from None
                if number == 1 and text.startswith("\ufeff"):
                    text = text[1:]  # a byte order mark is not part of the first line
                yield text
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise TextFileError(
            f"{path} is not a complete gzip file ({error}) after line {number}: download or copy it again"
        ) from None


def count_lines(path):
    """Number of lines of ``path``, counted as :func:`read_lines` counts them (and checked the same way)."""
    return sum(1 for _ in read_lines(path))


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path beside ``path`` (its folder made first) for the block to write; when the block
    finishes, the file written there replaces ``path``. When it fails, the temporary file is removed.

    ``suffix`` ends the temporary name, for writers that choose the format by it (matplotlib's ``.png``); the
    process id in it keeps two processes writing the same file apart.
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.partial{os.getpid()}{suffix}"
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@contextlib.contextmanager
def atomic_output(path):
    """Opens ``path`` for writing UTF-8 text, lines ended by ``\\n``, through :func:`atomic_path`."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8", newline="\n") as f:
        yield f


def write_atomically(path, text):
    with atomic_output(path) as f:
        f.write(text)


def write_lines(path, lines):
    write_atomically(path, "".join(line + "\n" for line in lines))


def write_json(path, value):
    write_atomically(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")
