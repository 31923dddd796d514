"""Command line: ``python -m macaron_tools.conversion.convert_official IN.pt OUT.pt``.

Converts a checkpoint released by Macaron Net's authors (their fairseq v0.6 fork) into one that
``fairseq-generate --user-dir macaron_fairseq --path OUT.pt`` loads. See docs/official-checkpoints.md.
"""

import argparse
import logging
import sys

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools.conversion.official import convert_official_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m macaron_tools.conversion.convert_official",
        description="Convert a Macaron checkpoint released by the authors (fairseq v0.6) for this plugin.",
    )
    parser.add_argument("input", metavar="IN.pt", help="the authors' checkpoint (read weights-only)")
    parser.add_argument("output", metavar="OUT.pt", help="where to write the converted checkpoint")
    args = parser.parse_args(argv)
    # Importing fairseq turns the root logger to DEBUG (its wav2vec and speech modules call basicConfig);
    # this command reports in its own lines.
    logging.getLogger().setLevel(logging.WARNING)
    try:
        conversion = convert_official_checkpoint(args.input, args.output)
    except MacaronFairseqError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    layout = "pre-norm" if conversion.pre_norm else "post-norm"
    print(
        f"converted {args.input} ({conversion.their_arch}, {conversion.num_updates} updates) to {args.output} "
        f"({conversion.arch}, {layout})"
    )
    if conversion.dropped:
        print(
            f"not carried over: {', '.join(conversion.dropped)} (their optimizer state and training progress); "
            f"the output is for evaluation, or for fine-tuning with a fresh optimizer"
        )
    return 0


if __name__ == "__main__":
    run_command(main)
