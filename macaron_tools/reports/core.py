"""What the three reports share: a finished run as they read it, how two runs were paired and shared the machine,
the numbers and tables, and the writing of a report.

- :class:`FinishedRun`: one run's folder read back (:func:`load_finished_run`): its training log, its evaluation
  record, and its side-by-side records (``training_run.json``, ``evaluation_run.json``);
- :func:`pairs_of`: the pairs a report compares, runs that share a key: the same seed's baseline and Macaron run
  (:func:`twin_pairs`), or two runs trained side by side (:func:`side_by_side_key`);
- :func:`sharing_text`: how a pair shared the machine, in words, from their side-by-side records;
- :func:`report_parser`, :func:`parse_report_args` and :func:`write_report`: the reports' options (the output
  checked before any work), and the report with its JSON summary and plot written all together, or not at all.

Every record is checked as it is read (the evaluation records by their own ``read``, the side-by-side records here),
so that a damaged one is refused in one line naming the file and the field, before anything is written.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
from typing import Any, Callable, Dict, Hashable, Iterable, List, Optional

from macaron_fairseq.errors import MacaronFairseqError
from macaron_tools import REPOSITORY
from macaron_tools.files import atomic_path, require_writable_output
from macaron_tools.runs.side_by_side import EVALUATION_RECORD_NAME, RECORD_NAME
from macaron_tools.runs.trained import TRAINING_LOG
from macaron_tools.runs.training_log import TrainingLog, read_training_log
from macaron_tools.scoring.evaluation_record import EvaluationRecord, require_field_types

MODELS = ("baseline", "macaron")
"""The two sides of a comparison of twins, in the order the reports give them."""
TRAINING_COMMAND = "train_command.txt"
"""Where scripts/train.sh writes the fairseq-train command of a run, in its folder."""


@dataclasses.dataclass
class FinishedRun:
    """A run's folder, as a report reads it: what it was trained and evaluated as, and how."""

    label: str  # what the report compares it as: "baseline" or "macaron", or its splitting scheme
    directory: str
    training: TrainingLog
    evaluation: Any  # an EvaluationRecord, or a language model's record: both hold .splits
    sharing: Optional[dict] = None  # training_run.json: how it shared the machine, its peak memory
    decoding: Optional[dict] = None  # evaluation_run.json: how its evaluation shared the machine

    @property
    def name(self):
        return os.path.basename(os.path.normpath(self.directory))

    @property
    def peak_memory_mib(self):
        return (self.sharing or {}).get("peak_rss_mib")

    @property
    def hardware(self):
        """The machine it trained on, as its side-by-side record names it (None in records made before they did)."""
        return (self.sharing or {}).get("hardware")

    @property
    def why_stopped(self):
        """What ended its training, as its log says: "patience", "max-update", or "unfinished"."""
        return self.training.stopped or "unfinished"

    @property
    def best_valid_loss(self):
        return min((loss for _, loss in self.training.valid_loss), default=None)

    @property
    def training_command(self):
        """The fairseq-train command it was trained by, or None where its folder does not keep one."""
        path = os.path.join(self.directory, TRAINING_COMMAND)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return f.read().strip()

    def scores(self, split):
        return self.evaluation.splits[split]


@dataclasses.dataclass
class ShareFields:
    cpus: Optional[List[int]] = None
    threads: Optional[int] = None


@dataclasses.dataclass
class SideBySideFields:
    """The fields of a side-by-side record (runs/side_by_side.py) that the reports compute with, and their types."""

    parallel: bool
    partner: Optional[str] = None
    share: Optional[ShareFields] = None
    started: Optional[float] = None
    finished: Optional[float] = None
    peak_rss_mib: Optional[float] = None
    hardware: Optional[str] = None


def optional_json(path):
    """A run's side-by-side record, checked, or None where the run has none."""
    if not os.path.exists(path):
        return None
    fix = ("delete the damaged record (the report then leaves out how that run shared the machine), or train the run "
           "again")
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as error:
        raise MacaronFairseqError(f"cannot read {path} ({error}): {fix}") from None
    if not isinstance(record, dict) or "parallel" not in record:
        raise MacaronFairseqError(f"{path} is not a side-by-side record (it has no field parallel): {fix}")
    fields = {field.name: record.get(field.name) for field in dataclasses.fields(SideBySideFields)}
    if isinstance(fields["share"], dict):
        fields["share"] = ShareFields(**{field.name: fields["share"].get(field.name)
                                         for field in dataclasses.fields(ShareFields)})
    require_field_types(SideBySideFields(**fields), path, fix)
    return record


