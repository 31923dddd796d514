"""Whether a run is trained to its end: the one answer to it, for the scripts and the tools alike.

A run is trained when the last session of its ``train.log`` (scripts/train.sh keeps it in the run's folder) says
why training stopped: ``--patience`` validations without a lower loss, or ``--max-update``
(:attr:`macaron_tools.runs.training_log.TrainingLog.stopped`). scripts/compare.sh and benchmarks/schemes.sh then
take it as it is, and a benchmark's records keep it.

    python -m macaron_tools.runs.trained RUN_DIR

exits 0 when the run is trained to its end, 1 when it is not (no log yet, or a session still going or cut short).
"""

import argparse
import os

from macaron_fairseq.errors import run_command
from macaron_tools.runs.training_log import read_training_log

TRAINING_LOG = "train.log"


def is_trained(run_dir):
    log = os.path.join(run_dir, TRAINING_LOG)
    return os.path.isfile(log) and read_training_log(log).stopped is not None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="the run's folder (its --save-dir)")
    return 0 if is_trained(parser.parse_args(argv).run_dir) else 1


if __name__ == "__main__":
    run_command(main)
