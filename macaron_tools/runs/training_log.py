"""What a fairseq-train log says about a run: parameters, time, throughput and the validation curve.

Reads the ``--log-format simple`` output that scripts/train.sh keeps in ``SAVE_DIR/train.log``. A resumed run
appends to the same file; each epoch's (and each validation's) last summary wins, and why training stopped is what
the last session says.

Command line: ``python -m macaron_tools.runs.training_log SAVE_DIR/train.log [--max-update N]`` prints the
run's throughput and, from a short probe run, how long N updates would take on the same hardware.
"""

import argparse
import dataclasses
import re
from typing import Dict, List, Optional, Tuple

from macaron_fairseq.errors import MacaronFairseqError, run_command

_PARAMS = re.compile(r"num\. shared model params: ([\d,]+)")
_ARCH = re.compile(r"\barch='(\w+)'")
_EPOCH_TRAIN = re.compile(r"\| train \| epoch (\d+) \| (.*)$")
_VALID = re.compile(r"\| valid \| epoch \d+ \| valid on '[^']*' subset \| (.*)$")
_FIELD = re.compile(r"(\w+) ([-\d.e+]+)")
_SEED = re.compile(r"(?:'seed': |\bseed=)(\d+)")
_PATIENCE = re.compile(r"(?:'patience': |\bpatience=)(-?\d+)")
_EARLY_STOP = "early stop since valid performance hasn't improved"
_DONE = "done training in "


def _fields(text):
    return {name: float(value) for name, value in _FIELD.findall(text)}


@dataclasses.dataclass
class TrainingLog:
    architecture: Optional[str]
    parameters: Optional[int]
    updates: int
    train_seconds: float  # time in training steps, validation and checkpointing excluded
    target_tokens: float
    valid_loss: List[Tuple[int, float]]  # (updates, loss in base 2) after each validation
    valid_bleu: List[Tuple[int, float]] = dataclasses.field(default_factory=list)  # with --eval-bleu
    seed: Optional[int] = None
    # why training ended: "patience" (--patience validations without a better loss), "max-update", or None while
    # the run has not finished
    stopped: Optional[str] = None
    patience: Optional[int] = None  # --patience, where the log's configuration line names it (-1: none)

    @property
    def tokens_per_second(self) -> Optional[float]:
        return self.target_tokens / self.train_seconds if self.train_seconds > 0 else None


def parse_training_log(text) -> TrainingLog:
    architecture = parameters = seed = patience = None
    early_stop = done = False
    train_epochs: Dict[int, dict] = {}
    # keyed by update count: with --validate-interval-updates an epoch validates several times
    valid_by_update: Dict[int, float] = {}
    bleu_by_update: Dict[int, float] = {}
    for line in text.splitlines():
        if found := _SEED.search(line):
            # fairseq-train's configuration, logged as it starts: a session appended to the log of one that had
            # finished (resumed to a higher --max-update) has not finished because the earlier one did
            early_stop = done = False
            seed = int(found.group(1)) if seed is None else seed
        if patience is None and (found := _PATIENCE.search(line)):
            patience = int(found.group(1))
        if parameters is None and (found := _PARAMS.search(line)):
            parameters = int(found.group(1).replace(",", ""))
        elif architecture is None and (found := _ARCH.search(line)):
            architecture = found.group(1)
        elif found := _EPOCH_TRAIN.search(line):
            train_epochs[int(found.group(1))] = _fields(found.group(2))
        elif found := _VALID.search(line):
            stats = _fields(found.group(1))
            valid_by_update[int(stats["num_updates"])] = stats["loss"]
            if "bleu" in stats:
                bleu_by_update[int(stats["num_updates"])] = stats["bleu"]
        elif _EARLY_STOP in line:
            early_stop = True
        elif _DONE in line:
            done = True

    updates = 0
    train_seconds = target_tokens = 0.0
    for epoch in sorted(train_epochs):
        stats = train_epochs[epoch]
        epoch_updates = stats["num_updates"] - updates
        updates = int(stats["num_updates"])
        # wpb: target tokens per update, averaged over the epoch. train_wall: the epoch's seconds in training
        # steps, in whole seconds (its wps would be finer but counts the end-of-epoch validation too).
        target_tokens += stats["wpb"] * epoch_updates
        train_seconds += stats["train_wall"]
    stopped = ("patience" if early_stop else "max-update") if done else None
    return TrainingLog(architecture, parameters, updates, train_seconds, target_tokens,
                       sorted(valid_by_update.items()), sorted(bleu_by_update.items()), seed, stopped,
                       patience)


def read_training_log(path) -> TrainingLog:
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_training_log(f.read())


def describe(log: TrainingLog, max_update=None) -> str:
    if log.updates == 0 or log.train_seconds <= 0:
        raise MacaronFairseqError(
            "the log has no finished epoch summary ('| train | epoch ...'): let the run reach its --max-update"
        )
    lines = [
        f"{log.architecture or 'unknown architecture'}, {log.parameters or 0:,} parameters: {log.updates:,} updates in "
        f"{log.train_seconds:,.0f} s of training steps, {log.tokens_per_second:,.0f} target tokens/s, "
        f"{log.target_tokens / log.updates:,.0f} target tokens per update"
    ]
    if max_update:
        hours = max_update * log.train_seconds / log.updates / 3600
        lines.append(
            f"{max_update:,} updates at this pace: {hours:,.1f} hours of training steps "
            "(validation and checkpoint saving come on top)"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Throughput of a fairseq-train run, and the time N updates take.")
    parser.add_argument("log", help="the run's train.log (scripts/train.sh writes SAVE_DIR/train.log)")
    parser.add_argument("--max-update", type=int, help="project the training time of this many updates")
    args = parser.parse_args(argv)
    if args.max_update is not None and args.max_update < 1:
        parser.error(f"--max-update must be 1 or more, got {args.max_update}")
    try:
        log = read_training_log(args.log)
    except OSError as error:
        raise MacaronFairseqError(f"cannot read {args.log} ({error.strerror}): pass a run's train.log") from None
    if log.architecture is None and log.parameters is None and log.updates == 0:
        raise MacaronFairseqError(
            f"{args.log} is not a fairseq-train log (no model, parameter count or epoch summary in it): pass the "
            f"train.log of a run (scripts/train.sh writes SAVE_DIR/train.log)"
        )
    print(describe(log, args.max_update))
    return 0


if __name__ == "__main__":
    run_command(main)
