"""The comparison of Macaron runs against their baseline twins: ``results/<name>.md``, ``<name>.json`` and a plot.

For each model, the runs (one per seed) of scripts/compare.sh: what their training logs say (architecture,
parameters, time, throughput, validation loss and BLEU, why training stopped), how they shared the machine
(``training_run.json``), and what scripts/evaluate.sh scored (``eval/result.json``). Runs are paired by seed; each
pair's paired bootstrap, and one pooled over all pairs (the seeds' hypotheses concatenated, the references
repeated), test Macaron against the baseline.

    python -m macaron_fairseq.evaluation.comparison --setting multi30k --references DATA/refs \\
        --baseline RUN ... --macaron RUN ... --output results/multi30k.md --command "scripts/compare.sh ..."
"""

import argparse
import dataclasses
import json
import os
import statistics
from typing import Dict, List, Optional

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_fairseq.evaluation.files import read_lines, write_atomically, write_json
from macaron_fairseq.evaluation.machine import machine_description
from macaron_fairseq.evaluation.record import EvaluationRecord
from macaron_fairseq.evaluation.side_by_side import EVALUATION_RECORD_NAME, RECORD_NAME
from macaron_fairseq.evaluation.significance import paired_bootstrap
from macaron_fairseq.evaluation.training_log import TrainingLog, read_training_log

MODELS = ("baseline", "macaron")
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclasses.dataclass
class Run:
    model: str
    directory: str
    training: TrainingLog
    evaluation: EvaluationRecord
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

    def hypotheses(self, split):
        return read_lines(os.path.join(self.directory, "eval", f"{split}.hyp.detok"))

    def scores(self, split):
        return self.evaluation.splits[split]


def optional_json(path):
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise MacaronFairseqError(f"cannot read {path} ({error}): delete the damaged record (the report then "
                                  f"leaves out how that run shared the machine), or train the run again") from None


def load_run(model, directory, evaluation=None):
    """One run: its training log and side-by-side records, and ``evaluation``, by default the translation record
    ``eval/result.json`` (the language-model report passes its own)."""
    if not os.path.isdir(directory):
        raise MacaronFairseqError(f"the {model} run {directory} is not a folder: pass the --save-dir of a run")
    log = os.path.join(directory, "train.log")
    if not os.path.isfile(log):
        raise MacaronFairseqError(f"{log} does not exist: {directory} is not a run that scripts/train.sh trained "
                                  f"(it keeps its log there); train it first, or pass the right folder")
    if evaluation is None:
        evaluation = EvaluationRecord.read(os.path.join(directory, "eval", "result.json"))
    return Run(model, directory, read_training_log(log), evaluation,
               optional_json(os.path.join(directory, RECORD_NAME)),
               optional_json(os.path.join(directory, EVALUATION_RECORD_NAME)))


def relative(path):
    """``path`` relative to the repository when it lies inside it, so that reports hold no machine's paths."""
    absolute = os.path.abspath(path)
    return os.path.relpath(absolute, REPOSITORY) if absolute.startswith(REPOSITORY + os.sep) else path


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


def pairs_of(runs):
    """(baseline, macaron) of each seed, in the order given."""
    return list(zip(runs["baseline"], runs["macaron"]))


def summary_table(runs: Dict[str, List[Run]], splits):
    header = ["model", "architecture", "parameters", "runs"]
    for split in splits:
        header += [f"sacreBLEU {split}", f"chrF {split}", f"tok. BLEU {split}"]
    header += ["updates", "training s", "train tok/s", "train peak MiB", "decode sent/s", "decode tok/s"]
    rows = [header, ["---"] * len(header)]
    for model in MODELS:
        model_runs = runs[model]
        first = model_runs[0]
        row = [model, f"`{first.training.architecture}`", format_number(first.training.parameters),
               str(len(model_runs))]
        for split in splits:
            for field in ("sacrebleu", "chrf", "tokenized_bleu"):
                row.append(mean_and_spread([getattr(r.scores(split), field) for r in model_runs]))
        row.append(format_number(statistics.mean(r.training.updates for r in model_runs)))
        row.append(format_number(statistics.mean(r.training.train_seconds for r in model_runs)))
        row.append(format_number(mean_of([r.training.tokens_per_second for r in model_runs])))
        row.append(format_number(mean_of([r.peak_memory_mib for r in model_runs])))
        row.append(format_number(mean_of([r.scores(splits[0]).sentences_per_second for r in model_runs]), 1))
        row.append(format_number(mean_of([r.scores(splits[0]).tokens_per_second for r in model_runs])))
        rows.append(row)
    return markdown_table(rows)


