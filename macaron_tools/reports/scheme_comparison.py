"""The comparison of the splitting schemes of ``--macaron-scheme``: ``results/<name>.md`` and ``<name>.json``.

For each run (one per scheme and seed, benchmarks/schemes.sh): what its training log says (parameters, updates,
throughput), how it shared the machine (``training_run.json``: side by side with which run, on which cores), what
scripts/evaluate.sh scored (``eval/result.json``) and what the splitting probe measured (``splitting.json``:
python -m macaron_tools.probe.splitting). Per scheme the report gives the mean and spread over seeds; per
pair of runs trained side by side, their training speed ratio; over all runs, the rank correlation between the
splitting error and BLEU, and the sentence it supports.

    python -m macaron_tools.reports.scheme_comparison --setting multi30k-quick \\
        --run strang RUNS/strang-seed1 --run lie-trotter RUNS/lie-trotter-seed1 ... \\
        --output results/schemes.md --command "bash benchmarks/schemes.sh"
"""

import dataclasses
import itertools
import json
import os
import random
import statistics
from typing import Dict, List, Optional

from macaron_fairseq.errors import MacaronFairseqError, run_command
from macaron_fairseq.modules.splitting_scheme import SCHEMES
from macaron_tools.reports.core import (
    TRAINING_COMMAND,
    FinishedRun,
    commands_text,
    format_number,
    load_finished_run,
    markdown_table,
    mean_and_spread,
    mean_of,
    overlap,
    pairs_of,
    parse_report_args,
    ratio_of,
    relative,
    report_parser,
    require_same_splits,
    share_text,
    sharing_text,
    side_by_side_key,
    stopped_by,
    write_report,
)
from macaron_tools.runs.machine import machine_description
from macaron_tools.runs.trained import TRAINING_LOG
from macaron_tools.scoring.evaluation_record import require_field_types

PROBE_NAME = "splitting.json"
REFERENCE_SCHEME = "lie-trotter"  # fairseq's own layer: the baseline's parameters, the one parameter counts compare to
EXACT_PERMUTATIONS_UP_TO = 8  # runs; beyond, the permutation test samples
SAMPLED_PERMUTATIONS = 20000
SIGNIFICANCE = 0.05


@dataclasses.dataclass
class SchemeRun:
    scheme: str
    run: FinishedRun
    probe: dict  # the run's checkpoint in splitting.json: {"path", "arch", "scheme", "layers": [...]}
    probe_setup: dict  # {"subset", "sentences", "rk4_steps"}

    @property
    def name(self):
        return self.run.name

    @property
    def seed(self):
        return self.run.training.seed

    @property
    def tokens_per_second(self):
        return self.run.training.tokens_per_second

    def splitting_error(self, stack=None):
        """The mean over the layers (of ``stack``, or all of them) of each layer's mean splitting error."""
        errors = [layer["splitting_error"] for layer in self.probe["layers"] if stack in (None, layer["stack"])]
        return statistics.mean(errors) if errors else None

    def layer_error(self, stack, index):
        return next((layer["splitting_error"] for layer in self.probe["layers"]
                     if (layer["stack"], layer["index"]) == (stack, index)), None)

    def sacrebleu(self, split):
        return self.run.scores(split).sacrebleu


@dataclasses.dataclass
class ProbeLayer:
    """One layer's measurements in splitting.json, with the types the report computes with."""

    stack: str
    index: int
    step_sizes: Dict[str, float]
    splitting_error: float


def read_probe(directory, scheme):
    """(the checkpoint's measurements, the probe's set-up) of ``directory/splitting.json``, which must have measured
    one checkpoint of ``scheme``."""
    path = os.path.join(directory, PROBE_NAME)
    rerun = (f"probe it (python -m macaron_tools.probe.splitting --path {directory}/checkpoint_best.pt "
             f"DATA_DIR --json {path}), or run benchmarks/schemes.sh again")
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        checkpoints = document["checkpoints"]
        setup = {key: document[key] for key in ("subset", "sentences", "rk4_steps")}
    except FileNotFoundError:
        raise MacaronFairseqError(f"{path} does not exist: {rerun}") from None
    except (ValueError, TypeError, KeyError) as error:
        raise MacaronFairseqError(f"{path} is not a splitting probe's JSON ({type(error).__name__}: {error}): "
                                  f"{rerun}") from None
    if len(checkpoints) != 1:
        raise MacaronFairseqError(f"{path} measured {len(checkpoints)} checkpoints, not the run's one: {rerun}")
    if checkpoints[0].get("scheme") != scheme:
        raise MacaronFairseqError(f"{path} measured a {checkpoints[0].get('scheme')} model, but the run is given "
                                  f"as {scheme}: give the run with its own scheme")
    check_probe_layers(checkpoints[0].get("layers"), path, rerun)
    return checkpoints[0], setup


