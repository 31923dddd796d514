"""The comparison of Macaron language models against their baseline twins: ``results/<name>.md``, ``.json``, plot.

The language-model counterpart of :mod:`macaron_tools.reports.comparison`, on the same core
(:mod:`macaron_tools.reports.core`: runs, pairs, how each pair shared the machine, hardware, training commands,
tables, validation plot): for each model the runs (one per seed) of scripts/compare.sh on a language_modeling or
masked_lm setting, what their training logs say, and the perplexities of ``eval/lm_result.json``
(:mod:`macaron_tools.scoring.lm_evaluation`). Runs are paired by seed; each pair's perplexity difference and cost
ratios are given, and their mean and spread over the seeds.

    python -m macaron_tools.reports.lm_comparison --setting lm-quick --task language_modeling \\
        --baseline RUN ... --macaron RUN ... --output results/lm-quick.md --command "scripts/compare.sh ..."
"""

import os
import shlex
import statistics

from macaron_fairseq.errors import run_command
from macaron_tools.reports.core import (
    MODELS,
    commands_text,
    format_number,
    load_finished_run,
    markdown_table,
    mean_and_spread,
    mean_of,
    mean_ratio,
    measured_on,
    output_stem,
    overlap,
    parse_report_args,
    plot_curves,
    ratio_of,
    ratio_text,
    relative,
    report_parser,
    require_same_splits,
    stopped_by,
    twin_pairs,
    twin_sharing_text,
    write_report,
)
from macaron_tools.runs.machine import machine_description
from macaron_tools.scoring.lm_evaluation import RESULT_NAME, LanguageModelRecord

MEASURES = {
    "language_modeling": ("fairseq-eval-lm: every token of the split, in the evaluation blocks of the setting's "
                          "EVAL_FLAGS; loss in base 2 per token of the data's vocabulary, perplexity 2^loss",
                          "validation loss (cross-entropy, base 2)"),
    "masked_lm": ("fairseq-validate: the masked-token loss of the training criterion (15 % of the tokens, masked "
                  "as fairseq draws them from the run's seed, so a seed's two models are scored on the same "
                  "tokens); loss in base 2, perplexity 2^loss",
                  "validation loss (masked tokens, base 2)"),
}
TITLES = {"language_modeling": "language model", "masked_lm": "masked language model"}


def load_runs(directories, model):
    return [load_finished_run(model, d, LanguageModelRecord.read(os.path.join(d, RESULT_NAME))) for d in directories]


def architecture(run):
    """The run's ``--arch``: its log names it only for models configured by argparse (roberta), not for those
    configured by a dataclass (transformer_lm), so the recorded command is read for those."""
    if run.training.architecture:
        return run.training.architecture
    words = shlex.split(run.training_command or "")
    return words[words.index("--arch") + 1] if "--arch" in words[:-1] else None


def perplexity(run, split):
    return run.scores(split).perplexity


def differences(runs, split):
    """Macaron's perplexity minus the baseline's, per seed pair."""
    return [perplexity(macaron, split) - perplexity(baseline, split) for baseline, macaron in twin_pairs(runs)]


def summary_table(runs, splits):
    header = ["model", "architecture", "parameters", "runs"] + [f"{s} perplexity" for s in splits]
    header += ["updates", "training s", "train tok/s", "train peak MiB"]
    rows = [header, ["---"] * len(header)]
    for model in MODELS:
        model_runs = runs[model]
        first = model_runs[0]
        row = [model, f"`{architecture(first)}`", format_number(first.training.parameters),
               str(len(model_runs))]
        row += [mean_and_spread([perplexity(r, s) for r in model_runs]) for s in splits]
        row += [format_number(statistics.mean(r.training.updates for r in model_runs)),
                format_number(statistics.mean(r.training.train_seconds for r in model_runs)),
                format_number(mean_of([r.training.tokens_per_second for r in model_runs])),
                format_number(mean_of([r.peak_memory_mib for r in model_runs]))]
        rows.append(row)
    return markdown_table(rows)


def pairs_table(runs, splits):
    header = ["seed", "how they trained"] + [f"{s} perplexity, Macaron - baseline" for s in splits]
    header += ["train tok/s ratio", "peak memory ratio"]
    rows = [header, ["---"] * len(header)]
    for baseline, macaron in twin_pairs(runs):
        rows.append([str(baseline.training.seed), twin_sharing_text(baseline, macaron)]
                    + [f"{perplexity(macaron, s) - perplexity(baseline, s):+.2f}" for s in splits]
                    + [ratio_text(ratio_of(macaron.training.tokens_per_second, baseline.training.tokens_per_second)),
                       ratio_text(ratio_of(macaron.peak_memory_mib, baseline.peak_memory_mib))])
    return markdown_table(rows)