def per_run_table(runs, splits):
    header = ["run", "seed", "updates", "stopped", "checkpoint"] + [f"sacreBLEU {s}" for s in splits]
    header += [f"chrF {s}" for s in splits] + [f"tok. BLEU {s}" for s in splits]
    header += ["best valid loss", "train tok/s", "train peak MiB", "decode sent/s", "decode tok/s"]
    rows = [header, ["---"] * len(header)]
    for model in MODELS:
        for run in runs[model]:
            row = [f"{model} `{run.name}`", str(run.training.seed), format_number(run.training.updates),
                   run.training.stopped or "unfinished", f"`{os.path.basename(run.evaluation.checkpoint)}`"]
            for field in ("sacrebleu", "chrf", "tokenized_bleu"):
                row += [f"{getattr(run.scores(s), field):.2f}" for s in splits]
            best_valid = min((loss for _, loss in run.training.valid_loss), default=None)
            first = run.scores(splits[0])
            row += [format_number(best_valid, 3), format_number(run.training.tokens_per_second),
                    format_number(run.peak_memory_mib), format_number(first.sentences_per_second, 1),
                    format_number(first.tokens_per_second)]
            rows.append(row)
    return markdown_table(rows)


def overlap(first, second):
    """The share of two records' joint wall time during which both ran (None without both records)."""
    times = [(r or {}).get(k) for r in (first, second) for k in ("started", "finished")]
    if None in times:
        return None
    start_a, end_a, start_b, end_b = times
    joint = max(end_a, end_b) - min(start_a, start_b)
    return max(0.0, min(end_a, end_b) - max(start_a, start_b)) / joint if joint > 0 else None


def wall_minutes(*records):
    """Minutes from the first record's start to the last one's finish (None without every record)."""
    if any(not record or record.get("started") is None or record.get("finished") is None for record in records):
        return None
    return (max(r["finished"] for r in records) - min(r["started"] for r in records)) / 60


def pair_wall_minutes(baseline, macaron):
    """(training, evaluation) wall minutes of a pair, from its side-by-side records."""
    return (wall_minutes(baseline.sharing, macaron.sharing), wall_minutes(baseline.decoding, macaron.decoding))


def wall_time_text(runs):
    """The pairs' wall time, training and evaluation, and its sum: what the comparison cost to run."""
    minutes = [None if None in walls else sum(walls) for walls in (pair_wall_minutes(*p) for p in pairs_of(runs))]
    if not minutes or None in minutes:
        return ""
    total = sum(minutes)
    hours, rest = divmod(round(total), 60)
    text = f"{' + '.join(f'{m:.1f}' for m in minutes)} = {total:.1f} min" if len(minutes) > 1 else f"{total:.1f} min"
    if hours:
        text += f" ({hours} h {rest} min)"
    pairs = "the pairs" if len(minutes) > 1 else "the pair"
    return f" Wall time of {pairs}, training and evaluation (side-by-side records): {text}."


def sharing_text(baseline, macaron, stage="training"):
    """How the two runs of a pair shared the machine while training (or evaluating), in words."""
    records = [run.sharing if stage == "training" else run.decoding for run in (baseline, macaron)]
    verb = "trained" if stage == "training" else "decoded"
    if None in records:
        return "one after the other (no side-by-side record)"
    if not all(record["parallel"] for record in records):
        return "one after the other"

    def share(record):
        share = record["share"]
        if share.get("gpu") is not None:
            return f"GPU {share['gpu']}"
        return f"cores {','.join(map(str, share['cpus']))} ({share['threads']} thread{'s' * (share['threads'] > 1)})"

    both = overlap(*records)
    return (f"at the same time, baseline on {share(records[0])}, Macaron on {share(records[1])}"
            + ("" if both is None else f"; both {verb} during {both:.0%} of the pair's wall time"))


