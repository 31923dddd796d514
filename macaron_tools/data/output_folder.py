"""Whether a preparation script may replace its ``--out`` folder.

A prepared folder is replaced whole (built beside it, then swapped in), so whatever it held is deleted. That is
right for an earlier result of the same scripts, and loses a user's files anywhere else. A folder may be replaced
when it is absent, empty, or a prepared result that holds nothing but what the scripts write there; never when it
holds one of the run's inputs or its work folder.

    python -m macaron_tools.data.output_folder OUT [--work-dir DIR] [--inputs FILE ...]

exits 0 when OUT may be replaced, else prints one ``error:`` line and exits 1.
"""

import argparse
import fnmatch
import os

from macaron_fairseq.errors import MacaronFairseqError, run_command

RESULT_MARK = ".prepared"
"""The file a finished result holds: the key of the inputs and settings it was built from."""

RESULT_FILES = (
    RESULT_MARK, "corpus.json", "lm_corpus.json", "spm.model", "spm.vocab", "dict.txt", "dict.*.txt", "*.bin",
    "*.idx", "preprocess.log",
)
"""What scripts/prepare-corpus.sh and scripts/prepare-lm.sh write at the top of a result (fairseq-preprocess
writes preprocess.log)."""

REFERENCE_FOLDER = "refs"
REFERENCE_FILES = ("*.detok.*", "*.tok.*")
"""What they write in its refs/ folder."""

SHOWN_FILES = 3


def is_result_file(relative_path):
    folder, name = os.path.split(relative_path)
    if folder == REFERENCE_FOLDER:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in REFERENCE_FILES)
    return folder == "" and any(fnmatch.fnmatchcase(name, pattern) for pattern in RESULT_FILES)


def foreign_files(out):
    """The files and folders of ``out`` that no preparation script writes there, relative to it, sorted."""
    foreign = []
    for folder, subfolders, files in os.walk(out):
        relative_folder = os.path.relpath(folder, out)
        relative_folder = "" if relative_folder == "." else relative_folder
        for subfolder in list(subfolders):
            if relative_folder or subfolder != REFERENCE_FOLDER:
                foreign.append(os.path.join(relative_folder, subfolder) + "/")
                subfolders.remove(subfolder)  # named once, as a whole
        foreign.extend(os.path.join(relative_folder, name) for name in files
                       if not is_result_file(os.path.join(relative_folder, name)))
    return sorted(foreign)


def is_within(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_replaceable(out, inputs=(), work_dir=None):
    """Raises :class:`MacaronFairseqError` unless the folder ``out`` may be deleted and replaced by a new result."""
    for path in inputs:
        if is_within(path, out):
            raise MacaronFairseqError(
                f"--out {out} holds the input {path}, which replacing it would delete: give a new folder for the "
                f"result, e.g. data/data-bin/NAME")
    if work_dir is not None and is_within(work_dir, out):
        raise MacaronFairseqError(
            f"--out {out} holds the work folder {work_dir}: give a new folder for the result, e.g. data/data-bin/NAME")
    if not os.path.isdir(out) or not os.listdir(out):
        return
    foreign = foreign_files(out)
    if foreign or not os.path.isfile(os.path.join(out, RESULT_MARK)):
        shown = ", ".join(foreign[:SHOWN_FILES]) + (f" and {len(foreign) - SHOWN_FILES} more"
                                                     if len(foreign) > SHOWN_FILES else "")
        what = f"holds files that a prepared result does not ({shown})" if foreign else \
            f"is not a result of the preparation scripts (it has no {RESULT_MARK})"
        raise MacaronFairseqError(
            f"--out {out} {what}, and replacing it would delete them: give an empty or new folder, or move them "
            f"out first")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the --out folder of a preparation script")
    parser.add_argument("--work-dir", help="the run's work folder, which must not lie inside OUT")
    parser.add_argument("--inputs", nargs="*", default=[], metavar="FILE", help="the run's input files")
    args = parser.parse_args(argv)
    check_replaceable(args.out, args.inputs, args.work_dir)
    return 0


if __name__ == "__main__":
    run_command(main)