def per_run_table(runs, splits):
    header = ["run", "seed", "updates", "stopped", "checkpoint"] + [f"{s} loss" for s in splits]
    header += [f"{s} perplexity" for s in splits] + ["best valid loss (training)", "train tok/s", "train peak MiB"]
    rows = [header, ["---"] * len(header)]
    for model in MODELS:
        for run in runs[model]:
            row = [f"{model} `{run.name}`", str(run.training.seed), format_number(run.training.updates),
                   run.why_stopped, f"`{os.path.basename(run.evaluation.checkpoint)}`"]
            row += [f"{run.scores(s).loss:.4f}" for s in splits] + [f"{perplexity(run, s):.2f}" for s in splits]
            row += [format_number(run.best_valid_loss, 3), format_number(run.training.tokens_per_second),
                    format_number(run.peak_memory_mib)]
            rows.append(row)
    return markdown_table(rows)


def difference_text(runs, splits):
    parts = []
    for split in splits:
        values = differences(runs, split)
        spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        better = sum(value < 0 for value in values)
        parts.append(f"{split} {statistics.mean(values):+.2f}{spread} (Macaron lower in {better} of {len(values)} "
                     f"pair{'s' * (len(values) > 1)})")
    return "Perplexity, Macaron - baseline, mean ± standard deviation over the seed pairs: " + "; ".join(parts) + "."


def summary_json(setting, task, runs, splits, command, hardware_line):
    def run_fields(run):
        return {
            "model": run.label, "seed": run.training.seed, "run_dir": relative(run.directory),
            "architecture": architecture(run), "parameters": run.training.parameters,
            "updates": run.training.updates, "stopped": run.training.stopped,
            "splits": {s: {"loss": run.scores(s).loss, "perplexity": perplexity(run, s)} for s in splits},
            "best_valid_loss": run.best_valid_loss,
            "train_tokens_per_s": run.training.tokens_per_second, "peak_memory_mib": run.peak_memory_mib,
        }

    def spread(values):
        return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else None}

    pairs = twin_pairs(runs)
    return {
        "setting": setting, "task": task, "command": command, "hardware": hardware_line,
        "measure": MEASURES[task][0],
        "parallel": all((r.sharing or {}).get("parallel", False) for pair in pairs for r in pair),
        "runs": [run_fields(run) for model in MODELS for run in runs[model]],
        "perplexity": {model: {s: spread([perplexity(r, s) for r in runs[model]]) for s in splits} for model in MODELS},
        "pairs": [{"seed": baseline.training.seed, "sharing": twin_sharing_text(baseline, macaron),
                   "overlap": overlap(baseline.sharing, macaron.sharing),
                   "perplexity_difference": {s: perplexity(macaron, s) - perplexity(baseline, s) for s in splits},
                   "train_tokens_per_s_ratio": ratio_of(macaron.training.tokens_per_second,
                                                        baseline.training.tokens_per_second),
                   "peak_memory_ratio": ratio_of(macaron.peak_memory_mib, baseline.peak_memory_mib)}
                  for baseline, macaron in pairs],
    }


def build_report(setting, task, runs, splits, command, plot_name, hardware_line):
    baseline, macaron = runs["baseline"][0], runs["macaron"][0]

    def ratio(value_of):
        return ratio_text(mean_ratio(runs, value_of))

    sections = [
        f"# Macaron vs. baseline, {TITLES[task]}: {setting}",
        f"Produced by:\n\n```\n{command}\n```\n\nMeasured on: {hardware_line}.",
        "## Summary (mean ± standard deviation over runs)",
        summary_table(runs, splits),
        difference_text(runs, splits),
        "Macaron / baseline: parameters "
        f"{ratio_text(ratio_of(macaron.training.parameters, baseline.training.parameters))}, "
        f"training tokens/s {ratio(lambda r: r.training.tokens_per_second)}, "
        f"training peak memory {ratio(lambda r: r.peak_memory_mib)}. "
        f"Training stopped by: {stopped_by(r for m in MODELS for r in runs[m])}. Training tokens/s: the tokens fed "
        "to the model "
        "(fairseq's wpb) per second of training steps.",
        f"Perplexity: {MEASURES[task][0]}; of `checkpoint_best.pt`, the lowest validation loss.",
        "## Pairs: how each seed's two runs shared the machine, and their differences",
        pairs_table(runs, splits),
        "## Runs",
        per_run_table(runs, splits),
        "Each run was trained by:\n\n" + commands_text((f"{model} `{run.name}`", run) for model in MODELS
                                                        for run in runs[model]),
        f"## Validation curves\n\n![validation loss against updates]({plot_name})",
    ]
    return "\n\n".join(sections) + "\n"


def main(argv=None):
    parser = report_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, choices=sorted(MEASURES))
    args = parse_report_args(parser, argv)

    runs = {"baseline": load_runs(args.baseline, "baseline"), "macaron": load_runs(args.macaron, "macaron")}
    splits = list(runs["baseline"][0].evaluation.splits)
    require_same_splits((run for model in MODELS for run in runs[model]), splits)
    plot_path = f"{output_stem(args.output)}-valid-loss.png"
    hardware_line = measured_on(runs, machine_description())
    report = build_report(args.setting, args.task, runs, splits, args.command, os.path.basename(plot_path),
                          hardware_line)
    write_report(args.output, report, summary_json(args.setting, args.task, runs, splits, args.command,
                                                   hardware_line),
                 {plot_path: plot_curves(runs, loss_label=MEASURES[args.task][1])})
    return 0


if __name__ == "__main__":
    run_command(main)
