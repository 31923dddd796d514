"""One-line errors for bad input.

Errors of this project name the problem and the fix in their message. When one reaches the top of a fairseq
command (``fairseq-generate --user-dir macaron_fairseq ...``), it is printed as a single ``error:`` line and the
command exits with status 1, instead of a traceback through fairseq's internals.
"""

import sys


class MacaronFairseqError(Exception):
    """Bad input that the user can fix; the message says how."""


def _print_one_line(exc_type, exc, tb, previous_hook=sys.excepthook):
    if issubclass(exc_type, MacaronFairseqError):
        print(f"error: {exc}", file=sys.stderr)
        return
    previous_hook(exc_type, exc, tb)


def install_excepthook():
    if getattr(sys.excepthook, "__name__", "") != _print_one_line.__name__:
        sys.excepthook = _print_one_line