def check_probe_layers(layers, path, rerun):
    if not isinstance(layers, list):
        raise MacaronFairseqError(f"{path}: checkpoints[0].layers is not a list of layers: {rerun}")
    names = [field.name for field in dataclasses.fields(ProbeLayer)]
    for number, layer in enumerate(layers):
        where = f"{path}: checkpoints[0].layers[{number}]"
        if not isinstance(layer, dict) or any(name not in layer for name in names):
            raise MacaronFairseqError(f"{where} lacks one of its fields ({', '.join(names)}): {rerun}")
        require_field_types(ProbeLayer(**{name: layer[name] for name in names}), where, rerun)


def load_scheme_run(scheme, directory):
    if not os.path.isfile(os.path.join(directory, TRAINING_LOG)):
        raise MacaronFairseqError(f"{directory} has no {TRAINING_LOG}: train the run first (benchmarks/schemes.sh)")
    run = load_finished_run(scheme, directory)
    probe, setup = read_probe(directory, scheme)
    return SchemeRun(scheme, run, probe, setup)


def side_by_side_pairs(runs: List[SchemeRun]):
    """The pairs of given runs that trained side by side, each (first, second) in the order of ``SCHEMES``, from
    their ``training_run.json``; a run whose partner is not among ``runs`` is in none."""
    return pairs_of(runs, key=lambda r: side_by_side_key(r.run), order=lambda r: list(SCHEMES).index(r.scheme))


# ---- numbers ----


