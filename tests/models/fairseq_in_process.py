"""fairseq's console scripts run inside the test process: the same entry point, without the seconds of start-up
(importing torch and fairseq) that each new process pays."""

import logging
import sys
from unittest import mock


def fairseq_train(*args):
    """Runs ``fairseq-train ARGS`` as its console script does, through ``fairseq_cli.train.cli_main``."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # importing fairseq_cli.train configures the root logger (INFO, to stdout): keep the suite's logging as it was
    from fairseq_cli import train

    try:
        with mock.patch.object(sys, "argv", ["fairseq-train", *map(str, args)]):
            train.cli_main()
    finally:
        root.handlers[:], root.level = handlers, level


def fairseq_preprocess(*args):
    """Runs ``fairseq-preprocess ARGS`` as its console script does, through ``fairseq_cli.preprocess.cli_main``."""
    from fairseq_cli import preprocess

    with mock.patch.object(sys, "argv", ["fairseq-preprocess", *map(str, args)]):
        preprocess.cli_main()


def fairseq_eval_lm(*args):
    """Runs ``fairseq-eval-lm ARGS`` as its console script does, through ``fairseq_cli.eval_lm.cli_main``;
    returns the lines it logged (its results among them)."""
    from fairseq_cli import eval_lm

    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("fairseq_cli.eval_lm")
    logger.addHandler(handler)
    try:
        with mock.patch.object(sys, "argv", ["fairseq-eval-lm", *map(str, args)]):
            eval_lm.cli_main()
    finally:
        logger.removeHandler(handler)
    return lines
