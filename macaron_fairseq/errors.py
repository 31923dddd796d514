"""One-line errors for bad input.

Errors of this project name the problem and the fix in their message. When one reaches the top of a fairseq
command (``fairseq-generate --user-dir macaron_fairseq ...``), it is printed as a single ``error:`` line and the
command exits with status 1, instead of a traceback through fairseq's internals (the hook is installed with the
other fixes, in :mod:`macaron_fairseq.fairseq_fixes`).
"""

import functools
import sys


class MacaronFairseqError(Exception):
    """Bad input that the user can fix; the message says how."""


def print_one_line(excepthook):
    """An exception hook that prints a :class:`MacaronFairseqError` as one line and hands the rest to ``excepthook``."""

    @functools.wraps(excepthook)
    def excepthook_printing_one_line(exc_type, exc, tb):
        if issubclass(exc_type, MacaronFairseqError):
            print(f"error: {exc}", file=sys.stderr)
            return
        excepthook(exc_type, exc, tb)

    return excepthook_printing_one_line
