"""Trains (or evaluates, or probes) a seed's baseline and Macaron runs at the same time, each on its own share of
the machine (or one run alone, on the whole of it).

Two runs trained one after the other on a shared machine meet different loads, so their speed ratio measures the
machine as much as the models. Trained at the same time, under the same limits, both meet the same conditions:

- on the CPU each run gets an equal share of the cores: its CPU affinity is pinned to its own cores and torch,
  OpenMP and MKL use that many threads;
- with GPUs each run gets its own (``--gpus 0 1``), or both share one (``--gpus 0``).

    python -m macaron_tools.runs.side_by_side --label "seed 1" --cpu \\
        --run baseline RUNS/baseline-seed1 --run macaron RUNS/macaron-seed1 \\
        -- bash scripts/train.sh --setting S --seed 1 --model {model} --save-dir {run_dir}

``{model}`` and ``{run_dir}`` in the command stand for each run's. Progress is one line per validation, prefixed
with the run's name. If one run fails, the other is stopped, and a one-line error names the failed run and its
log. Each run directory receives ``training_run.json``: how the run shared the machine (cores, threads, GPU, the
other run), when it started and finished, its exit status and the peak resident memory of its processes. Restarting
the same command restarts both commands, which resume from their own checkpoints.

``--stage evaluation`` does the same for ``scripts/evaluate.sh``, so that decoding speeds are compared like with
like too: the output goes to each run's ``evaluate.log``, progress is evaluate.sh's own ``==>`` step lines, and
the record is ``evaluation_run.json``. ``--stage probe`` runs the splitting probe
(``python -m macaron_tools.probe.splitting``) of each run: its output goes to ``splitting.log``, the record
is ``probe_run.json``.
"""

import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import threading
import time
from typing import Callable, List, Optional

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_tools.files import require_output_folder, write_json
from macaron_tools.runs.machine import machine_description

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def validation_line(line):
    """fairseq-train's validation summary, shortened, or None for any other line."""
    marker = "| valid | epoch "
    return "valid epoch " + line.split(marker, 1)[1] if marker in line else None


def evaluation_step(line):
    """One of evaluate.sh's ``==>`` step lines, or None for any other line."""
    return line[len("==> "):] if line.startswith("==> ") else None


@dataclasses.dataclass(frozen=True)
class Stage:
    """What the runs do: where their log and record go, and which of their lines are progress."""

    verb: str
    log_name: str
    record_name: str
    command_writes_log: bool  # train.sh tees its own train.log; evaluate.sh's output is written here
    progress: Callable[[str], Optional[str]] = lambda line: None  # the line to show, or None


STAGES = {
    "training": Stage("training", "train.log", "training_run.json", command_writes_log=True,
                      progress=validation_line),
    "evaluation": Stage("evaluating", "evaluate.log", "evaluation_run.json", command_writes_log=False,
                        progress=evaluation_step),
    "probe": Stage("probing", "splitting.log", "probe_run.json", command_writes_log=False),  # progress: its log
}
RECORD_NAME = STAGES["training"].record_name
EVALUATION_RECORD_NAME = STAGES["evaluation"].record_name


@dataclasses.dataclass
class Share:
    """What one run may use."""

    cpus: Optional[List[int]] = None
    threads: Optional[int] = None
    gpu: Optional[str] = None

    def describe(self):
        if self.gpu is not None:
            return f"GPU {self.gpu}"
        if self.cpus is None:
            return "the whole machine"
        cores = f"core{'s' if len(self.cpus) > 1 else ''} {','.join(map(str, self.cpus))}"
        return f"CPU {cores} ({self.threads} thread{'s' if self.threads > 1 else ''})"


@dataclasses.dataclass
class WatchedRun:
    """One run's command as this runner starts, watches and records it."""

    model: str
    run_dir: str
    share: Share
    stage: Stage = STAGES["training"]
    process: Optional[subprocess.Popen] = None
    started: Optional[float] = None
    finished: Optional[float] = None
    status: Optional[int] = None
    peak_rss_mib: Optional[float] = None
    last_error: Optional[str] = None

    @property
    def log(self):
        return os.path.join(self.run_dir, self.stage.log_name)


def cpu_shares(count, cpus=None):
    """``count`` equal, disjoint shares of the cores this process may use (the rest of a division is left idle,
    so that no run has more than another)."""
    cpus = sorted(cpus if cpus is not None else os.sched_getaffinity(0))
    per_run = len(cpus) // count
    if per_run < 1:
        raise MacaronFairseqError(
            f"{count} runs side by side need {count} CPU cores, this process may use {len(cpus)}: "
            f"train them one after the other (leave out --parallel)"
        )
    return [Share(cpus=cpus[i * per_run:(i + 1) * per_run], threads=per_run) for i in range(count)]


def gpu_shares(count, gpus):
    """One GPU per run when there are enough, else all runs on the GPUs in turn (two runs on one GPU share it)."""
    return [Share(gpu=gpus[i % len(gpus)]) for i in range(count)]


def environment_of(share):
    env = dict(os.environ)
    if share.gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = share.gpu
    elif share.threads is not None:
        for name in THREAD_VARIABLES:
            env[name] = str(share.threads)
    return env


def command_of(template, run):
    return [part.replace("{model}", run.model).replace("{run_dir}", run.run_dir) for part in template]


def forward_output(run, name, stream):
    log = None if run.stage.command_writes_log else open(run.log, "w", encoding="utf-8")
    try:
        for raw in stream:
            line = raw.rstrip("\n")
            if log is not None:
                log.write(line + "\n")
                log.flush()
            if line.startswith("error:"):
                run.last_error = line[len("error:"):].strip()  # said once, in the error that names the run
            elif (summary := run.stage.progress(line)) is not None:
                print(f"[compare] {name}: {summary}", flush=True)
    finally:
        if log is not None:
            log.close()