def ranks(values):
    """Ranks from 1, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            result[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return result


def _pearson(xs, ys):
    mean_x, mean_y = statistics.mean(xs), statistics.mean(ys)
    dx = [x - mean_x for x in xs]
    dy = [y - mean_y for y in ys]
    norm = (sum(d * d for d in dx) * sum(d * d for d in dy)) ** 0.5
    return None if norm == 0 else sum(a * b for a, b in zip(dx, dy)) / norm


def spearman(xs, ys):
    """Spearman's rank correlation (Pearson's on the ranks), None when either side has no spread or fewer than
    3 values."""
    if len(xs) < 3:
        return None
    return _pearson(ranks(xs), ranks(ys))


def permutation_p_value(xs, ys, rho):
    """Two-sided: the share of orderings of ``ys`` whose |Spearman| reaches |rho|; every ordering up to
    EXACT_PERMUTATIONS_UP_TO values, else SAMPLED_PERMUTATIONS seeded samples (the same answer every time)."""
    # Reordering the ranks of ys changes neither mean nor norm: only the dot product with the ranks of xs moves.
    rank_x, rank_y = ranks(xs), ranks(ys)
    centred_x = [r - statistics.mean(rank_x) for r in rank_x]
    centred_y = [r - statistics.mean(rank_y) for r in rank_y]
    norm = (sum(d * d for d in centred_x) * sum(d * d for d in centred_y)) ** 0.5
    threshold = abs(rho) * norm - 1e-9

    def reaches(ordering):
        return abs(sum(a * b for a, b in zip(centred_x, ordering))) >= threshold

    if len(xs) <= EXACT_PERMUTATIONS_UP_TO:
        outcomes = [reaches(ordering) for ordering in itertools.permutations(centred_y)]
        return sum(outcomes) / len(outcomes)
    generator = random.Random(0)
    shuffled = list(centred_y)
    reached = 0
    for _ in range(SAMPLED_PERMUTATIONS):
        generator.shuffle(shuffled)
        reached += reaches(shuffled)
    return (reached + 1) / (SAMPLED_PERMUTATIONS + 1)


def correlation(runs: List[SchemeRun], split):
    """Spearman's rho over runs between the mean splitting error and sacreBLEU on ``split``, with its permutation
    p-value: {"split", "runs", "rho", "p_value"} (rho and p None where undefined)."""
    points = [(r.splitting_error(), r.sacrebleu(split)) for r in runs]
    points = [(x, y) for x, y in points if x is not None and y is not None]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    rho = spearman(xs, ys)
    return {"split": split, "runs": len(points), "rho": rho,
            "p_value": None if rho is None else permutation_p_value(xs, ys, rho)}


def correlation_sentence(result):
    """The sentence the correlation supports, from its numbers alone."""
    n, rho, p_value, split = result["runs"], result["rho"], result["p_value"], result["split"]
    if rho is None:
        why = "fewer than 3 runs" if n < 3 else "the splitting errors or the BLEU scores of the runs are all equal"
        return (f"Over these {n} runs the rank correlation between splitting error and sacreBLEU on {split} is "
                f"undefined ({why}), so they cannot say whether lower splitting error went with better BLEU.")
    p_text = "< 0.001" if p_value < 0.001 else f"= {p_value:.3f}"
    numbers = f"Spearman's rho = {rho:+.2f} over {n} runs, permutation p {p_text}"
    if rho == 0:
        return f"Splitting error and sacreBLEU on {split} showed no rank relation ({numbers})."
    direction = "better" if rho < 0 else "worse"
    if p_value < SIGNIFICANCE:
        return f"Lower splitting error went with {direction} sacreBLEU on {split} ({numbers})."
    return (f"Lower splitting error went with {direction} sacreBLEU on {split} in rank, but not significantly: "
            f"{numbers}, so an ordering by chance alone does as well that often.")


def scheme_order_sentence(by_scheme, split):
    """The schemes ordered by mean splitting error and by mean sacreBLEU, as the numbers give them."""
    errors = {s: mean_of([r.splitting_error() for r in runs]) for s, runs in by_scheme.items()}
    bleus = {s: mean_of([r.sacrebleu(split) for r in runs]) for s, runs in by_scheme.items()}
    by_error = sorted((s for s in errors if errors[s] is not None), key=lambda s: errors[s])
    by_bleu = sorted((s for s in bleus if bleus[s] is not None), key=lambda s: -bleus[s])
    if len(by_error) < 2:
        return ""
    return (f"By the schemes' means, from the lowest splitting error: {', '.join(by_error)}; from the highest "
            f"sacreBLEU on {split}: {', '.join(by_bleu)}.")


# ---- tables ----

def group_by_scheme(runs):
    grouped: Dict[str, List[SchemeRun]] = {}
    for scheme in SCHEMES:
        chosen = [r for r in runs if r.scheme == scheme]
        if chosen:
            grouped[scheme] = chosen
    return grouped


def layer_keys(runs):
    keys = {(layer["stack"], layer["index"]) for r in runs for layer in r.probe["layers"]}
    return sorted(keys, key=lambda key: (key[0] != "encoder", key[0], key[1]))


def parameters_text(values):
    values = sorted({v for v in values if v is not None})
    if not values:
        return "n/a"
    return format_number(values[0]) if len(values) == 1 else f"{format_number(values[0])} to {format_number(values[-1])}"


def summary_table(by_scheme, splits):
    reference = by_scheme.get(REFERENCE_SCHEME, [None])[0]
    reference_parameters = reference.run.training.parameters if reference else None
    header = ["scheme", "runs", "parameters", f"vs. {REFERENCE_SCHEME}"]
    for split in splits:
        header += [f"sacreBLEU {split}", f"chrF {split}", f"tok. BLEU {split}"]
    header += ["train tok/s", "splitting error, encoder", "splitting error, decoder"]
    rows = [header, ["---"] * len(header)]
    for scheme, runs in by_scheme.items():
        parameters = runs[0].run.training.parameters
        excess = ratio_of(parameters, reference_parameters)
        row = [f"`{scheme}`", str(len(runs)), parameters_text(r.run.training.parameters for r in runs),
               "n/a" if excess is None else f"{(excess - 1) * 100:+.2f} %"]
        for split in splits:
            for field in ("sacrebleu", "chrf", "tokenized_bleu"):
                row.append(mean_and_spread([getattr(r.run.scores(split), field) for r in runs]))
        row.append(format_number(mean_of([r.tokens_per_second for r in runs])))
        row += [mean_and_spread([r.splitting_error(stack) for r in runs], 4) for stack in ("encoder", "decoder")]
        rows.append(row)
    return markdown_table(rows)


def layer_table(by_scheme, keys):
    rows = [["scheme"] + [f"{stack} {index}" for stack, index in keys], ["---"] * (len(keys) + 1)]
    for scheme, runs in by_scheme.items():
        rows.append([f"`{scheme}`"] + [mean_and_spread([r.layer_error(stack, index) for r in runs], 4)
                                       for stack, index in keys])
    return markdown_table(rows)


def step_size_table(by_scheme):
    """Each scheme's mean step size ||c f(x)|| / ||x|| per sub-step, over its runs and layers."""
    rows = [["scheme", "stack", "mean step size per sub-step"], ["---"] * 3]
    for scheme, runs in by_scheme.items():
        for stack in ("encoder", "decoder"):
            sizes: Dict[str, List[float]] = {}
            for r in runs:
                for layer in r.probe["layers"]:
                    if layer["stack"] == stack:
                        for name, size in layer["step_sizes"].items():
                            sizes.setdefault(name, []).append(size)
            if sizes:
                rows.append([f"`{scheme}`", stack,
                             ", ".join(f"{name} {statistics.mean(values):.3f}" for name, values in sizes.items())])
    return markdown_table(rows)