def pairs_table(runs, splits):
    header = ["seed", "how they trained", "how they decoded", "wall min (training, evaluation)",
              "train tok/s ratio", "decode tok/s ratio", "peak memory ratio"]
    rows = [header, ["---"] * len(header)]
    for baseline, macaron in pairs_of(runs):
        walls = ", ".join("n/a" if m is None else f"{m:.1f}" for m in pair_wall_minutes(baseline, macaron))
        rows.append([
            str(baseline.training.seed), sharing_text(baseline, macaron),
            sharing_text(baseline, macaron, stage="evaluation"), walls,
            ratio_text(ratio_of(macaron.training.tokens_per_second, baseline.training.tokens_per_second)),
            ratio_text(ratio_of(macaron.scores(splits[0]).tokens_per_second,
                               baseline.scores(splits[0]).tokens_per_second)),
            ratio_text(ratio_of(macaron.peak_memory_mib, baseline.peak_memory_mib)),
        ])
    return markdown_table(rows)


def verdict(result):
    if result.p_value >= 0.05:
        return "no significant difference"
    return ("Macaron better" if result.system_bleu > result.baseline_bleu else "baseline better") + " (p < 0.05)"


def bootstrap_tests(runs, splits, references, samples):
    """Per seed pair and pooled over the pairs, per split: {(label, split): PairedBootstrapResult}."""
    tests = {}
    pairs = pairs_of(runs)
    for split in splits:
        lowercase = pairs[0][0].scores(split).lowercase
        for baseline, macaron in pairs:
            tests[(f"`{baseline.name}` / `{macaron.name}`", split)] = paired_bootstrap(
                baseline.hypotheses(split), macaron.hypotheses(split), references[split], samples=samples,
                lowercase=lowercase)
        if len(pairs) > 1:
            tests[(f"pooled over {len(pairs)} seeds", split)] = paired_bootstrap(
                [h for baseline, _ in pairs for h in baseline.hypotheses(split)],
                [h for _, macaron in pairs for h in macaron.hypotheses(split)],
                references[split] * len(pairs), samples=samples, lowercase=lowercase)
    return tests


def significance_table(tests):
    rows = [["pair", "split", "baseline sacreBLEU", "Macaron sacreBLEU", "p-value", "verdict"], ["---"] * 6]
    for (label, split), result in tests.items():
        rows.append([label, split, f"{result.baseline_bleu:.2f}", f"{result.system_bleu:.2f}",
                     f"{result.p_value:.4f}", verdict(result)])
    return markdown_table(rows)


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
                     for baseline, macaron in pairs_of(runs))


def run_commands(runs):
    lines = []
    for model in MODELS:
        for run in runs[model]:
            path = os.path.join(run.directory, "train_command.txt")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    lines.append(f"- {model} `{run.name}`:\n\n  ```\n  {f.read().strip()}\n  ```")
    return "\n".join(lines)


def comet_text(runs, splits):
    scored = [r.scores(s).comet for model in MODELS for r in runs[model] for s in splits]
    if all(score is None for score in scored):
        return "COMET was not computed (no local COMET model was given: `scripts/evaluate.sh --comet-model PATH`)."
    rows = [["model"] + [f"COMET {s}" for s in splits], ["---"] * (len(splits) + 1)]
    for model in MODELS:
        rows.append([model] + [mean_and_spread([r.scores(s).comet for r in runs[model]]) for s in splits])
    model_name = next(r.scores(s).comet_model for m in MODELS for r in runs[m] for s in splits if r.scores(s).comet)
    return f"COMET ({model_name}):\n\n" + markdown_table(rows)


def targets_section(runs, splits):
    """The benchmark's targets: same cost as the baseline, and at least +0.5 BLEU on every test set."""
    def ratio(value_of):
        return mean_ratio(runs, value_of)

    checks = [
        ("training tokens/s, Macaron / baseline", ratio(lambda r: r.training.tokens_per_second), ">= 0.97",
         lambda v: v >= 0.97),
        ("decoding tokens/s, Macaron / baseline", ratio(lambda r: r.scores(splits[0]).tokens_per_second),
         ">= 0.97", lambda v: v >= 0.97),
        ("training peak memory, Macaron / baseline", ratio(lambda r: r.peak_memory_mib), "<= 1.05",
         lambda v: v <= 1.05),
    ]
    rows = [["target", "measured", "goal", "met"], ["---"] * 4]
    for name, value, goal, met in checks:
        rows.append([name, ratio_text(value), goal, "n/a" if value is None else ("yes" if met(value) else "**no**")])
    for split in splits:
        gain = (mean_of([r.scores(split).sacrebleu for r in runs["macaron"]])
                - mean_of([r.scores(split).sacrebleu for r in runs["baseline"]]))
        rows.append([f"mean sacreBLEU gain on {split}", f"{gain:+.2f}", ">= +0.50", "yes" if gain >= 0.5 else "**no**"])
    return "## Targets\n\n" + markdown_table(rows)


