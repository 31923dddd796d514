"""How the tools read and write files: text read line by line, split at "\\n" only, and every file written so that
no reader ever sees it half done.

:func:`read_lines` reads files as bytes split on ``\\n``, as ``wc -l`` and the Moses scripts count lines: Python's
text mode would also break lines at ``\\r``, ``\\x1c`` or U+2028, which occur inside sentences of web-crawled corpora
and of hypotheses, and shift one file against the other it is aligned with. A file that cannot be read (missing,
bytes that are not UTF-8, a cut gzip file) raises :class:`TextFileError` naming the file and the fix.

:func:`atomic_path` is the one way a tool writes a file: the file is written under a temporary name beside its own,
which replaces it by a rename once complete. A run that fails or is interrupted leaves the previous file or none,
never a part of one that a later run (or a reader) could take for finished; a write the system refuses (a full
disk, a read-only folder) raises :class:`OutputFileError` naming the file. The other writers here are built on it.

:func:`require_input_file`, :func:`require_writable_output` and :func:`require_output_folder` check the paths of a
command line before a tool starts its work, so that a path it cannot read or write is refused in one line at once,
not after minutes of work, and not as a traceback.
"""

import contextlib
import errno
import gzip
import json
import os
import tempfile
import zlib

from macaron_fairseq.errors import MacaronFairseqError


class InputFileError(MacaronFairseqError):
    """An input file that is missing, a folder, or unreadable; the message names it and the fix."""


class TextFileError(InputFileError):
    """A text file that cannot be read as lines of UTF-8; the message names the file and the fix."""


class OutputFileError(MacaronFairseqError):
    """An output that cannot be written where it is asked for; the message names it and the fix."""


def _named(path, option):
    return f"{option} {path}" if option else path


def require_input_file(path, option=None, what="the input", missing_fix="check the path"):
    """Raises :class:`InputFileError` unless ``path`` is a file this process can read. ``option`` (the command
    line's, e.g. ``--hyp-tok``) and ``what`` (the file's content, "the Moses-tokenized hypotheses") name it in
    the message; ``missing_fix`` says what to do about a missing file."""
    path = os.fspath(path)
    named = _named(path, option)
    if os.path.isdir(path):
        raise InputFileError(f"{named} is a folder: give the file of {what}")
    if not os.path.exists(path):
        raise InputFileError(f"{named} does not exist: {missing_fix}")
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise InputFileError(f"cannot read {named} ({error.strerror}): give a file of {what} that you can "
                             f"read") from None


def _writable_folder_error(folder):
    """Why nothing can be created in the existing folder ``folder`` (the system's words), or None."""
    try:
        # Creating a file is the one sure test: permissions do not stop root, a read-only file system does.
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-")
    except OSError as error:
        return error.strerror
    os.close(descriptor)
    os.remove(probe)
    return None


def _existing_ancestor(folder):
    while not os.path.lexists(folder):
        folder = os.path.dirname(folder)
    return folder


def require_writable_output(path, option=None, make_folder=False):
    """Raises :class:`OutputFileError` unless a file can be written at ``path``: not a folder, in a folder that
    exists (or, with ``make_folder``, that the writer may make) and that this process can write in."""
    path = os.fspath(path)
    named = _named(path, option)
    if os.path.isdir(path) or path.endswith(os.sep):
        raise OutputFileError(f"{named} is a folder: give the name of the file to write")
    _require_folder_writable(os.path.dirname(os.path.abspath(path)), named, make_folder)


def require_output_folder(path, option=None):
    """Raises :class:`OutputFileError` unless ``path`` is a folder this process can write in, or one it can make."""
    path = os.fspath(path)
    named = _named(path, option)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputFileError(f"{named} is a file: give a folder to write in")
    _require_folder_writable(os.path.abspath(path), named, make_folder=True)


def _require_folder_writable(folder, named, make_folder):
    existing = _existing_ancestor(folder)
    if not os.path.isdir(existing):
        raise OutputFileError(f"{named}: {existing} is a file, not a folder: give another path")
    if existing != folder and not make_folder:
        raise OutputFileError(f"{named}: its folder {folder} does not exist: create it or give another path")
    reason = _writable_folder_error(existing)
    if reason is not None:
        raise OutputFileError(f"{named}: cannot write in {existing} ({reason}): give a folder you can write")


def read_lines(path):
    """Yields the lines of ``path`` (plain or ``.gz``) as str, without the line end; raises :class:`TextFileError`."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise TextFileError(f"{path} is a folder: give the file of text, one sentence a line")
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
    except OSError as error:
        where = f" after line {number}" if number else ""
        raise TextFileError(f"cannot read {path} ({error.strerror}){where}: give a file you can read") from None


def count_lines(path):
    """Number of lines of ``path``, counted as :func:`read_lines` counts them (and checked the same way)."""
    return sum(1 for _ in read_lines(path))


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _write_failure(path, error):
    """The one line that says why writing ``path`` failed with the OSError ``error``, and the fix."""
    if error.errno in _NO_SPACE:
        fix = "free space on its disk, or give a path on another"
    elif error.errno == errno.EISDIR:
        fix = "it is a folder: give the name of the file to write"
    else:
        fix = "give a folder you can write"
    return f"cannot write {path} ({error.strerror}): {fix}; nothing half-written was left under its name"


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path beside ``path`` (its folder made first) for the block to write; when the block
    finishes, the file written there replaces ``path``. When it fails, the temporary file is removed, and a failure
    to write (an OSError about the temporary file, or about none: a full disk) becomes an :class:`OutputFileError`.

    ``suffix`` ends the temporary name, for writers that choose the format by it (matplotlib's ``.png``); the
    process id in it keeps two processes writing the same file apart.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise OutputFileError(f"cannot make the folder {folder} for {path} ({error.strerror}): give a folder you "
                              f"can write") from None
    temporary = f"{path}.partial{os.getpid()}{suffix}"
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        if error.errno is None or error.filename not in (None, temporary, path):
            raise  # an input the block failed to read, or a library's own error: not this output's
        raise OutputFileError(_write_failure(path, error)) from None
    finally:
        if os.path.lexists(temporary):
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
