"""Runs a command and records the peak resident memory of its processes.

    python -m macaron_fairseq.evaluation.peak_memory --output peak_memory.json -- scripts/train.sh ...

The peak is ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the largest resident set of any process of the command that
has been waited for, so a training run started through shell scripts counts its fairseq-train process. It is
host memory; on a GPU, the device's memory is not in it. The command's exit status is passed on.
"""

import argparse
import json
import os
import resource
import subprocess
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True, help="JSON file for {'peak_rss_mib': ...}")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given: put it after --")
    status = subprocess.call(command)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    temporary = f"{args.output}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump({"peak_rss_mib": round(peak_kib / 1024, 1), "command": command, "exit_status": status}, f)
        f.write("\n")
    os.replace(temporary, args.output)
    return status


if __name__ == "__main__":
    sys.exit(main())