def pair_fields(first, second):
    tokens = [first.tokens_per_second, second.tokens_per_second]
    return {
        "seed": first.seed,
        "schemes": [first.scheme, second.scheme],
        "runs": [relative(first.run.directory), relative(second.run.directory)],
        "shares": [share_text(first.run.sharing), share_text(second.run.sharing)],
        "overlap": overlap(first.run.sharing, second.run.sharing),
        "train_tokens_per_s": tokens,
        "train_tokens_per_s_ratio": ratio_of(*tokens),
    }


def pairs_table(pairs):
    rows = [["seed", "pair (A / B)", "how they shared the machine", "A train tok/s", "B train tok/s",
             "ratio A / B"], ["---"] * 6]
    for first, second in pairs:
        fields = pair_fields(first, second)
        shared = sharing_text([first.run.sharing, second.run.sharing], ("A", "B"))
        rows.append([str(fields["seed"]), f"`{first.scheme}` / `{second.scheme}`", shared,
                     format_number(fields["train_tokens_per_s"][0]), format_number(fields["train_tokens_per_s"][1]),
                     format_number(fields["train_tokens_per_s_ratio"], 3)])
    return markdown_table(rows)


def mean_pair_ratios(pairs):
    """{(scheme A, scheme B): [ratio per seed]} of the pairs' training tokens/s."""
    ratios: Dict[tuple, List[Optional[float]]] = {}
    for first, second in pairs:
        ratios.setdefault((first.scheme, second.scheme), []).append(
            ratio_of(first.tokens_per_second, second.tokens_per_second))
    return ratios


def per_run_table(runs, splits, partner_of):
    header = ["run", "scheme", "seed", "updates", "stopped", "parameters"] + [f"sacreBLEU {s}" for s in splits]
    header += ["best valid loss", "train tok/s", "trained", "splitting error, encoder", "splitting error, decoder"]
    rows = [header, ["---"] * len(header)]
    for r in runs:
        partner = partner_of.get(id(r))
        trained = (f"beside `{partner.name}`, on {share_text(r.run.sharing)}" if partner is not None
                   else f"alone, on {share_text(r.run.sharing)}")
        rows.append([f"`{r.name}`", f"`{r.scheme}`", str(r.seed), format_number(r.run.training.updates),
                     r.run.why_stopped, format_number(r.run.training.parameters)]
                    + [f"{r.sacrebleu(s):.2f}" for s in splits]
                    + [format_number(r.run.best_valid_loss, 3), format_number(r.tokens_per_second), trained,
                       format_number(r.splitting_error("encoder"), 4), format_number(r.splitting_error("decoder"), 4)])
    return markdown_table(rows)


