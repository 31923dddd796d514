"""The comparison table of Macaron runs against their baseline twins: ``results/<setting>.md`` and a plot.

For each model, the runs (one per seed) of scripts/compare.sh: what their training logs say (architecture,
parameters, time, throughput, validation loss) and what scripts/evaluate.sh scored (``eval/result.json``), with
sacreBLEU's paired bootstrap test of each Macaron run against the baseline run of the same seed.

    python -m macaron_fairseq.evaluation.comparison --setting multi30k --references DATA/refs \\
        --baseline RUN ... --macaron RUN ... --output results/multi30k.md --command "scripts/compare.sh ..."
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
from typing import Dict, List, Optional

from macaron_fairseq.evaluation.files import read_lines, write_atomically
from macaron_fairseq.evaluation.significance import paired_bootstrap
from macaron_fairseq.evaluation.training_log import TrainingLog, read_training_log

MODELS = ("baseline", "macaron")


@dataclasses.dataclass
class Run:
    directory: str
    training: TrainingLog
    evaluation: dict
    peak_memory_mib: Optional[float] = None  # host memory of training; see peak_memory.py

    @property
    def name(self):
        return os.path.basename(os.path.normpath(self.directory))

    def hypotheses(self, split):
        return read_lines(os.path.join(self.directory, "eval", f"{split}.hyp.detok"))


def load_run(directory):
    training = read_training_log(os.path.join(directory, "train.log"))
    with open(os.path.join(directory, "eval", "result.json"), encoding="utf-8") as f:
        evaluation = json.load(f)
    peak_memory = None
    if os.path.exists(os.path.join(directory, "peak_memory.json")):
        with open(os.path.join(directory, "peak_memory.json"), encoding="utf-8") as f:
            peak_memory = json.load(f)["peak_rss_mib"]
    return Run(directory, training, evaluation, peak_memory)


def mean_and_spread(values):
    """'mean ± sample standard deviation' (just the value for a single run)."""
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def _number(value, digits=0):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(macaron, baseline):
    if macaron is None or not baseline:
        return "n/a"
    return f"{macaron / baseline:.3f}"


def summary_table(runs: Dict[str, List[Run]], splits):
    header = ["model", "architecture", "parameters", "runs"]
    for split in splits:
        header += [f"sacreBLEU {split}", f"tok. BLEU {split}"]
    header += ["updates", "training s", "train tok/s", "train peak MiB", "decode sent/s"]
    rows = [header, ["---"] * len(header)]
    for model in MODELS:
        model_runs = runs[model]
        first = model_runs[0]
        row = [model, f"`{first.training.architecture}`", _number(first.training.parameters), str(len(model_runs))]
        for split in splits:
            row.append(mean_and_spread([r.evaluation["splits"][split]["sacrebleu"] for r in model_runs]))
            row.append(mean_and_spread([r.evaluation["splits"][split]["tokenized_bleu"] for r in model_runs]))
        row.append(_number(statistics.mean(r.training.updates for r in model_runs)))
        row.append(_number(statistics.mean(r.training.train_seconds for r in model_runs)))
        row.append(_number(_mean([r.training.tokens_per_second for r in model_runs])))
        row.append(_number(_mean([r.peak_memory_mib for r in model_runs])))
        row.append(_number(_mean([r.evaluation["splits"][splits[0]]["sentences_per_second"] for r in model_runs]), 1))
        rows.append(row)
    return _markdown(rows)


def _mean(values):
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def per_run_table(runs, splits):
    header = ["run", "checkpoint"] + [f"sacreBLEU {s}" for s in splits] + [f"tok. BLEU {s}" for s in splits]
    header += ["best valid loss", "train tok/s", "train peak MiB", "decode sent/s"]
    rows = [header, ["---"] * len(header)]
    for model in MODELS:
        for run in runs[model]:
            ev = run.evaluation
            row = [f"{model} `{run.name}`", f"`{os.path.basename(ev['checkpoint'])}`"]
            row += [f"{ev['splits'][s]['sacrebleu']:.2f}" for s in splits]
            row += [f"{ev['splits'][s]['tokenized_bleu']:.2f}" for s in splits]
            best_valid = min((loss for _, loss in run.training.valid_loss), default=None)
            row += [_number(best_valid, 3), _number(run.training.tokens_per_second), _number(run.peak_memory_mib),
                    _number(ev["splits"][splits[0]]["sentences_per_second"], 1)]
            rows.append(row)
    return _markdown(rows)


def significance_table(runs, splits, references, samples):
    """Macaron against the baseline of the same seed (runs paired in order), per split."""
    rows = [["pair", "split", "baseline sacreBLEU", "Macaron sacreBLEU", "p-value", "verdict"], ["---"] * 6]
    for baseline, macaron in zip(runs["baseline"], runs["macaron"]):
        for split in splits:
            lowercase = "case:lc" in baseline.evaluation["splits"][split].get("sacrebleu_signature", "")
            result = paired_bootstrap(baseline.hypotheses(split), macaron.hypotheses(split),
                                      references[split], samples=samples, lowercase=lowercase)
            if result.p_value >= 0.05:
                verdict = "no significant difference"
            else:
                verdict = "Macaron better" if result.system_bleu > result.baseline_bleu else "baseline better"
                verdict += " (p < 0.05)"
            rows.append([f"`{baseline.name}` / `{macaron.name}`", split, f"{result.baseline_bleu:.2f}",
                         f"{result.system_bleu:.2f}", f"{result.p_value:.4f}", verdict])
    return _markdown(rows), result.signature


def environment():
    """One line naming the hardware and software the runs were measured on."""
    import platform

    import fairseq
    import torch

    processor = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            processor = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    devices = f"{os.cpu_count()} CPU cores ({processor})"
    if torch.cuda.is_available():
        devices += ", " + ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return f"{devices}; Python {platform.python_version()}, torch {torch.__version__}, fairseq {fairseq.__version__}"


def run_commands(runs):
    lines = []
    for model in MODELS:
        for run in runs[model]:
            path = os.path.join(run.directory, "train_command.txt")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    lines.append(f"- {model} `{run.name}`:\n\n  ```\n  {f.read().strip()}\n  ```")
    return "\n".join(lines)


def targets_section(runs, splits):
    """The benchmark's targets: same cost as the baseline, and at least +0.5 BLEU on every test set."""
    def ratio(value_of):
        macaron = _mean([value_of(r) for r in runs["macaron"]])
        baseline = _mean([value_of(r) for r in runs["baseline"]])
        return None if macaron is None or not baseline else macaron / baseline

    checks = [
        ("training tokens/s, Macaron / baseline", ratio(lambda r: r.training.tokens_per_second), ">= 0.97",
         lambda v: v >= 0.97),
        ("decoding sentences/s, Macaron / baseline",
         ratio(lambda r: r.evaluation["splits"][splits[0]]["sentences_per_second"]), ">= 0.97", lambda v: v >= 0.97),
        ("training peak memory, Macaron / baseline", ratio(lambda r: r.peak_memory_mib), "<= 1.05",
         lambda v: v <= 1.05),
    ]
    rows = [["target", "measured", "goal", "met"], ["---"] * 4]
    for name, value, goal, met in checks:
        rows.append([name, "n/a" if value is None else f"{value:.3f}", goal,
                     "n/a" if value is None else ("yes" if met(value) else "**no**")])
    for split in splits:
        gain = (_mean([r.evaluation["splits"][split]["sacrebleu"] for r in runs["macaron"]])
                - _mean([r.evaluation["splits"][split]["sacrebleu"] for r in runs["baseline"]]))
        rows.append([f"mean sacreBLEU gain on {split}", f"{gain:+.2f}", ">= +0.50", "yes" if gain >= 0.5 else "**no**"])
    return "## Targets\n\n" + _markdown(rows)