def start(run, name, template):
    os.makedirs(run.run_dir, exist_ok=True)
    cpus = run.share.cpus
    run.started = time.time()
    run.process = subprocess.Popen(
        command_of(template, run),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, errors="replace",
        env=environment_of(run.share),
        start_new_session=True,  # its own process group, so that stopping it stops fairseq-train too
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    reader = threading.Thread(target=forward_output, args=(run, name, run.process.stdout), daemon=True)
    reader.start()
    return reader


def finish(run, wait_status, usage):
    run.finished = time.time()
    run.status = os.waitstatus_to_exitcode(wait_status)
    run.process.returncode = run.status
    run.peak_rss_mib = usage.ru_maxrss / 1024  # KiB on Linux; the run and the processes it waited for


def stop(run, grace_seconds=10):
    """SIGTERM to the run's process group, SIGKILL after ``grace_seconds``; reaps the run."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(run.process.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.time() + grace_seconds
        while time.time() < deadline:
            # os.wait4 rather than Popen.poll, which would reap the process and lose its resource usage
            pid, wait_status, usage = os.wait4(run.process.pid, os.WNOHANG)
            if pid:
                finish(run, wait_status, usage)
                return
            time.sleep(0.1)


def record(run, partner, label, machine):
    write_json(os.path.join(run.run_dir, run.stage.record_name), {
        "model": run.model,
        "label": label,
        "parallel": partner is not None,
        "partner": partner.run_dir if partner is not None else None,
        "share": dataclasses.asdict(run.share),
        "started": run.started,
        "finished": run.finished,
        "exit_status": run.status,
        "peak_rss_mib": run.peak_rss_mib,
        "hardware": machine,
    })


def run_side_by_side(runs: List[WatchedRun], template, label=""):
    """Starts every run, waits for all; when one fails, stops the others and raises a one-line error."""
    names = {id(run): f"{run.model}{' ' + label if label else ''}" for run in runs}
    readers = {}
    for run in runs:
        readers[id(run)] = start(run, names[id(run)], template)
    by_pid = {run.process.pid: run for run in runs}
    failed = None
    try:
        while any(run.status is None for run in runs):
            pid, wait_status, usage = os.wait4(-1, 0)
            run = by_pid.get(pid)
            if run is None:
                continue
            finish(run, wait_status, usage)
            readers[id(run)].join(timeout=5)
            if run.status != 0 and failed is None:
                failed = run
                for other in runs:
                    if other.status is None:
                        stop(other)
    except KeyboardInterrupt:
        for run in runs:
            if run.status is None:
                stop(run)
        raise
    machine = machine_description()
    for run in runs:
        partner = next((other for other in runs if other is not run), None)
        record(run, partner, label, machine)
    if failed is not None:
        where = f"see {failed.log}" if os.path.exists(failed.log) else "it wrote no log"
        if failed.last_error:
            where = f"{failed.last_error} ({where})"
        others = [names[id(run)] for run in runs if run is not failed]
        raise MacaronFairseqError(
            f"{failed.stage.verb} {names[id(failed)]} failed (exit status {failed.status}): {where}"
            + (f"; stopped {', '.join(others)} too (the same command resumes both)" if others else "")
        )
    return runs


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", nargs=2, action="append", required=True, metavar=("MODEL", "RUN_DIR"),
                        help="one run: its model name and directory (give it once per run)")
    parser.add_argument("--stage", choices=sorted(STAGES), default="training",
                        help="what the command does: training (train.sh, default), evaluation (evaluate.sh) or probe "
                             "(the splitting probe)")
    parser.add_argument("--label", default="", help="added to each run's name in progress lines, e.g. 'seed 1'")
    devices = parser.add_mutually_exclusive_group()
    devices.add_argument("--cpu", action="store_true", help="split this process's CPU cores equally between runs")
    devices.add_argument("--gpus", nargs="+", metavar="GPU", help="CUDA devices, one per run (one: shared)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="after --: the command, with {model}, {run_dir}")
    args = parser.parse_args(argv)
    args.command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not args.command:
        parser.error("no command given: put it after --, with {model} and {run_dir} for each run's")
    if len(args.run) > 1 and not (args.cpu or args.gpus):
        parser.error("several runs at once need --cpu or --gpus, to give each its own share of the machine")
    return args


def main(argv=None):
    args = parse_args(argv)
    # Checked before any run starts: a run that cannot start would leave the other running, and a folder that
    # cannot take the record would lose it after hours of training.
    for model, run_dir in args.run:
        require_output_folder(run_dir, f"--run {model}")
    if shutil.which(args.command[0]) is None:
        raise MacaronFairseqError(f"cannot run {args.command[0]}: it is no program on the PATH, nor a file that can "
                                  f"be run; give the command after --, e.g. -- bash scripts/train.sh ...")
    if args.cpu:
        shares = cpu_shares(len(args.run))
    elif args.gpus:
        shares = gpu_shares(len(args.run), args.gpus)
    else:
        shares = [Share()]  # one run, all of the machine
    stage = STAGES[args.stage]
    runs = [WatchedRun(model, run_dir, share, stage) for (model, run_dir), share in zip(args.run, shares)]
    label = f" {args.label}" if args.label else ""
    if len(runs) > 1:
        print(f"[compare] {stage.verb} side by side:" + ";".join(f" {run.model}{label} on {run.share.describe()}" for run in runs),
              flush=True)
    run_side_by_side(runs, args.command, args.label)
    return 0


if __name__ == "__main__":
    run_command(main)
