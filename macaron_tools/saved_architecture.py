"""The ``--arch`` a checkpoint was trained with, read weights-only: ``python -m ... CHECKPOINT`` prints it.

scripts/train.sh asks before it writes anything, so that a save dir holding a run of another architecture is
refused rather than resumed into.
"""

import argparse

from macaron_fairseq.checkpoint.safe_load import load_checkpoint_file
from macaron_fairseq.errors import run_command


def saved_architecture(path):
    state = load_checkpoint_file(path)
    return state["args"].arch if state.get("args") is not None else state["cfg"]["model"].arch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    print(saved_architecture(parser.parse_args(argv).checkpoint))


if __name__ == "__main__":
    run_command(main)