def plot_curves(runs, path, loss_label="validation loss (label-smoothed, base 2)"):
    """Validation loss and, where the runs logged it (--eval-bleu), validation BLEU against updates."""
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
    temporary = f"{path}.tmp{os.getpid()}.png"
    figure.savefig(temporary, dpi=110)
    plt.close(figure)
    os.replace(temporary, path)


def summary_json(setting, runs, splits, tests, command, hardware_line):
    """The machine-readable summary, ``results/<name>.json``."""
    def run_fields(run):
        return {
            "model": run.model,
            "seed": run.training.seed,
            "run_dir": relative(run.directory),
            "updates": run.training.updates,
            "stopped": run.training.stopped,
            "splits": {s: {"sacrebleu": run.scores(s).sacrebleu, "chrf": run.scores(s).chrf,
                           "tokenized_bleu": run.scores(s).tokenized_bleu, "comet": run.scores(s).comet}
                       for s in splits},
            "train_tokens_per_s": run.training.tokens_per_second,
            "decode_tokens_per_s": run.scores(splits[0]).tokens_per_second,
            "decode_sentences_per_s": run.scores(splits[0]).sentences_per_second,
            "peak_memory_mib": run.peak_memory_mib,
            "parameters": run.training.parameters,
            "hardware": run.hardware,
        }

    first = runs["baseline"][0].scores(splits[0])
    pairs = pairs_of(runs)
    return {
        "setting": setting,
        "command": command,
        "hardware": hardware_line,
        "parallel": all((r.sharing or {}).get("parallel", False) for pair in pairs for r in pair),
        "signatures": {"sacrebleu": first.sacrebleu_signature, "chrf": first.chrf_signature,
                       "tokenized_bleu": first.tokenized_bleu_variant},
        "runs": [run_fields(run) for model in MODELS for run in runs[model]],
        "pairs": [{"seed": baseline.training.seed, "sharing": sharing_text(baseline, macaron),
                   "overlap": overlap(baseline.sharing, macaron.sharing),
                   "decoding_sharing": sharing_text(baseline, macaron, stage="evaluation"),
                   "decoding_overlap": overlap(baseline.decoding, macaron.decoding),
                   "wall_minutes": dict(zip(("training", "evaluation"), pair_wall_minutes(baseline, macaron))),
                   "train_tokens_per_s_ratio": ratio_of(macaron.training.tokens_per_second,
                                                      baseline.training.tokens_per_second),
                   "decode_tokens_per_s_ratio": ratio_of(macaron.scores(splits[0]).tokens_per_second,
                                                       baseline.scores(splits[0]).tokens_per_second)}
                  for baseline, macaron in pairs],
        "bootstrap": [{"pair": label.strip("`").replace("` / `", " / "), "split": split,
                       "baseline": result.baseline_bleu, "macaron": result.system_bleu, "p_value": result.p_value}
                      for (label, split), result in tests.items()],
    }


def stopped_by_the_cap(runs):
    """For each run that --max-update stopped before --patience did, where its lowest validation loss came: how far
    from converged the cap left it."""
    notes = []
    for model in MODELS:
        for run in runs[model]:
            losses = run.training.valid_loss
            if run.training.stopped != "max-update" or not losses or (run.training.patience or 0) <= 0:
                continue  # without --patience, the cap is where the run was meant to stop
            best = min(range(len(losses)), key=lambda i: (losses[i][1], i))  # the first lowest, as fairseq's best
            since = len(losses) - 1 - best
            when = "at its last validation" if since == 0 else \
                f"{since} validation{'s' if since > 1 else ''} before the end"
            notes.append(f"{model} `{run.name}` reached --max-update ({run.training.updates:,} updates) first: its "
                         f"lowest validation loss, {losses[best][1]:.3f}, came at update {losses[best][0]:,}, {when}")
    return "".join(f" {note}." for note in notes)


