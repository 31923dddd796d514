"""The one line that names the machine a run or report was made on: its CPU cores and model, its GPUs, and the
versions of Python, torch and fairseq.

    python -m macaron_tools.runs.machine

prints it.
"""

import argparse
import os
import platform
import shutil
import subprocess
from importlib import metadata

from macaron_fairseq.errors import run_command


def processor_name():
    """The CPU's model name (/proc/cpuinfo), or its architecture where that does not say."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def machine_description():
    """One line naming this machine's hardware and software (without importing torch)."""
    devices = f"{os.cpu_count()} CPU cores ({processor_name()})"
    if shutil.which("nvidia-smi"):
        listed = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                capture_output=True, text=True, check=False).stdout.split("\n")
        devices += "".join(f", {name.strip()}" for name in listed if name.strip())

    def version(*distributions):
        for distribution in distributions:
            try:
                return metadata.version(distribution)
            except metadata.PackageNotFoundError:
                continue
        return "unknown"

    return (f"{devices}; Python {platform.python_version()}, torch {version('torch')}, "
            f"fairseq {version('fairseq-fixed', 'fairseq')}")


def main(argv=None):
    argparse.ArgumentParser(prog="python -m macaron_tools.runs.machine",
                            description=__doc__.split("\n\n")[0]).parse_args(argv)
    print(machine_description())
    return 0


if __name__ == "__main__":
    run_command(main)
