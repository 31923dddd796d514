"""The comparison of Macaron runs against their baseline twins: ``results/<name>.md``, ``<name>.json`` and a plot.

For each model, the runs (one per seed) of scripts/compare.sh: what their training logs say (architecture,
parameters, time, throughput, validation loss and BLEU, why training stopped), how they shared the machine
(``training_run.json``), and what scripts/evaluate.sh scored (``eval/result.json``). Runs are paired by seed; each
pair's paired bootstrap, and one pooled over all pairs (the seeds' hypotheses concatenated, the references
repeated), test Macaron against the baseline.

    python -m macaron_tools.reports.comparison --setting multi30k --references DATA/refs \\
        --baseline RUN ... --macaron RUN ... --output results/multi30k.md --command "scripts/compare.sh ..."
"""

import os
import statistics
from typing import Dict, List

from macaron_fairseq.errors import run_command
from macaron_tools.files import read_lines
from macaron_tools.reports.core import (
    MODELS,
    FinishedRun,
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
    wall_minutes,
    write_report,
)
from macaron_tools.runs.machine import machine_description
from macaron_tools.scoring.significance import paired_bootstrap


def hypotheses(run, split):
    """The run's detokenized hypotheses of ``split``, in sentence order, as scripts/evaluate.sh kept them."""
    return list(read_lines(os.path.join(run.directory, "eval", f"{split}.hyp.detok")))


def summary_table(runs: Dict[str, List[FinishedRun]], splits):
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
                   run.why_stopped, f"`{os.path.basename(run.evaluation.checkpoint)}`"]
            for field in ("sacrebleu", "chrf", "tokenized_bleu"):
                row += [f"{getattr(run.scores(s), field):.2f}" for s in splits]
            first = run.scores(splits[0])
            row += [format_number(run.best_valid_loss, 3), format_number(run.training.tokens_per_second),
                    format_number(run.peak_memory_mib), format_number(first.sentences_per_second, 1),
                    format_number(first.tokens_per_second)]
            rows.append(row)
    return markdown_table(rows)


def pair_wall_minutes(baseline, macaron):
    """(training, evaluation) wall minutes of a pair, from its side-by-side records."""
    return (wall_minutes(baseline.sharing, macaron.sharing), wall_minutes(baseline.decoding, macaron.decoding))


def wall_time_text(runs):
    """The pairs' wall time, training and evaluation, and its sum: what the comparison cost to run."""
    minutes = [None if None in walls else sum(walls) for walls in (pair_wall_minutes(*p) for p in twin_pairs(runs))]
    if not minutes or None in minutes:
        return ""
    total = sum(minutes)
    hours, rest = divmod(round(total), 60)
    text = f"{' + '.join(f'{m:.1f}' for m in minutes)} = {total:.1f} min" if len(minutes) > 1 else f"{total:.1f} min"
    if hours:
        text += f" ({hours} h {rest} min)"
    pairs = "the pairs" if len(minutes) > 1 else "the pair"
    return f" Wall time of {pairs}, training and evaluation (side-by-side records): {text}."


def pairs_table(runs, splits):
    header = ["seed", "how they trained", "how they decoded", "wall min (training, evaluation)",
              "train tok/s ratio", "decode tok/s ratio", "peak memory ratio"]
    rows = [header, ["---"] * len(header)]
    for baseline, macaron in twin_pairs(runs):
        walls = ", ".join("n/a" if m is None else f"{m:.1f}" for m in pair_wall_minutes(baseline, macaron))
        rows.append([
            str(baseline.training.seed), twin_sharing_text(baseline, macaron),
            twin_sharing_text(baseline, macaron, stage="evaluation"), walls,
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
    pairs = twin_pairs(runs)
    for split in splits:
        lowercase = pairs[0][0].scores(split).lowercase
        for baseline, macaron in pairs:
            tests[(f"`{baseline.name}` / `{macaron.name}`", split)] = paired_bootstrap(
                hypotheses(baseline, split), hypotheses(macaron, split), references[split], samples=samples,
                lowercase=lowercase)
        if len(pairs) > 1:
            tests[(f"pooled over {len(pairs)} seeds", split)] = paired_bootstrap(
                [h for baseline, _ in pairs for h in hypotheses(baseline, split)],
                [h for _, macaron in pairs for h in hypotheses(macaron, split)],
                references[split] * len(pairs), samples=samples, lowercase=lowercase)
    return tests


def significance_table(tests):
    rows = [["pair", "split", "baseline sacreBLEU", "Macaron sacreBLEU", "p-value", "verdict"], ["---"] * 6]
    for (label, split), result in tests.items():
        rows.append([label, split, f"{result.baseline_bleu:.2f}", f"{result.system_bleu:.2f}",
                     f"{result.p_value:.4f}", verdict(result)])
    return markdown_table(rows)


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


def summary_json(setting, runs, splits, tests, command, hardware_line):
    """The machine-readable summary, ``results/<name>.json``."""
    def run_fields(run):
        return {
            "model": run.label,
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
    pairs = twin_pairs(runs)
    return {
        "setting": setting,
        "command": command,
        "hardware": hardware_line,
        "parallel": all((r.sharing or {}).get("parallel", False) for pair in pairs for r in pair),
        "signatures": {"sacrebleu": first.sacrebleu_signature, "chrf": first.chrf_signature,
                       "tokenized_bleu": first.tokenized_bleu_variant},
        "runs": [run_fields(run) for model in MODELS for run in runs[model]],
        "pairs": [{"seed": baseline.training.seed, "sharing": twin_sharing_text(baseline, macaron),
                   "overlap": overlap(baseline.sharing, macaron.sharing),
                   "decoding_sharing": twin_sharing_text(baseline, macaron, stage="evaluation"),
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
        f"Training stopped by: {stopped_by(r for m in MODELS for r in runs[m])}.{stopped_by_the_cap(runs)}"
        f"{wall_time_text(runs)}",
        "## Pairs: how each seed's two runs shared the machine, and their cost ratios",
        pairs_table(runs, splits),
        "## Runs",
        per_run_table(runs, splits),
        "Each run was trained by:\n\n" + commands_text((f"{model} `{run.name}`", run) for model in MODELS
                                                        for run in runs[model]),
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


def main(argv=None):
    parser = report_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--references", required=True, help="the data's refs/ folder")
    parser.add_argument("--target-lang", required=True)
    parser.add_argument("--samples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--targets", action="store_true", help="add the benchmark's targets and whether they are met")
    args = parse_report_args(parser, argv)

    runs = {"baseline": [load_finished_run("baseline", d) for d in args.baseline],
            "macaron": [load_finished_run("macaron", d) for d in args.macaron]}
    splits = list(runs["baseline"][0].evaluation.splits)
    require_same_splits((run for model in MODELS for run in runs[model]), splits)
    references = {s: list(read_lines(os.path.join(args.references, f"{s}.detok.{args.target_lang}"))) for s in splits}
    plot_path = f"{output_stem(args.output)}-valid-loss.png"
    tests = bootstrap_tests(runs, splits, references, args.samples)
    hardware_line = measured_on(runs, machine_description())
    report = build_report(args.setting, runs, splits, tests, args.command, os.path.basename(plot_path),
                          args.samples, hardware_line, with_targets=args.targets)
    write_report(args.output, report, summary_json(args.setting, runs, splits, tests, args.command, hardware_line),
                 {plot_path: plot_curves(runs)})


if __name__ == "__main__":
    run_command(main)
