"""The ``--arch`` a checkpoint was trained with, read weights-only: ``python -m ... CHECKPOINT`` prints it.

scripts/train.sh asks before it writes anything, so that a save dir holding a run of another architecture is
refused rather than resumed into.
"""

import argparse

from macaron_fairseq.checkpoint.safe_load import CheckpointError, load_checkpoint_file
from macaron_fairseq.errors import run_command


def saved_architecture(path):
    state = load_checkpoint_file(path)
    model = None
    if isinstance(state, dict):
        cfg = state.get("cfg")
        model = state.get("args") if state.get("args") is not None else (
            cfg.get("model") if isinstance(cfg, dict) else None)
    if isinstance(model, dict):  # a model configured by a dataclass, whose config fairseq names after the --arch
        arch = model.get("arch") or model.get("_name")
    else:  # an argparse Namespace
        arch = getattr(model, "arch", None)
    if not isinstance(arch, str):
        raise CheckpointError(f"checkpoint {path} names no architecture (no arch in its args or cfg.model): pass a "
                              f"checkpoint that fairseq-train saved")
    return arch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    print(saved_architecture(parser.parse_args(argv).checkpoint))


if __name__ == "__main__":
    run_command(main)