def _markdown(rows):
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def plot_validation_loss(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for model, color in zip(MODELS, ("tab:blue", "tab:red")):
        for i, run in enumerate(runs[model]):
            if run.training.valid_loss:
                updates, losses = zip(*run.training.valid_loss)
                axes.plot(updates, losses, color=color, alpha=0.9 if i == 0 else 0.5,
                          label=f"{model} ({run.name})", marker="." if len(updates) < 30 else None)
    axes.set_xlabel("updates")
    axes.set_ylabel("validation loss (label-smoothed, base 2)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    temporary = f"{path}.tmp{os.getpid()}.png"
    figure.savefig(temporary, dpi=110)
    plt.close(figure)
    os.replace(temporary, path)


def build_report(setting, runs, splits, references, command, plot_name, samples, with_targets=False):
    baseline, macaron = runs["baseline"][0].training, runs["macaron"][0].training
    significance, signature = significance_table(runs, splits, references, samples)
    ratio = lambda f: _ratio(_mean([f(r) for r in runs["macaron"]]), _mean([f(r) for r in runs["baseline"]]))  # noqa: E731
    sections = [
        f"# Macaron vs. baseline: {setting}",
        f"Produced by:\n\n```\n{command}\n```\n\nMeasured on {environment()}.",
        "## Summary (mean ± standard deviation over runs)",
        summary_table(runs, splits),
        f"Macaron / baseline: parameters {_ratio(macaron.parameters, baseline.parameters)}, "
        f"training tokens/s {ratio(lambda r: r.training.tokens_per_second)}, "
        f"training peak memory {ratio(lambda r: r.peak_memory_mib)}, "
        f"decoding sentences/s {ratio(lambda r: r.evaluation['splits'][splits[0]]['sentences_per_second'])}.",
        "## Runs",
        per_run_table(runs, splits),
        "Each run was trained by:\n\n" + run_commands(runs),
        f"sacreBLEU signature: `{runs['baseline'][0].evaluation.get('sacrebleu_signature')}`; tokenized BLEU: "
        f"{runs['baseline'][0].evaluation.get('tokenized_bleu_variant')}.",
        f"## Paired bootstrap ({samples} resamples, sacreBLEU)",
        significance,
        f"Signature: `{signature}`",
        f"## Validation loss\n\n![validation loss against updates]({plot_name})",
    ]
    if with_targets:
        sections.insert(4, targets_section(runs, splits))
    return "\n\n".join(sections) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", required=True)
    parser.add_argument("--baseline", nargs="+", required=True, help="run directories of the baseline")
    parser.add_argument("--macaron", nargs="+", required=True, help="run directories of the Macaron model")
    parser.add_argument("--references", required=True, help="the data's refs/ folder")
    parser.add_argument("--target-lang", required=True)
    parser.add_argument("--output", required=True, help="the Markdown report; the plot goes beside it")
    parser.add_argument("--command", required=True, help="the command that produced the runs, for the report")
    parser.add_argument("--samples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--targets", action="store_true", help="add the benchmark's targets and whether they are met")
    args = parser.parse_args(argv)

    runs = {"baseline": [load_run(d) for d in args.baseline], "macaron": [load_run(d) for d in args.macaron]}
    splits = list(runs["baseline"][0].evaluation["splits"])
    references = {s: read_lines(os.path.join(args.references, f"{s}.detok.{args.target_lang}")) for s in splits}
    stem = os.path.splitext(args.output)[0]
    plot_path = f"{stem}-valid-loss.png"
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    plot_validation_loss(runs, plot_path)
    report = build_report(args.setting, runs, splits, references, args.command, os.path.basename(plot_path),
                          args.samples, with_targets=args.targets)
    write_atomically(args.output, report)
    print(report)
    print(f"wrote {args.output} and {plot_path}")


if __name__ == "__main__":
    sys.exit(main())