def load_finished_run(label, directory, evaluation=None):
    """One run: its training log and side-by-side records, and ``evaluation``, by default the translation record
    ``eval/result.json`` (the language-model report passes its own)."""
    if not os.path.isdir(directory):
        raise MacaronFairseqError(f"the {label} run {directory} is not a folder: pass the --save-dir of a run")
    log = os.path.join(directory, TRAINING_LOG)
    if not os.path.isfile(log):
        raise MacaronFairseqError(f"{log} does not exist: {directory} is not a run that scripts/train.sh trained "
                                  f"(it keeps its log there); train it first, or pass the right folder")
    if evaluation is None:
        evaluation = EvaluationRecord.read(os.path.join(directory, "eval", "result.json"))
    return FinishedRun(label, directory, read_training_log(log), evaluation,
                       optional_json(os.path.join(directory, RECORD_NAME)),
                       optional_json(os.path.join(directory, EVALUATION_RECORD_NAME)))


def relative(path):
    """``path`` relative to the repository when it lies inside it, so that reports hold no machine's paths."""
    absolute = os.path.abspath(path)
    return os.path.relpath(absolute, REPOSITORY) if absolute.startswith(REPOSITORY + os.sep) else path


# ---- pairs ----


def pairs_of(runs: Iterable, key: Callable[[Any], Optional[Hashable]], order: Callable[[Any], Any]):
    """The pairs among ``runs``: every two runs that share a ``key`` no other run shares (a key of None pairs
    nothing), each pair sorted by ``order``, the pairs in the order of their first runs."""
    groups: Dict[Hashable, list] = {}
    for run in runs:
        run_key = key(run)
        if run_key is not None:
            groups.setdefault(run_key, []).append(run)
    return [tuple(sorted(group, key=order)) for group in groups.values() if len(group) == 2]


def twin_pairs(runs: Dict[str, List[FinishedRun]]):
    """(baseline, Macaron) of each seed: the runs in the same place of the --baseline and --macaron lists."""
    place = {id(run): index for model in MODELS for index, run in enumerate(runs[model])}
    return pairs_of((run for model in MODELS for run in runs[model]), key=lambda run: place[id(run)],
                    order=lambda run: MODELS.index(run.label))


def side_by_side_key(run: FinishedRun):
    """What a run trained side by side shares with its partner: the two folders, as its ``training_run.json``
    names them (None for a run trained alone, or whose record does not name its partner)."""
    record = run.sharing
    if not record or not record.get("parallel") or not record.get("partner"):
        return None
    return frozenset((os.path.realpath(run.directory), os.path.realpath(record["partner"])))


# ---- how a pair shared the machine ----


def share_text(record):
    """The share of the machine one run had, in words, from its side-by-side record."""
    if not record:
        return "unknown (no training_run.json)"
    share = record.get("share") or {}
    if share.get("gpu") is not None:
        return f"GPU {share['gpu']}"
    if share.get("cpus"):
        threads = share.get("threads") or len(share["cpus"])
        return f"cores {','.join(map(str, share['cpus']))} ({threads} thread{'s' * (threads > 1)})"
    return "the whole machine"


def overlap(first, second):
    """The share of two records' joint wall time during which both ran (None without both records)."""
    times = [(r or {}).get(k) for r in (first, second) for k in ("started", "finished")]
    if None in times:
        return None
    start_a, end_a, start_b, end_b = times
    joint = max(end_a, end_b) - min(start_a, start_b)
    return max(0.0, min(end_a, end_b) - max(start_a, start_b)) / joint if joint > 0 else None


def sharing_text(records, names, verb="trained"):
    """How two runs side by side shared the machine, from their records: "A on SHARE, B on SHARE; both VERB during
    N% of the pair's wall time" (the last part where the records say when each ran)."""
    both = overlap(*records)
    return (f"{names[0]} on {share_text(records[0])}, {names[1]} on {share_text(records[1])}"
            + ("" if both is None else f"; both {verb} during {both:.0%} of the pair's wall time"))


def twin_sharing_text(baseline, macaron, stage="training"):
    """How a seed's baseline and Macaron run shared the machine while training (or evaluating), in words."""
    records = [run.sharing if stage == "training" else run.decoding for run in (baseline, macaron)]
    if None in records:
        return "one after the other (no side-by-side record)"
    if not all(record["parallel"] for record in records):
        return "one after the other"
    verb = "trained" if stage == "training" else "decoded"
    return "at the same time, " + sharing_text(records, ("baseline", "Macaron"), verb)


def wall_minutes(*records):
    """Minutes from the first record's start to the last one's finish (None without every record)."""
    if any(not record or record.get("started") is None or record.get("finished") is None for record in records):
        return None
    return (max(r["finished"] for r in records) - min(r["started"] for r in records)) / 60


def measured_on(runs, here):
    """Where the runs were measured, as their side-by-side records name it (each run records its own machine, so
    that a benchmark run in pieces says where each piece ran); ``here``, the report's own machine, is named for
    runs whose records predate that."""
    recorded = {run.hardware for model in MODELS for run in runs[model]}
    if recorded == {None}:
        return f"hardware not recorded by the runs; this report was written on {here}"
    if len(recorded) == 1:
        return recorded.pop()
    return "; ".join(f"seed {baseline.training.seed} on {baseline.hardware or 'hardware not recorded'}"
                     + ("" if macaron.hardware == baseline.hardware else
                        f" (Macaron on {macaron.hardware or 'hardware not recorded'})")
                     for baseline, macaron in twin_pairs(runs))


