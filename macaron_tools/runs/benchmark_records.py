"""The records of a benchmark's finished runs: what scripts/compare.sh needs to take a run as finished, without
its checkpoints, so that a benchmark of hours can go on in pieces, on other days or machines.

Command line: ``python -m macaron_tools.runs.benchmark_records RUNS_DIR RECORDS_DIR`` copies the record
of every finished run in RUNS_DIR (RUNS_DIR/NAME, trained to its end and evaluated) to RECORDS_DIR/NAME, with the
repository's absolute path written relative to its root, and names the runs it left out. benchmarks/records/
holds them for the benchmarks' runs; copying a record back into a runs folder makes the benchmark reuse it.
"""

import argparse
import glob
import os

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools import REPOSITORY
from macaron_tools.files import require_output_folder, write_atomically
from macaron_tools.runs.side_by_side import EVALUATION_RECORD_NAME, RECORD_NAME
from macaron_tools.runs.trained import TRAINING_LOG, is_trained

EVALUATIONS = ("eval/result.json", "eval/lm_result.json")
"""A translation run's evaluation record, or a language model's: one of them makes a run evaluated."""

RECORD_PATTERNS = (TRAINING_LOG, "train_command.txt", RECORD_NAME, EVALUATION_RECORD_NAME, *EVALUATIONS,
                   "eval/*.hyp.detok")
"""A run's record, relative to its folder: its log and command, how it shared the machine while training and
evaluating, its evaluation and the detokenized hypotheses the paired bootstrap resamples."""


def is_trained_and_evaluated(run_dir):
    return is_trained(run_dir) and any(os.path.isfile(os.path.join(run_dir, name)) for name in EVALUATIONS)


def record_files(run_dir):
    """The files of the run's record, relative to its folder, in RECORD_PATTERNS' order."""
    found = []
    for pattern in RECORD_PATTERNS:
        found += sorted(os.path.relpath(path, run_dir) for path in glob.glob(os.path.join(run_dir, pattern)))
    return found


def without_repository_paths(text):
    return text.replace(REPOSITORY + os.sep, "")


def keep_record(run_dir, record_dir):
    """Copies the run's record into ``record_dir``; returns the files copied."""
    files = record_files(run_dir)
    for name in files:
        with open(os.path.join(run_dir, name), encoding="utf-8", errors="surrogateescape", newline="") as f:
            text = f.read()
        destination = os.path.join(record_dir, name)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        write_atomically(destination, without_repository_paths(text))
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir", help="a benchmark's runs folder (its --runs-dir), one folder per run")
    parser.add_argument("records_dir", help="where the records go, one folder per run")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.runs_dir):
        raise MacaronFairseqError(f"{args.runs_dir} is not a folder: pass a benchmark's runs folder (its --runs-dir)")
    require_output_folder(args.records_dir)

    kept, left_out = [], []
    for name in sorted(os.listdir(args.runs_dir)):
        run_dir = os.path.join(args.runs_dir, name)
        if not os.path.isdir(run_dir):
            continue
        if not is_trained_and_evaluated(run_dir):
            left_out.append(name)
            continue
        files = keep_record(run_dir, os.path.join(args.records_dir, name))
        kept.append(name)
        print(f"[records] {name}: {len(files)} files to {os.path.join(args.records_dir, name)}")
    if not kept:
        raise MacaronFairseqError(f"{args.runs_dir} holds no finished run (trained to the end and evaluated): "
                                  f"finish the benchmark's runs first")
    if left_out:
        print(f"[records] left out, not finished (trained to the end and evaluated): {', '.join(left_out)}")
    return 0


if __name__ == "__main__":
    run_command(main)