def build_report(setting, runs, splits, tests, command, plot_name, samples, hardware_line, with_targets=False):
    baseline, macaron = runs["baseline"][0], runs["macaron"][0]

    def ratio(value_of):
        return ratio_text(mean_ratio(runs, value_of))

    stopped = sorted({r.training.stopped or "unfinished" for m in MODELS for r in runs[m]})
    sections = [
        f"# Macaron vs. baseline: {setting}",
        f"Produced by:\n\n```\n{command}\n```\n\nMeasured on: {hardware_line}.",
        "## Summary (mean ± standard deviation over runs)",
        summary_table(runs, splits),
        "Macaron / baseline: parameters "
        f"{ratio_text(ratio_of(macaron.training.parameters, baseline.training.parameters))}, "
        f"training tokens/s {ratio(lambda r: r.training.tokens_per_second)}, "
        f"training peak memory {ratio(lambda r: r.peak_memory_mib)}, "
        f"decoding tokens/s {ratio(lambda r: r.scores(splits[0]).tokens_per_second)}, "
        f"decoding sentences/s {ratio(lambda r: r.scores(splits[0]).sentences_per_second)}. "
        f"Training stopped by: {', '.join(stopped)}.{stopped_by_the_cap(runs)}{wall_time_text(runs)}",
        "## Pairs: how each seed's two runs shared the machine, and their cost ratios",
        pairs_table(runs, splits),
        "## Runs",
        per_run_table(runs, splits),
        "Each run was trained by:\n\n" + run_commands(runs),
        f"sacreBLEU signature: `{baseline.scores(splits[0]).sacrebleu_signature}`; chrF signature: "
        f"`{baseline.scores(splits[0]).chrf_signature}`; tokenized BLEU: "
        f"{baseline.scores(splits[0]).tokenized_bleu_variant}. {comet_text(runs, splits)}",
        f"## Paired bootstrap ({samples} resamples, sacreBLEU)",
        significance_table(tests),
        f"Signature: `{next(iter(tests.values())).signature}`",
        f"## Validation curves\n\n![validation loss and BLEU against updates]({plot_name})",
    ]
    if with_targets:
        sections.insert(5, targets_section(runs, splits))
    return "\n\n".join(sections) + "\n"


def report_parser(description, pairs=True):
    """The options every report of this package takes: --setting, --output and --command, and with ``pairs``
    the baseline and Macaron runs, one of each per seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--setting", required=True)
    if pairs:
        parser.add_argument("--baseline", nargs="+", required=True, help="run directories of the baseline, by seed")
        parser.add_argument("--macaron", nargs="+", required=True,
                            help="run directories of the Macaron model, by seed")
    parser.add_argument("--output", required=True, help="the Markdown report; its JSON summary goes beside it")
    parser.add_argument("--command", required=True, help="the command that produced the runs, for the report")
    return parser


def parse_report_args(parser, argv):
    """The parsed options, the runs checked to pair up, and the output's folder made (plots go there first)."""
    args = parser.parse_args(argv)
    if hasattr(args, "baseline") and len(args.baseline) != len(args.macaron):
        parser.error(f"{len(args.baseline)} baseline runs but {len(args.macaron)} Macaron runs: give one per seed")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    return args


def output_stem(output):
    """The report's path without .md: its JSON summary and plot are named after it."""
    return os.path.splitext(output)[0]


def write_report(output, report, summary, *also):
    """Writes the report and its JSON summary (each whole, or not at all), prints the report and what was
    written (the summary, and ``also``, files written before)."""
    stem = output_stem(output)
    write_json(f"{stem}.json", summary)
    write_atomically(output, report)
    print(report)
    written = [output, f"{stem}.json", *also]
    print(f"wrote {', '.join(written[:-1])} and {written[-1]}")


def main(argv=None):
    parser = report_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--references", required=True, help="the data's refs/ folder")
    parser.add_argument("--target-lang", required=True)
    parser.add_argument("--samples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--targets", action="store_true", help="add the benchmark's targets and whether they are met")
    args = parse_report_args(parser, argv)

    runs = {"baseline": [load_run("baseline", d) for d in args.baseline],
            "macaron": [load_run("macaron", d) for d in args.macaron]}
    splits = list(runs["baseline"][0].evaluation.splits)
    references = {s: read_lines(os.path.join(args.references, f"{s}.detok.{args.target_lang}")) for s in splits}
    plot_path = f"{output_stem(args.output)}-valid-loss.png"
    plot_curves(runs, plot_path)
    tests = bootstrap_tests(runs, splits, references, args.samples)
    hardware_line = measured_on(runs, machine_description())
    report = build_report(args.setting, runs, splits, tests, args.command, os.path.basename(plot_path),
                          args.samples, hardware_line, with_targets=args.targets)
    write_report(args.output, report, summary_json(args.setting, runs, splits, tests, args.command, hardware_line),
                 plot_path)


if __name__ == "__main__":
    run_command(main)