# ---- numbers and tables ----


def mean_and_spread(values, digits=2):
    """'mean ± sample standard deviation', to ``digits`` decimals (just the value for a single run)."""
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def format_number(value, digits=0):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def mean_of(values):
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def ratio_of(macaron, baseline):
    return None if macaron is None or not baseline else macaron / baseline


def mean_ratio(runs, value_of):
    """Macaron's mean of ``value_of(run)`` over the baseline's (None where either has no value)."""
    return ratio_of(mean_of([value_of(r) for r in runs["macaron"]]), mean_of([value_of(r) for r in runs["baseline"]]))


def ratio_text(value):
    return "n/a" if value is None else f"{value:.3f}"


def markdown_table(rows):
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def stopped_by(runs: Iterable[FinishedRun]):
    """What ended the runs' training, each reason once: "max-update, patience"."""
    return ", ".join(sorted({run.why_stopped for run in runs}))


def commands_text(labelled_runs):
    """The training command of each (label, run) whose folder keeps one, as a Markdown list."""
    return "\n".join(f"- {label}:\n\n  ```\n  {run.training_command}\n  ```" for label, run in labelled_runs
                     if run.training_command is not None)


def require_same_splits(runs: Iterable[FinishedRun], splits):
    """Refuses runs of which one was not evaluated on every split of ``splits`` (the first run's)."""
    for run in runs:
        missing = [split for split in splits if split not in run.evaluation.splits]
        if missing:
            raise MacaronFairseqError(f"{run.directory} was not evaluated on {', '.join(missing)}: evaluate every "
                                      f"run on the same splits (scripts/evaluate.sh --splits)")


def plot_curves(runs, loss_label="validation loss (label-smoothed, base 2)"):
    """Validation loss and, where the runs logged it (--eval-bleu), validation BLEU against updates: a figure
    for :func:`write_report` to write with the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_bleu = any(run.training.valid_bleu for model in MODELS for run in runs[model])
    figure, panels = plt.subplots(1, 2 if with_bleu else 1, figsize=(12 if with_bleu else 7, 4.5), squeeze=False)
    curves = [("valid_loss", loss_label)]
    if with_bleu:
        curves.append(("valid_bleu", "validation BLEU, greedy (fairseq --eval-bleu)"))
    for axes, (field, label) in zip(panels[0], curves):
        for model, color in zip(MODELS, ("tab:blue", "tab:red")):
            for i, run in enumerate(runs[model]):
                points = getattr(run.training, field)
                if points:
                    updates, values = zip(*points)
                    axes.plot(updates, values, color=color, alpha=0.9 if i == 0 else 0.5,
                              label=f"{model} ({run.name})", marker="." if len(updates) < 30 else None)
        axes.set_xlabel("updates")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    return figure


# ---- the report's options and files ----


def report_parser(description, twins=True):
    """The options every report takes: --setting, --output and --command, and with ``twins`` the baseline and
    Macaron runs, one of each per seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--setting", required=True)
    if twins:
        parser.add_argument("--baseline", nargs="+", required=True, help="run directories of the baseline, by seed")
        parser.add_argument("--macaron", nargs="+", required=True,
                            help="run directories of the Macaron model, by seed")
    parser.add_argument("--output", required=True, help="the Markdown report; its JSON summary goes beside it")
    parser.add_argument("--command", required=True, help="the command that produced the runs, for the report")
    return parser


def parse_report_args(parser, argv):
    """The parsed options, the runs checked to pair up, and the output checked to be writable (its folder may be
    made), before any run is read."""
    args = parser.parse_args(argv)
    if hasattr(args, "baseline") and len(args.baseline) != len(args.macaron):
        parser.error(f"{len(args.baseline)} baseline runs but {len(args.macaron)} Macaron runs: give one per seed")
    require_writable_output(args.output, "--output", make_folder=True)
    return args


def output_stem(output):
    """The report's path without .md: its JSON summary and plot are named after it."""
    return os.path.splitext(output)[0]


def write_report(output, report, summary, figures=None):
    """Writes the report, its JSON summary and its ``figures`` ({path: matplotlib figure}), and prints the report
    and what was written. Each is written under a temporary name first, and they take their own names only once
    all are written: a failure leaves none of them, never a plot without the report that shows it."""
    figures = figures or {}
    summary_path = f"{output_stem(output)}.json"
    try:
        with contextlib.ExitStack() as files:
            for path, figure in figures.items():
                figure.savefig(files.enter_context(atomic_path(path, suffix=".png")), dpi=110)
            for path, text in ((summary_path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n"),
                               (output, report)):
                # closed here, so that a full disk fails before any file takes its name
                with open(files.enter_context(atomic_path(path)), "w", encoding="utf-8", newline="\n") as f:
                    f.write(text)
    finally:
        if figures:
            import matplotlib.pyplot as plt

            for figure in figures.values():
                plt.close(figure)
    print(report)
    written = [output, summary_path, *figures]
    print(f"wrote {', '.join(written[:-1])} and {written[-1]}")
