"""One-line errors for bad input.

Errors of this project name the problem and the fix in their message. When one reaches the top of a fairseq
command (``fairseq-generate --user-dir macaron_fairseq ...``), it is printed as a single ``error:`` line and the
command exits with status 1, instead of a traceback through fairseq's internals. The hook is installed by the
commands only: fairseq's, when they load the plugin (:func:`macaron_fairseq.register`), and the tools', through
:func:`run_command`; a program that imports the plugin keeps its own. So are fairseq's own refusals of a command line
(:data:`FAIRSEQ_REFUSALS`), whose messages name the option, followed by where the options are listed.
"""

import functools
import os
import sys


class MacaronFairseqError(Exception):
    """Bad input that the user can fix; the message says how."""


FAIRSEQ_REFUSALS = (
    # the commands' checks of their options: "Must specify batch size either with --max-tokens or --batch-size",
    # "--path required for generation!", "--sampling requires --nbest to be equal to --beam" ...
    (AssertionError, "fairseq_cli."),
    # a component the command line must choose: "optimizer is required!" (no --optimizer)
    (ValueError, "fairseq.registry"),
    # a split the data folder lacks: "Dataset not found: test1 (DATA_DIR)" (--gen-subset, --valid-subset)
    (FileNotFoundError, "fairseq.tasks."),
    # a sentence longer than the model or a batch takes: "Size of sample #5 is invalid (=(7, 8)) since
    # max_positions=(5, 5), skip this example with --skip-invalid-size-inputs-valid-test"
    (Exception, "fairseq.tasks."),
    (Exception, "fairseq.data.data_utils"),
)
"""(exception type, module prefix): an exception of that type that fairseq raises itself, with a message, in a
module of that name: the check of an option, not a failure inside fairseq."""


def fairseq_refusal(exc, tb):
    """The message of ``exc`` where it is one of :data:`FAIRSEQ_REFUSALS`, else None."""
    if tb is None or not exc.args or not str(exc) or getattr(exc, "errno", None) is not None:
        return None  # no message of its own, or the operating system's (a file fairseq tried to open)
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    for exc_type, prefix in FAIRSEQ_REFUSALS:
        if type(exc) is exc_type and module.startswith(prefix):
            return str(exc)
    return None


def print_one_line(excepthook):
    """An exception hook that prints a :class:`MacaronFairseqError` or one of fairseq's refusals of its command line
    as one line, and hands the rest to ``excepthook``."""

    @functools.wraps(excepthook)
    def excepthook_printing_one_line(exc_type, exc, tb):
        if issubclass(exc_type, MacaronFairseqError):
            print(f"error: {exc}", file=sys.stderr)
            return
        refusal = fairseq_refusal(exc, tb)
        if refusal is not None:
            print(f"error: {refusal} (see {os.path.basename(sys.argv[0])} --help)", file=sys.stderr)
            return
        excepthook(exc_type, exc, tb)

    return excepthook_printing_one_line


def run_command(main):
    """Runs a command's ``main()`` and exits with what it returns, its errors printed as one line (see above)."""
    from macaron_fairseq import fairseq_fixes

    fairseq_fixes.ONE_LINE_ERRORS.apply()
    sys.exit(main())