def training_commands(by_scheme):
    """One run's fairseq-train command per scheme (the seeds' differ only in --seed and --save-dir)."""
    return (commands_text((f"`{scheme}` (`{runs[0].name}`)", runs[0].run) for scheme, runs in by_scheme.items())
            or f"(no {TRAINING_COMMAND} in the runs)")


# ---- the report ----

def check_runs(runs: List[SchemeRun], splits):
    seen = {}
    for r in runs:
        key = (r.scheme, r.seed)
        if key in seen:
            raise MacaronFairseqError(f"{r.run.directory} and {seen[key]} are both {r.scheme} seed {r.seed}: give "
                                      f"each scheme once per seed")
        seen[key] = r.run.directory
    require_same_splits((r.run for r in runs), splits)
    setups = {json.dumps(r.probe_setup, sort_keys=True) for r in runs}
    if len(setups) > 1:
        raise MacaronFairseqError("the runs were probed on different sentences (splitting.json's subset, sentences or "
                                  "RK4 steps differ): probe them all alike, or run benchmarks/schemes.sh again")


def build(setting, runs: List[SchemeRun], command, hardware_line):
    """(the Markdown report, the JSON summary)."""
    first = runs[0]
    splits = list(first.run.evaluation.splits)
    check_runs(runs, splits)
    primary = first.run.evaluation.primary_split
    by_scheme = group_by_scheme(runs)
    pairs = side_by_side_pairs(runs)
    partner_of = {}
    for a, b in pairs:
        partner_of[id(a)], partner_of[id(b)] = b, a
    keys = layer_keys(runs)
    correlations = [correlation(runs, split) for split in splits]
    primary_correlation = next(c for c in correlations if c["split"] == primary)
    ratios = mean_pair_ratios(pairs)
    setup = first.probe_setup
    alone = [r.name for r in runs if id(r) not in partner_of]

    ratio_text = "; ".join(f"`{a}` / `{b}` {mean_and_spread(values, 3)}" for (a, b), values in ratios.items()) \
        or "no pair trained side by side"
    correlation_rows = [["split", "runs", "Spearman's rho (splitting error, sacreBLEU)", "permutation p"],
                        ["---"] * 4]
    for c in correlations:
        correlation_rows.append([c["split"], str(c["runs"]), format_number(c["rho"], 3), format_number(c["p_value"], 3)])
    scores = first.run.scores(primary)
    sections = [
        f"# Splitting schemes: {setting}",
        f"Produced by:\n\n```\n{command}\n```\n\nMeasured on {hardware_line}.",
        f"Each scheme is `macaron_transformer` with `--macaron-scheme SCHEME` at its baseline's parameter count "
        f"(two half-width FFNs under `strang`, one full-width FFN under the others). The splitting probe read the "
        f"first {setup['sentences']} sentences of `{setup['subset']}` from each run's `checkpoint_best.pt`: the "
        f"splitting error of a layer is ||layer(x) - Phi(x)|| / ||Phi(x) - x||, Phi the flow of its vector field by "
        f"RK4 in {setup['rk4_steps']} steps, the mean over non-pad positions; a stack's is the mean over its layers.",
        "## Summary (mean ± standard deviation over seeds)",
        summary_table(by_scheme, splits),
        f"Training tokens/s of the pairs trained side by side, A / B (mean ± sd over seeds): {ratio_text}. "
        f"Training stopped by: {stopped_by(r.run for r in runs)}."
        + (f" Trained without a partner (their speed compares with no other run's): "
           f"{', '.join(f'`{name}`' for name in alone)}." if alone else ""),
        "## Does a lower splitting error go with better BLEU?",
        correlation_sentence(primary_correlation) + " " + scheme_order_sentence(by_scheme, primary),
        "Each run's splitting error is the mean over all its layers, encoder and decoder; the rank correlation is "
        "taken over runs (every scheme and seed), two-sided, its p-value the share of orderings of the BLEU "
        "scores that correlate at least as strongly.",
        markdown_table(correlation_rows),
        "## Splitting error per layer (mean ± sd over seeds)",
        layer_table(by_scheme, keys),
        step_size_table(by_scheme),
        "## Pairs trained side by side",
        pairs_table(pairs) if pairs else "None: no two given runs trained side by side (no training_run.json pairs).",
        "## Runs",
        per_run_table(runs, splits, partner_of),
        "Each scheme's training command (one run shown; the seeds' differ in `--seed` and `--save-dir` only):\n\n"
        + training_commands(by_scheme),
        f"sacreBLEU signature: `{scores.sacrebleu_signature}`; chrF signature: `{scores.chrf_signature}`; "
        f"tokenized BLEU: {scores.tokenized_bleu_variant}.",
    ]
    report = "\n\n".join(sections) + "\n"

    def run_fields(r):
        return {
            "scheme": r.scheme, "seed": r.seed, "run_dir": relative(r.run.directory),
            "parameters": r.run.training.parameters, "updates": r.run.training.updates,
            "stopped": r.run.training.stopped,
            "splits": {s: {"sacrebleu": r.run.scores(s).sacrebleu, "chrf": r.run.scores(s).chrf,
                           "tokenized_bleu": r.run.scores(s).tokenized_bleu} for s in splits},
            "train_tokens_per_s": r.tokens_per_second,
            "partner": relative(partner_of[id(r)].run.directory) if id(r) in partner_of else None,
            "share": share_text(r.run.sharing),
            "splitting_error": {"all": r.splitting_error(), "encoder": r.splitting_error("encoder"),
                                "decoder": r.splitting_error("decoder")},
            "layers": r.probe["layers"],
        }

    def scheme_fields(scheme_runs):
        return {
            "runs": len(scheme_runs),
            "parameters": scheme_runs[0].run.training.parameters,
            "splits": {s: {field: mean_of([getattr(r.run.scores(s), field) for r in scheme_runs])
                           for field in ("sacrebleu", "chrf", "tokenized_bleu")} for s in splits},
            "train_tokens_per_s": mean_of([r.tokens_per_second for r in scheme_runs]),
            "splitting_error": {stack: mean_of([r.splitting_error(None if stack == "all" else stack)
                                              for r in scheme_runs]) for stack in ("all", "encoder", "decoder")},
            "layer_splitting_error": {f"{stack} {index}": mean_of([r.layer_error(stack, index) for r in scheme_runs])
                                      for stack, index in keys},
        }

    summary = {
        "setting": setting,
        "command": command,
        "hardware": hardware_line,
        "probe": setup,
        "primary_split": primary,
        "schemes": {scheme: scheme_fields(scheme_runs) for scheme, scheme_runs in by_scheme.items()},
        "pairs": [pair_fields(a, b) for a, b in pairs],
        "pair_ratios": [{"schemes": list(key), "train_tokens_per_s_ratio": values,
                         "mean": mean_of(values)} for key, values in ratios.items()],
        "correlation": correlations,
        "conclusion": correlation_sentence(primary_correlation),
        "runs": [run_fields(r) for r in runs],
    }
    return report, summary


def main(argv=None):
    parser = report_parser(__doc__.split("\n\n")[0], twins=False)
    parser.add_argument("--run", nargs=2, action="append", required=True, metavar=("SCHEME", "RUN_DIR"),
                        help="one run: its --macaron-scheme and its directory (give it once per run)")
    args = parse_report_args(parser, argv)
    for scheme, _ in args.run:
        if scheme not in SCHEMES:
            parser.error(f"unknown scheme '{scheme}': choose one of {', '.join(SCHEMES)}")
    for _, directory in args.run:
        if not os.path.isdir(directory):
            problem = ("is a file: pass the run's folder (its --save-dir)" if os.path.exists(directory) else
                       "does not exist: train the run first (benchmarks/schemes.sh)")
            raise MacaronFairseqError(f"run directory {directory} {problem}")

    runs = [load_scheme_run(scheme, directory) for scheme, directory in args.run]
    report, summary = build(args.setting, runs, args.command, machine_description())
    write_report(args.output, report, summary)
    return 0


if __name__ == "__main__":
    run_command(main)
